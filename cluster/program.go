// Package cluster is the postgres-ha program: it reads and validates the
// stack config, then declares the whole cluster as components. main.go runs
// Program with pulumi.Run; tests run the same function under mocks.
package cluster

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/postgres-ha/postgres-ha/components"
	"github.com/postgres-ha/postgres-ha/config"
	"github.com/postgres-ha/postgres-ha/templates"
)

// Program declares the cluster. An invalid config returns every problem
// before one resource is registered.
func Program(ctx *pulumi.Context) error {
	c, err := config.Load(contextSource{ctx})
	if err != nil {
		return err
	}
	return Deploy(ctx, c)
}

// Deploy declares the cluster of a loaded, valid config.
func Deploy(ctx *pulumi.Context, c config.Config) error {
	name := c.Cluster.Name

	secrets, err := components.NewSecrets(ctx, name, &components.SecretsArgs{
		Tokens: templates.Tokens(c), Nodes: templates.NodeNames(c),
	})
	if err != nil {
		return fmt.Errorf("creating secrets: %w", err)
	}
	pki, err := components.NewPKI(ctx, name, &components.PKIArgs{Cluster: name, TLS: c.TLS, Certs: c.Certs()})
	if err != nil {
		return fmt.Errorf("creating PKI: %w", err)
	}
	network, err := components.NewNetwork(ctx, name, &components.NetworkArgs{
		Cluster: name, Name: c.NetworkName(), Subnet: c.Network.Subnet,
	})
	if err != nil {
		return fmt.Errorf("creating network: %w", err)
	}
	images, err := components.NewImages(ctx, name, &components.ImagesArgs{
		Images: c.Images, PMM: c.PMM.On(),
	})
	if err != nil {
		return fmt.Errorf("creating images: %w", err)
	}
	rt := components.Runtime{Cluster: name, Network: network.Name, Running: c.Cluster.IsRunning()}

	// Each container's files get only the tokens and node ID they embed.
	serverValues := map[string]pulumi.AnyOutput{}
	for i := 1; i <= c.Consul.Servers; i++ {
		s := c.ServerName(i)
		serverValues[s] = secrets.ValuesFor([]string{"agent-" + s}, []string{s})
	}
	passwords := secrets.ValuesFor(nil, nil)
	consul, err := components.NewConsulCluster(ctx, name, &components.ConsulClusterArgs{
		Config: c, Runtime: rt, Image: images.Consul, CACert: pki.CACert, Leaves: pki.Leaves, Values: serverValues,
	})
	if err != nil {
		return fmt.Errorf("creating consul servers: %w", err)
	}

	// Nodes start after the servers and, when running, after the ACL job
	// has created their tokens.
	nodeDeps := []pulumi.Resource{}
	for _, s := range consul.Servers {
		nodeDeps = append(nodeDeps, s)
	}
	if rt.Running {
		acl, err := components.NewConsulACL(ctx, name, &components.ConsulACLArgs{
			Config: c, Runtime: rt, Image: images.Consul, CACert: pki.CACert, Leaf: pki.Leaves["consul-acl"],
			Values: secrets.Values, ManagementToken: secrets.ManagementToken,
		}, pulumi.DependsOn(nodeDeps))
		if err != nil {
			return fmt.Errorf("creating consul ACL job: %w", err)
		}
		nodeDeps = append(nodeDeps, acl.Job)
	}

	var pmm *components.PMMServer
	if c.PMM.On() {
		pmm, err = components.NewPMMServer(ctx, name, &components.PMMServerArgs{
			Config: c, Runtime: rt, Image: images.PMMServer, CACert: pki.CACert, Leaf: pki.Leaves["pmm"],
			AdminPassword: secrets.PMMAdminPassword, JobImage: images.Patroni,
		})
		if err != nil {
			return fmt.Errorf("creating PMM server: %w", err)
		}
	}

	// The Patroni jobs: hand-over before a node's containers are replaced,
	// patroni-config once every node is up.
	var jobs *components.PatroniJobArgs
	if rt.Running {
		jobs = &components.PatroniJobArgs{Config: c, Runtime: rt, Image: images.Patroni,
			CACert: pki.CACert, Leaf: pki.Leaves["patroni-jobs"], Values: passwords}
	}

	// Nodes are chained: each waits for the one before it is healthy (its
	// agent waits for Patroni to lead or stream), so a change that replaces
	// every node rolls them one at a time, replicas first and the leader
	// last, after its hand-over job has switched over to a standby.
	var nodes []pulumi.Resource
	previous := nodeDeps
	for _, i := range nodeOrder(c, LeaderOf(c)) {
		n := c.NodeName(i)
		node, err := components.NewPostgresNode(ctx, n, &components.PostgresNodeArgs{
			Config: c, Runtime: rt, Index: i,
			PatroniImage: images.Patroni, ConsulImage: images.Consul, PMMClientImage: images.PMMClient,
			CACert: pki.CACert, NodeLeaf: pki.Leaves["node-"+n], AgentLeaf: pki.Leaves["consul-"+n],
			Values: secrets.ValuesFor([]string{"agent-" + n, "patroni-" + n}, []string{n}), HandOver: jobs, PMM: pmm,
		}, pulumi.DependsOn(previous))
		if err != nil {
			return fmt.Errorf("creating postgres node %d: %w", i, err)
		}
		// Depend on the containers, not the component: DependsOn a component
		// expands to the children registered so far, and those register
		// asynchronously, so a dependent would miss some of them at random.
		// Not on the pmm-client: it waits for PMM's token, and the cluster
		// must not wait for PMM.
		containers := []pulumi.Resource{node.Patroni, node.Agent}
		nodes = append(nodes, containers...)
		previous = append(slices.Clone(nodeDeps), containers...)
	}
	var nodeNames []string
	for i := 1; i <= c.Postgres.Nodes; i++ {
		nodeNames = append(nodeNames, c.NodeName(i))
	}

	if jobs != nil {
		if _, err := components.NewPatroniConfig(ctx, name, jobs, pulumi.DependsOn(nodes)); err != nil {
			return fmt.Errorf("creating patroni-config job: %w", err)
		}
	}

	haproxy, err := components.NewHAProxy(ctx, name, &components.HAProxyArgs{
		Config: c, Runtime: rt, Image: images.HAProxy, CACert: pki.CACert, Leaf: pki.Leaves["haproxy"], Values: passwords,
	}, pulumi.DependsOn(nodes))
	if err != nil {
		return fmt.Errorf("creating haproxy: %w", err)
	}

	exportOutputs(ctx, c, pki, secrets, haproxy, consul, nodeNames)
	return nil
}

// exportOutputs publishes endpoints in plain text and every credential, and
// the URIs that embed one, as secrets.
func exportOutputs(ctx *pulumi.Context, c config.Config, pki *components.PKI, s *components.Secrets, h *components.HAProxy, k *components.ConsulCluster, nodes []string) {
	// hostPort brackets an IPv6 address ("[::1]:5000").
	hostPort := func(port int) string { return net.JoinHostPort(c.Network.PublicHost, strconv.Itoa(port)) }
	ctx.Export("writeEndpoint", pulumi.String(hostPort(c.Ports.Write)))
	ctx.Export("readEndpoint", pulumi.String(hostPort(c.Ports.Read)))
	ctx.Export("consulUiUrl", pulumi.String("https://"+hostPort(c.Ports.ConsulUI)+"/ui/"))
	ctx.Export("haproxyStatsUrl", pulumi.String("https://"+hostPort(c.Ports.Stats)+"/"))
	ctx.Export("haproxyMetricsUrl", pulumi.String("https://"+hostPort(c.Ports.Metrics)+"/metrics"))
	if c.PMM.On() {
		ctx.Export("pmmUrl", pulumi.String("https://"+hostPort(c.Ports.PMM)+"/"))
		ctx.Export("pmmAdminPassword", s.PMMAdminPassword)
	}
	ctx.Export("caCert", pki.CACert)
	ctx.Export("adminClientCert", pki.Leaves["admin"].Cert)
	ctx.Export("adminClientKey", pki.Leaves["admin"].Key)
	ctx.Export("haproxy", h.Name)
	ctx.Export("nodes", pulumi.ToStringArray(nodes))
	ctx.Export("consulServers", k.Names)
	ctx.Export("clusterName", pulumi.String(c.Cluster.Name))
	ctx.Export("ports", pulumi.IntMap{"write": pulumi.Int(c.Ports.Write), "read": pulumi.Int(c.Ports.Read),
		"stats": pulumi.Int(c.Ports.Stats), "metrics": pulumi.Int(c.Ports.Metrics), "consulUi": pulumi.Int(c.Ports.ConsulUI)})
	ctx.Export("superuserPassword", s.SuperuserPassword)
	ctx.Export("haproxyStatsPassword", s.StatsPassword)
	ctx.Export("patroniRestPassword", s.RestAPIPassword)
	ctx.Export("consulManagementToken", s.ManagementToken)
	uri := func(port int) pulumi.StringOutput {
		return pulumi.ToSecret(s.SuperuserPassword.ApplyT(func(pw string) string {
			u := url.URL{Scheme: "postgresql", User: url.UserPassword("postgres", pw),
				Host: hostPort(port), Path: "/postgres",
				RawQuery: "sslmode=verify-full&sslrootcert=ca.crt"}
			return u.String()
		})).(pulumi.StringOutput)
	}
	ctx.Export("writeUri", uri(c.Ports.Write))
	ctx.Export("readUri", uri(c.Ports.Read))
}
