package failover

import (
	"strings"
	"testing"
	"time"
)

// polls builds samples of one node: every step ms, codes in order.
func polls(node string, t0 time.Time, startMS, stepMS int, codes ...int) []Sample {
	var ss []Sample
	for i, c := range codes {
		ss = append(ss, Sample{Node: node, At: t0.Add(time.Duration(startMS+i*stepMS) * time.Millisecond), Code: c})
	}
	return ss
}

// withState sets the samples' states in order.
func withState(ss []Sample, states ...string) []Sample {
	for i := range ss {
		if i < len(states) {
			ss[i].State = states[i]
		}
	}
	return ss
}

func TestPatroniStatus(t *testing.T) {
	for body, want := range map[string][2]string{
		`{"state": "stopping", "role": "primary"}`:                                         {"stopping", "primary"},
		`{"state": "running", "role": "replica", "replication": [{"state": "streaming"}]}`: {"running", "replica"},
		`{"state": "running"}`: {"running", ""},
		`no body`:              {"", ""},
		``:                     {"", ""},
	} {
		if st, role := patroniStatus(body); st != want[0] || role != want[1] {
			t.Errorf("patroniStatus(%q) = %q, %q, want %q, %q", body, st, role, want[0], want[1])
		}
	}
}

func TestSamplePrimary(t *testing.T) {
	for _, tc := range []struct {
		s    Sample
		want bool
	}{
		{Sample{Code: 200, State: "running", Role: "primary"}, true},
		{Sample{Code: 200}, true}, // body unknown: counts
		{Sample{Code: 200, State: "stopping", Role: "primary"}, false},
		// a new leader with the lock whose PostgreSQL is still in recovery
		{Sample{Code: 200, State: "running", Role: "replica"}, false},
		{Sample{Code: 503, State: "running", Role: "primary"}, false},
		{Sample{Code: 0}, false},
	} {
		if got := tc.s.Primary(); got != tc.want {
			t.Errorf("%+v.Primary() = %v, want %v", tc.s, got, tc.want)
		}
	}
}

func cat(xs ...[]Sample) []Sample {
	var out []Sample
	for _, x := range xs {
		out = append(out, x...)
	}
	return out
}

func TestSplitBrainSelfView(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	gap := 2 * time.Second
	for _, tc := range []struct {
		name    string
		samples []Sample
		max     int
		nodes   string
	}{
		{
			name: "clean failover: the old leader dies, a replica takes over",
			samples: cat(
				polls("a", t0, 0, 200, 200, 200, 200, -1, -1, -1, -1),
				polls("b", t0, 50, 200, 503, 503, 503, 503, 503, 200, 200),
				polls("c", t0, 100, 200, 503, 503, 503, 503, 503, 503, 503)),
			max: 1,
		},
		{
			name: "switchover: old 200 last at 400 ms, new 200 first at 450 ms",
			samples: cat(
				polls("a", t0, 0, 200, 200, 200, 200, 503, 503),
				polls("b", t0, 50, 200, 503, 503, 200, 200, 200)),
			max: 1,
		},
		{
			name: "isolated old leader keeps claiming while the new one runs",
			samples: cat(
				polls("a", t0, 0, 200, 200, 200, 200, 200, 200, 200, 503),
				polls("b", t0, 50, 200, 503, 503, 200, 200, 200, 200, 200)),
			max: 2, nodes: "a+b",
		},
		{
			name: "the demoting leader answers 200 while PostgreSQL stops: no claim",
			samples: cat(
				withState(polls("a", t0, 0, 200, 200, 200, 200, 200, 200, 503), "running", "running", "running", "stopping", "stopping", "stopping"),
				withState(polls("b", t0, 50, 200, 503, 503, 503, 200, 200, 200), "running", "running", "running", "running", "running", "running", "running")),
			max: 1,
		},
		{
			name: "the same answers without a state count as claims",
			samples: cat(
				polls("a", t0, 0, 200, 200, 200, 200, 200, 200, 503),
				polls("b", t0, 50, 200, 503, 503, 503, 200, 200, 200)),
			max: 2, nodes: "a+b",
		},
		{
			name: "three claim at once",
			samples: cat(
				polls("a", t0, 0, 200, 200, 200),
				polls("b", t0, 10, 200, 200, 200),
				polls("c", t0, 20, 200, 200, 200)),
			max: 3, nodes: "a+b+c",
		},
		{
			name: "a silence longer than the gap is not bridged",
			samples: cat(
				polls("a", t0, 0, 3000, 200, 200),
				polls("b", t0, 1000, 200, 200, 200)),
			max: 1,
		},
		{
			name: "single answers at the same instant count",
			samples: cat(
				polls("a", t0, 500, 200, 200),
				polls("b", t0, 500, 200, 200)),
			max: 2, nodes: "a+b",
		},
		{name: "nothing", max: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			max, ovs := MaxConcurrent(PrimarySpans(tc.samples, gap))
			if max != tc.max {
				t.Errorf("max %d, want %d (spans %+v)", max, tc.max, PrimarySpans(tc.samples, gap))
			}
			if tc.max > 1 {
				if len(ovs) == 0 || strings.Join(ovs[0].Nodes, "+") != tc.nodes {
					t.Errorf("overlaps %v, want nodes %s", ovs, tc.nodes)
				}
			} else if len(ovs) != 0 {
				t.Errorf("overlaps %v, want none", ovs)
			}
		})
	}
}

func TestPrimarySpans(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	spans := PrimarySpans(polls("a", t0, 0, 200, 200, 200, 503, 200, 0, 200, 200, 200), 2*time.Second)
	if len(spans) != 3 {
		t.Fatalf("spans %+v", spans)
	}
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	if !spans[0].From.Equal(at(0)) || !spans[0].To.Equal(at(200)) || !spans[1].From.Equal(at(600)) || !spans[1].To.Equal(at(600)) ||
		!spans[2].From.Equal(at(1000)) || !spans[2].To.Equal(at(1400)) {
		t.Errorf("spans %+v", spans)
	}
}

func TestSplitBrainRouterView(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	round := func(r int64, codes map[string]int) []Sample {
		var ss []Sample
		for _, n := range []string{"a", "b", "c"} {
			ss = append(ss, Sample{Node: n, Round: r, Code: codes[n], At: t0.Add(time.Duration(r) * 200 * time.Millisecond)})
		}
		return ss
	}
	// a leads, hands over to b; round 3 catches both in flight (a answered
	// before it let go, b after it took the key): not two writers.
	clean := cat(round(1, map[string]int{"a": 200, "b": 503, "c": 503}), round(2, map[string]int{"a": 200, "b": 503, "c": 503}),
		round(3, map[string]int{"a": 200, "b": 200, "c": 503}), round(4, map[string]int{"a": 0, "b": 200, "c": 503}),
		round(5, map[string]int{"a": 503, "b": 200, "c": 503}))
	if max, ovs := MaxPerRound(clean); max != 1 || len(ovs) != 0 {
		t.Errorf("clean: max %d, overlaps %v", max, ovs)
	}
	// a comes back as primary while b still is, for two rounds.
	bad := cat(clean, round(6, map[string]int{"a": 200, "b": 200, "c": 503}), round(7, map[string]int{"a": 200, "b": 200, "c": 200}))
	max, ovs := MaxPerRound(bad)
	if max != 2 || len(ovs) != 1 || strings.Join(ovs[0].Nodes, "+") != "a+b" || !ovs[0].From.Equal(t0.Add(1200*time.Millisecond)) {
		t.Errorf("split: max %d, overlaps %v", max, ovs)
	}
	if max, _ := MaxPerRound(round(1, map[string]int{"a": 200, "b": 200})); max != 1 {
		t.Errorf("one round: max %d, want 1 (one round proves no overlap)", max)
	}
}

func TestSummarize(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	roles := []RoleCheck{
		{At: t0, Server: "pg-1"}, {At: t0, Server: "pg-1"}, {At: t0, Err: "EOF"},
		{At: t0, Server: "pg-2", InRecovery: true}, {At: t0, Server: "pg-2"},
	}
	s := Summarize(polls("a", t0, 0, 200, 200, 200), nil, roles, 2*time.Second)
	if s.MaxPrimaries != 1 || s.MaxRoutable != 0 || s.Samples != 2 || s.RoleChecks != 5 || s.RoleErrors != 1 || s.WrongRole != 1 ||
		strings.Join(s.Servers, ",") != "pg-1,pg-2" {
		t.Errorf("summary %+v", s)
	}
}

func TestPollScripts(t *testing.T) {
	self := selfPollScript("e2e-pg-1", 200*time.Millisecond, time.Hour)
	for _, want := range []string{"+ 3600 ))", "--resolve 'e2e-pg-1:8008:127.0.0.1' 'https://e2e-pg-1:8008/primary'",
		"--cert /run/postgres-ha/tls/node.crt --key /run/postgres-ha/tls/node.key", "sleep 0.200", `-w '\n@@%{http_code}'`, `echo "$r" || exit 0`} {
		if !strings.Contains(self, want) {
			t.Errorf("self poll script lacks %q:\n%s", want, self)
		}
	}
	router := routerPollScript([]string{"n1", "n2"}, time.Second, time.Hour)
	for _, want := range []string{"for n in n1 n2; do", "--cert /etc/postgres-ha/tls/haproxy.pem", `echo "$r $n $(printf`, "wait", "sleep 1.000"} {
		if !strings.Contains(router, want) {
			t.Errorf("router poll script lacks %q:\n%s", want, router)
		}
	}
}
