package config_test

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/postgres-ha/postgres-ha/config"
)

func withPMM(c config.Config, on bool) config.Config {
	c.PMM.Enabled = &on
	return c
}

func sized(nodes, servers int, pmm bool) config.Config {
	c := config.Defaults()
	c.Postgres.Nodes = nodes
	c.Consul.Servers = servers
	return withPMM(c, pmm)
}

func TestNames(t *testing.T) {
	d := config.Defaults()
	custom := config.Defaults()
	custom.Cluster.Name = "prod"
	tests := []struct {
		got, want string
	}{
		{d.NodeName(1), "pgha-pg-1"},
		{d.NodeName(12), "pgha-pg-12"},
		{d.ServerName(3), "pgha-consul-3"},
		{d.AgentContainer(2), "pgha-pg-2-consul"},
		{d.PMMClientContainer(2), "pgha-pg-2-pmm"},
		{d.HAProxyName(), "pgha-haproxy"},
		{d.PMMName(), "pgha-pmm"},
		{d.ACLJobName(), "pgha-consul-acl"},
		{d.NetworkName(), "pgha-net"},
		{d.ServiceName(), "pgha"},
		{d.ConsulServerSAN(), "server.dc1.consul"},
		{custom.NodeName(1), "prod-pg-1"},
		{custom.HAProxyName(), "prod-haproxy"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

// The longest allowed cluster name with the most nodes still gives DNS
// labels (at most 63 characters) for every derived name.
func TestLongestNamesAreDNSLabels(t *testing.T) {
	c := config.Defaults()
	c.Cluster.Name = strings.Repeat("a", 40)
	c.Postgres.Nodes = 64
	c.Consul.Servers = 7
	if ps := c.Validate(); len(ps) > 0 {
		t.Fatalf("config does not validate: %v", ps)
	}
	names := []string{c.AgentContainer(64), c.PMMClientContainer(64), c.ServerName(7), c.ACLJobName(), c.HAProxyName()}
	for _, n := range names {
		if len(n) > 63 {
			t.Errorf("%s is %d characters", n, len(n))
		}
	}
}

func TestAddresses(t *testing.T) {
	tests := []struct {
		nodes, servers int
		pmm            bool
		want           int
	}{
		{3, 3, true, 11},  // nodes + servers + HAProxy + ACL, patroni-config and one hand-over job + PMM
		{3, 3, false, 10}, // no PMM server
		{2, 1, false, 7},
		{5, 5, true, 15},
		{64, 7, true, 76},
	}
	for _, tt := range tests {
		if got := sized(tt.nodes, tt.servers, tt.pmm).Addresses(); got != tt.want {
			t.Errorf("Addresses(%d nodes, %d servers, pmm %v) = %d, want %d", tt.nodes, tt.servers, tt.pmm, got, tt.want)
		}
	}
	if got := config.Defaults().Addresses(); got != 11 {
		t.Errorf("default Addresses = %d, want 11", got)
	}
}

func TestPublishedPorts(t *testing.T) {
	base := map[string]int{
		"ports.write":    5000,
		"ports.read":     5001,
		"ports.stats":    7000,
		"ports.metrics":  8404,
		"ports.consulUi": 8500,
	}
	withPMMPort := map[string]int{"ports.pmm": 8443}
	for k, v := range base {
		withPMMPort[k] = v
	}
	tests := []struct {
		name string
		c    config.Config
		want map[string]int
	}{
		{"defaults", config.Defaults(), withPMMPort},
		{"pmm on", withPMM(config.Defaults(), true), withPMMPort},
		{"pmm off", withPMM(config.Defaults(), false), base},
	}
	for _, tt := range tests {
		if got := tt.c.PublishedPorts(); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: PublishedPorts = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestCerts(t *testing.T) {
	named := config.Defaults()
	named.Network.PublicHost = "db.example.com"
	named.Consul.Datacenter = "eu1"
	named.Consul.Domain = "internal"
	tests := []struct {
		name string
		c    config.Config
	}{
		{"defaults", config.Defaults()},
		{"pmm off", withPMM(config.Defaults(), false)},
		{"5 nodes 5 servers", sized(5, 5, true)},
		{"public name", named},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.c
			certs := c.Certs()
			byName := map[string]config.CertSpec{}
			for _, cs := range certs {
				if _, dup := byName[cs.Name]; dup {
					t.Errorf("certificate name %q repeated", cs.Name)
				}
				byName[cs.Name] = cs
				if cs.CommonName == "" {
					t.Errorf("%s: empty common name", cs.Name)
				}
				if has(cs.Usages, config.UsageServerAuth) && !has(cs.Usages, config.UsageClientAuth) {
					t.Errorf("%s: server cert without client_auth: %v", cs.Name, cs.Usages)
				}
				for _, list := range [][]string{cs.DNSNames, cs.IPs} {
					seen := map[string]bool{}
					for _, n := range list {
						if seen[n] {
							t.Errorf("%s: %q repeated in %v", cs.Name, n, list)
						}
						seen[n] = true
					}
				}
			}
			nodes, servers := c.Postgres.Nodes, c.Consul.Servers
			want := servers + 2*nodes + 4 // + haproxy, consul-acl, patroni-jobs, admin
			if c.PMM.On() {
				want++
			}
			if len(certs) != want {
				t.Errorf("%d certificates, want %d", len(certs), want)
			}

			server := func(name string) config.CertSpec {
				t.Helper()
				cs, ok := byName[name]
				if !ok {
					t.Fatalf("no certificate %q; have %v", name, keys(byName))
				}
				for _, u := range []string{config.UsageServerAuth, config.UsageClientAuth} {
					if !has(cs.Usages, u) {
						t.Errorf("%s: usages %v lack %s", name, cs.Usages, u)
					}
				}
				if !has(cs.IPs, "127.0.0.1") {
					t.Errorf("%s: IPs %v lack 127.0.0.1", name, cs.IPs)
				}
				if !has(cs.DNSNames, "localhost") {
					t.Errorf("%s: DNS names %v lack localhost", name, cs.DNSNames)
				}
				return cs
			}
			// Clients of the published ports dial the public host name.
			public := c.Network.PublicHost
			reachable := func(cs config.CertSpec) {
				t.Helper()
				if !has(cs.DNSNames, public) {
					t.Errorf("%s: DNS names %v lack public host %s", cs.Name, cs.DNSNames, public)
				}
			}

			san := fmt.Sprintf("server.%s.%s", c.Consul.Datacenter, c.Consul.Domain)
			for i := 1; i <= servers; i++ {
				cs := server("consul-" + c.ServerName(i))
				if cs.CommonName != c.ServerName(i) || !has(cs.DNSNames, c.ServerName(i)) || !has(cs.DNSNames, san) {
					t.Errorf("%s: CN %q DNS %v, want %s and %s", cs.Name, cs.CommonName, cs.DNSNames, c.ServerName(i), san)
				}
				reachable(cs)
			}
			for i := 1; i <= nodes; i++ {
				n := c.NodeName(i)
				agent := server("consul-" + n)
				if !has(agent.DNSNames, n) || has(agent.DNSNames, san) {
					t.Errorf("%s: DNS %v, want %s and not the server SAN", agent.Name, agent.DNSNames, n)
				}
				node := server("node-" + n)
				if node.CommonName != n || !has(node.DNSNames, n) || !has(node.DNSNames, c.HAProxyName()) {
					t.Errorf("%s: CN %q DNS %v, want %s and %s", node.Name, node.CommonName, node.DNSNames, n, c.HAProxyName())
				}
				reachable(node)
			}
			hap := server("haproxy")
			if hap.CommonName != c.HAProxyName() || !has(hap.DNSNames, c.HAProxyName()) {
				t.Errorf("haproxy: CN %q DNS %v", hap.CommonName, hap.DNSNames)
			}
			reachable(hap)
			if pmm, ok := byName["pmm"]; ok != c.PMM.On() {
				t.Errorf("pmm certificate present %v, PMM on %v", ok, c.PMM.On())
			} else if ok {
				server("pmm")
				reachable(pmm)
			}
			for _, name := range []string{"consul-acl", "admin"} {
				cs, ok := byName[name]
				if !ok {
					t.Fatalf("no certificate %q", name)
				}
				if has(cs.Usages, config.UsageServerAuth) || !has(cs.Usages, config.UsageClientAuth) {
					t.Errorf("%s: usages %v, want client only", name, cs.Usages)
				}
			}
		})
	}
}

func has(list []string, s string) bool { return slices.Contains(list, s) }

func keys(m map[string]config.CertSpec) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
