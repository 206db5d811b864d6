package components

import (
	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/postgres-ha/postgres-ha/config"
	"github.com/postgres-ha/postgres-ha/templates"
)

// HAProxyArgs configures the router.
type HAProxyArgs struct {
	Config  config.Config
	Runtime Runtime
	Image   pulumi.StringInput
	CACert  pulumi.StringInput
	Leaf    Leaf
	Values  pulumi.AnyOutput
}

// Container ports of HAProxy's listeners; the host ports are config.
const (
	haproxyWrite   = 5000
	haproxyRead    = 5001
	haproxyStats   = 7000
	haproxyMetrics = 8404
)

// HAProxy routes writes to the leader and reads to the replicas, checking
// each node's Patroni REST API over mutual TLS. It publishes the write, read,
// stats and metrics ports.
type HAProxy struct {
	pulumi.ResourceState

	Container *docker.Container
	Name      pulumi.StringOutput `pulumi:"name"`
}

// NewHAProxy creates the HAProxy container.
func NewHAProxy(ctx *pulumi.Context, name string, args *HAProxyArgs, opts ...pulumi.ResourceOption) (*HAProxy, error) {
	h := &HAProxy{}
	if err := ctx.RegisterComponentResource(pkg+"HAProxy", name, h, opts...); err != nil {
		return nil, err
	}
	c := args.Config
	cfg := render(args.Values, func(v valuesT) (string, error) { return templates.HAProxyFile(c, v) })
	// HAProxy wants the certificate and its key in one file.
	pem := pulumi.Sprintf("%s%s", args.Leaf.Cert, args.Leaf.Key)
	port := func(internal, external int) docker.ContainerPortArgs {
		return docker.ContainerPortArgs{Internal: pulumi.Int(internal), External: pulumi.Int(external), Ip: pulumi.String(c.Ports.BindAddress)}
	}
	a := &docker.ContainerArgs{
		Name:     pulumi.String(c.HAProxyName()),
		Hostname: pulumi.String(c.HAProxyName()),
		Image:    args.Image,
		// Started as root to read the root-only key; haproxy.cfg drops to
		// the haproxy user.
		User:        pulumi.String("0"),
		Entrypoints: pulumi.StringArray{pulumi.String("haproxy")},
		Command: pulumi.StringArray{pulumi.String("-W"), pulumi.String("-db"),
			pulumi.String("-f"), pulumi.String(templates.MustPath("haproxyConfig"))},
		NetworksAdvanced: args.Runtime.networks(c.HAProxyName()),
		Ports: docker.ContainerPortArray{
			port(haproxyWrite, c.Ports.Write),
			port(haproxyRead, c.Ports.Read),
			port(haproxyStats, c.Ports.Stats),
			port(haproxyMetrics, c.Ports.Metrics),
		},
		Uploads: uploads(
			private(templates.MustPath("haproxyConfig"), cfg),
			public(templates.MustPath("haproxyCA"), args.CACert),
			private(templates.MustPath("haproxyPEM"), pem),
		),
		Labels: containerLabels(c.Cluster.Name, "haproxy"),
	}
	ctr, err := args.Runtime.container(ctx, name, a, pulumi.Parent(h))
	if err != nil {
		return nil, err
	}
	h.Container = ctr
	h.Name = ctr.Name
	if err := ctx.RegisterResourceOutputs(h, pulumi.Map{"name": h.Name}); err != nil {
		return nil, err
	}
	return h, nil
}
