package templates

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/postgres-ha/postgres-ha/config"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// Stacks are the golden cases: the dev defaults and a non-default stack.
func Stacks() map[string]config.Config {
	dev := config.Defaults()
	custom := config.Defaults()
	f := false
	custom.Cluster.Name = "orders"
	custom.Postgres.Nodes = 5
	custom.Postgres.SynchronousMode = config.SyncOff
	custom.Postgres.Parameters = map[string]string{"work_mem": "16MB", "log_min_duration_statement": "250"}
	custom.Consul.Servers = 5
	custom.Consul.Datacenter = "eu1"
	custom.PMM.Enabled = &f
	custom.HAProxy.CheckInterval = "1.5s"
	custom.Network.Subnet = "10.77.0.0/24"
	return map[string]config.Config{"dev": dev, "custom": custom}
}

func TestGolden(t *testing.T) {
	for name, c := range Stacks() {
		t.Run(name, func(t *testing.T) {
			files, err := All(c, Placeholders(c))
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join("testdata", name)
			if *update {
				os.RemoveAll(dir)
			}
			for _, f := range files {
				path := filepath.Join(dir, f.Name)
				if *update {
					if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(path, []byte(f.Content), 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test ./templates -update)", err)
				}
				if string(want) != f.Content {
					t.Errorf("%s differs from its golden file; run go test ./templates -update and review the diff", path)
				}
			}
		})
	}
}

func TestDeterministic(t *testing.T) {
	for name, c := range Stacks() {
		a, err := All(c, Placeholders(c))
		if err != nil {
			t.Fatal(err)
		}
		for n := 0; n < 5; n++ {
			b, _ := All(c, Placeholders(c))
			if len(a) != len(b) {
				t.Fatalf("%s: %d files then %d", name, len(a), len(b))
			}
			for i := range a {
				if a[i] != b[i] {
					t.Fatalf("%s: %s rendered differently on run %d", name, a[i].Name, n)
				}
			}
		}
	}
}

func TestSecretsOnlyWhereNeeded(t *testing.T) {
	c := config.Defaults()
	v := Placeholders(c)
	files, err := All(c, v)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		// The ACL script names tokens by AccessorID only; policies hold no secrets.
		if strings.HasSuffix(f.Name, "bootstrap.sh") || strings.HasSuffix(f.Name, ".hcl") && strings.Contains(f.Name, "/policies/") {
			for name, tok := range v.Tokens {
				if strings.Contains(f.Content, tok.SecretID) {
					t.Errorf("%s contains the secret of token %s", f.Name, name)
				}
			}
			if strings.Contains(f.Content, v.ManagementToken) {
				t.Errorf("%s contains the management token", f.Name)
			}
		}
	}
	// Agents never get the management token; servers do.
	agent, _ := ConsulAgentFile(c, 1, v)
	if strings.Contains(agent, v.ManagementToken) {
		t.Error("agent config contains the management token")
	}
	server, _ := ConsulServerFile(c, 1, v)
	if !strings.Contains(server, v.ManagementToken) {
		t.Error("server config lacks initial_management")
	}
}

func TestMissingTokenIsAnError(t *testing.T) {
	c := config.Defaults()
	v := Placeholders(c)
	delete(v.Tokens, "patroni-"+c.NodeName(2))
	if _, err := PatroniFile(c, 2, v); err == nil || !strings.Contains(err.Error(), "patroni-pgha-pg-2") {
		t.Fatalf("want an error naming the missing token, got %v", err)
	}
}

// Every PostgreSQL parameter the program sets, dynamic or in patroni.yml,
// is one config.Validate refuses from a stack (shared_preload_libraries is
// extended, max_connections is postgres.maxConnections), so the list of
// owned parameters and the templates cannot drift apart.
func TestProgramParametersAreOwned(t *testing.T) {
	c := config.Defaults()
	local := regexp.MustCompile(`(?s)\npostgresql:\n.*?\n  parameters:\n(.*?)\n  #`)
	yml, err := PatroniFile(c, 1, Placeholders(c))
	if err != nil {
		t.Fatal(err)
	}
	m := local.FindStringSubmatch(yml)
	if m == nil {
		t.Fatal("no postgresql.parameters in patroni.yml")
	}
	names := []string{}
	for _, line := range strings.Split(m[1], "\n") {
		if k, _, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			names = append(names, k)
		}
	}
	for k := range DynamicConfig(c).PostgreSQL.Parameters {
		names = append(names, k)
	}
	if len(names) < 12 {
		t.Fatalf("found only %v", names)
	}
	for _, k := range names {
		if k == "shared_preload_libraries" || k == "max_connections" {
			continue
		}
		if config.ParameterOwner(k) == "" {
			t.Errorf("the program sets %s, which a stack may also set: add it to config's owned parameters", k)
		}
	}
}

func TestSharedPreloadLibrariesExtend(t *testing.T) {
	c := config.Defaults()
	c.Postgres.Parameters = map[string]string{"shared_preload_libraries": "auto_explain, pg_stat_statements"}
	if got := DynamicConfig(c).PostgreSQL.Parameters["shared_preload_libraries"]; got != "pg_stat_statements,auto_explain" {
		t.Errorf("shared_preload_libraries = %q, want pg_stat_statements,auto_explain", got)
	}
}

// A key the data lacks fails the render instead of writing "<no value>".
func TestRenderMissingKeyFails(t *testing.T) {
	out, err := Render(PMMAgentConfig, map[string]any{"Cluster": "pgha", "Node": "pgha-pg-1"})
	if err == nil || !strings.Contains(err.Error(), "Server") {
		t.Fatalf("render without Server: %v, output %q; want an error naming the key", err, out)
	}
}
