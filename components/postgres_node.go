package components

import (
	"fmt"
	"strings"

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
	// HandOver, when set, runs the node's hand-over job before its
	// containers are created or replaced (nil while the cluster is stopped).
	HandOver *PatroniJobArgs
	// PMM is the PMM server the node's pmm-client registers with (nil when
	// PMM is off).
	PMM *PMMServer
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
	// HandOver is the job that moves the leadership off this node before
	// its containers are replaced (nil while stopped).
	HandOver *docker.Container
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
	hcl := render(args.Values, func(v valuesT) (string, error) { return templates.ConsulAgentFile(c, i, v) })
	aa := consulContainer(c, args.Runtime, c.AgentContainer(i), args.ConsulImage, args.CACert, args.AgentLeaf, hcl, "consul-agent")
	// Healthy once the agent sees a Consul leader and Patroni runs this
	// node as the primary or as a replica streaming within 16 MB, or while
	// the cluster has no leader at all (a start after a stop: nodes come
	// up one after another, and the leader may be elected only once a
	// later one is back). `up` waits for it before it replaces the next node.
	agentCurl := consulCurl(2)
	agentHealth := agentCurl + " https://127.0.0.1:8501/v1/status/leader | grep -q ':' && { " +
		agentCurl + " -o /dev/null https://127.0.0.1:8008/primary || " +
		agentCurl + " -o /dev/null 'https://127.0.0.1:8008/replica?lag=16MB' || { c=$(" +
		agentCurl + ` https://127.0.0.1:8008/cluster) && ! echo "$c" | grep -Eq '"role": *"(leader|primary|standby_leader)"'; }; }`
	hc := healthcheck(agentHealth)
	hc.Timeout = pulumi.String("7s")
	aa.Healthcheck = hc
	entrypoint := "/usr/local/bin/postgres-ha-entrypoint"
	command := []string{"patroni", templates.MustPath("patroniConfig")}
	// Healthy when Patroni reports PostgreSQL running (leader or replica).
	patroniHealth := curlTLS(ca, cert, key) + " https://" + node + ":8008/health"
	aa.Wait = pulumi.Bool(true)
	aa.WaitTimeout = pulumi.Int(c.Postgres.WaitTimeoutSeconds)

	patroniOpts := []pulumi.ResourceOption{child}
	outputs := pulumi.Map{}
	if args.HandOver != nil {
		// The job's trigger is a digest of whatever replaces this node's
		// Patroni or agent container, so it runs (and hands the
		// leadership over) exactly when they are about to be replaced.
		shape := append(command, entrypoint, patroniHealth, agentHealth, node, c.NodesAlias(), "shm 256", "stop 30")
		trigger := []any{args.PatroniImage, args.ConsulImage, hcl, pulumi.String(strings.Join(shape, "\n"))}
		for _, f := range files {
			trigger = append(trigger, f.content)
		}
		for _, u := range aa.Uploads.(docker.ContainerUploadArray) {
			trigger = append(trigger, u.(docker.ContainerUploadArgs).Content)
		}
		settings, err := templates.HandOverSettings(c)
		if err != nil {
			return nil, err
		}
		var handOverCode pulumi.IntOutput
		dir := templates.MustPath("patroniJobDir")
		n.HandOver, handOverCode, err = args.HandOver.job(ctx, c.HandOverJobName(i), "hand-over", settings, []string{"hand-over", node},
			[]upload{private(dir+"/trigger", digest(trigger...))}, child)
		if err != nil {
			return nil, fmt.Errorf("creating hand-over job of node %d: %w", i, err)
		}
		patroniOpts = append(patroniOpts, pulumi.DependsOn([]pulumi.Resource{n.HandOver}))
		// A failed switchover fails the update (the replacement goes ahead
		// and costs a failover, which Patroni handles).
		outputs["handOverExitCode"] = handOverCode
	}

	pa := &docker.ContainerArgs{
		Name:             pulumi.String(node),
		Hostname:         pulumi.String(node),
		Image:            args.PatroniImage,
		Entrypoints:      pulumi.StringArray{pulumi.String(entrypoint)},
		Command:          pulumi.ToStringArray(command),
		NetworksAdvanced: args.Runtime.networks(node, c.NodesAlias()),
		Volumes: docker.ContainerVolumeArray{docker.ContainerVolumeArgs{
			VolumeName: vol.Name, ContainerPath: pulumi.String("/var/lib/postgresql/data"),
		}},
		Uploads:     uploads(files...),
		Healthcheck: healthcheck(patroniHealth),
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
	patroni, err := args.Runtime.container(ctx, node, pa, patroniOpts...)
	if err != nil {
		return nil, fmt.Errorf("creating patroni node %d: %w", i, err)
	}
	n.Patroni = patroni
	shareNetwork := pulumi.Sprintf("container:%s", patroni.ID())

	aa.NetworkMode = shareNetwork
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
	outputs["name"], outputs["volume"] = n.Name, n.Volume
	if err := ctx.RegisterResourceOutputs(n, outputs); err != nil {
		return nil, err
	}
	return n, nil
}

// newPMMClient is the node's pmm-client sidecar (PMM 3): pmm-agent set up
// from environment settings and an uploaded config with no credential, the
// service-account token read from the PMM job's volume at start and handed
// to pmm-agent in its environment only (not the container's), then
// registering PostgreSQL. It starts after the job has written the token.
func newPMMClient(ctx *pulumi.Context, c config.Config, args *PostgresNodeArgs, netns pulumi.StringOutput, opts ...pulumi.ResourceOption) (*docker.Container, error) {
	i := args.Index
	agentYAML, err := templates.PMMAgentFile(c, i)
	if err != nil {
		return nil, err
	}
	register, err := templates.PMMRegisterFile(c, i)
	if err != nil {
		return nil, err
	}
	pw := render(args.Values, func(v valuesT) (string, error) { return v.PMMDBPassword, nil })
	a := &docker.ContainerArgs{
		Name:        pulumi.String(c.PMMClientContainer(i)),
		Image:       args.PMMClientImage,
		NetworkMode: netns,
		Entrypoints: pulumi.StringArray{pulumi.String("/bin/sh"), pulumi.String("-c"), pulumi.String(
			`IFS= read -r PMM_AGENT_SERVER_PASSWORD < ` + templates.MustPath("pmmToken") +
				` && export PMM_AGENT_SERVER_PASSWORD && exec /usr/local/percona/pmm/bin/pmm-agent-entrypoint`)},
		Envs: pulumi.StringArray{
			pulumi.String("PMM_AGENT_CONFIG_FILE=" + templates.MustPath("pmmClientConfig")),
			pulumi.String(fmt.Sprintf("PMM_AGENT_SERVER_ADDRESS=%s:%d", c.PMMName(), templates.PMMServerPort)),
			pulumi.String("PMM_AGENT_SERVER_USERNAME=service_token"),
			pulumi.String("PMM_AGENT_SETUP=1"),
			pulumi.String("PMM_AGENT_SETUP_FORCE=1"),
			pulumi.String("PMM_AGENT_SETUP_NODE_NAME=" + c.NodeName(i)),
			pulumi.String("PMM_AGENT_PRERUN_FILE=" + templates.MustPath("pmmClientRegister")),
		},
		Uploads: uploads(
			private(templates.MustPath("pmmClientConfig"), pulumi.String(agentYAML).ToStringOutput()),
			public(templates.MustPath("pmmClientRegister"), pulumi.String(register)),
			public(templates.MustPath("pmmClientCA"), args.CACert),
			private(templates.MustPath("pmmClientDBPassword"), pw),
		),
		Volumes: docker.ContainerVolumeArray{docker.ContainerVolumeArgs{
			VolumeName: args.PMM.TokenVolume, ContainerPath: pulumi.String(templates.MustPath("pmmTokenDir")),
			ReadOnly: pulumi.Bool(true),
		}},
		// Root inside the sidecar reads the root-only uploads and the token.
		User:   pulumi.String("0"),
		Labels: containerLabels(c.Cluster.Name, "pmm-client"),
	}
	if args.PMM.TokenJob != nil {
		opts = append(opts, pulumi.DependsOn([]pulumi.Resource{args.PMM.TokenJob}))
	}
	return args.Runtime.container(ctx, c.PMMClientContainer(i), a, opts...)
}
