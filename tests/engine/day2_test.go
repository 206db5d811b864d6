package engine

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/postgres-ha/postgres-ha/tests/failover"
)

// The day-2 stack: the lab stack under a cluster name and ports of its own.
const day2Cluster = "engd2"

var day2Ports = map[string]int{"write": 36000, "read": 36001, "stats": 37100, "metrics": 38414, "consulUi": 38511}

// TestDay2 changes a running cluster through the real engine with a writer
// on HAProxy's write port, as a user's `pulumi up` would:
//   - Patroni and PostgreSQL settings (a restart-needing max_connections, a
//     reloadable work_mem, ttl, synchronous mode to quorum) reach every node
//     through the patroni-config job: SHOW gives the new values on every
//     node (the leader's synchronous_standby_names in ANY form), only the
//     job is replaced;
//   - a new Patroni image replaces the nodes one at a time, the leader last
//     after a switchover to a quorum standby;
//   - a fourth node is added (reads reach it) and removed, changing no
//     other container;
//   - a certificate rotation replaces servers, nodes and HAProxy one at a
//     time.
//
// Each change: the preview lists exactly the replacements, no acknowledged
// write is lost, the writer sees at most one outage (one switchover), the
// cluster is back at full strength and the next preview is clean.
func TestDay2(t *testing.T) {
	need(t)
	ctx := t.Context()
	p := labProject(t, day2Cluster, day2Ports, nil)
	p.up("first up")
	c := &failover.Cluster{T: p.target(), F: failover.NewDockerFromClient(shared.docker)}
	if _, took, err := c.WaitFull(ctx, 3*time.Minute); err != nil {
		t.Fatalf("the cluster did not come up healthy: %v", err)
	} else {
		logf("day2: healthy %.1fs after up", took.Seconds())
	}
	p.noChanges("preview after up")
	job := day2Cluster + "-patroni-config"

	// Settings: only the job is replaced, and it reruns.
	before, after := p.roll("settings", map[string]int{"replace": 1}, 1, map[string]string{
		"postgres.maxConnections":      "300",
		"postgres.parameters.work_mem": "24MB",
		"postgres.ttl":                 "25",
		// Patroni 4's quorum commit; the rolls below then hand over to a
		// quorum standby.
		"postgres.synchronousMode": "quorum",
	})
	for name, b := range before {
		if a, ok := after[name]; ok && a.ID != b.ID && name != job {
			t.Errorf("settings: %s was replaced; only %s may be", name, job)
		}
	}
	if a, b := after[job], before[job]; a.ID == b.ID {
		t.Errorf("settings: %s was not rerun", job)
	}
	for _, node := range p.target().Nodes {
		for q, want := range map[string]string{"SHOW max_connections": "300", "SHOW work_mem": "24MB"} {
			if got := p.psql(ctx, node, q); got != want {
				t.Errorf("settings: %s on %s = %q, want %q", q, node, got, want)
			}
		}
	}
	if cfg, err := c.Config(ctx); err != nil || cfg.TTL != 25 {
		t.Errorf("settings: GET /config ttl %d (%v), want 25", cfg.TTL, err)
	}
	// Quorum commit: the leader waits for ANY 1 of its standbys.
	var quorum []string
	for _, node := range p.target().Nodes {
		if got := p.psql(ctx, node, "SHOW synchronous_standby_names"); strings.HasPrefix(got, "ANY 1 (") {
			quorum = append(quorum, node+": "+got)
		}
	}
	if len(quorum) != 1 {
		t.Errorf("settings: synchronous_standby_names in quorum form on %d nodes (%v), want the leader only", len(quorum), quorum)
	}

	// A Patroni image: every node's Patroni, agent and hand-over job and
	// the patroni-config job (it runs the same image) are replaced.
	nodes := len(p.target().Nodes)
	before, after = p.roll("patroni image", map[string]int{"replace": 3*nodes + 1, "update": 1}, 1,
		map[string]string{"images.patroni": "postgres-ha/patroni:4.0.7-pg17-day2"})
	replaced(t, "patroni image", before, after, p.target().Nodes)

	// A fourth node: its own resources (3 containers, a volume, the
	// component, 2 certificates of 3 resources each, 5 random values) are
	// created, the ACL and patroni-config jobs rerun, nothing else changes.
	before, after = p.roll("add a node", map[string]int{"create": 16, "replace": 2}, 1,
		map[string]string{"postgres.nodes": "4"})
	node4 := day2Cluster + "-pg-4"
	for name, b := range before {
		if a := after[name]; a.ID != b.ID && !strings.HasSuffix(name, "-consul-acl") && name != job {
			t.Errorf("add a node: %s was replaced", name)
		}
	}
	tg := p.target()
	seen := map[string]bool{}
	for i := 0; i < 40 && !seen[node4]; i++ {
		seen[strings.TrimSpace(p.sqlAt(tg, tg.ReadEndpoint, "SELECT pg_read_file('/etc/hostname')"))] = true
		time.Sleep(250 * time.Millisecond)
	}
	if !seen[node4] {
		t.Errorf("add a node: reads through %s never reached %s (saw %v)", tg.ReadEndpoint, node4, seen)
	}

	// Back to three: hand the leadership over first if the fourth leads
	// (removing a leader is a failover, not a switchover).
	if leader, err := c.Leader(ctx); err == nil && leader == node4 {
		if err := c.Switchover(ctx, node4, ""); err != nil {
			t.Fatalf("switching over from %s: %v", node4, err)
		}
	}
	p.roll("remove a node", map[string]int{"delete": 16, "replace": 2}, 1, map[string]string{"postgres.nodes": "3"})

	// Certificate rotation (a new validity): the 13 leaves are re-issued and
	// the 15 containers holding one are replaced (servers, nodes' Patroni
	// and agents, their hand-over jobs, HAProxy, the ACL and patroni-config
	// jobs), one server and one node at a time. HAProxy's own replacement
	// is a second short outage (its ports are closed while it restarts);
	// there is one HAProxy.
	before, after = p.roll("certificate rotation", map[string]int{"replace": 28}, 2, map[string]string{"tls.validityHours": "8000"})
	replaced(t, "certificate rotation", before, after, append(p.target().Nodes, p.target().ConsulServers...))
}

// replaced checks that each of names (and each node's agent) has a new
// container.
func replaced(t *testing.T, what string, before, after map[string]containerState, names []string) {
	t.Helper()
	for _, n := range names {
		for _, name := range []string{n, n + "-consul"} {
			if b, ok := before[name]; ok && after[name].ID == b.ID {
				t.Errorf("%s: %s was not replaced", what, name)
			}
		}
	}
}

// roll sets config, checks that the preview shows exactly want (besides
// unchanged resources; nil: not checked), runs `up` with a writer on the
// write port and checks that no acknowledged write was lost, that the
// writer saw at most outages outages (a switchover is one), that the cluster is back at full strength and that the next
// preview is clean. It returns the containers before and after.
func (p *project) roll(what string, want map[string]int, outages int, sets map[string]string) (before, after map[string]containerState) {
	t := p.t
	t.Helper()
	ctx := t.Context()
	for _, k := range slices.Sorted(maps.Keys(sets)) {
		p.set(k, sets[k])
	}
	sum, out := p.preview(what)
	delete(sum, "same")
	maps.DeleteFunc(sum, func(_ string, n int) bool { return n == 0 })
	if want != nil && !maps.Equal(sum, want) {
		t.Errorf("%s: preview %v, want %v:\n%s", what, sum, want, out)
	}
	before = p.states(ctx)
	tg := p.target()
	w, err := failover.NewWriter(tg, failover.WriterConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(ctx); err != nil {
		t.Fatalf("%s: starting the writer: %v", what, err)
	}
	start := time.Now()
	p.up(what)
	// Writes must be flowing again after the update.
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	werr := w.WaitAck(wctx, time.Now())
	cancel()
	w.Stop()
	if werr != nil {
		t.Errorf("%s: no write acknowledged after up: %v", what, werr)
	}
	acked, failed, _ := w.Counts()
	ids := w.Acked()
	vctx, cancel := context.WithTimeout(ctx, time.Minute)
	present, err := failover.Verify(vctx, tg, tg.WriteEndpoint, ids)
	cancel()
	if err != nil {
		t.Fatalf("%s: counting acknowledged writes: %v", what, err)
	}
	windows := w.Windows()
	var gaps []string
	for _, win := range windows {
		gaps = append(gaps, fmt.Sprintf("%.2fs", win.Duration().Seconds()))
	}
	logf("%s: %.0fs; writer: %d acked, %d failed attempts, %d lost, outages %v", what, time.Since(start).Seconds(),
		acked, failed, len(ids)-present, gaps)
	if present != len(ids) {
		t.Errorf("%s: %d of %d acknowledged writes lost", what, len(ids)-present, len(ids))
	}
	if len(windows) > outages {
		t.Errorf("%s: the writer saw %d outages (%v); want at most %d", what, len(windows), gaps, outages)
	}
	p.jobLogs(ctx, what)
	c := &failover.Cluster{T: p.target(), F: failover.NewDockerFromClient(shared.docker)}
	if _, took, err := c.WaitFull(ctx, 3*time.Minute); err != nil {
		t.Errorf("%s: not back at full strength: %v", what, err)
	} else {
		logf("%s: full strength %.1fs after up", what, took.Seconds())
	}
	p.noChanges("preview after " + what)
	return before, p.states(ctx)
}

// containerState is a container's ID and state.
type containerState struct{ ID, State string }

func (p *project) states(ctx context.Context) map[string]containerState {
	out := map[string]containerState{}
	for name, c := range p.containers(ctx) {
		out[name] = containerState{c.ID, c.State}
	}
	return out
}

// psql runs a query on node through its own socket, as the superuser
// (the password through the exec's environment), and returns the value.
func (p *project) psql(ctx context.Context, node, q string) string {
	p.t.Helper()
	tg := p.target()
	d := failover.NewDockerFromClient(shared.docker)
	res, err := d.ExecAs(ctx, node, "postgres", []string{"PGPASSWORD=" + tg.SuperuserPassword}, nil,
		"psql", "-h", "/run/postgresql", "-U", "postgres", "-d", "postgres", "-tAc", q)
	if err != nil || res.Code != 0 {
		p.t.Errorf("%s on %s: %v %s", q, node, err, res)
		return ""
	}
	return strings.TrimSpace(res.Stdout)
}

// jobLogs logs what the Patroni jobs did (their containers stay).
func (p *project) jobLogs(ctx context.Context, what string) {
	d := failover.NewDockerFromClient(shared.docker)
	for name, c := range p.containers(ctx) {
		if !strings.HasSuffix(name, "-patroni-config") && !strings.HasSuffix(name, "-hand-over") {
			continue
		}
		if logs, err := d.Logs(ctx, name, time.Unix(c.Created, 0).Add(-time.Second)); err == nil {
			for _, l := range strings.Split(strings.TrimSpace(logs), "\n") {
				logf("%s: %s| %s", what, name, l)
			}
		}
	}
}
