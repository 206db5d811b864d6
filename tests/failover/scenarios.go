package failover

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/postgres-ha/postgres-ha/templates"
)

// Options tune the scenarios; zero values take the defaults.
type Options struct {
	// Logf gets progress lines (default: none).
	Logf func(format string, args ...any)
	// HealthyTimeout bounds the wait for full strength before a scenario
	// and after its repair (default 3 min: a rejoin may need a reinit).
	HealthyTimeout time.Duration
	// FailoverTimeout bounds the wait for a new leader and for writes to
	// resume (default 90 s).
	FailoverTimeout time.Duration
	// Observe is how long a fault that should not cause a failover is
	// watched (default 30 s, more than Patroni's default ttl).
	Observe time.Duration
	// AgentBlip is how long the leader's Consul agent stays down in
	// AgentBlip (default 1 s).
	AgentBlip time.Duration
	// AgentLostFor is how long it stays down in AgentLost (default 45 s).
	AgentLostFor time.Duration
	// Warmup is how long writes run before the fault (default 2 s).
	Warmup time.Duration
	Writer WriterConfig
	Watch  WatchConfig
}

func (o Options) withDefaults() Options {
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&o.HealthyTimeout, 3*time.Minute)
	def(&o.FailoverTimeout, 90*time.Second)
	def(&o.Observe, 30*time.Second)
	def(&o.AgentBlip, time.Second)
	def(&o.AgentLostFor, 45*time.Second)
	def(&o.Warmup, 2*time.Second)
	if o.Writer.Logf == nil {
		o.Writer.Logf = o.Logf
	}
	if o.Watch.Logf == nil {
		o.Watch.Logf = o.Logf
	}
	return o
}

// Result is what one run of a scenario measured.
type Result struct {
	Name string
	// Gap is the first write-unavailability window (0 when no write
	// failed); Windows are all of them.
	Gap     time.Duration
	Windows []Window
	// Resumed: the last window is closed and a commit was acknowledged
	// after the cluster was back to full strength.
	Resumed bool
	// Acked and Failed count write attempts; Lost is the acknowledged rows
	// missing afterwards; SyncWarnings counts acks that came with a
	// cancelled wait for synchronous replication.
	Acked, Failed, Lost, SyncWarnings int
	// MaxPrimaries is the largest number of nodes that claimed the primary
	// role at once, each asked from inside itself; MaxRoutable the same as
	// HAProxy sees it (one round of checks from its container).
	MaxPrimaries, MaxRoutable int
	Overlaps                  []Overlap
	// WrongRole counts checks through the write endpoint answered by a
	// server in recovery.
	WrongRole int
	// BackToFull is the time from the repair (or from the fault, when
	// nothing is repaired) to one leader and N-1 streaming replicas.
	BackToFull time.Duration
	// LeaderBefore and LeaderAfter are the Patroni leaders around the
	// fault; Failover is set when the leadership moved at any point.
	LeaderBefore, LeaderAfter string
	Failover                  bool
	// Violations are safety properties the scenario itself found broken.
	Violations []string
	Notes      []string
	Started    time.Time
	Took       time.Duration
}

// ScenarioFunc runs one scenario.
type ScenarioFunc func(ctx context.Context, t Target, f Faults, o Options) (Result, error)

// Scenario is a named scenario with what the suite asserts of it beyond
// the safety properties every scenario has (no acknowledged write lost,
// never two primaries, writes resume).
type Scenario struct {
	Name string
	Run  ScenarioFunc
	// NoFailover: the leadership must not move.
	NoFailover bool
	// IsolatedPrimary: the fault isolates the old leader, which keeps
	// claiming the primary role in its own view until it demotes (within
	// ttl); only HAProxy's view must show a single primary.
	IsolatedPrimary bool
	// Unexpected: a failover is allowed but should not happen; when one
	// does, the runners keep the nodes' logs as for a failed round.
	Unexpected bool
}

// KeepLogs reports whether a round's logs are worth keeping: it failed,
// broke an assertion, failed over where that was not expected, stopped
// writes in a scenario that should not stop them (a 0.67 s blip after a
// Consul outage went unexplained for want of its logs), or stopped them
// twice (a partition's heal can cost the new leader its lock).
func (sc Scenario) KeepLogs(r Result, err error, problems []string) bool {
	quiet := sc.Unexpected || sc.NoFailover
	return err != nil || len(problems) > 0 || (sc.Unexpected && r.Failover) ||
		(quiet && len(r.Windows) > 0) || len(r.Windows) > 1
}

// Scenarios is every scenario, in the order the runner uses.
func Scenarios() []Scenario {
	return []Scenario{
		{Name: "node-loss", Run: NodeLoss},
		{Name: "postgres-crash", Run: PostgresCrash},
		{Name: "switchover", Run: Switchover},
		{Name: "partition", Run: Partition, IsolatedPrimary: true},
		{Name: "consul-server-loss", Run: ConsulServerLoss, NoFailover: true},
		{Name: "consul-leader-loss", Run: ConsulLeaderLoss, NoFailover: true},
		{Name: "agent-blip", Run: AgentBlip, Unexpected: true},
		{Name: "agent-lost", Run: AgentLost, Unexpected: true},
		{Name: "agent-lost-failsafe-off", Run: AgentLostFailsafeOff},
		{Name: "consul-down", Run: ConsulDown, Unexpected: true},
	}
}

// session is one scenario run: the cluster, the writer, the watch and the
// repairs still owed.
type session struct {
	ctx context.Context
	t   Target
	f   Faults
	o   Options
	c   *Cluster
	w   *Writer
	wt  *WriterWatch
	res *Result

	faultAt, repairAt time.Time
	// rejoin is the old leader whose way back is looked up in its log.
	rejoin string

	mu      sync.Mutex
	pending []repair
	// firstFull is when full strength was first seen after the repair.
	firstFull     time.Time
	stopFullWatch context.CancelFunc
	// atFull, if set, runs once the cluster is back at full strength.
	atFull func()
}

type repair struct {
	key string
	fn  func(context.Context) error
}

func (s *session) logf(format string, args ...any) {
	s.o.Logf("%s: %s", s.res.Name, fmt.Sprintf(format, args...))
}

func (s *session) note(format string, args ...any) {
	n := fmt.Sprintf(format, args...)
	s.res.Notes = append(s.res.Notes, n)
	s.logf("%s", n)
}

func (s *session) violation(format string, args ...any) {
	v := fmt.Sprintf(format, args...)
	s.res.Violations = append(s.res.Violations, v)
	s.logf("VIOLATION: %s", v)
}

// owe registers a repair that runs if the scenario ends before paying it.
func (s *session) owe(key string, fn func(context.Context) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending = append(s.pending, repair{key, fn})
}

// paid runs the repair now and forgets it.
func (s *session) pay(key string) error {
	s.mu.Lock()
	var fn func(context.Context) error
	for i, r := range s.pending {
		if r.key == key {
			fn = r.fn
			s.pending = append(s.pending[:i], s.pending[i+1:]...)
			break
		}
	}
	s.mu.Unlock()
	if fn == nil {
		return fmt.Errorf("no pending repair %q", key)
	}
	return fn(s.ctx)
}

func (s *session) repairAll() {
	s.mu.Lock()
	ps := s.pending
	s.pending = nil
	s.mu.Unlock()
	for _, r := range ps {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		if err := r.fn(ctx); err != nil {
			s.note("repair %q after an early end failed: %v", r.key, err)
		} else {
			s.note("repaired %q after an early end", r.key)
		}
		cancel()
	}
}

func (s *session) fault() { s.faultAt = time.Now() }

// repairNow marks the repair time and runs the repair owed under key.
func (s *session) repairNow(key string) error {
	s.repaired()
	return s.pay(key)
}

// repairConsul runs the repair owed under key (starting Consul servers)
// and waits for Consul to be healthy again.
func (s *session) repairConsul(key string) error {
	if err := s.repairNow(key); err != nil {
		return err
	}
	d, err := s.c.WaitConsulHealthy(s.ctx, s.o.HealthyTimeout)
	if err != nil {
		return err
	}
	s.note("Consul healthy again %s after the restart", dur(d))
	return nil
}

// repaired marks the repair and starts watching for full strength, so that
// BackToFull does not include a scenario's observation after the repair.
func (s *session) repaired() {
	s.repairAt = time.Now()
	ctx, cancel := context.WithCancel(s.ctx)
	s.stopFullWatch = cancel
	go func() {
		for ctx.Err() == nil {
			cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
			_, err := s.c.FullStrength(cctx)
			ccancel()
			if err == nil {
				s.mu.Lock()
				s.firstFull = time.Now()
				s.mu.Unlock()
				return
			}
			select {
			case <-ctx.Done():
			case <-time.After(500 * time.Millisecond):
			}
		}
	}()
}

func (s *session) since() string { return dur(time.Since(s.faultAt)) }

func dur(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }

// timeout is a child context of the session's.
func (s *session) timeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(s.ctx, d)
}

// sawLeader records a leader seen after the fault.
func (s *session) sawLeader(l string) {
	if l != "" && l != s.res.LeaderBefore {
		s.res.Failover = true
	}
}

// observe watches /cluster for d, recording leadership changes.
func (s *session) observe(d time.Duration) {
	end := time.Now().Add(d)
	last := s.res.LeaderBefore
	errs := 0
	for time.Now().Before(end) && s.ctx.Err() == nil {
		ctx, cancel := s.timeout(10 * time.Second)
		l, err := s.c.Leader(ctx)
		cancel()
		switch {
		case err != nil:
			errs++
		case l != last:
			if l == "" {
				s.note("no leader in /cluster %s after the fault", s.since())
			} else {
				s.note("leader %s in /cluster %s after the fault", l, s.since())
			}
			last = l
			s.sawLeader(l)
		}
		select {
		case <-s.ctx.Done():
		case <-time.After(time.Second):
		}
	}
	if errs > 0 {
		s.note("/cluster unanswered %d time(s) while observing", errs)
	}
}

// waitNewLeader waits for a leader other than old (asking the other
// nodes), then for a commit acknowledged after it was seen.
func (s *session) waitNewLeader(old string) (string, error) {
	l, err := s.c.WaitLeader(s.ctx, s.o.FailoverTimeout, func(l string) bool { return l != "" && l != old }, old)
	if err != nil {
		return "", err
	}
	s.sawLeader(l)
	s.note("new leader %s %s after the fault", l, s.since())
	seen := time.Now()
	ctx, cancel := s.timeout(s.o.FailoverTimeout)
	defer cancel()
	if err := s.w.WaitAck(ctx, seen); err != nil {
		return l, fmt.Errorf("writes did not resume on %s: %w", l, err)
	}
	return l, nil
}

// startNode starts a node's Patroni container, then its agent, which joins
// the Patroni container's network namespace. If the agent cannot start
// (the namespace it joined is gone), Patroni is restarted first.
func (s *session) startNode(ctx context.Context, node string) error {
	agent := s.t.Agent(node)
	if err := s.f.Start(ctx, node); err != nil {
		return err
	}
	err := s.f.Start(ctx, agent)
	for i := 0; err != nil && i < 2; i++ {
		s.note("starting %s failed (%v): restarting %s first", agent, err, node)
		_ = s.f.Stop(ctx, agent, 5*time.Second)
		if err = s.f.Stop(ctx, node, 30*time.Second); err != nil {
			continue
		}
		if err = s.f.Start(ctx, node); err != nil {
			continue
		}
		err = s.f.Start(ctx, agent)
	}
	return err
}

// killAll kills containers at once.
func (s *session) killAll(names ...string) error {
	var wg sync.WaitGroup
	errs := make([]error, len(names))
	for i, n := range names {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = s.f.Kill(s.ctx, n) }()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (s *session) startAll(ctx context.Context, names ...string) error {
	var wg sync.WaitGroup
	errs := make([]error, len(names))
	for i, n := range names {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = s.f.Start(ctx, n) }()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// rejoinNote looks in the old leader's log for how it came back.
func (s *session) rejoinNote() {
	if s.rejoin == "" {
		return
	}
	ctx, cancel := s.timeout(10 * time.Second)
	defer cancel()
	log, err := s.f.Logs(ctx, s.rejoin, s.repairAt.Add(-time.Second))
	if err != nil {
		return
	}
	var how []string
	for _, k := range []struct{ needle, what string }{
		{"pg_rewind", "pg_rewind"},
		{"reinitializ", "reinit"},
		{"basebackup", "basebackup"},
		{"crash recovery", "crash recovery"},
	} {
		if strings.Contains(log, k.needle) && !contains(how, k.what) {
			how = append(how, k.what)
		}
	}
	if len(how) == 0 {
		how = []string{"no rewind or reinit in its log"}
	}
	s.note("%s rejoined (%s)", s.rejoin, strings.Join(how, ", "))
}

// run is the frame every scenario shares: wait for full strength, start
// the watch and the writer, run body (fault, wait, repair), wait for full
// strength again, check writes resumed, and verify every acknowledged row.
func run(ctx context.Context, name string, t Target, f Faults, o Options, body func(s *session) error) (Result, error) {
	start := time.Now()
	res, err := frame(ctx, name, t, f, o, body)
	res.Started, res.Took = start, time.Since(start)
	return res, err
}

func frame(ctx context.Context, name string, t Target, f Faults, o Options, body func(s *session) error) (Result, error) {
	o = o.withDefaults()
	res := Result{Name: name}
	cleanup, err := t.ensureCAFile()
	if err != nil {
		return res, err
	}
	defer cleanup()
	s := &session{ctx: ctx, t: t, f: f, o: o, c: &Cluster{T: t, F: f, Logf: o.Logf}, res: &res}

	s.logf("waiting for full strength")
	leader, _, err := s.c.WaitFull(ctx, o.HealthyTimeout)
	if err != nil {
		return res, fmt.Errorf("before the fault: %w", err)
	}
	res.LeaderBefore = leader
	s.logf("leader %s, %d replicas streaming", leader, len(t.Nodes)-1)

	s.wt = NewWriterWatch(t, f, o.Watch)
	if err := s.wt.Start(ctx); err != nil {
		return res, err
	}
	stopWatch := sync.OnceFunc(s.wt.Stop)
	defer stopWatch()
	if s.w, err = NewWriter(t, o.Writer); err != nil {
		return res, err
	}
	stopWriter := sync.OnceFunc(s.w.Stop)
	defer stopWriter()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = s.w.Start(sctx)
	if err == nil {
		err = s.w.WaitAck(sctx, time.Time{})
	}
	cancel()
	if err != nil {
		return res, fmt.Errorf("starting writes: %w", err)
	}
	time.Sleep(o.Warmup)

	finish := func(err error) (Result, error) {
		if s.stopFullWatch != nil {
			s.stopFullWatch()
		}
		s.repairAll()
		stopWriter()
		stopWatch()
		atts := s.w.Attempts()
		res.Windows = Windows(atts)
		res.Gap, _ = Gap(atts)
		res.Acked, res.Failed, res.SyncWarnings = s.w.Counts()
		res.Resumed = err == nil && (len(res.Windows) == 0 || !res.Windows[len(res.Windows)-1].Open())
		if len(res.Windows) > 1 {
			var ws []string
			for _, w := range res.Windows {
				ws = append(ws, fmt.Sprintf("%s at +%s", dur(w.Duration()), dur(w.From.Sub(s.faultAt))))
			}
			s.note("%d write-unavailability windows: %s", len(res.Windows), strings.Join(ws, ", "))
		}
		if res.SyncWarnings > 0 {
			s.violation("%d commit(s) acknowledged with a cancelled wait for synchronous replication", res.SyncWarnings)
		}
		sum := s.wt.Summary()
		res.MaxPrimaries, res.MaxRoutable, res.Overlaps, res.WrongRole = sum.MaxPrimaries, sum.MaxRoutable, sum.Overlaps, sum.WrongRole
		for _, ov := range sum.Overlaps {
			s.note("own view: %s claimed the primary role together for %s from %s", strings.Join(ov.Nodes, "+"),
				ov.To.Sub(ov.From).Round(time.Millisecond), ov.From.Format("15:04:05.000"))
		}
		for _, ov := range sum.RouterOverlaps {
			s.note("HAProxy's view: %s answered /primary with 200 in two consecutive rounds from %s", strings.Join(ov.Nodes, "+"),
				ov.From.Format("15:04:05.000"))
		}
		if sum.WrongRole > 0 {
			s.note("the write endpoint reached a server in recovery %d time(s) of %d", sum.WrongRole, sum.RoleChecks)
		}
		if len(sum.Servers) > 1 {
			s.note("the write endpoint was served by %s", strings.Join(sum.Servers, " → "))
		}
		if ids := s.w.Acked(); len(ids) > 0 {
			vctx, cancel := context.WithTimeout(ctx, time.Minute)
			present, verr := Verify(vctx, t, t.WriteEndpoint, ids)
			if verr == nil {
				res.Lost = len(ids) - present
				if res.Lost > 0 {
					if miss, merr := Missing(vctx, t, t.WriteEndpoint, ids, 10); merr == nil {
						s.note("lost ids (first %d): %v", len(miss), miss)
					}
				}
			}
			cancel()
			if verr != nil {
				err = errors.Join(err, fmt.Errorf("verifying acknowledged writes: %w", verr))
			}
		}
		s.logf("gap %s, acked %d, failed %d, lost %d, primaries %d (HAProxy %d), back to full %s, leader %s → %s",
			dur(res.Gap), res.Acked, res.Failed, res.Lost, res.MaxPrimaries, res.MaxRoutable, dur(res.BackToFull),
			res.LeaderBefore, res.LeaderAfter)
		return res, err
	}

	if err := body(s); err != nil {
		return finish(err)
	}
	s.repairAll()
	if s.repairAt.IsZero() {
		s.repairAt = s.faultAt
	}
	// BackToFull runs from the repair to full strength as first seen; if
	// the cluster is not at full strength now, to when it is again.
	leader, err = s.c.FullStrength(ctx)
	if err == nil {
		s.mu.Lock()
		first := s.firstFull
		s.mu.Unlock()
		res.BackToFull = time.Since(s.repairAt)
		if !first.IsZero() {
			res.BackToFull = first.Sub(s.repairAt)
		}
	} else {
		leader, _, err = s.c.WaitFull(ctx, o.HealthyTimeout)
		if err != nil {
			return finish(fmt.Errorf("after the repair: %w", err))
		}
		res.BackToFull = time.Since(s.repairAt)
	}
	res.LeaderAfter = leader
	s.sawLeader(leader)
	s.rejoinNote()
	if s.atFull != nil {
		s.atFull()
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = s.w.WaitAck(wctx, time.Now())
	cancel()
	if err != nil {
		return finish(fmt.Errorf("writes did not resume at full strength: %w", err))
	}
	return finish(nil)
}

// NodeLoss kills the leader's Patroni and Consul agent containers at once,
// waits for a new leader and resumed writes, then starts them again (agent
// after Patroni) and waits for the old leader to rejoin.
func NodeLoss(ctx context.Context, t Target, f Faults, o Options) (Result, error) {
	return run(ctx, "node-loss", t, f, o, func(s *session) error {
		old := s.res.LeaderBefore
		s.owe("start "+old, func(ctx context.Context) error { return s.startNode(ctx, old) })
		s.fault()
		if err := s.killAll(old, t.Agent(old)); err != nil {
			return err
		}
		s.note("killed %s and %s", old, t.Agent(old))
		if _, err := s.waitNewLeader(old); err != nil {
			return err
		}
		if err := s.repairNow("start " + old); err != nil {
			return err
		}
		s.rejoin = old
		return nil
	})
}

// PostgresCrash kills the leader's postmaster with SIGKILL; Patroni stays
// up and restarts PostgreSQL (or fails over).
func PostgresCrash(ctx context.Context, t Target, f Faults, o Options) (Result, error) {
	return run(ctx, "postgres-crash", t, f, o, func(s *session) error {
		old := s.res.LeaderBefore
		pid := templates.MustPath("pgData") + "/postmaster.pid"
		s.fault()
		res, err := f.Exec(s.ctx, old, nil, "sh", "-c", `kill -9 "$(head -n 1 `+pid+`)"`)
		if err == nil && res.Code != 0 {
			err = fmt.Errorf("killing the postmaster: %s", res)
		}
		if err != nil {
			return err
		}
		s.note("killed the postmaster of %s", old)
		wctx, cancel := s.timeout(s.o.FailoverTimeout)
		defer cancel()
		if err := s.w.WaitRecovered(wctx, s.faultAt); err != nil {
			return fmt.Errorf("writes did not resume: %w", err)
		}
		s.note("writes resumed %s after the crash", s.since())
		return nil
	})
}

// Switchover asks Patroni's REST API (over mutual TLS, authenticated) to
// move the leadership away from the leader.
func Switchover(ctx context.Context, t Target, f Faults, o Options) (Result, error) {
	return run(ctx, "switchover", t, f, o, func(s *session) error {
		old := s.res.LeaderBefore
		s.fault()
		if err := s.c.Switchover(s.ctx, old, ""); err != nil {
			return err
		}
		s.note("POST /switchover answered %s after the request", s.since())
		_, err := s.waitNewLeader(old)
		return err
	})
}

// Partition disconnects the leader (and so its agent) from the cluster
// network: it must demote within ttl while the majority elects a new
// leader; then it is reconnected and must rejoin.
func Partition(ctx context.Context, t Target, f Faults, o Options) (Result, error) {
	return run(ctx, "partition", t, f, o, func(s *session) error {
		old := s.res.LeaderBefore
		ttl := 0
		if dc, err := s.c.Config(s.ctx); err == nil {
			ttl = dc.TTL
		}
		net := t.Network()
		s.owe("reconnect "+old, func(ctx context.Context) error { return f.Reconnect(ctx, net, old) })
		s.fault()
		if err := f.Disconnect(s.ctx, net, old); err != nil {
			return err
		}
		s.note("disconnected %s from %s", old, net)
		if _, err := s.waitNewLeader(old); err != nil {
			return err
		}
		wctx, cancel := s.timeout(s.o.FailoverTimeout)
		smp, err := s.wt.WaitSelf(wctx, old, s.faultAt, func(x Sample) bool { return x.Code > 0 && x.Code != 200 })
		cancel()
		if err != nil {
			s.violation("%s still claims the primary role %s after the partition", old, s.since())
		} else {
			d := smp.At.Sub(s.faultAt)
			s.note("%s stopped claiming the primary role %s after the partition (ttl %d s)", old, dur(d), ttl)
			if ttl > 0 && d > time.Duration(ttl)*time.Second+5*time.Second {
				s.violation("%s demoted %s after the partition, later than ttl %d s", old, dur(d), ttl)
			}
		}
		if err := s.repairNow("reconnect " + old); err != nil {
			return err
		}
		s.rejoin = old
		return nil
	})
}

// ConsulServerLoss kills one Consul server that is not the Raft leader;
// ConsulLeaderLoss kills the Raft leader. Either way no failover is
// expected and writes continue; the server is started again at the end.
func ConsulServerLoss(ctx context.Context, t Target, f Faults, o Options) (Result, error) {
	return consulServerLoss(ctx, "consul-server-loss", false, t, f, o)
}

// ConsulLeaderLoss: see ConsulServerLoss.
func ConsulLeaderLoss(ctx context.Context, t Target, f Faults, o Options) (Result, error) {
	return consulServerLoss(ctx, "consul-leader-loss", true, t, f, o)
}

func consulServerLoss(ctx context.Context, name string, leader bool, t Target, f Faults, o Options) (Result, error) {
	return run(ctx, name, t, f, o, func(s *session) error {
		cl, err := s.c.ConsulLeader(s.ctx)
		if err != nil {
			return fmt.Errorf("finding the Consul leader: %w", err)
		}
		victim := ""
		for _, srv := range t.ConsulServers {
			if (srv == cl) == leader {
				victim = srv
				break
			}
		}
		if victim == "" {
			return fmt.Errorf("no Consul server to kill (leader %q, servers %v)", cl, t.ConsulServers)
		}
		s.owe("start "+victim, func(ctx context.Context) error { return f.Start(ctx, victim) })
		s.fault()
		if err := f.Kill(s.ctx, victim); err != nil {
			return err
		}
		s.note("killed Consul server %s (Raft leader %s)", victim, cl)
		s.observe(s.o.Observe)
		return s.repairConsul("start " + victim)
	})
}

// AgentBlip kills the leader's Consul agent and starts it again after
// Options.AgentBlip (within 2 s): no failover is expected, but with tuned
// gossip it is a race, so it is recorded, not required.
func AgentBlip(ctx context.Context, t Target, f Faults, o Options) (Result, error) {
	return run(ctx, "agent-blip", t, f, o, func(s *session) error {
		agent := t.Agent(s.res.LeaderBefore)
		s.owe("start "+agent, func(ctx context.Context) error { return f.Start(ctx, agent) })
		s.fault()
		if err := f.Kill(s.ctx, agent); err != nil {
			return err
		}
		time.Sleep(s.o.AgentBlip)
		if err := s.repairNow("start " + agent); err != nil {
			return err
		}
		s.note("agent %s down for %s", agent, dur(s.repairAt.Sub(s.faultAt)))
		s.observe(s.o.Observe)
		if s.res.Failover {
			s.note("the blip caused a failover")
		} else {
			s.note("no failover")
		}
		return nil
	})
}

// AgentLost kills the leader's Consul agent for Options.AgentLostFor:
// there must be no split brain; the write gap and any failover are
// recorded; the agent is started again at the end. It runs with the
// cluster's failsafe_mode (on by default: the leader keeps writing).
func AgentLost(ctx context.Context, t Target, f Faults, o Options) (Result, error) {
	return run(ctx, "agent-lost", t, f, o, agentLost)
}

// AgentLostFailsafeOff is AgentLost with Patroni's failsafe_mode switched
// off for the run (PATCH /config) and back on after it: the leader cut off
// from Consul demotes and a replica takes over.
func AgentLostFailsafeOff(ctx context.Context, t Target, f Faults, o Options) (Result, error) {
	return run(ctx, "agent-lost-failsafe-off", t, f, o, func(s *session) error {
		dc, err := s.c.Config(s.ctx)
		if err != nil {
			return err
		}
		if dc.FailsafeMode {
			s.owe("failsafe_mode on", func(ctx context.Context) error { return s.c.SetFailsafe(ctx, true) })
			if err := s.c.SetFailsafe(s.ctx, false); err != nil {
				return err
			}
			// Patroni reads the dynamic configuration on its next cycle.
			time.Sleep(time.Duration(dc.LoopWait+1) * time.Second)
			s.note("failsafe_mode switched off for the run")
		}
		if err := agentLost(s); err != nil {
			return err
		}
		if dc.FailsafeMode {
			return s.pay("failsafe_mode on")
		}
		return nil
	})
}

// agentLost is the body of AgentLost and AgentLostFailsafeOff.
func agentLost(s *session) error {
	agent := s.t.Agent(s.res.LeaderBefore)
	s.notePostmasterKept(s.res.LeaderBefore)
	s.owe("start "+agent, func(ctx context.Context) error { return s.f.Start(ctx, agent) })
	s.fault()
	if err := s.f.Kill(s.ctx, agent); err != nil {
		return err
	}
	s.note("killed agent %s", agent)
	s.observe(s.o.AgentLostFor)
	if err := s.repairNow("start " + agent); err != nil {
		return err
	}
	if s.res.Failover {
		s.rejoin = s.res.LeaderBefore
	}
	return nil
}

// notePostmasterKept records, once the cluster is back at full strength,
// whether node's PostgreSQL ran through the scenario or was restarted (a
// demotion): with failsafe mode a primary that loses only its agent keeps
// running.
func (s *session) notePostmasterKept(node string) {
	before, err := s.c.PostmasterStart(s.ctx, node)
	if err != nil {
		s.logf("postmaster start time: %v", err)
		return
	}
	s.atFull = func() {
		after, err := s.c.PostmasterStart(s.ctx, node)
		switch {
		case err != nil:
			s.logf("postmaster start time: %v", err)
		case after == before:
			s.note("%s's PostgreSQL ran throughout (started %s)", node, before)
		default:
			s.note("%s's PostgreSQL was restarted (demoted): started %s, then %s", node, before, after)
		}
	}
}

// ConsulDown kills every Consul server: with failsafe mode the primary
// keeps taking writes (the gap is recorded); the servers are started again
// and must become healthy.
func ConsulDown(ctx context.Context, t Target, f Faults, o Options) (Result, error) {
	return run(ctx, "consul-down", t, f, o, func(s *session) error {
		servers := t.ConsulServers
		s.owe("start servers", func(ctx context.Context) error { return s.startAll(ctx, servers...) })
		s.fault()
		if err := s.killAll(servers...); err != nil {
			return err
		}
		s.note("killed every Consul server: %s", strings.Join(servers, ", "))
		s.observe(s.o.Observe)
		ctx, cancel := s.timeout(10 * time.Second)
		if err := s.w.WaitAck(ctx, time.Now()); err != nil {
			s.note("no write acknowledged at the end of the outage: %v", err)
		} else {
			s.note("the primary was taking writes at the end of the outage")
		}
		cancel()
		return s.repairConsul("start servers")
	})
}

// Check lists what a result breaks of the suite's assertions: no
// acknowledged write lost (when synchronous mode is on), never two
// primaries (HAProxy's view always; each node's own view unless the
// scenario isolates the old leader), writes resumed, no violation found by
// the scenario, and no failover where none is allowed. Timings are never
// checked.
func Check(sc Scenario, r Result, synchronous bool) []string {
	var out []string
	if r.Lost > 0 && synchronous {
		out = append(out, fmt.Sprintf("%d acknowledged write(s) lost in synchronous mode", r.Lost))
	}
	if r.MaxRoutable > 1 {
		out = append(out, fmt.Sprintf("HAProxy saw %d primaries at once", r.MaxRoutable))
	}
	if r.MaxPrimaries > 1 && !sc.IsolatedPrimary {
		out = append(out, fmt.Sprintf("%d nodes claimed the primary role at once", r.MaxPrimaries))
	}
	if !r.Resumed {
		out = append(out, "writes did not resume")
	}
	out = append(out, r.Violations...)
	if sc.NoFailover && r.Failover {
		out = append(out, fmt.Sprintf("leadership moved (%s → %s) where no failover is expected", r.LeaderBefore, r.LeaderAfter))
	}
	return out
}
