// Package components holds the ComponentResources of postgres-ha, one per
// file: PKI, Secrets, Network, Images, ConsulCluster, ConsulACL,
// PostgresNode, HAProxy and PMMServer. Each takes typed Args, parents its
// children and registers its outputs.
//
// Components take the Docker provider (through the usual resource options)
// and the names they need as inputs; only Network knows that today every
// container shares one bridge network.
package components

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/postgres-ha/postgres-ha/templates"
)

// pkg is the first part of every component's type token.
const pkg = "postgres-ha:components:"

// Label keys every Docker object carries, so a cluster's objects can be
// listed and cleaned up as one.
const (
	LabelCluster   = "postgres-ha.cluster"
	LabelComponent = "postgres-ha.component"
)

// Runtime is what every container shares: where it runs and whether it runs.
type Runtime struct {
	// Cluster is the cluster name, for labels.
	Cluster string
	// Network is the bridge network's name.
	Network pulumi.StringInput
	// Running false creates containers stopped (the old `make stop`).
	Running bool
}

func containerLabels(cluster, component string) docker.ContainerLabelArray {
	return docker.ContainerLabelArray{
		docker.ContainerLabelArgs{Label: pulumi.String(LabelCluster), Value: pulumi.String(cluster)},
		docker.ContainerLabelArgs{Label: pulumi.String(LabelComponent), Value: pulumi.String(component)},
	}
}

func volumeLabels(cluster, component string) docker.VolumeLabelArray {
	return docker.VolumeLabelArray{
		docker.VolumeLabelArgs{Label: pulumi.String(LabelCluster), Value: pulumi.String(cluster)},
		docker.VolumeLabelArgs{Label: pulumi.String(LabelComponent), Value: pulumi.String(component)},
	}
}

// LogOptions are every container's json-file log options. They are set
// explicitly because the provider reads log_opts back from the container,
// where the daemon has merged its own default log-opts (daemon.json) into an
// unset value: left unset, every container would preview a replacement
// after every `up` on such a daemon. A daemon default for another json-file
// option (compress, labels, ...) is merged in too: set it here as well.
var LogOptions = map[string]string{"max-size": "10m", "max-file": "3"}

// LogDriver is every container's log driver, so that a daemon whose default
// driver is another one does not change what LogOptions mean.
const LogDriver = "json-file"

// newContainer declares a container with the options every container
// shares: the explicit log options and delete-before-replace (its name is
// fixed, so the old one must go first).
func newContainer(ctx *pulumi.Context, name string, a *docker.ContainerArgs, opts ...pulumi.ResourceOption) (*docker.Container, error) {
	a.LogDriver = pulumi.String(LogDriver)
	a.LogOpts = pulumi.ToStringMap(LogOptions)
	return docker.NewContainer(ctx, name, a, append(opts, pulumi.DeleteBeforeReplace(true))...)
}

// job declares a one-shot container that `up` runs to completion: its
// replacement reruns it. The provider waits for it to exit (attach), keeps
// its logs, does not delete it on refresh because it is not running
// (mustRun false), and reports a non-zero exit as success: the returned
// exit code output turns that into a failure of the update.
func newJob(ctx *pulumi.Context, name string, a *docker.ContainerArgs, opts ...pulumi.ResourceOption) (*docker.Container, pulumi.IntOutput, error) {
	a.Attach = pulumi.Bool(true)
	a.Logs = pulumi.Bool(true)
	a.MustRun = pulumi.Bool(false)
	a.Restart = pulumi.String("no")
	ctr, err := newContainer(ctx, name, a, opts...)
	if err != nil {
		return nil, pulumi.IntOutput{}, err
	}
	code := pulumi.All(ctr.Name, ctr.ExitCode).ApplyT(func(x []any) (int, error) {
		job, code := x[0].(string), x[1].(int)
		if code != 0 {
			return code, fmt.Errorf("job %s exited with code %d; see `docker logs %s`", job, code, job)
		}
		return code, nil
	}).(pulumi.IntOutput)
	return ctr, code, nil
}

// container declares a long-running container under the running switch.
//
// The provider updates start, mustRun, wait and restart in place, and its
// update only calls ContainerUpdate: flipping start would stop or start
// nothing. So a change of start replaces the container, which creates it
// stopped or started. A container created stopped has never published its
// ports, and the provider reads ports back from the running container, so
// while stopped a diff of ports is ignored; starting replaces it anyway,
// with the ports the program declares then.
//
// A stopped container must not be MustRun, or a refresh that finds it
// stopped would delete it; its restart policy is "no" so a Docker daemon
// restart does not start it either.
func (r Runtime) container(ctx *pulumi.Context, name string, a *docker.ContainerArgs, opts ...pulumi.ResourceOption) (*docker.Container, error) {
	a.Start = pulumi.Bool(r.Running)
	a.MustRun = pulumi.Bool(r.Running)
	if r.Running {
		a.Restart = pulumi.String("unless-stopped")
	} else {
		a.Restart = pulumi.String("no")
		a.Wait = nil
	}
	opts = append(opts, pulumi.ReplaceOnChanges([]string{"start"}))
	if !r.Running {
		opts = append(opts, pulumi.IgnoreChanges([]string{"ports"}))
	}
	return newContainer(ctx, name, a, opts...)
}

// networks attaches a container to the cluster network under its aliases.
func (r Runtime) networks(aliases ...string) docker.ContainerNetworksAdvancedArray {
	n := docker.ContainerNetworksAdvancedArgs{Name: r.Network}
	if len(aliases) > 0 {
		n.Aliases = pulumi.ToStringArray(aliases)
	}
	return docker.ContainerNetworksAdvancedArray{n}
}

// upload is one file for a container.
type upload struct {
	path    string
	content pulumi.StringInput
	mode    string
}

func uploads(us ...upload) docker.ContainerUploadArray {
	arr := make(docker.ContainerUploadArray, len(us))
	for i, u := range us {
		arr[i] = docker.ContainerUploadArgs{File: pulumi.String(u.path), Content: u.content, Permissions: pulumi.String(u.mode)}
	}
	return arr
}

// public is a world-readable file (certificates, non-secret configs).
func public(path string, content pulumi.StringInput) upload {
	return upload{path, content, "0644"}
}

// private is a root-only file; its content is made a secret.
func private(path string, content pulumi.StringOutput) upload {
	return upload{path, pulumi.ToSecret(content).(pulumi.StringOutput), "0600"}
}

// curlTLS is the curl prefix for healthchecks that must present a client
// certificate (every HTTPS endpoint in the cluster requires one).
func curlTLS(ca, cert, key string) string { return curlWithin(2, ca, cert, key) }

// curlWithin is curlTLS giving up after seconds.
func curlWithin(seconds int, ca, cert, key string) string {
	return fmt.Sprintf("curl -sf --max-time %d --cacert %s --cert %s --key %s", seconds, ca, cert, key)
}

// consulCurl is curlTLS with a Consul container's own TLS files.
func consulCurl(seconds int) string {
	return curlWithin(seconds, templates.MustPath("consulCA"), templates.MustPath("consulCert"), templates.MustPath("consulKey"))
}

func healthcheck(cmd string) *docker.ContainerHealthcheckArgs {
	return &docker.ContainerHealthcheckArgs{
		Tests:       pulumi.StringArray{pulumi.String("CMD-SHELL"), pulumi.String(cmd)},
		Interval:    pulumi.String("2s"),
		Timeout:     pulumi.String("3s"),
		Retries:     pulumi.Int(3),
		StartPeriod: pulumi.String("5s"),
	}
}

// digest is a secret sha256 over inputs (some of them secrets): a job's
// trigger file, which changes exactly when one of them does.
func digest(inputs ...any) pulumi.StringOutput {
	return pulumi.All(inputs...).ApplyT(func(xs []any) string {
		h := sha256.New()
		for _, x := range xs {
			s := fmt.Sprint(x)
			fmt.Fprintf(h, "%d:%s\n", len(s), s)
		}
		return hex.EncodeToString(h.Sum(nil))
	}).(pulumi.StringOutput)
}

// render turns a render function over Values into a secret string output.
func render(values pulumi.AnyOutput, f func(v valuesT) (string, error)) pulumi.StringOutput {
	out := values.ApplyT(func(x any) (string, error) { return f(x.(valuesT)) }).(pulumi.StringOutput)
	return pulumi.ToSecret(out).(pulumi.StringOutput)
}
