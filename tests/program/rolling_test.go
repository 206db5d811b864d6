package program_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/postgres-ha/postgres-ha/cluster"
	"github.com/postgres-ha/postgres-ha/config"
)

// The program asks a live cluster which node leads; under mocks none does,
// whatever runs on this machine.
func init() { cluster.LeaderOf = func(config.Config) string { return "" } }

// A change of Patroni and PostgreSQL settings changes the patroni-config
// job, which reruns and applies them through PATCH /config, and nothing
// else: no node file, no node container, no hand-over trigger.
func TestSettingsChangeOnlyTheJob(t *testing.T) {
	base := sized(3, 3)
	changed := sized(3, 3)
	changed["postgres"] = `{"nodes":3,"maxConnections":300,"ttl":25,"loopWait":3,"synchronousMode":false,` +
		`"failsafeMode":false,"primaryStartTimeout":10,"parameters":{"work_mem":"24MB"}}`
	a, b := mustRun(t, base), mustRun(t, changed)
	ca, cb := canonical(t, a.recs), canonical(t, b.recs)
	if len(ca) != len(cb) {
		t.Fatalf("%d registrations before the change, %d after", len(ca), len(cb))
	}
	job := b.cfg.PatroniJobName()
	for i := range ca {
		if ca[i] == cb[i] {
			continue
		}
		if !strings.Contains(ca[i], `"name":"`+job+`"`) {
			t.Errorf("a settings change changed more than the patroni-config job:\nbefore %.300s\nafter  %.300s", ca[i], cb[i])
		}
	}

	settings := uploads(b.container(t, job))["/etc/postgres-ha/patroni-config/settings.json"]
	var got struct {
		Nodes  []string
		Config struct {
			TTL             int  `json:"ttl"`
			LoopWait        int  `json:"loop_wait"`
			SynchronousMode bool `json:"synchronous_mode"`
			FailsafeMode    bool `json:"failsafe_mode"`
			PrimaryStart    int  `json:"primary_start_timeout"`
			PostgreSQL      struct {
				Parameters map[string]string
			}
		}
	}
	if err := json.Unmarshal([]byte(settings.content), &got); err != nil {
		t.Fatalf("settings.json: %v\n%s", err, settings.content)
	}
	if settings.secret {
		t.Errorf("settings.json is a secret; it holds none and is the preview's evidence of the change")
	}
	cfg := got.Config
	if cfg.TTL != 25 || cfg.LoopWait != 3 || cfg.SynchronousMode || cfg.FailsafeMode || cfg.PrimaryStart != 10 {
		t.Errorf("settings.json config %+v; want ttl 25, loop_wait 3, synchronous and failsafe off, primary_start_timeout 10", cfg)
	}
	params := cfg.PostgreSQL.Parameters
	if params["max_connections"] != "300" || params["work_mem"] != "24MB" || params["shared_preload_libraries"] != "pg_stat_statements" {
		t.Errorf("settings.json parameters %v; want max_connections 300, work_mem 24MB and the fixed ones", params)
	}
	if want := []string{"pgha-pg-1", "pgha-pg-2", "pgha-pg-3"}; !slices.Equal(got.Nodes, want) {
		t.Errorf("settings.json nodes %v, want %v", got.Nodes, want)
	}
}

// A change that replaces the node containers (here the Patroni image)
// changes every hand-over job's trigger, so each hands the leadership over
// before its node goes; the same config twice changes none.
func TestHandOverTrigger(t *testing.T) {
	base := sized(3, 3)
	other := sized(3, 3)
	other["images"] = `{"patroni":"postgres-ha/patroni:other"}`
	a, again, b := mustRun(t, base), mustRun(t, base), mustRun(t, other)
	const trigger = "/etc/postgres-ha/patroni-config/trigger"
	for i := 1; i <= 3; i++ {
		job := a.cfg.HandOverJobName(i)
		ta, tagain, tb := uploads(a.container(t, job))[trigger], uploads(again.container(t, job))[trigger], uploads(b.container(t, job))[trigger]
		if ta.content == "" || !ta.secret || ta.mode != "0600" {
			t.Errorf("%s: trigger %+v; want a secret root-only digest", job, ta)
		}
		if ta.content != tagain.content {
			t.Errorf("%s: the same config gave two triggers", job)
		}
		if ta.content == tb.content {
			t.Errorf("%s: a new Patroni image left the trigger unchanged; the leader would be replaced without a hand-over", job)
		}
	}
}

// Nodes are declared in a chain, each after the one before is healthy,
// with the current leader last; each node's Patroni container waits for
// its hand-over job; Consul servers are chained; the patroni-config job
// comes after every node container.
func TestRollingChain(t *testing.T) {
	defer func(f func(config.Config) string) { cluster.LeaderOf = f }(cluster.LeaderOf)
	for _, leader := range []int{0, 1, 2} {
		cluster.LeaderOf = func(c config.Config) string {
			if leader == 0 {
				return ""
			}
			return c.NodeName(leader)
		}
		r := mustRun(t, sized(3, 3))
		cfg := r.cfg
		order := map[int][]int{0: {1, 2, 3}, 1: {2, 3, 1}, 2: {1, 3, 2}}[leader]

		for i := 2; i <= cfg.Consul.Servers; i++ {
			s, prev := r.container(t, cfg.ServerName(i)), r.container(t, cfg.ServerName(i-1))
			if !slices.Contains(s.Deps, prev.URN) {
				t.Errorf("server %s does not wait for %s", s.name, prev.name)
			}
		}
		// The chain is Patroni and the agent: the pmm-client waits for
		// PMM's token, and no node waits for it.
		containersOf := func(i int) []string {
			return []string{r.container(t, cfg.NodeName(i)).URN, r.container(t, cfg.AgentContainer(i)).URN}
		}
		var all []string
		for k, i := range order {
			patroni := r.container(t, cfg.NodeName(i))
			comp := r.byURN[patroni.Parent]
			for j := 1; j <= cfg.Postgres.Nodes; j++ {
				for _, u := range containersOf(j) {
					want := k > 0 && j == order[k-1]
					if got := slices.Contains(comp.Deps, u); got != want {
						t.Errorf("leader %d: node %d depends on %s: %v, want %v (order %v)", leader, i, u, got, want, order)
					}
				}
			}
			for j := 1; j <= cfg.Postgres.Nodes; j++ {
				if u := r.container(t, cfg.PMMClientContainer(j)).URN; slices.Contains(comp.Deps, u) {
					t.Errorf("node %d waits for %s", i, u)
				}
			}
			handOver := r.container(t, cfg.HandOverJobName(i))
			if handOver.Parent != patroni.Parent || !slices.Contains(patroni.Deps, handOver.URN) {
				t.Errorf("%s does not wait for its hand-over job", patroni.name)
			}
			if cmd := strs(handOver.Inputs, "command"); !slices.Equal(cmd[1:], []string{"hand-over", cfg.NodeName(i)}) {
				t.Errorf("%s: command %v", handOver.name, cmd)
			}
			all = append(all, containersOf(i)...)
		}
		job := r.container(t, cfg.PatroniJobName())
		for _, u := range all {
			if !slices.Contains(r.byURN[job.Parent].Deps, u) {
				t.Errorf("the patroni-config job does not wait for %s", u)
			}
		}
		if cmd := strs(job.Inputs, "command"); !slices.Equal(cmd[1:], []string{"apply-config"}) {
			t.Errorf("patroni-config: command %v", cmd)
		}
	}
}

// Adding a node changes no existing container: none of their inputs
// depends on a resource made for the new node (whose values a preview does
// not know yet, so such a container would preview as replaced), and their
// inputs are the same as before. Only the jobs that must rerun (ACL: the
// new tokens; patroni-config: the new node list) change.
func TestAddingANodeChangesNoExistingContainer(t *testing.T) {
	three, four := mustRun(t, sized(3, 3)), mustRun(t, sized(4, 3))
	cfg := four.cfg
	newNode := cfg.NodeName(4)
	rerun := map[string]bool{cfg.ACLJobName(): true, cfg.PatroniJobName(): true}
	isNew := func(urn string) bool { return strings.Contains(urn, newNode) }
	before := map[string]string{}
	for _, c := range three.containers() {
		before[c.name] = mustJSONString(t, plainInputs(c))
	}
	for _, c := range four.containers() {
		if rerun[c.name] || strings.HasPrefix(c.name, newNode) {
			continue
		}
		for prop, deps := range c.PropDeps {
			for _, d := range deps {
				if isNew(d) {
					t.Errorf("%s: %s depends on %s, made for the new node", c.name, prop, d)
				}
			}
		}
		if got := mustJSONString(t, plainInputs(c)); got != before[c.name] {
			t.Errorf("%s: inputs changed when a node was added", c.name)
		}
	}
	for name := range rerun {
		if mustJSONString(t, plainInputs(four.container(t, name))) == before[name] {
			t.Errorf("%s: unchanged when a node was added; it must rerun", name)
		}
	}
}

func plainInputs(c container) any { return plain(inputsValue(c.record)) }

func mustJSONString(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// An IPv6 public host is bracketed wherever a port follows it.
func TestIPv6PublicHostIsBracketed(t *testing.T) {
	cfg := sized(3, 3)
	cfg["network"] = `{"publicHost":"::1"}`
	r := mustRun(t, cfg)
	for key, want := range map[string]string{
		"writeEndpoint": "[::1]:5000", "readEndpoint": "[::1]:5001",
		"consulUiUrl": "https://[::1]:8500/ui/", "haproxyStatsUrl": "https://[::1]:7000/",
		"pmmUrl": "https://[::1]:8443/",
	} {
		if got := r.exports[key].Value; got != want {
			t.Errorf("%s = %v, want %s", key, got, want)
		}
	}
	if uri, _ := r.exports["writeUri"].Value.(string); !strings.Contains(uri, "@[::1]:5000/postgres") {
		t.Errorf("writeUri %q does not bracket the host", uri)
	}
}

// Each container depends only on the secrets and certificates it renders,
// so dependency edges grow linearly with the node count: each added node
// adds the same number (before: every container depended on every token,
// 620 edges at 3 nodes, 13,988 at 27, 66,440 at 63).
func TestDependencyEdgesGrowLinearly(t *testing.T) {
	edges := func(n int) int {
		cfg := sized(n, 3)
		cfg["network"] = `{"subnet":"172.28.0.0/22"}`
		total := 0
		for _, rec := range mustRun(t, cfg).recs {
			for _, deps := range rec.PropDeps {
				total += len(deps)
			}
		}
		return total
	}
	e3, e9, e27 := edges(3), edges(9), edges(27)
	perNode := (e9 - e3) / 6
	if (e9-e3)%6 != 0 || e27-e9 != 18*perNode {
		t.Errorf("edges 3/9/27 nodes = %d/%d/%d: not linear (%d per node from 3 to 9, %.1f from 9 to 27)",
			e3, e9, e27, perNode, float64(e27-e9)/18)
	}
	t.Logf("edges: 3 nodes %d, 9 nodes %d, 27 nodes %d (%d per node)", e3, e9, e27, perNode)
}

// Every uploaded file that holds a secret is root-only (0600), but for the
// PMM server's two, which PMM 3 reads as uid 1000 with gid 0: root:root 0640,
// never world-readable.
func TestSecretUploadsAreOwnerOnly(t *testing.T) {
	r := mustRun(t, sized(3, 3))
	n := 0
	for _, c := range r.containers() {
		for path, u := range uploads(c) {
			if !u.secret {
				continue
			}
			n++
			want := "0600"
			if c.role == "pmm-server" {
				want = "0640"
			}
			if u.mode != want {
				t.Errorf("%s: secret %s has mode %q, want %s", c.name, path, u.mode, want)
			}
		}
	}
	if n < 30 {
		t.Errorf("only %d secret uploads found; the walk broke", n)
	}
}
