package components

import (
	"fmt"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/postgres-ha/postgres-ha/config"
	"github.com/postgres-ha/postgres-ha/templates"
)

// PostgresNodeArgs configures one PostgreSQL node.
type PostgresNodeArgs struct {
	Config  config.Config
	Runtime Runtime
	// Index is the node's 1-based number.
	Index          int
	PatroniImage   pulumi.StringInput
	ConsulImage    pulumi.StringInput
	PMMClientImage pulumi.StringInput
	CACert         pulumi.StringInput
	// NodeLeaf serves PostgreSQL and Patroni's REST API and is Patroni's
	// client certificate; AgentLeaf is the Consul agent's.
	NodeLeaf  Leaf
	AgentLeaf Leaf
	Values    pulumi.AnyOutput
}

// PostgresNode is one Patroni/PostgreSQL container with its PGDATA volume,
// a Consul client agent sidecar in the same network namespace (Patroni talks
// to https://127.0.0.1:8501 and binds its session to this agent's
// serfHealth), and a pmm-client sidecar when PMM is on.
//
// The Patroni container owns the namespace, so losing it takes the agent's
// network with it (the node is gone, its session expires), while losing only
// the agent leaves PostgreSQL running.
type PostgresNode struct {
	pulumi.ResourceState

	Patroni *docker.Container
	Agent   *docker.Container
	PMM     *docker.Container
	// Name is the node's container, host and Patroni member name.
	Name pulumi.StringOutput `pulumi:"name"`
	// Volume holds PGDATA; it outlives stopped containers.
	Volume pulumi.StringOutput `pulumi:"volume"`
}

// NewPostgresNode creates the node's volume and containers.
func NewPostgresNode(ctx *pulumi.Context, name string, args *PostgresNodeArgs, opts ...pulumi.ResourceOption) (*PostgresNode, error) {
	n := &PostgresNode{}
	if err := ctx.RegisterComponentResource(pkg+"PostgresNode", name, n, opts...); err != nil {
		return nil, err
	}
	c, i := args.Config, args.Index
	node := c.NodeName(i)
	child := pulumi.Parent(n)

	vol, err := docker.NewVolume(ctx, node+"-data", &docker.VolumeArgs{
		Name:   pulumi.String(node + "-data"),
		Labels: volumeLabels(c.Cluster.Name, "postgres"),
	}, child, pulumi.DeleteBeforeReplace(true))
	if err != nil {
		return nil, err
	}

	up := templates.UploadPath
	ca, cert, key := templates.MustPath("pgCA"), templates.MustPath("pgCert"), templates.MustPath("pgKey")
	patroniYML := render(args.Values, func(v valuesT) (string, error) { return templates.PatroniFile(c, i, v) })
	postBootstrap, err := templates.PostBootstrapFile(c)
	if err != nil {
		return nil, err
	}
	files := []upload{
		private(up(templates.MustPath("patroniConfig")), patroniYML),
		public(up(templates.MustPath("postBootstrap")), pulumi.String(postBootstrap)),
		public(up(ca), args.CACert),
		public(up(cert), args.NodeLeaf.Cert),
		private(up(key), args.NodeLeaf.Key),
	}
	if c.PMM.On() {
		pw := render(args.Values, func(v valuesT) (string, error) { return v.PMMDBPassword, nil })
		files = append(files, private(up(templates.MustPath("pmmDBPassword")), pw))
	}
	pa := &docker.ContainerArgs{
		Name:             pulumi.String(node),
		Hostname:         pulumi.String(node),
		Image:            args.PatroniImage,
		Entrypoints:      pulumi.StringArray{pulumi.String("/usr/local/bin/postgres-ha-entrypoint")},
		Command:          pulumi.StringArray{pulumi.String("patroni"), pulumi.String(templates.MustPath("patroniConfig"))},
		NetworksAdvanced: args.Runtime.networks(node),
		Volumes: docker.ContainerVolumeArray{docker.ContainerVolumeArgs{
			VolumeName: vol.Name, ContainerPath: pulumi.String("/var/lib/postgresql/data"),
		}},
		Uploads: uploads(files...),
		// Healthy when Patroni reports PostgreSQL running (leader or replica).
		Healthcheck: healthcheck(curlTLS(ca, cert, key) + " https://" + node + ":8008/health"),
		Labels:      containerLabels(c.Cluster.Name, "postgres"),
		// Patroni stops PostgreSQL cleanly on SIGTERM; a synchronous standby
		// may wait ~10 s for the primary to release it. StopTimeout is for
		// `docker stop`; the provider's delete (every replacement, and
		// cluster.running=false) stops with DestroyGraceSeconds, and kills
		// at once without it.
		StopTimeout:         pulumi.Int(30),
		DestroyGraceSeconds: pulumi.Int(30),
		// In MB, the provider's unit: 256 MB of /dev/shm.
		ShmSize: pulumi.Int(256),
	}
	patroni, err := args.Runtime.container(ctx, node, pa, child)
	if err != nil {
		return nil, fmt.Errorf("creating patroni node %d: %w", i, err)
	}
	n.Patroni = patroni
	shareNetwork := pulumi.Sprintf("container:%s", patroni.ID())

	hcl := render(args.Values, func(v valuesT) (string, error) { return templates.ConsulAgentFile(c, i, v) })
	aa := consulContainer(c, args.Runtime, c.AgentContainer(i), args.ConsulImage, args.CACert, args.AgentLeaf, hcl, "consul-agent")
	aa.NetworkMode = shareNetwork
	aa.Wait = pulumi.Bool(true)
	aa.WaitTimeout = pulumi.Int(c.Postgres.WaitTimeoutSeconds)
	if n.Agent, err = args.Runtime.container(ctx, c.AgentContainer(i), aa, child); err != nil {
		return nil, fmt.Errorf("creating consul agent of node %d: %w", i, err)
	}

	if c.PMM.On() {
		if n.PMM, err = newPMMClient(ctx, c, args, shareNetwork, child); err != nil {
			return nil, fmt.Errorf("creating pmm-client of node %d: %w", i, err)
		}
	}

	n.Name = patroni.Name
	n.Volume = vol.Name
	if err := ctx.RegisterResourceOutputs(n, pulumi.Map{"name": n.Name, "volume": n.Volume}); err != nil {
		return nil, err
	}
	return n, nil
}

// newPMMClient is the node's pmm-client sidecar: pmm-agent configured from an
// uploaded file (server credentials), registering PostgreSQL and Patroni.
func newPMMClient(ctx *pulumi.Context, c config.Config, args *PostgresNodeArgs, netns pulumi.StringOutput, opts ...pulumi.ResourceOption) (*docker.Container, error) {
	i := args.Index
	agentYAML := render(args.Values, func(v valuesT) (string, error) { return templates.PMMAgentFile(c, i, v) })
	register, err := templates.PMMRegisterFile(c, i)
	if err != nil {
		return nil, err
	}
	pw := render(args.Values, func(v valuesT) (string, error) { return v.PMMDBPassword, nil })
	a := &docker.ContainerArgs{
		Name:        pulumi.String(c.PMMClientContainer(i)),
		Image:       args.PMMClientImage,
		NetworkMode: netns,
		Envs: pulumi.StringArray{
			pulumi.String("PMM_AGENT_CONFIG_FILE=" + templates.MustPath("pmmClientConfig")),
			pulumi.String("PMM_AGENT_SETUP=1"),
			pulumi.String("PMM_AGENT_SETUP_FORCE=1"),
			pulumi.String("PMM_AGENT_SETUP_NODE_NAME=" + c.NodeName(i)),
			pulumi.String("PMM_AGENT_PRERUN_FILE=" + templates.MustPath("pmmClientRegister")),
		},
		Uploads: uploads(
			private(templates.MustPath("pmmClientConfig"), agentYAML),
			public(templates.MustPath("pmmClientRegister"), pulumi.String(register)),
			public(templates.MustPath("pmmClientCA"), args.CACert),
			private(templates.MustPath("pmmClientDBPassword"), pw),
		),
		// Root inside the sidecar reads the root-only uploads.
		User:   pulumi.String("0"),
		Labels: containerLabels(c.Cluster.Name, "pmm-client"),
	}
	return args.Runtime.container(ctx, c.PMMClientContainer(i), a, opts...)
}
