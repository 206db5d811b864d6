package engine

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/postgres-ha/postgres-ha/tests/failover"
	"github.com/postgres-ha/postgres-ha/tests/internal/testprovider"
)

// The lifecycle stack: Pulumi.lab.yaml (the lab images, PMM off, ports on
// loopback) with a cluster name, ports and subnet of its own, so nothing
// collides with a user's stacks or the e2e tier.
const lifeCluster = "eng"

var lifePorts = map[string]int{"write": 35000, "read": 35001, "stats": 37000, "metrics": 38404, "consulUi": 38501}

var subnetCandidates = []string{"172.31.251.0/24", "172.30.251.0/24", "10.251.77.0/24", "192.168.251.0/24"}

// labProject is the lab stack under its own name, ports and subnet, with
// the stack destroyed (and checked gone) when the test ends.
func labProject(t *testing.T, clusterName string, ports map[string]int, env map[string]string) *project {
	t.Helper()
	p := newProject(t, "lab", clusterName, env)
	p.set("cluster.name", clusterName)
	for k, v := range ports {
		p.set("ports."+k, strconv.Itoa(v))
	}
	subnet, err := failover.NewDockerFromClient(shared.docker).FreeSubnet(t.Context(), subnetCandidates)
	if err != nil {
		t.Fatal(err)
	}
	p.set("network.subnet", subnet)
	t.Cleanup(p.destroy)
	return p
}

// TestLifecycle is what a user does with a stack, through the real engine:
// up, preview (nothing to change), up again (nothing changed), refresh and
// preview (nothing); stop (every container stopped, every volume kept,
// preview clean), start (the same data back, preview clean); and the
// failover suite and HAProxy's benchmark against the outputs `make
// test-failover` takes from the stack.
func TestLifecycle(t *testing.T) {
	need(t)
	ctx := t.Context()
	p := labProject(t, lifeCluster, lifePorts, nil)

	sum := p.up("first up")
	if sum["create"] < 50 {
		t.Fatalf("first up created %s; want the whole cluster", summaryLine(sum))
	}
	tg := p.target()
	c := &failover.Cluster{T: tg, F: failover.NewDockerFromClient(shared.docker)}
	leader, took, err := c.WaitFull(ctx, 3*time.Minute)
	if err != nil {
		t.Fatalf("the cluster did not come up healthy: %v", err)
	}
	logf("healthy %.1fs after up: leader %s, every replica streaming", took.Seconds(), leader)

	p.noChanges("preview after up")
	if sum := p.up("second up"); len(changes(sum)) > 0 {
		t.Errorf("second up changed %s; want nothing", strings.Join(changes(sum), ", "))
	}
	p.noChanges("preview after a second up")
	p.refresh("refresh of a running cluster")
	p.noChanges("preview after refresh")
	p.elsewhere().noChanges("preview from a checkout in another folder")

	marker := fmt.Sprintf("engine-%d", time.Now().UnixNano())
	p.sql(tg, "CREATE TABLE IF NOT EXISTS engine_marker (v text); INSERT INTO engine_marker VALUES ('"+marker+"')")
	before := p.containers(ctx)
	volumes := p.volumes(ctx)

	// make stop
	p.set("cluster.running", "false")
	p.up("stop")
	after := p.containers(ctx)
	for name, st := range after {
		if st.State == "running" {
			t.Errorf("after stop, %s is %s; want every container stopped", name, st.State)
		}
	}
	for name := range before {
		// The one-shot jobs (ACL, patroni-config, hand-over) run only
		// while the cluster runs.
		job := strings.HasSuffix(name, "-consul-acl") || strings.HasSuffix(name, "-patroni-config") || strings.HasSuffix(name, "-hand-over")
		if _, ok := after[name]; !ok && !job {
			t.Errorf("after stop, container %s is gone; want it stopped", name)
		}
	}
	if got := p.volumes(ctx); !sameKeys(got, volumes) {
		t.Errorf("stop changed the volumes: before %v, after %v; want every volume kept", volumes, got)
	}
	p.noChanges("preview while stopped")
	p.refresh("refresh while stopped")
	p.noChanges("preview after refresh while stopped")

	// make start
	p.set("cluster.running", "true")
	p.up("start")
	// The volumes are the same ones (their CreatedAt is the data
	// directory's ctime, which PostgreSQL's start changes): the marker row
	// below proves the data.
	if got := p.volumes(ctx); !sameKeys(got, volumes) {
		t.Errorf("start changed the volumes: before %v, after %v", volumes, got)
	}
	if leader, took, err = c.WaitFull(ctx, 3*time.Minute); err != nil {
		t.Fatalf("the cluster did not come back healthy after start: %v", err)
	}
	logf("healthy %.1fs after start: leader %s", took.Seconds(), leader)
	if got := p.sql(tg, "SELECT string_agg(v, ',') FROM engine_marker"); !strings.Contains(got, marker) {
		t.Errorf("after stop and start the marker row reads %q; want %q: the data must come back", got, marker)
	}
	p.noChanges("preview after start")

	// make test-failover and make bench-haproxy read the stack's outputs
	// through scripts/deploy; run one round and one short benchmark on them.
	outputs := filepath.Join(t.TempDir(), "outputs.json")
	p.deployScript("outputs", outputs)
	tg, err = failover.LoadOutputs(outputs)
	if err != nil {
		t.Fatalf("make stack-outputs gave outputs the failover suite cannot read: %v", err)
	}
	if err := tg.WriteCAFile(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	d := failover.NewDockerFromClient(shared.docker)
	for _, sc := range failover.Scenarios() {
		if sc.Name != "switchover" {
			continue
		}
		res, err := sc.Run(ctx, tg, d, failover.Options{Logf: logf})
		if err != nil {
			t.Errorf("switchover on the deployed stack: %v", err)
		}
		for _, problem := range failover.Check(sc, res, true) {
			t.Errorf("switchover on the deployed stack: %s", problem)
		}
	}
	r, err := failover.Throughput(ctx, tg, d, failover.ThroughputOptions{Pairs: 1, Duration: 5 * time.Second, Clients: 2, Scale: 1})
	if err != nil {
		t.Errorf("HAProxy benchmark on the deployed stack: %v", err)
	} else {
		logf("HAProxy benchmark (1 pair, 5 s, 2 clients): %+v", r)
	}
	p.noChanges("preview after the failover round")
}

func sameKeys(a, b map[string]string) bool {
	return slices.Equal(slices.Sorted(maps.Keys(a)), slices.Sorted(maps.Keys(b)))
}

// target is the stack's outputs, secrets shown, as the failover suite
// reads them.
func (p *project) target() failover.Target {
	p.t.Helper()
	outs, err := p.stack.Outputs(p.t.Context())
	if err != nil {
		p.t.Fatal(err)
	}
	m := map[string]any{}
	for k, v := range outs {
		m[k] = v.Value
	}
	tg, err := failover.FromExports(m)
	if err != nil {
		p.t.Fatal(err)
	}
	if err := tg.WriteCAFile(p.t.TempDir()); err != nil {
		p.t.Fatal(err)
	}
	return tg
}

// sql runs statements through HAProxy's write port and returns the first
// column of the first row, if any.
func (p *project) sql(tg failover.Target, q string) string {
	p.t.Helper()
	return p.sqlAt(tg, tg.WriteEndpoint, q)
}

// sqlAt is sql on another of the target's endpoints, on a new connection.
func (p *project) sqlAt(tg failover.Target, endpoint, q string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.t.Context(), 30*time.Second)
	defer cancel()
	cfg, err := tg.PGConfig(endpoint)
	if err != nil {
		p.t.Fatal(err)
	}
	var conn *pgx.Conn
	for {
		if conn, err = pgx.ConnectConfig(ctx, cfg); err == nil {
			break
		}
		if ctx.Err() != nil {
			p.t.Fatalf("connecting to %s: %v", endpoint, err)
		}
		time.Sleep(time.Second)
	}
	defer conn.Close(context.Background())
	var out *string
	rows, err := conn.Query(ctx, q, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		p.t.Fatalf("%s: %v", q, err)
	}
	for rows.Next() {
		if out == nil && len(rows.RawValues()) > 0 {
			s := string(rows.RawValues()[0])
			out = &s
		}
	}
	if err := rows.Err(); err != nil {
		p.t.Fatalf("%s: %v", q, err)
	}
	if out == nil {
		return ""
	}
	return *out
}

// deployScript runs scripts/deploy on this stack, with the workspace's
// backend, passphrase and plugins, as the Makefile does.
func (p *project) deployScript(args ...string) {
	p.t.Helper()
	cmd := exec.Command(filepath.Join(shared.root, "scripts", "deploy"), append([]string{p.name}, args...)...)
	cmd.Dir = p.dir
	cmd.Env = os.Environ()
	for k, v := range p.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		p.t.Fatalf("scripts/deploy %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestDaemonWithoutDefaultLogOptions: on a daemon with no default
// log-opts (the test provider models one), a deployment previews no change
// either, and refresh finds nothing: the program's explicit log options
// are what every container reads back. TestLifecycle covers this machine's
// daemon, which has defaults.
func TestDaemonWithoutDefaultLogOptions(t *testing.T) {
	need(t)
	if shared.mode != "test" {
		t.Skip("the real plugins see this machine's daemon only; the test provider models another")
	}
	ports := map[string]int{"write": 45000, "read": 45001, "stats": 47000, "metrics": 48404, "consulUi": 48501}
	p := labProject(t, "engnolog", ports, map[string]string{testprovider.EnvDaemonLogOpts: "none"})
	p.set("postgres.nodes", "2")
	p.set("consul.servers", "1")
	p.up("up on a daemon without default log-opts")
	p.noChanges("preview after up on a daemon without default log-opts")
	p.refresh("refresh on a daemon without default log-opts")
	p.noChanges("preview after refresh on a daemon without default log-opts")
}
