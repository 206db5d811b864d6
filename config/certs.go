package config

import (
	"fmt"
	"net"
)

// Key usages, spelled as pulumi-tls wants them (snake_case).
const (
	UsageDigitalSignature = "digital_signature"
	UsageKeyEncipherment  = "key_encipherment"
	UsageServerAuth       = "server_auth"
	UsageClientAuth       = "client_auth"
)

// CertSpec is one leaf certificate signed by the cluster CA.
type CertSpec struct {
	// Name is the certificate's logical name, unique in the cluster.
	Name       string
	CommonName string
	DNSNames   []string
	IPs        []string
	Usages     []string
}

var (
	serverAndClient = []string{UsageDigitalSignature, UsageKeyEncipherment, UsageServerAuth, UsageClientAuth}
	clientOnly      = []string{UsageDigitalSignature, UsageKeyEncipherment, UsageClientAuth}
)

// Certs lists every leaf certificate of the cluster with the SANs that cover
// every name the configs use to reach its holder. Server certificates also
// carry client_auth: Consul servers dial each other, Patroni uses its REST
// certificate to call other members and Consul, HAProxy presents its
// certificate to Patroni's REST API.
func (c Config) Certs() []CertSpec {
	public := c.Network.PublicHost
	ips := []string{"127.0.0.1"}
	if net.ParseIP(public) != nil {
		ips = uniq("127.0.0.1", public)
		public = "localhost"
	}
	var cs []CertSpec
	for i := 1; i <= c.Consul.Servers; i++ {
		n := c.ServerName(i)
		cs = append(cs, CertSpec{Name: "consul-" + n, CommonName: n,
			DNSNames: uniq(n, c.ConsulServerSAN(), "localhost", public), IPs: ips, Usages: serverAndClient})
	}
	for i := 1; i <= c.Postgres.Nodes; i++ {
		n := c.NodeName(i)
		cs = append(cs,
			CertSpec{Name: "consul-" + n, CommonName: n,
				DNSNames: uniq(n, fmt.Sprintf("client.%s.%s", c.Consul.Datacenter, c.Consul.Domain), "localhost"),
				IPs:      []string{"127.0.0.1"}, Usages: serverAndClient},
			// PostgreSQL, Patroni REST and Patroni's Consul client. HAProxy
			// checks every node under the nodes' alias; clients of its TCP
			// passthrough verify this certificate against the name they
			// dialled, so HAProxy's names are here too.
			CertSpec{Name: "node-" + n, CommonName: n,
				DNSNames: uniq(n, c.NodesAlias(), c.HAProxyName(), "localhost", public), IPs: ips, Usages: serverAndClient})
	}
	cs = append(cs,
		CertSpec{Name: "haproxy", CommonName: c.HAProxyName(),
			DNSNames: uniq(c.HAProxyName(), "localhost", public), IPs: ips, Usages: serverAndClient},
		CertSpec{Name: "consul-acl", CommonName: c.ACLJobName(), DNSNames: []string{c.ACLJobName()}, Usages: clientOnly},
		// The patroni-config and hand-over jobs: a client of Patroni's REST API.
		CertSpec{Name: "patroni-jobs", CommonName: c.Cluster.Name + "-patroni-jobs", Usages: clientOnly},
		// For operators: patronictl, the Consul CLI and UI.
		CertSpec{Name: "admin", CommonName: c.Cluster.Name + "-admin", Usages: clientOnly},
	)
	if c.PMM.On() {
		cs = append(cs, CertSpec{Name: "pmm", CommonName: c.PMMName(),
			DNSNames: uniq(c.PMMName(), "localhost", public), IPs: ips, Usages: serverAndClient})
	}
	return cs
}

// uniq drops repeated names, keeping the first; public may equal localhost.
func uniq(names ...string) []string {
	var out []string
	seen := map[string]bool{}
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}
