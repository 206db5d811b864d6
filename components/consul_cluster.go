package components

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/postgres-ha/postgres-ha/config"
	"github.com/postgres-ha/postgres-ha/templates"
)

// ConsulClusterArgs configures the Consul servers.
type ConsulClusterArgs struct {
	Config  config.Config
	Runtime Runtime
	Image   pulumi.StringInput
	CACert  pulumi.StringInput
	// Leaves holds "consul-<server>" for each server.
	Leaves map[string]Leaf
	// Values are each server's values (templates.Values, secret) by name.
	Values map[string]pulumi.AnyOutput
}

// ConsulCluster is the Consul servers: Patroni's DCS and the service
// registry. HTTPS only, TLS on every RPC, gossip encryption, ACLs
// default-deny. Server 1 publishes the HTTPS UI.
type ConsulCluster struct {
	pulumi.ResourceState

	Servers []*docker.Container
	// Names are the servers' container and host names.
	Names pulumi.StringArrayOutput `pulumi:"names"`
}

// NewConsulCluster creates one volume and one container per server.
func NewConsulCluster(ctx *pulumi.Context, name string, args *ConsulClusterArgs, opts ...pulumi.ResourceOption) (*ConsulCluster, error) {
	cc := &ConsulCluster{}
	if err := ctx.RegisterComponentResource(pkg+"ConsulCluster", name, cc, opts...); err != nil {
		return nil, err
	}
	c := args.Config
	var names []string
	var previous []pulumi.Resource
	for i := 1; i <= c.Consul.Servers; i++ {
		server := c.ServerName(i)
		names = append(names, server)
		leaf, ok := args.Leaves["consul-"+server]
		if !ok {
			return nil, fmt.Errorf("consul server %s: no certificate", server)
		}
		vol, err := docker.NewVolume(ctx, server+"-data", &docker.VolumeArgs{
			Name:   pulumi.String(server + "-data"),
			Labels: volumeLabels(c.Cluster.Name, "consul-server"),
		}, pulumi.Parent(cc), pulumi.DeleteBeforeReplace(true))
		if err != nil {
			return nil, err
		}
		i := i
		hcl := render(args.Values[server], func(v valuesT) (string, error) { return templates.ConsulServerFile(c, i, v) })
		a := consulContainer(c, args.Runtime, server, args.Image, args.CACert, leaf, hcl, "consul-server")
		a.Hostname = pulumi.String(server)
		a.NetworksAdvanced = args.Runtime.networks(server)
		a.Volumes = docker.ContainerVolumeArray{docker.ContainerVolumeArgs{
			VolumeName: vol.Name, ContainerPath: pulumi.String(templates.MustPath("consulData")),
		}}
		if i == 1 {
			a.Ports = docker.ContainerPortArray{docker.ContainerPortArgs{
				Internal: pulumi.Int(8501), External: pulumi.Int(c.Ports.ConsulUI), Ip: pulumi.String(c.Ports.BindAddress),
			}}
		}
		// A server is healthy once it knows the Raft leader; or while it
		// has never joined a Raft cluster (no peers: the first deployment,
		// before bootstrap_expect servers are up); or while too few other
		// servers answer for a quorum to exist (a start after a stop, where
		// they come up one after another). `up` waits for it, and each
		// server waits for the one before, so a change that replaces every
		// server rolls them one at a time, each back in the quorum before
		// the next goes.
		a.Healthcheck = serverHealth(c, server)
		a.Wait = pulumi.Bool(true)
		a.WaitTimeout = pulumi.Int(c.Postgres.WaitTimeoutSeconds)
		ctr, err := args.Runtime.container(ctx, server, a, pulumi.Parent(cc), pulumi.DependsOn(previous))
		if err != nil {
			return nil, err
		}
		cc.Servers = append(cc.Servers, ctr)
		previous = []pulumi.Resource{ctr}
	}
	cc.Names = pulumi.ToStringArray(names).ToStringArrayOutput()
	if err := ctx.RegisterResourceOutputs(cc, pulumi.Map{"names": cc.Names}); err != nil {
		return nil, err
	}
	return cc, nil
}

// serverHealth is the health check of a Consul server (see NewConsulCluster).
func serverHealth(c config.Config, server string) *docker.ContainerHealthcheckArgs {
	curl := consulCurl(2)
	var others []string
	for i := 1; i <= c.Consul.Servers; i++ {
		if s := c.ServerName(i); s != server {
			others = append(others, s)
		}
	}
	quorum := c.Consul.Servers/2 + 1
	cmd := curl + " https://127.0.0.1:8501/v1/status/leader | grep -q ':' || " +
		curl + " https://127.0.0.1:8501/v1/status/peers | grep -qx '\\[\\]'"
	if len(others) > 0 {
		cmd += fmt.Sprintf(" || [ \"$(for s in %s; do %s -o /dev/null https://$s:8501/v1/status/leader && echo up; done | wc -l)\" -lt %d ]",
			strings.Join(others, " "), consulCurl(1), quorum-1)
	}
	hc := healthcheck(cmd)
	hc.Timeout = pulumi.String(fmt.Sprintf("%ds", 5+len(others)))
	return hc
}

// consulContainer is what servers and agents share: image, config upload,
// TLS files and no capabilities at all. Each sets its own health check
// (serverHealth; the agent's also asks Patroni).
func consulContainer(c config.Config, r Runtime, name string, image, caCert pulumi.StringInput, leaf Leaf, hcl pulumi.StringOutput, component string) *docker.ContainerArgs {
	ca, cert, key := templates.MustPath("consulCA"), templates.MustPath("consulCert"), templates.MustPath("consulKey")
	return &docker.ContainerArgs{
		Name:        pulumi.String(name),
		Image:       image,
		Entrypoints: pulumi.StringArray{pulumi.String("consul")},
		Command: pulumi.StringArray{pulumi.String("agent"),
			pulumi.String("-config-dir=" + templates.MustPath("consulConfigDir"))},
		// Paths only: the CLI inside the container finds the agent and its
		// TLS files; no token is in the environment.
		Envs: pulumi.StringArray{
			pulumi.String("CONSUL_HTTP_ADDR=https://127.0.0.1:8501"),
			pulumi.String("CONSUL_CACERT=" + ca),
			pulumi.String("CONSUL_CLIENT_CERT=" + cert),
			pulumi.String("CONSUL_CLIENT_KEY=" + key),
		},
		Uploads: uploads(
			private(templates.MustPath("consulConfigDir")+"/consul.hcl", hcl),
			public(ca, caCert),
			public(cert, leaf.Cert),
			private(key, leaf.Key),
		),
		Capabilities: &docker.ContainerCapabilitiesArgs{Drops: pulumi.StringArray{pulumi.String("ALL")}},
		Labels:       containerLabels(c.Cluster.Name, component),
		StopSignal:   pulumi.String("SIGINT"),
	}
}
