package e2e

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/postgres-ha/postgres-ha/templates"
	"github.com/postgres-ha/postgres-ha/tests/failover"
)

// ciExcluded are scenarios left out of the CI short form, each with why.
// A scenario is in the short form only once it has passed in two
// consecutive full runs of this tier on a real cluster.
var ciExcluded = map[string]string{
	// Every scenario passed in two consecutive full runs (make bench,
	// 2026-11-26 13:17 and 13:46 UTC); none is excluded.
}

// runFailover runs the failover suite (tests/failover) on the shared
// deployment. TestFailover (declared in cluster_test.go, between
// TestSecurity and TestStopStart, so that it runs before stop/start) calls
// it. The short form runs one round of every scenario not in ciExcluded;
// E2E_BENCH=1 runs 10 rounds of node-loss and 3 of every other scenario
// (E2E_BENCH_NODELOSS and E2E_BENCH_ROUNDS override the counts) and writes
// the report to BENCHMARKS.md at the repository root (E2E_BENCH_OUT
// overrides the path). E2E_SCENARIOS (names, comma-separated) runs only
// those, for measuring one change; its report goes only to E2E_BENCH_OUT.
// Check's assertions are asserted; timings are only logged.
func runFailover(t *testing.T) {
	h := deployment(t)
	ctx := context.Background()
	if _, err := h.waitHealthy(ctx, 120*time.Second); err != nil {
		t.Fatal(err)
	}
	tg, err := failover.FromExports(h.exports)
	if err != nil {
		t.Fatal(err)
	}
	if err := tg.WriteCAFile(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	f := failover.NewDockerFromClient(h.cli)
	o := failover.Options{Logf: func(format string, args ...any) { logf("failover: "+format, args...) }}

	synchronous := true
	dc, dcErr := (&failover.Cluster{T: tg, F: f}).Config(ctx)
	if dcErr == nil {
		synchronous = bool(dc.SynchronousMode)
		t.Logf("Patroni: ttl %d, loop_wait %d, retry_timeout %d, synchronous_mode %v, failsafe_mode %v",
			dc.TTL, dc.LoopWait, dc.RetryTimeout, dc.SynchronousMode, dc.FailsafeMode)
	} else {
		t.Logf("reading Patroni's /config failed (%v): assuming synchronous mode", dcErr)
	}

	bench := os.Getenv("E2E_BENCH") != ""
	machine := machineLines(ctx, h)
	t.Logf("machine: %s", strings.Join(machine, "; "))
	rounds := func(name string) int {
		if !bench {
			return 1
		}
		n := 3
		key := "E2E_BENCH_ROUNDS"
		if name == "node-loss" {
			n, key = 10, "E2E_BENCH_NODELOSS"
		}
		if s := os.Getenv(key); s != "" {
			v, err := strconv.Atoi(s)
			if err != nil || v < 0 {
				t.Fatalf("%s=%q is not a number", key, s)
			}
			n = v
		}
		return n
	}

	var only []string
	if s := os.Getenv("E2E_SCENARIOS"); s != "" {
		only = strings.Split(s, ",")
		for _, name := range only {
			if !slices.ContainsFunc(failover.Scenarios(), func(sc failover.Scenario) bool { return sc.Name == name }) {
				t.Fatalf("E2E_SCENARIOS: no scenario %q", name)
			}
		}
	}
	var results []failover.Result
	var skipped []string
	counts := map[string]int{}
	for _, sc := range failover.Scenarios() {
		if only != nil && !slices.Contains(only, sc.Name) {
			continue
		}
		if why, ok := ciExcluded[sc.Name]; ok && !bench {
			t.Logf("SKIP failover scenario %s (excluded from the CI short form): %s", sc.Name, why)
			continue
		}
		n := rounds(sc.Name)
		counts[sc.Name] = n
		for r := 1; r <= n; r++ {
			// A scenario takes 1-4 minutes; leave room for stop/start and cleanup.
			if dl, ok := t.Deadline(); ok && time.Until(dl) < 8*time.Minute {
				skipped = append(skipped, fmt.Sprintf("%s/round-%d", sc.Name, r))
				continue
			}
			t.Run(fmt.Sprintf("%s/round-%d", sc.Name, r), func(t *testing.T) {
				res, err := sc.Run(ctx, tg, f, o)
				results = append(results, res)
				t.Logf("result: %+v", res)
				if err != nil {
					t.Errorf("%s: %v", sc.Name, err)
				}
				problems := failover.Check(sc, res, synchronous)
				for _, p := range problems {
					t.Errorf("%s: %s", sc.Name, p)
				}
				if sc.KeepLogs(res, err, problems) {
					dir := filepath.Join(h.root, ".cache", "failover-logs", fmt.Sprintf("%s-round-%d", sc.Name, r))
					t.Logf("what the nodes logged:\n%s", failover.SaveLogs(ctx, tg, f, res.Started, dir))
				}
				if !synchronous && res.Lost > 0 {
					t.Logf("%d acknowledged write(s) lost (asynchronous mode: recorded, not asserted)", res.Lost)
				}
			})
		}
	}
	if len(skipped) > 0 {
		t.Errorf("not enough time left for %s: rerun with a longer -timeout", strings.Join(skipped, ", "))
	}
	report := failover.Report(results)
	t.Logf("\n%s\n%s", report, failover.Details(results))

	// What HAProxy costs: pgbench through :5000 against direct to the leader.
	// The short form only proves the measurement works (one 5 s pair).
	var tput []failover.ThroughputResult
	// pgbench and the next tests need a healthy cluster.
	if _, err := h.waitHealthy(ctx, 3*time.Minute); err != nil {
		t.Fatalf("after the failover scenarios: %v", err)
	}
	workloads := []failover.ThroughputOptions{{Pairs: 1, Duration: 5 * time.Second}}
	if bench {
		workloads = []failover.ThroughputOptions{{}, {SelectOnly: true}}
	}
	for _, w := range workloads {
		r, err := failover.Throughput(ctx, tg, f, w)
		if err != nil {
			t.Errorf("pgbench: %v", err)
			continue
		}
		if len(r.HAProxy) == 0 || len(r.Direct) == 0 || slices.Contains(r.HAProxy, 0) || slices.Contains(r.Direct, 0) {
			t.Errorf("pgbench measured nothing: %+v", r)
		}
		tput = append(tput, r)
	}
	t.Logf("\n%s", failover.ThroughputReport(tput...))

	if out := os.Getenv("E2E_BENCH_OUT"); bench && (out != "" || only == nil) {
		if out == "" {
			out = filepath.Join(h.root, "BENCHMARKS.md")
		}
		if err := os.WriteFile(out, []byte(benchDoc(h, machine, dc, dcErr, counts, report, failover.Details(results), tput)), 0o644); err != nil {
			t.Error(err)
		} else {
			t.Logf("wrote %s", out)
		}
	}
}

// benchDoc is BENCHMARKS.md: the report with what it was measured on.
func benchDoc(h *harness, machine []string, dc failover.DynamicConfig, dcErr error, counts map[string]int, report, details string, tput []failover.ThroughputResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Failover benchmarks\n\n")
	fmt.Fprintf(&b, "Measured by `make bench` (the e2e harness with E2E_BENCH=1: the program under mocks, every resource real on the local Docker engine) on %s.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	var rc []string
	for _, sc := range failover.Scenarios() {
		if n, ok := counts[sc.Name]; ok {
			rc = append(rc, fmt.Sprintf("%s %d", sc.Name, n))
		}
	}
	fmt.Fprintf(&b, "Rounds per scenario: %s.\n\n", strings.Join(rc, ", "))
	fmt.Fprintf(&b, "## Machine\n\n")
	for _, l := range machine {
		fmt.Fprintf(&b, "- %s\n", l)
	}
	fmt.Fprintf(&b, "\n")
	fmt.Fprintf(&b, "## Settings\n\n")
	if dcErr == nil {
		fmt.Fprintf(&b, "- Patroni: ttl %d s, loop_wait %d s, retry_timeout %d s, synchronous_mode %v, failsafe_mode %v\n",
			dc.TTL, dc.LoopWait, dc.RetryTimeout, dc.SynchronousMode, dc.FailsafeMode)
	} else {
		fmt.Fprintf(&b, "- Patroni: /config unreadable (%v)\n", dcErr)
	}
	g := h.c.Consul.Gossip
	fmt.Fprintf(&b, "- Consul gossip_lan: probe_interval %s, probe_timeout %s, suspicion_mult %d\n", g.ProbeInterval, g.ProbeTimeout, g.SuspicionMult)
	fmt.Fprintf(&b, "- HAProxy check interval: %s\n", h.c.HAProxy.CheckInterval)
	fmt.Fprintf(&b, "- Deploy to healthy: %.1f s for the program run (every resource created), then %.1f s to one leader and streaming replicas\n\n",
		deployTook.Seconds(), healthyTook.Seconds())
	fmt.Fprintf(&b, "## Results\n\n%s\n", report)
	if len(tput) > 0 {
		fmt.Fprintf(&b, "## What HAProxy costs\n\npgbench (scale %d) from a replica's container over the cluster network, alternating runs through HAProxy's :5000 and directly to the leader's :5432, sslmode=verify-full both ways, synchronous replication on. Leader %s, client %s.\n\n%s\n",
			tput[0].Options.Scale, tput[0].Leader, tput[0].Client, failover.ThroughputReport(tput...))
	}
	fmt.Fprintf(&b, "## Every round\n\n%s", details)
	return b.String()
}

// machineLines describes what the numbers were measured on, read before
// the first fault: the same program gives very different timings on a
// loaded host or a slow storage driver (every probe is a process started in
// a container).
func machineLines(ctx context.Context, h *harness) []string {
	cpu := "unknown"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	load := "unknown"
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			load = strings.Join(f[:3], " / ")
		}
	}
	engine := "unknown"
	if info, err := h.cli.Info(ctx); err == nil {
		engine = fmt.Sprintf("%s, storage driver %s, cgroup %s", info.ServerVersion, info.Driver, info.CgroupVersion)
	}
	var patches []string
	if files, err := templates.ImageFiles("patroni"); err == nil {
		for n := range files {
			if strings.HasSuffix(n, ".patch") {
				patches = append(patches, path.Base(n))
			}
		}
		sort.Strings(patches)
	}
	return []string{
		fmt.Sprintf("CPUs (nproc): %d, %s", runtime.NumCPU(), cpu),
		fmt.Sprintf("Memory: %s", memTotal()),
		fmt.Sprintf("%s/%s, %s", runtime.GOOS, runtime.GOARCH, runtime.Version()),
		fmt.Sprintf("Docker Engine %s", engine),
		fmt.Sprintf("Load average (1 / 5 / 15 min) with the cluster deployed, before the first fault: %s", load),
		fmt.Sprintf("Patroni image patches (templates/images/patroni/patches/): %s", strings.Join(patches, ", ")),
		"Versions, read from the running containers: " + versions(ctx, h),
	}
}

// versions is what the cluster's containers run, each read from the
// container itself: the Debian release, PostgreSQL and Patroni of a node,
// HAProxy, and Consul on a server and on a node's agent.
func versions(ctx context.Context, h *harness) string {
	read := func(ctr string, cmd ...string) string {
		res, err := h.exec(ctx, ctr, "", nil, nil, cmd...)
		if err != nil || res.Code != 0 {
			return fmt.Sprintf("unknown (%s: %v %s)", ctr, err, strings.TrimSpace(res.Stderr))
		}
		return strings.Join(strings.Fields(res.Stdout), " ")
	}
	node := h.c.NodeName(1)
	return strings.Join([]string{
		read(node, "sh", "-c", `. /etc/os-release && echo "$PRETTY_NAME"`),
		read(node, "postgres", "--version"),
		read(node, "patroni", "--version"),
		"python3-consul " + read(node, "python3", "-c", "import consul; print(consul.__version__)"),
		read(h.c.HAProxyName(), "sh", "-c", "haproxy -v | head -n 1"),
		"server " + read(h.c.ServerName(1), "sh", "-c", "consul version | head -n 1"),
		"agent " + read(h.c.AgentContainer(1), "sh", "-c", "consul version | head -n 1"),
	}, "; ")
}

func memTotal() string {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "unknown"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "MemTotal:" {
			if kb, err := strconv.Atoi(f[1]); err == nil {
				return fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
			}
		}
	}
	return "unknown"
}
