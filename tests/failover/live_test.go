package failover

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

const liveHowTo = "pulumi stack output --json --show-secrets > outputs.json && FAILOVER_OUTPUTS=outputs.json go test ./tests/failover -run Live -v -timeout 60m"

// TestFailoverLive runs every scenario against the stack whose outputs
// FAILOVER_OUTPUTS names, FAILOVER_ROUNDS times (default 1); a comma list
// in FAILOVER_SCENARIOS picks scenarios by name. It asserts what Check
// asserts and prints the timings (never asserted) as a Markdown table,
// also written to FAILOVER_REPORT when set. Relative paths are tried from
// the package directory, then from the repository root.
//
// It kills, stops, pauses and partitions the stack's containers: point it
// only at a stack you may break.
func TestFailoverLive(t *testing.T) {
	tg, d := liveStack(t, "to run the failover suite against one, "+liveHowTo)
	rounds := 1
	var err error
	if s := os.Getenv("FAILOVER_ROUNDS"); s != "" {
		if rounds, err = strconv.Atoi(s); err != nil || rounds < 1 {
			t.Fatalf("FAILOVER_ROUNDS=%q is not a positive number", s)
		}
	}
	scenarios, err := pick(Scenarios(), os.Getenv("FAILOVER_SCENARIOS"))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	o := Options{Logf: func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "[failover %7.1fs] %s\n", time.Since(t0).Seconds(), fmt.Sprintf(format, args...))
	}}

	synchronous := true
	c := &Cluster{T: tg, F: d}
	if dc, err := c.Config(t.Context()); err == nil {
		synchronous = bool(dc.SynchronousMode)
		t.Logf("Patroni: ttl %d, loop_wait %d, retry_timeout %d, synchronous_mode %v, failsafe_mode %v",
			dc.TTL, dc.LoopWait, dc.RetryTimeout, dc.SynchronousMode, dc.FailsafeMode)
	} else {
		t.Logf("reading Patroni's /config failed (%v): assuming synchronous mode", err)
	}

	var results []Result
	var skipped []string
	for r := 1; r <= rounds; r++ {
		for _, sc := range scenarios {
			// A scenario takes 1-4 minutes; go test's default timeout is 10.
			if dl, ok := t.Deadline(); ok && time.Until(dl) < 6*time.Minute {
				skipped = append(skipped, fmt.Sprintf("%s/round-%d", sc.Name, r))
				continue
			}
			t.Run(fmt.Sprintf("%s/round-%d", sc.Name, r), func(t *testing.T) {
				res, err := sc.Run(t.Context(), tg, d, o)
				results = append(results, res)
				if err != nil {
					t.Errorf("%s: %v", sc.Name, err)
				}
				problems := Check(sc, res, synchronous)
				for _, p := range problems {
					t.Errorf("%s: %s", sc.Name, p)
				}
				if sc.KeepLogs(res, err, problems) {
					dir := resolveOut(filepath.Join(".cache", "failover-logs", fmt.Sprintf("%s-round-%d", sc.Name, r)))
					t.Logf("what the nodes logged:\n%s", SaveLogs(t.Context(), tg, d, res.Started, dir))
				}
				if !synchronous && res.Lost > 0 {
					t.Logf("%d acknowledged write(s) lost (asynchronous mode: recorded, not asserted)", res.Lost)
				}
			})
		}
	}
	if len(skipped) > 0 {
		t.Errorf("not enough time left for %s: rerun with a longer -timeout (e.g. -timeout %dm)",
			strings.Join(skipped, ", "), 5*len(scenarios)*rounds)
	}
	report := Report(results)
	t.Logf("\n%s\n%s", report, Details(results))
	if p := os.Getenv("FAILOVER_REPORT"); p != "" {
		if err := os.WriteFile(resolveOut(p), []byte(report+"\n"+Details(results)), 0o644); err != nil {
			t.Error(err)
		}
	}
}

// liveStack loads the stack FAILOVER_OUTPUTS names and connects to its
// Docker engine; without FAILOVER_OUTPUTS the test is skipped with howTo.
func liveStack(t *testing.T, howTo string) (Target, *Docker) {
	t.Helper()
	path := os.Getenv("FAILOVER_OUTPUTS")
	if path == "" {
		t.Skip("no live stack: " + howTo)
	}
	tg, err := LoadOutputs(resolve(path))
	if err != nil {
		t.Fatal(err)
	}
	if err := tg.WriteCAFile(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	d, err := NewDocker()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Ping(t.Context()); err != nil {
		t.Fatalf("Docker engine unreachable: %v", err)
	}
	return tg, d
}

// TestThroughputStack measures what HAProxy costs on the stack
// FAILOVER_OUTPUTS names: pgbench through :5000 against direct to the
// leader, the TPC-B-like and the select-only workloads, at each client
// count in FAILOVER_PGBENCH_CLIENTS (a comma list, default "4,16"). With few
// clients the ratio is mostly the extra hop's latency; with more it is
// HAProxy's CPU. Nothing is asserted but that pgbench measured something.
func TestThroughputStack(t *testing.T) {
	tg, d := liveStack(t, "to measure HAProxy's cost on one, FAILOVER_OUTPUTS=outputs.json go test ./tests/failover -run '^TestThroughputStack$' -v -timeout 30m")
	list := os.Getenv("FAILOVER_PGBENCH_CLIENTS")
	if list == "" {
		list = "4,16"
	}
	var rs []ThroughputResult
	for _, f := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			t.Fatalf("FAILOVER_PGBENCH_CLIENTS=%q: %q is not a positive number", list, f)
		}
		for _, selectOnly := range []bool{false, true} {
			r, err := Throughput(t.Context(), tg, d, ThroughputOptions{Clients: n, SelectOnly: selectOnly})
			if err != nil {
				t.Fatal(err)
			}
			if len(r.HAProxy) == 0 || slices.Contains(r.HAProxy, 0) || slices.Contains(r.Direct, 0) {
				t.Errorf("pgbench measured nothing: %+v", r)
			}
			rs = append(rs, r)
		}
	}
	t.Logf("leader %s, client %s\n%s", rs[0].Leader, rs[0].Client, ThroughputReport(rs...))
}

// resolve finds a relative path given on the command line: go test runs
// in the package directory, while the user most likely meant the
// repository root, where they ran `go test ./tests/failover`.
func resolve(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	if _, err := os.Stat(p); err == nil {
		return p
	}
	if root := moduleRoot(); root != "" {
		if _, err := os.Stat(filepath.Join(root, p)); err == nil {
			return filepath.Join(root, p)
		}
	}
	return p
}

// resolveOut puts a relative output path under the repository root.
func resolveOut(p string) string {
	if root := moduleRoot(); !filepath.IsAbs(p) && root != "" {
		return filepath.Join(root, p)
	}
	return p
}

func moduleRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// pick selects scenarios by a comma list of names ("" is all of them).
func pick(all []Scenario, names string) ([]Scenario, error) {
	if strings.TrimSpace(names) == "" {
		return all, nil
	}
	var out []Scenario
	for _, n := range strings.Split(names, ",") {
		n = strings.TrimSpace(n)
		found := false
		for _, sc := range all {
			if sc.Name == n {
				out = append(out, sc)
				found = true
			}
		}
		if !found {
			var known []string
			for _, sc := range all {
				known = append(known, sc.Name)
			}
			return nil, fmt.Errorf("unknown scenario %q; known: %s", n, strings.Join(known, ", "))
		}
	}
	return out, nil
}

func TestPick(t *testing.T) {
	got, err := pick(Scenarios(), " switchover ,node-loss")
	if err != nil || len(got) != 2 || got[0].Name != "switchover" || got[1].Name != "node-loss" {
		t.Errorf("pick: %v %v", got, err)
	}
	if _, err := pick(Scenarios(), "nope"); err == nil || !strings.Contains(err.Error(), "known: node-loss,") {
		t.Errorf("unknown name: %v", err)
	}
	if all, _ := pick(Scenarios(), ""); len(all) != len(Scenarios()) || len(all) != 10 {
		t.Errorf("all: %d", len(all))
	}
}

func TestCheck(t *testing.T) {
	ok := Result{Resumed: true, MaxPrimaries: 1, MaxRoutable: 1}
	if p := Check(Scenario{}, ok, true); len(p) != 0 {
		t.Errorf("clean result: %v", p)
	}
	bad := Result{Lost: 2, MaxPrimaries: 2, MaxRoutable: 2, Violations: []string{"v"}, Failover: true, LeaderBefore: "a", LeaderAfter: "b"}
	if p := Check(Scenario{NoFailover: true}, bad, true); len(p) != 6 {
		t.Errorf("bad result: %q", p)
	}
	isolated := Result{Resumed: true, MaxPrimaries: 2, MaxRoutable: 1, Lost: 1}
	if p := Check(Scenario{IsolatedPrimary: true}, isolated, false); len(p) != 0 {
		t.Errorf("isolated primary, async: %v", p)
	}
}
