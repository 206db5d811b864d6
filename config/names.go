package config

import "fmt"

// Names derive every container, host and volume name from the cluster name,
// so templates, components and tests agree on them.

// NodeName is the i-th (1-based) PostgreSQL node: its container, hostname,
// Patroni member name and Consul agent node name.
func (c Config) NodeName(i int) string { return fmt.Sprintf("%s-pg-%d", c.Cluster.Name, i) }

// NodesAlias is the network alias every node container answers to:
// Docker's DNS resolves it to every running node, and HAProxy fills its
// server slots from it. Node certificates carry it, for HAProxy's checks.
func (c Config) NodesAlias() string { return c.Cluster.Name + "-pg" }

// ServerName is the i-th (1-based) Consul server.
func (c Config) ServerName(i int) string { return fmt.Sprintf("%s-consul-%d", c.Cluster.Name, i) }

// AgentContainer is the Consul agent sidecar of node i.
func (c Config) AgentContainer(i int) string { return c.NodeName(i) + "-consul" }

// PMMClientContainer is the pmm-client sidecar of node i.
func (c Config) PMMClientContainer(i int) string { return c.NodeName(i) + "-pmm" }

// HAProxyName is the router's container and host name.
func (c Config) HAProxyName() string { return c.Cluster.Name + "-haproxy" }

// PMMName is the PMM server's container and host name.
func (c Config) PMMName() string { return c.Cluster.Name + "-pmm" }

// PMMTokenJobName is the one-shot container that gets the pmm-clients'
// service-account token from the PMM server.
func (c Config) PMMTokenJobName() string { return c.Cluster.Name + "-pmm-token" }

// ACLJobName is the one-shot container that creates Consul ACL policies and tokens.
func (c Config) ACLJobName() string { return c.Cluster.Name + "-consul-acl" }

// PatroniJobName is the one-shot container that applies the dynamic
// configuration through Patroni's REST API.
func (c Config) PatroniJobName() string { return c.Cluster.Name + "-patroni-config" }

// HandOverJobName is the one-shot container that moves the leadership off
// node i before its containers are replaced.
func (c Config) HandOverJobName(i int) string { return c.NodeName(i) + "-hand-over" }

// NetworkName is the bridge network.
func (c Config) NetworkName() string { return c.Cluster.Name + "-net" }

// ServiceName is the Patroni scope and the Consul service it registers.
func (c Config) ServiceName() string { return c.Cluster.Name }

// ConsulServerSAN is the name Consul's verify_server_hostname expects in
// every server certificate.
func (c Config) ConsulServerSAN() string {
	return fmt.Sprintf("server.%s.%s", c.Consul.Datacenter, c.Consul.Domain)
}

// Addresses is how many addresses the bridge network must hand out.
func (c Config) Addresses() int {
	// HAProxy and the jobs: ACL, patroni-config and one hand-over at a time.
	n := c.Postgres.Nodes + c.Consul.Servers + 4
	if c.PMM.On() {
		n++
	}
	return n
}

// PublishedPorts maps each published port's dotted key to its value.
func (c Config) PublishedPorts() map[string]int {
	p := map[string]int{
		"ports.write":    c.Ports.Write,
		"ports.read":     c.Ports.Read,
		"ports.stats":    c.Ports.Stats,
		"ports.metrics":  c.Ports.Metrics,
		"ports.consulUi": c.Ports.ConsulUI,
	}
	if c.PMM.On() {
		p["ports.pmm"] = c.Ports.PMM
	}
	return p
}
