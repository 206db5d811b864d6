package e2e

// The scenarios run in this order on one shared deployment; stop/start
// goes last because it replaces every container.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/jackc/pgx/v5"

	"github.com/postgres-ha/postgres-ha/tests/failover"
	"github.com/postgres-ha/postgres-ha/tests/internal/realpki"

	"github.com/postgres-ha/postgres-ha/tests/internal/realize"
)

// TestBootstrap: the deployed cluster has exactly one leader and N-1
// streaming replicas, every Consul server and agent is alive, Patroni has
// registered its service with role tags, and the ACL, patroni-config and
// hand-over jobs exited 0.
func TestBootstrap(t *testing.T) {
	h := deployment(t)
	ctx := context.Background()
	t0 := time.Now()
	defer func() { t.Logf("timing: bootstrap checks %.1fs", time.Since(t0).Seconds()) }()

	t.Run("jobs exited 0", func(t *testing.T) {
		jobs := []string{h.c.ACLJobName(), h.c.PatroniJobName()}
		for i := 1; i <= h.c.Postgres.Nodes; i++ {
			jobs = append(jobs, h.c.HandOverJobName(i))
		}
		for _, name := range jobs {
			st, err := h.cli.ContainerInspect(ctx, name)
			if err != nil {
				t.Errorf("inspecting %s: %v", name, err)
				continue
			}
			if st.State.Running || st.State.ExitCode != 0 {
				t.Errorf("%s: running %v, exit code %d; logs:\n%s", name, st.State.Running, st.State.ExitCode,
					h.r.docker.ContainerLogs(ctx, st.ID, "40"))
			}
			e := h.r.container(name)
			if e == nil {
				t.Errorf("realizer has no container resource for %s", name)
			} else if code, ok := e.outputs["exitCode"]; !ok || code.NumberValue() != 0 {
				t.Errorf("%s resource exitCode output = %v", name, code)
			}
		}
	})

	var leader string
	t.Run("one leader within 60s, N-1 replicas streaming within 120s", func(t *testing.T) {
		var err error
		if leader, err = h.waitHealthy(ctx, 120*time.Second); err != nil {
			t.Fatal(err)
		}
		names, err := h.streaming(ctx, leader)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, n := range h.nodes() {
			if n != leader {
				want = append(want, n)
			}
		}
		sort.Strings(want)
		if strings.Join(names, ",") != strings.Join(want, ",") {
			t.Fatalf("pg_stat_replication on %s: streaming %v, want %v", leader, names, want)
		}
	})

	t.Run("PostgreSQL nodes have a sane /dev/shm", func(t *testing.T) {
		info, err := h.cli.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range h.nodes() {
			res, err := h.exec(ctx, n, "", nil, nil, "df", "-k", "--output=size", "/dev/shm")
			if err != nil || res.Code != 0 {
				t.Fatalf("df in %s: %v %s", n, err, res)
			}
			f := strings.Fields(res.Stdout)
			kb, err := strconv.ParseInt(f[len(f)-1], 10, 64)
			if err != nil {
				t.Fatalf("df in %s: %s", n, res)
			}
			// PostgreSQL's shared memory lives there: at least 16 MB, and
			// no more than the host has.
			if kb < 16*1024 || kb*1024 > info.MemTotal {
				t.Errorf("%s: /dev/shm is %d KB; host memory %d KB", n, kb, info.MemTotal/1024)
			}
		}
	})

	t.Run("every Consul server and agent alive", func(t *testing.T) {
		token := h.export(t, "consulManagementToken")
		srv := h.servers()[0]
		if err := h.copyFile(ctx, srv, "/tmp/e2e-management.token", []byte(token), 0o600); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{}
		for _, s := range h.servers() {
			want[s] = "server"
		}
		for _, n := range h.nodes() {
			want[n] = "client"
		}
		err := eventually(60*time.Second, time.Second, func() error {
			res, err := h.exec(ctx, srv, "", []string{"CONSUL_HTTP_TOKEN_FILE=/tmp/e2e-management.token"}, nil, "consul", "members")
			if err != nil {
				return err
			}
			if res.Code != 0 {
				return errorf("consul members: %s", res)
			}
			got := map[string]string{}
			for _, line := range strings.Split(strings.TrimSpace(res.Stdout), "\n")[1:] {
				f := strings.Fields(line)
				if len(f) >= 4 && f[2] == "alive" {
					got[f[0]] = f[3]
				}
			}
			for n, typ := range want {
				if got[n] != typ {
					return errorf("member %s: want alive %s; consul members:\n%s", n, typ, res.Stdout)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})

	t.Run("Patroni services registered with role tags", func(t *testing.T) {
		token := h.export(t, "consulManagementToken")
		if leader == "" {
			t.Skip("no leader")
		}
		err := eventually(60*time.Second, time.Second, func() error {
			code, body, err := h.consul(ctx, "/v1/catalog/service/"+h.c.ServiceName(), token)
			if err != nil {
				return err
			}
			if code != 200 {
				return errorf("catalog: HTTP %d: %s", code, body)
			}
			var svcs []struct {
				Node        string
				ServiceID   string
				ServiceTags []string
			}
			if err := json.Unmarshal([]byte(body), &svcs); err != nil {
				return err
			}
			tags := map[string]string{}
			for _, s := range svcs {
				tags[s.Node] = strings.Join(s.ServiceTags, ",")
			}
			for _, n := range h.nodes() {
				role := "replica"
				if n == leader {
					role = "primary"
				}
				if !hasTag(tags[n], role) {
					return errorf("service %s on node %s: tags %q, want %s; catalog: %v",
						h.c.ServiceName(), n, tags[n], role, tags)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

func hasTag(tags, tag string) bool {
	for _, t := range strings.Split(tags, ",") {
		if t == tag {
			return true
		}
	}
	return false
}

// TestRouting: the write port always lands on the leader, the read port only
// on replicas, spread over more than one of them.
func TestRouting(t *testing.T) {
	h := deployment(t)
	ctx := context.Background()
	t0 := time.Now()
	defer func() { t.Logf("timing: routing checks %.1fs", time.Since(t0).Seconds()) }()
	leader, err := h.waitHealthy(ctx, 60*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ips, err := h.containerIPs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// where connects once through port and reports the node and its role.
	where := func(port int) (string, bool, error) {
		conn, err := h.pgConnect(ctx, port)
		if err != nil {
			return "", false, err
		}
		defer conn.Close(ctx)
		var addr string
		var recovery bool
		if err := conn.QueryRow(ctx, "SELECT host(inet_server_addr()), pg_is_in_recovery()").Scan(&addr, &recovery); err != nil {
			return "", false, err
		}
		n, ok := ips[addr]
		if !ok {
			return "", false, errorf("server address %s is no node's (%v)", addr, ips)
		}
		return n, recovery, nil
	}
	// HAProxy needs a check or two after a change; wait for the first
	// connection on each port.
	for _, p := range []int{h.c.Ports.Write, h.c.Ports.Read} {
		p := p
		if err := eventually(30*time.Second, 500*time.Millisecond, func() error { _, _, err := where(p); return err }); err != nil {
			t.Fatalf("port %d: %v", p, err)
		}
	}

	t.Run("write port lands on the leader every time", func(t *testing.T) {
		for i := 0; i < 20; i++ {
			n, rec, err := where(h.c.Ports.Write)
			if err != nil {
				t.Fatalf("connection %d through 127.0.0.1:%d: %v", i, h.c.Ports.Write, err)
			}
			if rec || n != leader {
				t.Fatalf("connection %d through the write port reached %s (in recovery %v), want the leader %s", i, n, rec, leader)
			}
		}
	})
	t.Run("read port lands on replicas only, spread over them", func(t *testing.T) {
		seen := map[string]int{}
		for i := 0; i < 20; i++ {
			n, rec, err := where(h.c.Ports.Read)
			if err != nil {
				t.Fatalf("connection %d through 127.0.0.1:%d: %v", i, h.c.Ports.Read, err)
			}
			if !rec || n == leader {
				t.Fatalf("connection %d through the read port reached %s (in recovery %v); the leader is %s", i, n, rec, leader)
			}
			seen[n]++
		}
		t.Logf("read connections per replica: %v", seen)
		if len(seen) < 2 {
			t.Fatalf("read connections reached %d distinct replicas (%v), want at least 2", len(seen), seen)
		}
	})
}

// TestSecurity: TLS and ACLs are enforced at every entry point, and no
// secret is visible in any container's environment, labels or command.
func TestSecurity(t *testing.T) {
	h := deployment(t)
	ctx := context.Background()
	t0 := time.Now()
	defer func() { t.Logf("timing: security checks %.1fs", time.Since(t0).Seconds()) }()
	if _, err := h.waitHealthy(ctx, 60*time.Second); err != nil {
		t.Fatal(err)
	}

	// A second, unrelated CA and a client certificate it signed.
	otherKey, err := realpki.GenerateKey("ECDSA", "P256", 0)
	if err != nil {
		t.Fatal(err)
	}
	otherCA, err := realpki.SelfSign(otherKey, realpki.Request{CommonName: "intruder CA", IsCA: true,
		Usages: []string{"cert_signing", "crl_signing", "digital_signature"}, ValidityHours: 24}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	intruderKey, err := realpki.GenerateKey("ECDSA", "P256", 0)
	if err != nil {
		t.Fatal(err)
	}
	intruder, err := realpki.Sign(otherCA, intruderKey, realpki.Request{CommonName: h.c.HAProxyName(),
		DNSNames: []string{h.c.HAProxyName(), "localhost"}, Usages: []string{"digital_signature", "key_encipherment", "client_auth", "server_auth"},
		ValidityHours: 24}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	otherCAFile, err := h.tempFile("other-ca.crt", otherCA.CertPEM)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("plaintext PostgreSQL refused", func(t *testing.T) {
		cfg, err := h.pgConfig(h.c.Ports.Write, "disable", "")
		if err != nil {
			t.Fatal(err)
		}
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err == nil {
			conn.Close(ctx)
			t.Fatal("sslmode=disable through the write port connected; want pg_hba to reject it")
		}
		if !strings.Contains(err.Error(), "no encryption") {
			t.Fatalf("sslmode=disable failed, but not by pg_hba's reject of non-TLS connections: %v", err)
		}
		t.Logf("refused as expected: %v", err)
	})

	t.Run("verify-full with another CA fails", func(t *testing.T) {
		cfg, err := h.pgConfig(h.c.Ports.Write, "verify-full", otherCAFile)
		if err != nil {
			t.Fatal(err)
		}
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err == nil {
			conn.Close(ctx)
			t.Fatal("verify-full against an unrelated CA connected")
		}
		if !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("want a certificate verification error, got: %v", err)
		}
		t.Logf("refused as expected: %v", err)
	})

	t.Run("Patroni REST requires a client certificate from the cluster CA", func(t *testing.T) {
		from := h.c.HAProxyName()
		if err := h.copyFile(ctx, from, "/tmp/e2e-intruder.pem", intruder.Bundle(), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, node := range h.nodes() {
			curl := func(extra ...string) failover.ExecResult {
				args := append([]string{"curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5",
					"--cacert", "/etc/postgres-ha/tls/ca.crt"}, extra...)
				args = append(args, fmt.Sprintf("https://%s:8008/patroni", node))
				res, err := h.exec(ctx, from, "0", nil, nil, args...)
				if err != nil {
					t.Fatal(err)
				}
				return res
			}
			if res := curl("--cert", "/etc/postgres-ha/tls/haproxy.pem"); res.Code != 0 || res.Stdout != "200" {
				t.Fatalf("control: %s with HAProxy's certificate: %s", node, res)
			}
			if res := curl(); res.Code == 0 || res.Stdout != "000" {
				t.Errorf("%s answered without a client certificate: %s", node, res)
			} else {
				t.Logf("%s without a client certificate: %s", node, res)
			}
			if res := curl("--cert", "/tmp/e2e-intruder.pem"); res.Code == 0 || res.Stdout != "000" {
				t.Errorf("%s answered a client certificate from another CA: %s", node, res)
			} else {
				t.Logf("%s with another CA's certificate: %s", node, res)
			}
		}
	})

	consulURL := fmt.Sprintf("https://localhost:%d/v1/status/leader", h.c.Ports.ConsulUI)
	t.Run("Consul HTTPS refuses clients without a certificate", func(t *testing.T) {
		with, err := h.httpClient(true)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := with.Get(consulURL)
		if err != nil {
			t.Fatalf("control: with the admin certificate: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("control: with the admin certificate: HTTP %d", resp.StatusCode)
		}
		without, err := h.httpClient(false)
		if err != nil {
			t.Fatal(err)
		}
		resp, err = without.Get(consulURL)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("Consul on 127.0.0.1:%d answered HTTP %d without a client certificate", h.c.Ports.ConsulUI, resp.StatusCode)
		}
		t.Logf("refused as expected: %v", err)
	})

	t.Run("anonymous Consul KV and catalog reads are denied", func(t *testing.T) {
		token := h.export(t, "consulManagementToken")
		// A key Patroni certainly wrote (the leader lock), and the prefix.
		key := "/v1/kv/service/" + h.c.ServiceName() + "/leader"
		prefix := "/v1/kv/service/" + h.c.ServiceName() + "/?recurse"
		for _, p := range []string{key, prefix} {
			code, body, err := h.consul(ctx, p, token)
			if err != nil || code != 200 {
				t.Fatalf("control: %s with the management token: HTTP %d %v %s", p, code, err, body)
			}
		}
		code, body, err := h.consul(ctx, key, "")
		if err != nil {
			t.Fatal(err)
		}
		if code != 403 {
			t.Errorf("anonymous KV read of %s: HTTP %d %s, want 403", key, code, body)
		}
		// A recursive read is filtered by ACLs: nothing (404) or 403.
		code, body, err = h.consul(ctx, prefix, "")
		if err != nil {
			t.Fatal(err)
		}
		if code != 403 && code != 404 {
			t.Errorf("anonymous KV listing %s: HTTP %d %s, want 403 or 404 (all filtered)", prefix, code, body)
		}
		for _, path := range []string{"/v1/catalog/service/" + h.c.ServiceName(), "/v1/catalog/nodes", "/v1/catalog/services"} {
			code, body, err := h.consul(ctx, path, "")
			if err != nil {
				t.Fatal(err)
			}
			body = strings.TrimSpace(body)
			if code == 200 && body != "[]" && body != "{}" {
				t.Errorf("anonymous %s: HTTP %d %s, want 403 or an empty result", path, code, body)
			}
			ctrlCode, ctrlBody, err := h.consul(ctx, path, token)
			if err != nil || ctrlCode != 200 || strings.TrimSpace(ctrlBody) == "[]" || strings.TrimSpace(ctrlBody) == "{}" {
				t.Errorf("control: %s with the management token: HTTP %d %v %s", path, ctrlCode, err, ctrlBody)
			}
		}
	})

	t.Run("HAProxy stats need authentication", func(t *testing.T) {
		c, err := h.httpClient(false)
		if err != nil {
			t.Fatal(err)
		}
		url := fmt.Sprintf("https://localhost:%d/", h.c.Ports.Stats)
		get := func(user, pw string) int {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				t.Fatal(err)
			}
			if user != "" {
				req.SetBasicAuth(user, pw)
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatalf("GET %s: %v", url, err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		if code := get("", ""); code != 401 {
			t.Errorf("stats without credentials: HTTP %d, want 401", code)
		}
		if code := get("admin", "wrong-password"); code != 401 {
			t.Errorf("stats with a wrong password: HTTP %d, want 401", code)
		}
		if code := get("admin", h.export(t, "haproxyStatsPassword")); code != 200 {
			t.Errorf("stats with admin and haproxyStatsPassword: HTTP %d, want 200", code)
		}
	})

	t.Run("no secret in any container's env, labels or command", func(t *testing.T) {
		needles := secretNeedles(h.r.secretValues())
		if len(needles) < 10 {
			t.Fatalf("only %d secrets collected from the realizer", len(needles))
		}
		cs, err := h.cli.ContainerList(ctx, container.ListOptions{All: true,
			Filters: filters.NewArgs(filters.Arg("label", LabelE2E+"="+h.runID))})
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) == 0 {
			t.Fatal("no containers found")
		}
		for _, c := range cs {
			st, err := h.cli.ContainerInspect(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			var hay []string
			hay = append(hay, st.Config.Env...)
			for k, v := range st.Config.Labels {
				hay = append(hay, k, v)
			}
			hay = append(hay, st.Config.Cmd...)
			hay = append(hay, st.Config.Entrypoint...)
			hay = append(hay, st.Path)
			hay = append(hay, st.Args...)
			for _, s := range hay {
				for _, n := range needles {
					if strings.Contains(s, n) {
						t.Errorf("container %s exposes a secret in its env, labels or command: %q", st.Name, s)
					}
				}
			}
		}
		t.Logf("checked %d containers against %d secret values", len(cs), len(needles))
	})
}

// secretNeedles turns secret values into substrings to search for: the value
// itself, or for a PEM block its longest line.
func secretNeedles(secrets []string) []string {
	var out []string
	for _, s := range secrets {
		if strings.Contains(s, "-----BEGIN") {
			longest := ""
			for _, l := range strings.Split(s, "\n") {
				if !strings.HasPrefix(l, "-----") && len(l) > len(longest) {
					longest = l
				}
			}
			s = longest
		}
		if len(s) >= 8 {
			out = append(out, s)
		}
	}
	return out
}

// TestFailover runs the failover suite on the shared deployment (see
// runFailover in failover_test.go). It is declared here, before
// TestStopStart, because go test runs a package's tests in source order.
func TestFailover(t *testing.T) { runFailover(t) }

// TestStopStart: cluster.running=false stops every container and keeps the
// volumes; running=true again brings the cluster back with the same data.
// It runs the program twice more against the same realizer state, as two
// `pulumi up`s would.
func TestStopStart(t *testing.T) {
	h := deployment(t)
	ctx := context.Background()
	if _, err := h.waitHealthy(ctx, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	marker := fmt.Sprintf("marker-%s-%d", h.runID, time.Now().UnixNano())
	conn, err := h.pgConnect(ctx, h.c.Ports.Write)
	if err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{
		"CREATE TABLE IF NOT EXISTS e2e_marker (v text PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())",
		"INSERT INTO e2e_marker (v) VALUES ('" + marker + "')",
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	conn.Close(ctx)

	// Volumes must survive: same realizer resource (never replaced or
	// deleted) and the Docker volume still there. (Docker's CreatedAt of a
	// local volume follows its directory's mtime, so it proves nothing.)
	volumes := map[string]*entry{}
	for _, n := range append(h.nodes(), h.servers()...) {
		name := n + "-data"
		e := h.r.lookup(realize.TokVolume, name)
		if e == nil {
			t.Fatalf("realizer has no volume resource %s", name)
		}
		volumes[name] = e
	}
	volumesKept := func(t *testing.T, when string) {
		t.Helper()
		for name, e := range volumes {
			if now := h.r.lookup(realize.TokVolume, name); now != e {
				t.Errorf("volume %s was replaced or deleted by the program run with %s", name, when)
			}
			if _, err := h.cli.VolumeInspect(ctx, name); err != nil {
				t.Errorf("volume %s gone after %s: %v", name, when, err)
			}
		}
	}

	t.Run("running=false stops every container and keeps the volumes", func(t *testing.T) {
		t0 := time.Now()
		if _, err := h.run(h.configWith(t, false)); err != nil {
			t.Fatalf("program run with cluster.running=false: %v", err)
		}
		t.Logf("timing: stop (program run with running=false) %.1fs", time.Since(t0).Seconds())
		want := map[string]bool{h.c.HAProxyName(): true}
		for i := 1; i <= h.c.Postgres.Nodes; i++ {
			want[h.c.NodeName(i)], want[h.c.AgentContainer(i)] = true, true
		}
		for _, s := range h.servers() {
			want[s] = true
		}
		cs, err := h.cli.ContainerList(ctx, container.ListOptions{All: true,
			Filters: filters.NewArgs(filters.Arg("label", LabelE2E+"="+h.runID))})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, c := range cs {
			name := strings.TrimPrefix(c.Names[0], "/")
			got[name] = true
			if c.State == "running" {
				t.Errorf("container %s is %s after running=false", name, c.State)
			}
			if !want[name] {
				t.Errorf("container %s exists after running=false; the program does not declare it then", name)
			}
		}
		for n := range want {
			if !got[n] {
				t.Errorf("container %s missing after running=false (want it created, stopped)", n)
			}
		}
		volumesKept(t, "running=false")
		if c, err := h.pgConnect(ctx, h.c.Ports.Write); err == nil {
			c.Close(ctx)
			t.Errorf("the write port still accepts connections after running=false")
		}
		// A clean stop is what PostgreSQL recorded in pg_control, not what
		// it logs on the next start: a node that pg_rewind brings back
		// starts "interrupted while in recovery" however it was stopped.
		for _, n := range h.nodes() {
			state, err := h.controlState(ctx, n)
			if err != nil {
				t.Errorf("reading %s's control file: %v", n, err)
				continue
			}
			t.Logf("%s after running=false: database cluster state %q", n, state)
			if state != "shut down" && state != "shut down in recovery" {
				t.Errorf("%s was not shut down cleanly by running=false: pg_control says %q", n, state)
			}
		}
	})
	if t.Failed() {
		t.FailNow()
	}

	t.Run("running=true brings the cluster back with the same data", func(t *testing.T) {
		t0 := time.Now()
		if _, err := h.run(h.configWith(t, true)); err != nil {
			t.Fatalf("program run with cluster.running=true: %v", err)
		}
		t.Logf("timing: start (program run with running=true) %.1fs", time.Since(t0).Seconds())
		t1 := time.Now()
		leader, err := h.waitHealthy(ctx, 120*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("timing: program done → healthy again %.1fs (leader %s); stop→healthy total %.1fs",
			time.Since(t1).Seconds(), leader, time.Since(t0).Seconds())
		for _, port := range []int{h.c.Ports.Write, h.c.Ports.Read} {
			port := port
			err := eventually(30*time.Second, 500*time.Millisecond, func() error {
				conn, err := h.pgConnect(ctx, port)
				if err != nil {
					return err
				}
				defer conn.Close(ctx)
				var n int
				if err := conn.QueryRow(ctx, "SELECT count(*) FROM e2e_marker WHERE v = $1", marker).Scan(&n); err != nil {
					return err
				}
				if n != 1 {
					return errorf("marker rows through port %d: %d, want 1", port, n)
				}
				return nil
			})
			if err != nil {
				t.Errorf("reading the marker through 127.0.0.1:%d: %v", port, err)
			}
		}
		volumesKept(t, "running=true")
	})
}

// configWith is the deployment's config with cluster.running set.
func (h *harness) configWith(t *testing.T, running bool) map[string]string {
	t.Helper()
	cfg := map[string]string{}
	for k, v := range h.cfg {
		cfg[k] = v
	}
	key := "postgres-ha:cluster"
	var m map[string]any
	if err := json.Unmarshal([]byte(cfg[key]), &m); err != nil {
		t.Fatal(err)
	}
	m["running"] = running
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	cfg[key] = string(b)
	return cfg
}
