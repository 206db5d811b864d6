package validate

import (
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/postgres-ha/postgres-ha/config"
	"github.com/postgres-ha/postgres-ha/templates"
)

// patroniYML is the part of patroni.yml the tests read.
type patroniYML struct {
	Name    string `yaml:"name"`
	RestAPI struct {
		Listen         string `yaml:"listen"`
		ConnectAddress string `yaml:"connect_address"`
	} `yaml:"restapi"`
	Consul struct {
		Host                      string `yaml:"host"`
		ServiceCheckTLSServerName string `yaml:"service_check_tls_server_name"`
	} `yaml:"consul"`
	Bootstrap struct {
		DCS struct {
			PostgreSQL struct {
				Parameters map[string]any `yaml:"parameters"`
			} `yaml:"postgresql"`
		} `yaml:"dcs"`
		InitDB []any `yaml:"initdb"`
	} `yaml:"bootstrap"`
	PostgreSQL struct {
		Listen         string `yaml:"listen"`
		ConnectAddress string `yaml:"connect_address"`
		DataDir        string `yaml:"data_dir"`
		BinDir         string `yaml:"bin_dir"`
		Authentication struct {
			Superuser struct {
				Username string `yaml:"username"`
				Password string `yaml:"password"`
			} `yaml:"superuser"`
		} `yaml:"authentication"`
		Parameters map[string]any `yaml:"parameters"`
		PgHBA      []string       `yaml:"pg_hba"`
	} `yaml:"postgresql"`
}

func parsePatroni(t *testing.T, content string) patroniYML {
	t.Helper()
	var p patroniYML
	if err := yaml.Unmarshal([]byte(content), &p); err != nil {
		t.Fatalf("patroni.yml is not YAML: %v", err)
	}
	return p
}

// reachable makes hostport accept TCP connections for the test, unless
// something already listens there. Patroni's validator connects to
// consul.host and rejects the file if nothing answers; in a container the
// node's Consul agent sidecar answers there.
func reachable(t *testing.T, hostport string) {
	t.Helper()
	l, err := net.Listen("tcp", hostport)
	if errors.Is(err, syscall.EADDRINUSE) {
		return
	}
	if err != nil {
		t.Fatalf("listening on %s for Patroni's reachability check: %v", hostport, err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
}

// free fails the test if something listens on hostport: Patroni's validator
// rejects a listen address whose port is in use.
func free(t *testing.T, hostport string) {
	t.Helper()
	_, port := splitHostPort(t, hostport)
	if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
		c.Close()
		t.Fatalf("port %d is in use on this host; patroni --validate-config rejects a listen port in use, stop what holds it", port)
	}
}

// patroniSetup prepares what `patroni --validate-config` looks at for every
// stack: the DCS address answers, the listen ports are free.
func patroniSetup(t *testing.T) {
	t.Helper()
	s := stacks(t)[0]
	p := parsePatroni(t, s.file(t, s.cfg.NodeName(1)+"/patroni.yml"))
	reachable(t, p.Consul.Host)
	free(t, p.PostgreSQL.Listen)
	free(t, p.RestAPI.Listen)
}

// patroniCheck places node i's real certificate, key and CA and the
// post-bootstrap script under a temporary root and validates content as
// node i's patroni.yml.
func patroniCheck(t *testing.T, s *stack, i int, content string) result {
	t.Helper()
	leaf, err := s.pki.Leaf("node-" + s.cfg.NodeName(i))
	if err != nil {
		t.Fatal(err)
	}
	root := newRoot(t)
	root.write(t, templates.MustPath("pgCA"), s.pki.CA.CertPEM, 0o644)
	root.write(t, templates.MustPath("pgCert"), leaf.CertPEM, 0o644)
	root.write(t, templates.MustPath("pgKey"), leaf.KeyPEM(), 0o600)
	root.write(t, templates.MustPath("postBootstrap"), []byte(s.file(t, "patroni/post-bootstrap.sh")), 0o644)
	root.mkdir(t, templates.MustPath("pgSocket"))
	path := root.write(t, templates.MustPath("patroniConfig"), []byte(root.rewrite(content)), 0o600)
	return patroniImage.run(t, "", nil, "patroni", "--validate-config", path)
}

func TestPatroniAcceptsRenderedConfig(t *testing.T) {
	patroniSetup(t)
	for _, s := range stacks(t) {
		for i := 1; i <= s.cfg.Postgres.Nodes; i++ {
			t.Run(s.name+"/"+s.cfg.NodeName(i), func(t *testing.T) {
				t.Parallel()
				r := patroniCheck(t, s, i, s.file(t, s.cfg.NodeName(i)+"/patroni.yml"))
				accept(t, r)
				if r.code == 0 {
					checked.add("patroni --validate-config", s.name)
				}
			})
		}
	}
}

func TestPatroniRejectsBrokenConfig(t *testing.T) {
	patroniSetup(t)
	s := stacks(t)[0]
	cfg := s.file(t, s.cfg.NodeName(1)+"/patroni.yml")
	loopWait := fmt.Sprintf(`"loop_wait":%d`, config.Defaults().Postgres.LoopWait)
	// Patroni's schema checks the type of bootstrap.dcs timings, not
	// their range: loop_wait: -1 passes it (config.Validate catches that).
	cases := []struct {
		name   string
		broken string
		want   []string
	}{
		{"loop_wait of the wrong type", replaceOnce(t, cfg, loopWait, `"loop_wait":"five"`),
			[]string{"bootstrap.dcs.loop_wait"}},
		// The field-notes trap, an unquoted off (a YAML boolean), was an
		// error in Patroni 3.0.2; Patroni 4 reads false as off. An unknown
		// mode is still refused.
		{"watchdog mode unknown", replaceOnce(t, cfg, `mode: "off"`, `mode: "sometimes"`), []string{"watchdog.mode"}},
		{"connect_address on loopback", replaceOnce(t, cfg, fmt.Sprintf("connect_address: %q", s.cfg.NodeName(1)+":5432"), `connect_address: "127.0.0.1:5432"`),
			[]string{"postgresql.connect_address"}},
		{"tag of the wrong type", replaceOnce(t, cfg, "nofailover: false", `nofailover: "no"`), []string{"tags.nofailover"}},
		{"bin_dir without PostgreSQL", replaceOnce(t, cfg, "bin_dir: "+pgBin, "bin_dir: /usr/lib/postgresql/99/bin"),
			[]string{"postgresql.bin_dir"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reject(t, patroniCheck(t, s, 1, tc.broken), tc.want...)
		})
	}
}
