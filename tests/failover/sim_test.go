package failover

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// simCluster stands in for a deployed cluster so that the scenario frame
// (writer, watch, waits, repairs, verification, results) runs end to end
// without Docker: a model of Patroni, Consul and HAProxy answers the
// suite's curl commands and streams, a real local PostgreSQL takes the
// writes through a TCP proxy that plays HAProxy's :5000 (cut during a
// failover), and a postmaster kill crashes the real server.
type simCluster struct {
	t     *testing.T
	pg    *localPG
	proxy *simProxy
	tg    Target

	failoverDelay time.Duration
	claimFor      time.Duration

	mu           sync.Mutex
	leader       string
	down         map[string]bool
	parted       map[string]bool
	claims       map[string]time.Time
	joining      map[string]time.Time
	consulLeader string
	rejoined     map[string]bool
	// failsafeOff is Patroni's failsafe_mode switched off by PATCH /config:
	// a leader that loses its agent then demotes and a replica takes over.
	failsafeOff bool
	// failsafeUntil is when the members' failsafe records expire.
	failsafeUntil time.Time
	// restarts counts each node's PostgreSQL restarts (start, demotion):
	// GET /patroni reports it as postmaster_start_time.
	restarts map[string]int
	calls    []string
}

// simFailsafeFor is how long members keep a failsafe record in the model.
const simFailsafeFor = 700 * time.Millisecond

func newSim(t *testing.T) *simCluster {
	pg := startLocalPG(t)
	// The model says three nodes stream from the leader: a test-only
	// pg_stat_replication shadows the catalog's for the superuser.
	tg := pg.target(t)
	direct, err := tg.PGConfig(tg.WriteEndpoint)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, direct)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"CREATE TABLE public.pg_stat_replication (state text)",
		"INSERT INTO public.pg_stat_replication VALUES ('streaming'), ('streaming')",
		"ALTER ROLE postgres SET search_path = public, pg_catalog",
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	conn.Close(ctx)

	proxy := newSimProxy(t, fmt.Sprintf("127.0.0.1:%d", pg.port))
	s := &simCluster{t: t, pg: pg, proxy: proxy, failoverDelay: 800 * time.Millisecond, claimFor: 1500 * time.Millisecond,
		leader: "sim-pg-1", consulLeader: "sim-consul-2",
		down: map[string]bool{}, parted: map[string]bool{}, claims: map[string]time.Time{},
		joining: map[string]time.Time{}, rejoined: map[string]bool{}, restarts: map[string]int{}}
	s.tg = Target{
		WriteEndpoint: fmt.Sprintf("localhost:%d", proxy.port()), ReadEndpoint: "localhost:1",
		CACert: pg.caPEM, CAFile: tg.CAFile, SuperuserPassword: pg.password, PatroniRestPassword: "rest-pw",
		Nodes:         []string{"sim-pg-1", "sim-pg-2", "sim-pg-3"},
		ConsulServers: []string{"sim-consul-1", "sim-consul-2", "sim-consul-3"},
		HAProxy:       "sim-haproxy", ClusterName: "sim",
	}
	return s
}

func (s *simCluster) record(c string) {
	s.calls = append(s.calls, c)
}

func (s *simCluster) isNode(n string) bool { return contains(s.tg.Nodes, n) }

func (s *simCluster) isServer(n string) bool { return contains(s.tg.ConsulServers, n) }

func (s *simCluster) dcsUp() bool {
	for _, srv := range s.tg.ConsulServers {
		if !s.down[srv] {
			return true
		}
	}
	return false
}

// failover cuts the write endpoint and elects another live node after the
// delay. Called with mu held.
func (s *simCluster) failover(old string) {
	s.leader = ""
	s.restarts[old]++
	s.proxy.set(false)
	time.AfterFunc(s.failoverDelay, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, n := range s.tg.Nodes {
			if n != old && !s.down[n] && !s.parted[n] {
				s.leader = n
				break
			}
		}
		s.proxy.set(s.leader != "")
	})
}

func (s *simCluster) Kill(_ context.Context, n string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.record("kill " + n)
	if s.down[n] {
		return fmt.Errorf("killing %s: not running", n)
	}
	s.down[n] = true
	switch {
	case s.isNode(n) && n == s.leader:
		s.failover(n)
	case s.failsafeOff && s.leader != "" && n == s.leader+"-consul":
		s.failover(s.leader)
	case s.isServer(n) && n == s.consulLeader:
		s.consulLeader = ""
		time.AfterFunc(300*time.Millisecond, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			for _, srv := range s.tg.ConsulServers {
				if !s.down[srv] && s.consulLeader == "" {
					s.consulLeader = srv
				}
			}
		})
	}
	return nil
}

func (s *simCluster) Stop(ctx context.Context, n string, _ time.Duration) error {
	return s.Kill(ctx, n)
}

func (s *simCluster) Start(_ context.Context, n string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.record("start " + n)
	if !s.down[n] {
		return nil
	}
	delete(s.down, n)
	if s.isNode(n) {
		s.restarts[n]++
		s.joining[n] = time.Now().Add(300 * time.Millisecond)
		s.rejoined[n] = true
	}
	if s.isServer(n) && s.consulLeader == "" {
		s.consulLeader = n
	}
	return nil
}

func (s *simCluster) Pause(ctx context.Context, n string) error   { return s.Kill(ctx, n) }
func (s *simCluster) Unpause(ctx context.Context, n string) error { return s.Start(ctx, n) }

func (s *simCluster) Disconnect(_ context.Context, _, n string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.record("disconnect " + n)
	s.parted[n] = true
	if n == s.leader {
		// The isolated leader keeps claiming in its own view until it
		// demotes.
		s.claims[n] = time.Now().Add(s.claimFor)
		s.failover(n)
	}
	return nil
}

func (s *simCluster) Reconnect(_ context.Context, _, n string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.record("reconnect " + n)
	delete(s.parted, n)
	// The healed old primary posts itself to the others as the failsafe
	// leader before it sees the new one; they keep that record a while.
	s.failsafeUntil = time.Now().Add(simFailsafeFor)
	s.joining[n] = time.Now().Add(300 * time.Millisecond)
	s.rejoined[n] = true
	return nil
}

func (s *simCluster) Inspect(_ context.Context, n string) (ContainerState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := ContainerState{Running: !s.down[n], IPs: map[string]string{}}
	if !s.parted[n] {
		st.IPs[s.tg.Network()] = s.ip(n)
	}
	return st, nil
}

func (s *simCluster) ip(n string) string {
	for i, x := range s.tg.Nodes {
		if x == n {
			return fmt.Sprintf("10.9.0.%d", i+1)
		}
	}
	for i, x := range s.tg.ConsulServers {
		if x == n {
			return fmt.Sprintf("10.9.1.%d", i+1)
		}
	}
	return "10.9.2.1"
}

func (s *simCluster) Logs(_ context.Context, n string, _ time.Time) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rejoined[n] {
		return "INFO: running pg_rewind from sim-pg-2\n", nil
	}
	return "", nil
}

// selfCode is node's own answer to /primary. Called with mu held.
func (s *simCluster) selfCode(n string) int {
	if n == s.leader && !s.parted[n] || time.Now().Before(s.claims[n]) {
		return 200
	}
	return 503
}

// routerCode is node's answer to /primary from HAProxy. Called with mu held.
func (s *simCluster) routerCode(n string) int {
	switch {
	case s.down[n] || s.parted[n]:
		return 0
	case n == s.leader:
		return 200
	default:
		return 503
	}
}

func (s *simCluster) ExecLines(ctx context.Context, name string, line func(string), _ ...string) error {
	s.mu.Lock()
	if s.down[name] {
		s.mu.Unlock()
		return fmt.Errorf("exec in %s: container is not running", name)
	}
	s.mu.Unlock()
	for r := 1; ; r++ {
		s.mu.Lock()
		if s.down[name] {
			s.mu.Unlock()
			return nil
		}
		var out []string
		if name == s.tg.HAProxy {
			for _, n := range s.tg.Nodes {
				out = append(out, fmt.Sprintf("%d %s %d", r, n, s.routerCode(n)))
			}
		} else {
			out = append(out, `{"state": "running", "role": "primary"}`, fmt.Sprintf("@@%d", s.selfCode(name)))
		}
		s.mu.Unlock()
		for _, l := range out {
			line(l)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (s *simCluster) Exec(ctx context.Context, name string, stdin []byte, cmd ...string) (ExecResult, error) {
	s.mu.Lock()
	if s.down[name] {
		s.mu.Unlock()
		return ExecResult{}, fmt.Errorf("exec in %s: container is not running", name)
	}
	s.mu.Unlock()
	if len(cmd) == 3 && cmd[0] == "sh" && strings.Contains(cmd[2], "kill -9") && strings.Contains(cmd[2], "postmaster.pid") {
		s.mu.Lock()
		s.record("crash postgres on " + name)
		s.mu.Unlock()
		s.crashPostgres()
		return ExecResult{}, nil
	}
	if len(cmd) == 0 || cmd[0] != "curl" {
		return ExecResult{}, fmt.Errorf("sim: unexpected command %q", cmd)
	}
	url, method := cmd[len(cmd)-1], "GET"
	for i, a := range cmd {
		if a == "-X" && i+1 < len(cmd) {
			method = cmd[i+1]
		}
		if strings.Contains(a, "patroni:") || strings.Contains(a, s.tg.PatroniRestPassword) {
			s.t.Errorf("a password reached a command line: %q", cmd)
		}
	}
	reply := func(code int, body string) (ExecResult, error) {
		return ExecResult{Stdout: fmt.Sprintf("%s\n%d", body, code)}, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case strings.HasPrefix(url, "https://"+name+":8008/"):
		path := strings.TrimPrefix(url, "https://"+name+":8008")
		if s.parted[name] {
			return reply(503, "no DCS")
		}
		switch {
		case method == "GET" && path == "/cluster":
			if !s.dcsUp() {
				return reply(503, "DCS unavailable")
			}
			return reply(200, s.clusterJSON())
		case method == "GET" && path == "/patroni":
			started := fmt.Sprintf(`"postmaster_start_time": "2026-01-02 03:04:%02d+00:00"`, s.restarts[name])
			if name != s.leader && time.Now().Before(s.failsafeUntil) {
				return reply(200, `{"state": "running", "failsafe_mode_is_active": true, `+started+`}`)
			}
			return reply(200, `{"state": "running", `+started+`}`)
		case method == "GET" && path == "/config":
			return reply(200, fmt.Sprintf(`{"ttl": 20, "loop_wait": 0, "retry_timeout": 7, "synchronous_mode": true, "failsafe_mode": %v}`, !s.failsafeOff))
		case method == "PATCH" && path == "/config":
			if string(stdin) != "user = \"patroni:"+s.tg.PatroniRestPassword+"\"\n" {
				return reply(401, "no auth")
			}
			var req struct {
				Failsafe *bool `json:"failsafe_mode"`
			}
			for i, a := range cmd {
				if a == "--data-binary" && i+1 < len(cmd) {
					_ = json.Unmarshal([]byte(cmd[i+1]), &req)
				}
			}
			if req.Failsafe == nil {
				return reply(400, "bad body")
			}
			s.failsafeOff = !*req.Failsafe
			s.record(fmt.Sprintf("failsafe_mode %v", *req.Failsafe))
			return reply(200, "{}")
		case method == "POST" && path == "/switchover":
			if string(stdin) != "user = \"patroni:"+s.tg.PatroniRestPassword+"\"\n" {
				return reply(401, "no auth")
			}
			if name != s.leader {
				return reply(412, "not the leader")
			}
			s.record("switchover " + name)
			s.failover(name)
			s.mu.Unlock()
			time.Sleep(s.failoverDelay + 100*time.Millisecond)
			s.mu.Lock()
			return reply(200, "Successfully switched over to "+s.leader)
		}
	case url == "https://127.0.0.1:8501/v1/status/leader" && s.isServer(name):
		if s.consulLeader == "" {
			return reply(200, `""`)
		}
		return reply(200, fmt.Sprintf(`"%s:8300"`, s.ip(s.consulLeader)))
	case url == "https://127.0.0.1:8501/v1/status/peers" && s.isServer(name):
		var peers []string
		for _, srv := range s.tg.ConsulServers {
			peers = append(peers, s.ip(srv)+":8300")
		}
		b, _ := json.Marshal(peers)
		return reply(200, string(b))
	}
	return ExecResult{Stdout: "\n000", Code: 7}, nil
}

// clusterJSON is GET /cluster of the model. Called with mu held.
func (s *simCluster) clusterJSON() string {
	var ms []Member
	sync := false
	for _, n := range s.tg.Nodes {
		if s.down[n] || s.parted[n] {
			continue
		}
		m := Member{Name: n, Role: "replica", State: "running", Host: n}
		if time.Now().Before(s.joining[n]) {
			m.State = "starting"
		}
		switch {
		case n == s.leader:
			m.Role = "leader"
		case !sync && m.State == "running" && s.leader != "":
			// Patroni names one streaming replica the synchronous standby.
			m.Role, sync = "sync_standby", true
		}
		ms = append(ms, m)
	}
	b, _ := json.Marshal(ClusterView{Members: ms})
	return string(b)
}

// crashPostgres kills the real server and starts it again a second later,
// as Patroni would.
func (s *simCluster) crashPostgres() {
	ctl := func(args ...string) {
		argv := append(append(append([]string{}, s.pg.asUser...), filepath.Join(pgBin, "pg_ctl"), "-D", s.pg.data), args...)
		if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
			s.t.Errorf("pg_ctl %v: %v\n%s", args, err, out)
		}
	}
	ctl("-m", "immediate", "-w", "stop")
	go func() {
		time.Sleep(time.Second)
		ctl("-l", filepath.Join(s.pg.dir, "log"), "-w", "-t", "60", "start")
	}()
}

// simProxy plays HAProxy's write port: a TCP passthrough to the local
// server that refuses and cuts connections while the model has no leader.
type simProxy struct {
	ln      net.Listener
	backend string
	mu      sync.Mutex
	up      bool
	conns   map[net.Conn]bool
}

func newSimProxy(t *testing.T, backend string) *simProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &simProxy{ln: ln, backend: backend, up: true, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { ln.Close(); p.set(false) })
	go p.serve()
	return p
}

func (p *simProxy) port() int { return p.ln.Addr().(*net.TCPAddr).Port }

func (p *simProxy) set(up bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.up = up
	if !up {
		for c := range p.conns {
			c.Close()
		}
		p.conns = map[net.Conn]bool{}
	}
}

func (p *simProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		up := p.up
		p.mu.Unlock()
		if !up {
			c.Close()
			continue
		}
		b, err := net.DialTimeout("tcp", p.backend, 2*time.Second)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[b] = true, true
		p.mu.Unlock()
		go func() { io.Copy(b, c); b.Close(); c.Close() }()
		go func() { io.Copy(c, b); b.Close(); c.Close() }()
	}
}

func simOptions(t *testing.T) Options {
	t0 := time.Now()
	return Options{
		Logf: func(format string, args ...any) {
			t.Logf("[%5.2fs] %s", time.Since(t0).Seconds(), fmt.Sprintf(format, args...))
		},
		HealthyTimeout: 20 * time.Second, FailoverTimeout: 20 * time.Second,
		Observe: 1500 * time.Millisecond, AgentLostFor: 1500 * time.Millisecond, AgentBlip: 200 * time.Millisecond,
		Warmup: 300 * time.Millisecond,
	}
}

// TestScenariosSimulated runs every scenario against the model and checks
// what each must measure and assert.
func TestScenariosSimulated(t *testing.T) {
	sim := newSim(t)
	byName := map[string]Scenario{}
	for _, sc := range Scenarios() {
		byName[sc.Name] = sc
	}
	type want struct {
		failover, gap bool
		ownPrimaries  int
		notes         []string
	}
	wants := map[string]want{
		"node-loss":          {failover: true, gap: true, ownPrimaries: 1, notes: []string{"killed sim-pg-1 and sim-pg-1-consul", "new leader sim-pg-2", "sim-pg-1 rejoined (pg_rewind)"}},
		"postgres-crash":     {gap: true, ownPrimaries: 1, notes: []string{"killed the postmaster of sim-pg-1", "writes resumed"}},
		"switchover":         {failover: true, gap: true, ownPrimaries: 1, notes: []string{"POST /switchover answered", "new leader sim-pg-2"}},
		"partition":          {failover: true, gap: true, ownPrimaries: 2, notes: []string{"disconnected sim-pg-1 from sim-net", "stopped claiming the primary role", "(ttl 20 s)", "own view: sim-pg-1+sim-pg-2 claimed the primary role together"}},
		"consul-server-loss": {ownPrimaries: 1, notes: []string{"killed Consul server sim-consul-1 (Raft leader sim-consul-2)", "Consul healthy again"}},
		"consul-leader-loss": {ownPrimaries: 1, notes: []string{"killed Consul server sim-consul-2 (Raft leader sim-consul-2)"}},
		"agent-blip":         {ownPrimaries: 1, notes: []string{"agent sim-pg-1-consul down for", "no failover"}},
		"agent-lost":         {ownPrimaries: 1, notes: []string{"killed agent sim-pg-1-consul", "sim-pg-1's PostgreSQL ran throughout (started 2026-01-02 03:04:"}},
		"agent-lost-failsafe-off": {failover: true, gap: true, ownPrimaries: 1,
			notes: []string{"failsafe_mode switched off for the run", "killed agent sim-pg-1-consul", "sim-pg-1's PostgreSQL was restarted (demoted)"}},
		"consul-down": {ownPrimaries: 1, notes: []string{"killed every Consul server", "/cluster unanswered", "the primary was taking writes at the end of the outage", "Consul healthy again"}},
	}
	var results []Result
	for _, sc := range Scenarios() {
		w := wants[sc.Name]
		t.Run(sc.Name, func(t *testing.T) {
			// Same starting leaders for every scenario, whatever ran before.
			sim.mu.Lock()
			sim.leader, sim.consulLeader = "sim-pg-1", "sim-consul-2"
			sim.mu.Unlock()
			res, err := sc.Run(context.Background(), sim.tg, sim, simOptions(t))
			results = append(results, res)
			if err != nil {
				t.Fatal(err)
			}
			if p := Check(sc, res, true); len(p) > 0 {
				t.Errorf("Check: %v", p)
			}
			if res.Failover != w.failover || (res.Gap > 0) != w.gap || res.MaxPrimaries != w.ownPrimaries || res.MaxRoutable != 1 {
				t.Errorf("failover %v, gap %s, primaries %d/%d; want failover %v, gap %v, own primaries %d",
					res.Failover, res.Gap, res.MaxPrimaries, res.MaxRoutable, w.failover, w.gap, w.ownPrimaries)
			}
			if res.Acked == 0 || res.Lost != 0 || !res.Resumed || res.BackToFull <= 0 || res.LeaderAfter == "" ||
				res.Took < res.BackToFull || res.Started.IsZero() {
				t.Errorf("result %+v", res)
			}
			if sc.Name == "partition" && res.BackToFull < simFailsafeFor {
				t.Errorf("back to full %s after the heal, before the failsafe records expired (%s)", res.BackToFull, simFailsafeFor)
			}
			if w.gap && res.Gap < sim.failoverDelay/2 {
				t.Errorf("gap %s shorter than the simulated outage", res.Gap)
			}
			sim.mu.Lock()
			off := sim.failsafeOff
			sim.mu.Unlock()
			if off {
				t.Error("the scenario left failsafe_mode off")
			}
			notes := strings.Join(res.Notes, "\n")
			for _, n := range w.notes {
				if !strings.Contains(notes, n) {
					t.Errorf("notes lack %q:\n%s", n, notes)
				}
			}
		})
	}
	t.Logf("\n%s", Report(results))
	if !strings.Contains(Report(results), "| partition | 1 |") {
		t.Error("report lacks the partition row")
	}
}

// TestScenarioRepairsOnFailure: when the new leader never comes, the
// scenario fails and still starts the killed containers again.
func TestScenarioRepairsOnFailure(t *testing.T) {
	sim := newSim(t)
	// The leader comes back only after the scenario gave up (so that the
	// acknowledged rows can still be verified).
	sim.failoverDelay = 3 * time.Second
	o := simOptions(t)
	o.FailoverTimeout = 1500 * time.Millisecond
	res, err := NodeLoss(context.Background(), sim.tg, sim, o)
	if err == nil || !strings.Contains(err.Error(), "leader not as expected") {
		t.Fatalf("NodeLoss: %v", err)
	}
	calls := strings.Join(sim.calls, "\n")
	if !strings.Contains(calls, "start sim-pg-1\nstart sim-pg-1-consul") {
		t.Errorf("the killed node was not started again (agent after Patroni):\n%s", calls)
	}
	if res.Resumed || !strings.Contains(strings.Join(res.Notes, "\n"), `repaired "start sim-pg-1" after an early end`) {
		t.Errorf("result %+v", res)
	}
	if p := Check(Scenario{}, res, true); len(p) == 0 {
		t.Error("Check passed a scenario whose writes never resumed")
	}
}
