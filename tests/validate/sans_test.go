package validate

import (
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// A dial is one way a rendered config reaches a certificate holder: a TLS
// client that connects to host verifies holder's certificate against it.
type dial struct {
	source string // where the name comes from
	holder string // the CertSpec.Name of the certificate presented
	host   string // the name or address dialled
}

var (
	hclString   = func(key string) *regexp.Regexp { return regexp.MustCompile(`(?m)^\s*` + key + `\s*=\s*"([^"]*)"`) }
	hclList     = regexp.MustCompile(`(?m)^\s*retry_join\s*=\s*\[([^\]]*)\]`)
	quoted      = regexp.MustCompile(`"([^"]*)"`)
	haproxySrv  = regexp.MustCompile(`(?m)^\s*server-template\s+(\S+)\s+(\S+)\s+(\S+)\s+(.*)$`)
	consulAddr  = regexp.MustCompile(`CONSUL_HTTP_ADDR="([^"]+)"`)
	registerPG  = regexp.MustCompile(`--host=(\S+) --port=\d+ --tls`)
	pmmServer   = regexp.MustCompile(`(?m)^\s*address:\s*"([^"]+)"`)
	haproxyOpts = regexp.MustCompile(`(check-sni|verifyhost)\s+(\S+)`)
)

func match(t *testing.T, re *regexp.Regexp, content, what string) string {
	t.Helper()
	m := re.FindStringSubmatch(content)
	if m == nil {
		t.Fatalf("no %s in the rendered file", what)
	}
	return m[1]
}

func host(t *testing.T, hostport string) string {
	t.Helper()
	h, _ := splitHostPort(t, hostport)
	return h
}

// dials lists every name a stack's rendered files use to reach a holder.
func dials(t *testing.T, s *stack) []dial {
	t.Helper()
	var ds []dial
	add := func(source, holder, host string) { ds = append(ds, dial{source, holder, host}) }
	c := s.cfg

	for _, f := range consulFiles(s) {
		content := s.file(t, f.file)
		dc, domain := match(t, hclString("datacenter"), content, "datacenter"), match(t, hclString("domain"), content, "domain")
		joins := quoted.FindAllStringSubmatch(match(t, hclList, content, "retry_join"), -1)
		if len(joins) != c.Consul.Servers {
			t.Errorf("%s: %d retry_join names, want %d", f.file, len(joins), c.Consul.Servers)
		}
		for _, j := range joins {
			// verify_server_hostname: every server presents server.<dc>.<domain>;
			// the joined name must be in the certificate of its holder too.
			add(f.file+" retry_join", "consul-"+j[1], j[1])
			add(f.file+" verify_server_hostname", "consul-"+j[1], fmt.Sprintf("server.%s.%s", dc, domain))
		}
	}
	for i := 1; i <= c.Postgres.Nodes; i++ {
		n := c.NodeName(i)
		p := parsePatroni(t, s.file(t, n+"/patroni.yml"))
		add(n+" restapi.connect_address", "node-"+n, host(t, p.RestAPI.ConnectAddress))
		add(n+" postgresql.connect_address", "node-"+n, host(t, p.PostgreSQL.ConnectAddress))
		add(n+" consul.service_check_tls_server_name", "node-"+n, p.Consul.ServiceCheckTLSServerName)
		// Patroni calls its own agent over https.
		add(n+" consul.host", "consul-"+n, host(t, p.Consul.Host))
		// Clients of HAProxy's TCP passthrough dial HAProxy's name and get
		// the node's PostgreSQL certificate.
		add(n+" via "+c.HAProxyName(), "node-"+n, c.HAProxyName())
		if c.PMM.On() {
			reg := s.file(t, c.PMMClientContainer(i)+"/register.sh")
			add(c.PMMClientContainer(i)+" register.sh --host", "node-"+n, match(t, registerPG, reg, "pmm-admin --host"))
			agent := s.file(t, c.PMMClientContainer(i)+"/pmm-agent.yaml")
			add(c.PMMClientContainer(i)+" pmm-agent.yaml server.address", "pmm", host(t, match(t, pmmServer, agent, "server address")))
		}
	}
	cfg := s.file(t, c.HAProxyName()+"/haproxy.cfg")
	// Each slot of a server-template may hold any node: every node's
	// certificate must verify for the names the slots dial.
	servers := haproxySrv.FindAllStringSubmatch(cfg, -1)
	want := 2 // primary, replicas
	if c.HAProxy.ReadFallback == "leader" {
		want = 3 // and replicas-leader, the reads' fallback
	}
	if len(servers) != want {
		t.Errorf("haproxy.cfg: %d server-template lines, want %d (primary, replicas, and replicas-leader with readFallback leader)", len(servers), want)
	}
	for _, m := range servers {
		name, addr, opts := m[1], m[3], m[4]
		found := haproxyOpts.FindAllStringSubmatch(opts, -1)
		if len(found) != 2 {
			t.Errorf("haproxy.cfg server-template %s: want check-sni and verifyhost, got %q", name, opts)
		}
		for i := 1; i <= c.Postgres.Nodes; i++ {
			n := c.NodeName(i)
			add("haproxy.cfg server-template "+name+" address", "node-"+n, host(t, addr))
			for _, o := range found {
				add("haproxy.cfg server-template "+name+" "+o[1], "node-"+n, o[2])
			}
		}
	}
	acl := s.file(t, c.ACLJobName()+"/bootstrap.sh")
	u, err := url.Parse(match(t, consulAddr, acl, "CONSUL_HTTP_ADDR"))
	if err != nil {
		t.Fatal(err)
	}
	add("ACL job CONSUL_HTTP_ADDR", "consul-"+u.Hostname(), u.Hostname())
	return ds
}

// TestServerCertificatesCoverEveryDialledName checks, for every name a
// rendered config dials, that the holder's real certificate verifies
// against the CA for that name as a TLS server.
func TestServerCertificatesCoverEveryDialledName(t *testing.T) {
	for _, s := range stacks(t) {
		t.Run(s.name, func(t *testing.T) {
			ds := dials(t, s)
			if len(ds) < 10 {
				t.Fatalf("only %d dialled names found; the parsers broke", len(ds))
			}
			for _, d := range ds {
				leaf, err := s.pki.Leaf(d.holder)
				if err != nil {
					t.Errorf("%s dials %s, held by %s: %v", d.source, d.host, d.holder, err)
					continue
				}
				_, err = leaf.Cert.Verify(x509.VerifyOptions{DNSName: d.host, Roots: s.pki.Pool(),
					KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
				if err != nil {
					t.Errorf("%s dials %q: certificate %s (DNS %v, IP %v) does not verify: %v",
						d.source, d.host, d.holder, leaf.Cert.DNSNames, leaf.Cert.IPAddresses, err)
				}
			}
		})
	}
}

// TestClientCertificatesAllowClientAuth checks the certificates the configs
// present as TLS clients: Consul servers and agents to each other (mutual
// TLS, verify_incoming), Patroni to Consul and other members, HAProxy to
// Patroni (crt on its servers), the ACL job and the admin.
func TestClientCertificatesAllowClientAuth(t *testing.T) {
	for _, s := range stacks(t) {
		t.Run(s.name, func(t *testing.T) {
			cfg := s.file(t, s.cfg.HAProxyName()+"/haproxy.cfg")
			if !strings.Contains(cfg, " crt ") {
				t.Fatal("haproxy.cfg presents no client certificate; update this test")
			}
			var clients []string
			for _, l := range s.pki.Leaves {
				if strings.HasPrefix(l.Spec.Name, "consul-") || strings.HasPrefix(l.Spec.Name, "node-") {
					clients = append(clients, l.Spec.Name)
				}
			}
			clients = append(clients, "haproxy", "admin")
			if want := s.cfg.Consul.Servers + 2*s.cfg.Postgres.Nodes + 3; len(clients) != want {
				t.Errorf("%d client certificates (%v), want %d", len(clients), clients, want)
			}
			for _, name := range clients {
				leaf, err := s.pki.Leaf(name)
				if err != nil {
					t.Error(err)
					continue
				}
				if _, err := leaf.Cert.Verify(x509.VerifyOptions{Roots: s.pki.Pool(),
					KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
					t.Errorf("%s cannot authenticate as a TLS client: %v", name, err)
				}
			}
		})
	}
}

// TestDialledNameCheckCanFail makes sure the SAN check is not vacuous.
func TestDialledNameCheckCanFail(t *testing.T) {
	s := stacks(t)[0]
	leaf, err := s.pki.Leaf("node-" + s.cfg.NodeName(1))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{s.cfg.NodeName(2), s.cfg.ServerName(1), net.IPv4(10, 0, 0, 1).String()} {
		if _, err := leaf.Cert.Verify(x509.VerifyOptions{DNSName: h, Roots: s.pki.Pool()}); err == nil {
			t.Errorf("node 1's certificate verified for %s", h)
		}
	}
}
