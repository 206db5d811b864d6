package validate

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/postgres-ha/postgres-ha/templates"
)

// pgServer is a real PostgreSQL started from a rendered patroni.yml, in a
// container of the Patroni image on the host's network.
type pgServer struct {
	container string
	port      int
	data      string
	conf      string // the file holding the rendered parameters
	nParams   int
	ca        string
	user      string
	password  string
	socket    string
}

// conninfo is a libpq connection string to the server over TCP on
// 127.0.0.1, verifying the server certificate against host.
func (p *pgServer) conninfo(host, extra string) string {
	return fmt.Sprintf("host=%s hostaddr=127.0.0.1 port=%d dbname=postgres user=%s sslrootcert=%s connect_timeout=10 %s",
		host, p.port, p.user, p.ca, extra)
}

// psql runs one query with the image's psql (the cluster's libpq) in the
// server's container and returns how it ended.
func (p *pgServer) psql(t *testing.T, password, conninfo, query string) result {
	t.Helper()
	env := []string{"PGPASSWORD=" + password, "PGPASSFILE=/nonexistent", "PGSERVICEFILE=/nonexistent",
		"PGSYSCONFDIR=/nonexistent", "PGOPTIONS=", "PGSSLMODE=", "PGHOST=", "PGDATABASE="}
	return p.exec(t, env, pgBin+"/psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", conninfo, "-c", query)
}

// exec runs a command in the server's container, env passed by name.
func (p *pgServer) exec(t *testing.T, env []string, name string, args ...string) result {
	t.Helper()
	a := append([]string{"exec"}, envByName(env)...)
	return run(t, env, "docker", append(append(a, p.container, name), args...)...)
}

// query runs a query that must succeed and returns its trimmed output.
func (p *pgServer) query(t *testing.T, conninfo, query string) string {
	t.Helper()
	r := p.psql(t, p.password, conninfo, query)
	if r.code != 0 {
		t.Fatalf("query failed:\n%s", r)
	}
	return strings.TrimSpace(r.stdout)
}

// confValue formats a YAML value as a postgresql.conf value, as Patroni does.
func confValue(v any) string {
	switch v := v.(type) {
	case bool:
		if v {
			return "on"
		}
		return "off"
	case int:
		return strconv.Itoa(v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	default:
		return "'" + strings.ReplaceAll(fmt.Sprint(v), "'", "''") + "'"
	}
}

// initdbArgs turns bootstrap.initdb into initdb options, as Patroni does:
// a string is a flag, a mapping is --key=value.
func initdbArgs(t *testing.T, items []any) []string {
	t.Helper()
	var args []string
	for _, it := range items {
		switch it := it.(type) {
		case string:
			args = append(args, "--"+it)
		case map[string]any:
			keys := make([]string, 0, len(it))
			for k := range it {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				args = append(args, fmt.Sprintf("--%s=%v", k, it[k]))
			}
		default:
			t.Fatalf("bootstrap.initdb item %v (%T) is neither a string nor a mapping", it, it)
		}
	}
	return args
}

// startPostgres initialises a data directory the way Patroni bootstraps node
// i (bootstrap.initdb options, the rendered superuser and password), then
// starts PostgreSQL with the rendered bootstrap.dcs parameters, overridden by
// postgresql.parameters, and postgresql.pg_hba, on a free port of 127.0.0.1,
// with node i's real certificate and key. Only listen_addresses and port
// differ from the rendered file, so that several can run on one host.
func startPostgres(t *testing.T, s *stack, i int) (*pgServer, patroniYML, rooted) {
	t.Helper()
	patroniImage.need(t)
	u := postgresUser(t)

	root := newRoot(t)
	p := parsePatroni(t, root.rewrite(s.file(t, s.cfg.NodeName(i)+"/patroni.yml")))
	if p.PostgreSQL.BinDir != pgBin {
		t.Fatalf("postgresql.bin_dir is %q, want %s", p.PostgreSQL.BinDir, pgBin)
	}
	leaf, err := s.pki.Leaf("node-" + s.cfg.NodeName(i))
	if err != nil {
		t.Fatal(err)
	}
	ca := root.write(t, templates.MustPath("pgCA"), s.pki.CA.CertPEM, 0o644)
	root.write(t, templates.MustPath("pgCert"), leaf.CertPEM, 0o644)
	root.write(t, templates.MustPath("pgKey"), leaf.KeyPEM(), 0o600)
	root.write(t, templates.MustPath("pmmDBPassword"), []byte(templates.Placeholders(s.cfg).PMMDBPassword+"\n"), 0o600)
	root.mkdir(t, templates.MustPath("pgSocket"))
	su := p.PostgreSQL.Authentication.Superuser
	pwfile := root.write(t, "/initdb-pwfile", []byte(su.Password+"\n"), 0o600)
	data := p.PostgreSQL.DataDir
	if !strings.HasPrefix(data, root.dir) {
		t.Fatalf("data_dir %q was not moved under the test root", data)
	}
	socket := root.path(templates.MustPath("pgSocket"))
	if n := len(socket) + len("/.s.PGSQL.65535"); n > 107 {
		t.Fatalf("socket path %s is %d bytes, over the 107 a unix socket allows; shorten the test name", socket, n)
	}
	u.chownTree(t, root.dir)

	env := []string{"LC_ALL=C.UTF-8", "LANG=C.UTF-8", "TZ=UTC"}
	if r := patroniImage.run(t, u.docker(), env, pgBin+"/initdb", append([]string{"-D", data, "--username=" + su.Username, "--pwfile=" + pwfile},
		initdbArgs(t, p.Bootstrap.InitDB)...)...); r.code != 0 {
		t.Fatalf("initdb with the rendered bootstrap.initdb options failed:\n%s", r)
	}

	// The parameters PATCH /config gives the running cluster (the
	// patroni-config job's settings), under the node's local ones, as
	// Patroni writes them.
	var job struct {
		Config struct {
			PostgreSQL struct {
				Parameters map[string]string `json:"parameters"`
			} `json:"postgresql"`
		} `json:"config"`
	}
	if err := json.Unmarshal([]byte(s.file(t, s.cfg.PatroniJobName()+"/settings.json")), &job); err != nil {
		t.Fatal(err)
	}
	params := map[string]any{}
	for k, v := range job.Config.PostgreSQL.Parameters {
		params[k] = v
	}
	for k, v := range p.PostgreSQL.Parameters {
		params[k] = v
	}
	port := freePort(t)
	hba := filepath.Join(root.dir, "pg_hba.conf")
	params["hba_file"] = hba
	params["listen_addresses"] = "127.0.0.1"
	params["port"] = port
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var conf strings.Builder
	conf.WriteString("# parameters of the rendered patroni.yml\n")
	for _, k := range keys {
		fmt.Fprintf(&conf, "%s = %s\n", k, confValue(params[k]))
	}
	confFile := filepath.Join(data, "patroni.conf")
	mustWrite(t, confFile, conf.String(), 0o600)
	mustWrite(t, hba, strings.Join(p.PostgreSQL.PgHBA, "\n")+"\n", 0o600)
	main, err := os.OpenFile(filepath.Join(data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(main, "include '%s'\n", confFile)
	main.Close()
	u.chownTree(t, root.dir)

	// The server runs detached, in the foreground of its container, until
	// the test ends; it is ready when pg_isready says so.
	name := fmt.Sprintf("pgha-validate-%d-%d", os.Getpid(), port)
	a := append([]string{"run", "--detach", "--name", name, "--label", "postgres-ha.validate=1"},
		patroniImage.args(u.docker(), env, pgBin+"/postgres", "-D", data)[1:]...)
	if r := run(t, env, "docker", a...); r.code != 0 {
		t.Fatalf("starting PostgreSQL:\n%s", r)
	}
	t.Cleanup(func() { run(t, nil, "docker", "rm", "--force", name) })
	srv := &pgServer{container: name, port: port, data: data, conf: confFile, nParams: len(keys), ca: ca,
		user: su.Username, password: su.Password, socket: socket}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		r := srv.exec(t, nil, pgBin+"/pg_isready", "-q", "-h", "127.0.0.1", "-p", strconv.Itoa(port))
		if r.code == 0 {
			break
		}
		if time.Now().After(deadline) || r.code > 2 {
			logs := run(t, nil, "docker", "logs", name)
			t.Fatalf("PostgreSQL did not start with the rendered parameters:\n%s\n--- its log\n%s", r, logs.output())
		}
	}
	return srv, p, root
}

func mustWrite(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

func TestPostgresRunsRenderedConfig(t *testing.T) {
	for _, s := range stacks(t) {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			pg, p, root := startPostgres(t, s, 1)
			node, _ := splitHostPort(t, p.PostgreSQL.ConnectAddress)
			full := "sslmode=verify-full"

			t.Run("every rendered parameter and pg_hba line applies", func(t *testing.T) {
				got := pg.query(t, pg.conninfo("127.0.0.1", full), fmt.Sprintf(
					"SELECT count(*) FILTER (WHERE applied AND error IS NULL) || '/' || count(*) FROM pg_file_settings WHERE sourcefile = '%s'", pg.conf))
				if want := fmt.Sprintf("%d/%d", pg.nParams, pg.nParams); got != want {
					bad := pg.query(t, pg.conninfo("127.0.0.1", full), "SELECT name, applied, error FROM pg_file_settings WHERE NOT applied OR error IS NOT NULL")
					t.Errorf("applied/all rendered parameters = %s, want %s:\n%s", got, want, bad)
				}
				if got := pg.query(t, pg.conninfo("127.0.0.1", full), "SELECT count(*) FROM pg_hba_file_rules WHERE error IS NOT NULL"); got != "0" {
					t.Errorf("%s pg_hba lines have errors", got)
				}
				if got := pg.query(t, pg.conninfo("127.0.0.1", full), "SHOW shared_preload_libraries"); !strings.Contains(got, "pg_stat_statements") {
					t.Errorf("shared_preload_libraries = %q", got)
				}
			})
			t.Run("SHOW ssl is on", func(t *testing.T) {
				if got := pg.query(t, pg.conninfo("127.0.0.1", full), "SHOW ssl"); got != "on" {
					t.Errorf("SHOW ssl = %q", got)
				}
			})
			t.Run("plaintext is refused", func(t *testing.T) {
				r := pg.psql(t, pg.password, pg.conninfo("127.0.0.1", "sslmode=disable"), "SELECT 1")
				if r.code == 0 || !strings.Contains(r.stderr, "no encryption") {
					t.Errorf("a plaintext connection was not rejected by pg_hba:\n%s", r)
				}
			})
			t.Run("verify-full by IP, node name and HAProxy name with SCRAM", func(t *testing.T) {
				for _, host := range []string{"127.0.0.1", node, s.cfg.HAProxyName()} {
					// channel_binding=require succeeds only with SCRAM-SHA-256-PLUS.
					got := pg.query(t, pg.conninfo(host, full+" channel_binding=require"),
						"SELECT s.ssl, a.rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_stat_ssl s, pg_authid a WHERE s.pid = pg_backend_pid() AND a.rolname = current_user")
					if got != "t|t" {
						t.Errorf("host %s: TLS, SCRAM-stored password = %q, want t|t", host, got)
					}
				}
			})
			t.Run("a name outside the certificate fails verify-full", func(t *testing.T) {
				r := pg.psql(t, pg.password, pg.conninfo("not-in-the-cert.example", full), "SELECT 1")
				if r.code == 0 || !strings.Contains(r.stderr, "does not match host name") {
					t.Errorf("verify-full accepted a name the certificate lacks:\n%s", r)
				}
			})
			t.Run("a wrong password is refused", func(t *testing.T) {
				r := pg.psql(t, "wrong-"+pg.password, pg.conninfo("127.0.0.1", full), "SELECT 1")
				if r.code == 0 || !strings.Contains(r.stderr, "password authentication failed") {
					t.Errorf("a wrong password was not refused:\n%s", r)
				}
			})
			t.Run("post-bootstrap script runs", func(t *testing.T) {
				script := root.write(t, templates.MustPath("postBootstrap"),
					[]byte(root.rewrite(s.file(t, "patroni/post-bootstrap.sh"))), 0o644)
				// Patroni passes its superuser connection string as $1.
				dsn := fmt.Sprintf("host=%s port=%d user=%s dbname=postgres", pg.socket, pg.port, pg.user)
				r := pg.exec(t, []string{"PATH=" + pgBin + ":/usr/bin:/bin", "PGPASSWORD=" + pg.password,
					"PGPASSFILE=/nonexistent", "PGOPTIONS=-c synchronous_commit=local -c statement_timeout=0"},
					"/bin/sh", script, dsn)
				if r.code != 0 {
					t.Fatalf("post-bootstrap script failed:\n%s", r)
				}
				want := "t|f"
				if s.cfg.PMM.On() {
					want = "t|t"
				}
				got := pg.query(t, pg.conninfo("127.0.0.1", full), "SELECT EXISTS (SELECT FROM pg_extension WHERE extname = 'pg_stat_statements'), "+
					"EXISTS (SELECT FROM pg_roles r WHERE r.rolname = 'pmm' AND r.rolcanlogin AND pg_has_role(r.oid, 'pg_monitor', 'MEMBER'))")
				if got != want {
					t.Errorf("pg_stat_statements installed, pmm role = %s, want %s", got, want)
				}
				if s.cfg.PMM.On() {
					pw := templates.Placeholders(s.cfg).PMMDBPassword
					if got := pg.psql(t, pw, strings.Replace(pg.conninfo("127.0.0.1", full), "user="+pg.user, "user=pmm", 1), "SELECT 1"); got.code != 0 {
						t.Errorf("pmm cannot log in with its uploaded password:\n%s", got)
					}
				}
			})
			if !t.Failed() {
				checked.add("postgres 17 (node 1)", s.name)
			}
		})
	}
}
