package components

import (
	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/postgres-ha/postgres-ha/config"
	"github.com/postgres-ha/postgres-ha/templates"
)

// ConsulACLArgs configures the one-shot ACL job.
type ConsulACLArgs struct {
	Config  config.Config
	Runtime Runtime
	Image   pulumi.StringInput
	CACert  pulumi.StringInput
	// Leaf is the job's client certificate.
	Leaf   Leaf
	Values pulumi.AnyOutput
	// ManagementToken is the servers' initial_management token (secret).
	ManagementToken pulumi.StringOutput
}

// ConsulACL creates the ACL policies and tokens once the servers have a
// leader. pulumi-consul cannot be used, so a container runs the Consul CLI
// and API with the management token read from an uploaded file. Policies and
// tokens are idempotent (by name and by fixed AccessorID), and every input
// change replaces the container, which reruns the job.
type ConsulACL struct {
	pulumi.ResourceState

	// Job is the container; dependents wait for it.
	Job *docker.Container
	// ExitCode is the job's exit code; a non-zero code fails the update.
	ExitCode pulumi.IntOutput `pulumi:"exitCode"`
}

// NewConsulACL registers the job.
func NewConsulACL(ctx *pulumi.Context, name string, args *ConsulACLArgs, opts ...pulumi.ResourceOption) (*ConsulACL, error) {
	j := &ConsulACL{}
	if err := ctx.RegisterComponentResource(pkg+"ConsulACL", name, j, opts...); err != nil {
		return nil, err
	}
	c := args.Config
	dir := templates.MustPath("aclDir")
	ca, cert, key := templates.MustPath("consulCA"), templates.MustPath("consulCert"), templates.MustPath("consulKey")

	script := render(args.Values, func(v valuesT) (string, error) { return templates.ACLBootstrapFile(c, v) })
	policies, err := templates.PolicyFiles(c)
	if err != nil {
		return nil, err
	}
	files := []upload{
		public(ca, args.CACert), public(cert, args.Leaf.Cert), private(key, args.Leaf.Key),
		private(dir+"/bootstrap.sh", script),
		private(dir+"/management.token", args.ManagementToken),
		private(dir+"/management.header", pulumi.Sprintf("X-Consul-Token: %s", args.ManagementToken)),
	}
	for _, p := range policies {
		files = append(files, public(dir+"/policies/"+p.Name, pulumi.String(p.Content)))
	}
	for _, spec := range templates.Tokens(c) {
		spec := spec
		body := render(args.Values, func(v valuesT) (string, error) { return templates.TokenFile(c, spec, v) })
		files = append(files, private(dir+"/tokens/"+spec.Name+".json", body))
	}

	a := &docker.ContainerArgs{
		Name:             pulumi.String(c.ACLJobName()),
		Image:            args.Image,
		Entrypoints:      pulumi.StringArray{pulumi.String("/bin/sh")},
		Command:          pulumi.StringArray{pulumi.String(dir + "/bootstrap.sh")},
		NetworksAdvanced: args.Runtime.networks(),
		Uploads:          uploads(files...),
		Labels:           containerLabels(c.Cluster.Name, "consul-acl"),
	}
	if j.Job, j.ExitCode, err = newJob(ctx, name, a, pulumi.Parent(j)); err != nil {
		return nil, err
	}
	if err := ctx.RegisterResourceOutputs(j, pulumi.Map{"exitCode": j.ExitCode}); err != nil {
		return nil, err
	}
	return j, nil
}
