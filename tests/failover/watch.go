package failover

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/postgres-ha/postgres-ha/templates"
)

// Sample is one answer to GET /primary.
type Sample struct {
	Node string
	// At is when the answer was read.
	At time.Time
	// Code is the HTTP status; 0 when curl got no answer; -1 when the
	// command could not run (container down or paused).
	Code int
	// Round groups the samples of one polling round (router view only).
	Round int64
	// State and Role are PostgreSQL's state ("running", "stopping", ...)
	// and role ("primary", "replica", ...; Patroni 3 said "master") in the answer's body, empty when
	// unknown.
	State, Role string
}

// Primary reports whether the node claimed to be a writable primary: 200
// to /primary from a PostgreSQL that runs as the primary. Patroni answers
// 200 whenever it holds the leader lock: for the whole of a demotion's
// shutdown (state "stopping"), and on a new leader from the moment it takes
// the lock until its PostgreSQL leaves recovery (role "replica"). Neither
// server can commit anything (one takes no connection, the other answers a
// write with "read-only transaction", which the writer records), so such an
// answer is no claim. An answer whose body is unknown counts.
func (s Sample) Primary() bool {
	return s.Code == 200 && (s.State == "" || s.State == "running") &&
		(s.Role == "" || s.Role == "primary")
}

// Span is a stretch of time a node answered /primary with 200 at both ends,
// with no other answer, and no silence longer than the allowed gap, between.
type Span struct {
	Node     string
	From, To time.Time
}

// Overlap is a stretch of time during which several nodes claimed to be
// the primary.
type Overlap struct {
	From, To time.Time
	Nodes    []string
}

func (o Overlap) String() string {
	return fmt.Sprintf("%s at %s for %s", strings.Join(o.Nodes, "+"), o.From.Format("15:04:05.000"), o.To.Sub(o.From).Round(time.Millisecond))
}

// PrimarySpans turns each node's samples into spans of consecutive 200s.
// Consecutive 200 samples more than maxGap apart are not joined (the node
// was not observed in between). A single 200 is a span of one instant.
func PrimarySpans(samples []Sample, maxGap time.Duration) []Span {
	byNode := map[string][]Sample{}
	for _, s := range samples {
		byNode[s.Node] = append(byNode[s.Node], s)
	}
	nodes := make([]string, 0, len(byNode))
	for n := range byNode {
		nodes = append(nodes, n)
	}
	sort.Strings(nodes)
	var out []Span
	for _, n := range nodes {
		ss := byNode[n]
		sort.SliceStable(ss, func(i, j int) bool { return ss[i].At.Before(ss[j].At) })
		var cur *Span
		for _, s := range ss {
			switch {
			case !s.Primary():
				if cur != nil {
					out = append(out, *cur)
					cur = nil
				}
			case cur == nil:
				cur = &Span{Node: n, From: s.At, To: s.At}
			case s.At.Sub(cur.To) > maxGap:
				out = append(out, *cur)
				cur = &Span{Node: n, From: s.At, To: s.At}
			default:
				cur.To = s.At
			}
		}
		if cur != nil {
			out = append(out, *cur)
		}
	}
	return out
}

// MaxConcurrent is the largest number of spans (of different nodes) that
// overlap at one instant, with the stretches where more than one did.
// Spans are closed intervals.
func MaxConcurrent(spans []Span) (int, []Overlap) {
	type ev struct {
		at    time.Time
		start bool
		node  string
	}
	var evs []ev
	for _, s := range spans {
		evs = append(evs, ev{s.From, true, s.Node}, ev{s.To, false, s.Node})
	}
	// Starts before ends at the same instant: closed intervals touch.
	sort.SliceStable(evs, func(i, j int) bool {
		if !evs[i].at.Equal(evs[j].at) {
			return evs[i].at.Before(evs[j].at)
		}
		return evs[i].start && !evs[j].start
	})
	active := map[string]int{}
	max := 0
	var overlaps []Overlap
	var cur *Overlap
	count := func() int {
		n := 0
		for _, c := range active {
			if c > 0 {
				n++
			}
		}
		return n
	}
	names := func() []string {
		var ns []string
		for n, c := range active {
			if c > 0 {
				ns = append(ns, n)
			}
		}
		sort.Strings(ns)
		return ns
	}
	for _, e := range evs {
		if e.start {
			active[e.node]++
		} else {
			active[e.node]--
		}
		n := count()
		if n > max {
			max = n
		}
		switch {
		case n > 1 && cur == nil:
			cur = &Overlap{From: e.at, To: e.at, Nodes: names()}
		case n > 1:
			cur.To = e.at
			for _, x := range names() {
				if !contains(cur.Nodes, x) {
					cur.Nodes = append(cur.Nodes, x)
				}
			}
		case cur != nil:
			cur.To = e.at
			sort.Strings(cur.Nodes)
			overlaps = append(overlaps, *cur)
			cur = nil
		}
	}
	if cur != nil {
		overlaps = append(overlaps, *cur)
	}
	return max, overlaps
}

// MaxPerRound is the largest number of nodes answering 200 in two
// consecutive polling rounds, with the pairs of rounds where more than one
// did.
//
// One round alone proves nothing: its requests run in parallel and each
// node evaluates its answer at its own instant, up to curl's timeout apart,
// so a clean handover (the old leader answers just before it lets go, the
// new one just after it takes the key) can show both in one round. Round
// r+1 starts only after every answer of round r arrived, so a node answering
// 200 in both rounds next to another that did too was primary after the
// other was and before it again: two writers, or leadership flapping back.
// HAProxy (rise 1, fall 2) would route to both in that case.
func MaxPerRound(samples []Sample) (int, []Overlap) {
	rounds := map[int64][]Sample{}
	var order []int64
	for _, s := range samples {
		if _, ok := rounds[s.Round]; !ok {
			order = append(order, s.Round)
		}
		rounds[s.Round] = append(rounds[s.Round], s)
	}
	primaries := func(r int64) map[string]time.Time {
		m := map[string]time.Time{}
		for _, s := range rounds[r] {
			if s.Primary() {
				if at, ok := m[s.Node]; !ok || s.At.Before(at) {
					m[s.Node] = s.At
				}
			}
		}
		return m
	}
	if len(order) == 1 {
		return min(len(primaries(order[0])), 1), nil
	}
	max := 0
	var overlaps []Overlap
	for i := 1; i < len(order); i++ {
		prev, cur := primaries(order[i-1]), primaries(order[i])
		var nodes []string
		var from, to time.Time
		for n, at := range cur {
			first, ok := prev[n]
			if !ok {
				continue
			}
			nodes = append(nodes, n)
			if from.IsZero() || first.Before(from) {
				from = first
			}
			if at.After(to) {
				to = at
			}
		}
		if len(nodes) > max {
			max = len(nodes)
		}
		if len(nodes) > 1 {
			sort.Strings(nodes)
			overlaps = append(overlaps, Overlap{From: from, To: to, Nodes: nodes})
		}
	}
	return max, overlaps
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// WatchConfig tunes a WriterWatch; zero values take the defaults.
type WatchConfig struct {
	// Interval between two polls of a node in its own view (default
	// 200 ms).
	Interval time.Duration
	// RouterInterval between two rounds of HAProxy's view (default 500 ms,
	// HAProxy's own check interval: each poll is a TLS handshake, and the
	// lab has 2 cores).
	RouterInterval time.Duration
	// MaxGap is the longest silence still bridged inside a span (default
	// 3 s: a poll plus curl's 2 s timeout, HAProxy's check timeout, with
	// margin). Only consecutive 200s are joined: any other answer between
	// them ends the span whatever the gap.
	MaxGap time.Duration
	// MaxDuration bounds the polling commands left in containers if the
	// suite dies (default 3 h).
	MaxDuration time.Duration
	// NoRouter and NoRoleCheck switch off the HAProxy view and the check
	// through the write endpoint.
	NoRouter, NoRoleCheck bool
	Logf                  func(format string, args ...any)
}

func (c WatchConfig) withDefaults() WatchConfig {
	if c.Interval == 0 {
		c.Interval = 200 * time.Millisecond
	}
	if c.RouterInterval == 0 {
		c.RouterInterval = 500 * time.Millisecond
	}
	if c.MaxGap == 0 {
		c.MaxGap = 3 * time.Second
	}
	if c.MaxDuration == 0 {
		c.MaxDuration = 3 * time.Hour
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
	return c
}

// RoleCheck is what the write endpoint answered.
type RoleCheck struct {
	At time.Time
	// Server is the node (or address) that answered; empty on error.
	Server     string
	InRecovery bool
	Err        string
}

// WatchSummary is what a WriterWatch saw.
type WatchSummary struct {
	// MaxPrimaries is the largest number of nodes that answered /primary
	// with 200 at once, each asked from inside itself (its own view, also
	// when partitioned).
	MaxPrimaries int
	Overlaps     []Overlap
	// MaxRoutable is the same as HAProxy can see it: every node asked from
	// the HAProxy container in rounds, counted when two consecutive rounds
	// agree (see MaxPerRound).
	MaxRoutable    int
	RouterOverlaps []Overlap
	// Samples counts the self-view answers.
	Samples, RouterSamples int
	// RoleChecks through the write endpoint; WrongRole counts answers from
	// a server in recovery; Servers is the sequence of distinct servers
	// that answered.
	RoleChecks, RoleErrors, WrongRole int
	Servers                           []string
}

// WriterWatch polls every node's Patroni REST API for split brain: each
// node asked from inside itself (docker exec curl with the node's own
// certificate), and every node asked from the HAProxy container in rounds.
// It also checks through the write endpoint that it always reaches a server
// out of recovery.
type WriterWatch struct {
	t   Target
	f   Faults
	cfg WatchConfig

	mu     sync.Mutex
	self   []Sample
	router []Sample
	roles  []RoleCheck
	ips    map[string]string

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewWriterWatch watches t through f. The role check needs t.CAFile.
func NewWriterWatch(t Target, f Faults, cfg WatchConfig) *WriterWatch {
	return &WriterWatch{t: t, f: f, cfg: cfg.withDefaults(), ips: map[string]string{}}
}

// Start starts polling in the background until Stop.
func (w *WriterWatch) Start(ctx context.Context) error {
	var pg *pgx.ConnConfig
	if !w.cfg.NoRoleCheck {
		var err error
		if pg, err = w.t.PGConfig(w.t.WriteEndpoint); err != nil {
			return err
		}
		w.learnIPs(ctx)
	}
	ctx, w.cancel = context.WithCancel(ctx)
	for _, n := range w.t.Nodes {
		n := n
		w.wg.Add(1)
		go func() { defer w.wg.Done(); w.pollSelf(ctx, n) }()
	}
	if !w.cfg.NoRouter && w.t.HAProxy != "" {
		w.wg.Add(1)
		go func() { defer w.wg.Done(); w.pollRouter(ctx) }()
	}
	if pg != nil {
		w.wg.Add(1)
		go func() { defer w.wg.Done(); w.pollRole(ctx, pg) }()
	}
	return nil
}

// Stop ends polling and waits for it.
func (w *WriterWatch) Stop() {
	if w.cancel != nil {
		w.cancel()
	}
	w.wg.Wait()
}

func (w *WriterWatch) learnIPs(ctx context.Context) {
	for _, n := range w.t.Nodes {
		st, err := w.f.Inspect(ctx, n)
		if err != nil {
			continue
		}
		if ip := st.IPs[w.t.Network()]; ip != "" {
			w.mu.Lock()
			w.ips[ip] = n
			w.mu.Unlock()
		}
	}
}

func (w *WriterWatch) sleep(ctx context.Context) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(w.cfg.Interval):
		return true
	}
}

func seconds(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 3, 64) }

// selfPollScript asks node's own REST API for /primary every interval,
// printing each answer's body, then "@@<status code>" on a line of its own
// (000 when curl got no answer).
func selfPollScript(node string, interval, max time.Duration) string {
	ca, cert, key := templates.MustPath("pgCA"), templates.MustPath("pgCert"), templates.MustPath("pgKey")
	return fmt.Sprintf(`end=$(( $(date +%%s) + %d ))
while [ "$(date +%%s)" -lt "$end" ]; do
  r=$(curl -s -w '\n@@%%{http_code}' --connect-timeout 1 --max-time 2 --cacert %s --cert %s --key %s --resolve '%s:8008:127.0.0.1' 'https://%s:8008/primary')
  echo "$r" || exit 0
  sleep %s
done`, int(max.Seconds()), ca, cert, key, node, node, seconds(interval))
}

// routerPollScript asks every node's /primary from the HAProxy container,
// all nodes at once each round, printing "<round> <node> <code> <body>"
// lines (Patroni's JSON is one line; each line is one write, well under
// the pipe's atomic size, so parallel answers do not interleave).
func routerPollScript(nodes []string, interval, max time.Duration) string {
	ca, pem := templates.MustPath("haproxyCA"), templates.MustPath("haproxyPEM")
	return fmt.Sprintf(`end=$(( $(date +%%s) + %d ))
r=0
while [ "$(date +%%s)" -lt "$end" ]; do
  r=$((r+1))
  for n in %s; do
    ( o=$(curl -s -w '\n%%{http_code}' --connect-timeout 1 --max-time 2 --cacert %s --cert %s "https://$n:8008/primary"); echo "$r $n $(printf '%%s\n' "$o" | tail -n 1) $(printf '%%s\n' "$o" | sed '$d' | tr -d '\n')" ) &
  done
  wait
  sleep %s
done`, int(max.Seconds()), strings.Join(nodes, " "), ca, pem, seconds(interval))
}

func (w *WriterWatch) pollSelf(ctx context.Context, node string) {
	script := selfPollScript(node, w.cfg.Interval, w.cfg.MaxDuration)
	for ctx.Err() == nil {
		var body strings.Builder
		err := w.f.ExecLines(ctx, node, func(line string) {
			// The answer's body, then "@@<code>".
			c, ok := strings.CutPrefix(strings.TrimSpace(line), "@@")
			if !ok {
				body.WriteString(line)
				return
			}
			code, err := strconv.Atoi(c)
			b := body.String()
			body.Reset()
			if err != nil {
				return
			}
			st, role := patroniStatus(b)
			smp := Sample{Node: node, At: time.Now(), Code: code, State: st, Role: role}
			w.mu.Lock()
			w.self = append(w.self, smp)
			w.mu.Unlock()
		}, "sh", "-c", UntilStdinCloses(script))
		if ctx.Err() != nil {
			return
		}
		_ = err
		w.mu.Lock()
		w.self = append(w.self, Sample{Node: node, At: time.Now(), Code: -1})
		w.mu.Unlock()
		if !w.sleep(ctx) {
			return
		}
	}
}

// patroniStatus is the "state" and "role" of a Patroni status body, empty
// if there are none.
func patroniStatus(body string) (state, role string) {
	var st struct {
		State string `json:"state"`
		Role  string `json:"role"`
	}
	if json.Unmarshal([]byte(body), &st) != nil {
		return "", ""
	}
	return st.State, st.Role
}

func (w *WriterWatch) pollRouter(ctx context.Context) {
	script := routerPollScript(w.t.Nodes, w.cfg.RouterInterval, w.cfg.MaxDuration)
	// Rounds restart at 1 with each command: offset them.
	var base, last int64
	for ctx.Err() == nil {
		err := w.f.ExecLines(ctx, w.t.HAProxy, func(line string) {
			f := strings.SplitN(strings.TrimSpace(line), " ", 4)
			if len(f) < 3 {
				return
			}
			r, err1 := strconv.ParseInt(f[0], 10, 64)
			code, err2 := strconv.Atoi(f[2])
			if err1 != nil || err2 != nil {
				return
			}
			var st, role string
			if len(f) == 4 {
				st, role = patroniStatus(f[3])
			}
			last = base + r
			w.mu.Lock()
			w.router = append(w.router, Sample{Node: f[1], At: time.Now(), Code: code, Round: base + r, State: st, Role: role})
			w.mu.Unlock()
		}, "sh", "-c", UntilStdinCloses(script))
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			w.cfg.Logf("watch: polling from %s: %v", w.t.HAProxy, err)
		}
		base = last + 1
		if !w.sleep(ctx) {
			return
		}
	}
}

func (w *WriterWatch) pollRole(ctx context.Context, pg *pgx.ConnConfig) {
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			conn.Close(context.Background())
		}
	}()
	for {
		rc := RoleCheck{}
		err := func() error {
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			if conn == nil {
				c, err := pgx.ConnectConfig(cctx, pg)
				if err != nil {
					return err
				}
				conn = c
			}
			var addr string
			err := conn.QueryRow(cctx, "SELECT pg_is_in_recovery(), coalesce(host(inet_server_addr()), '')").Scan(&rc.InRecovery, &addr)
			if err != nil {
				return err
			}
			w.mu.Lock()
			rc.Server = addr
			if n, ok := w.ips[addr]; ok {
				rc.Server = n
			}
			w.mu.Unlock()
			return nil
		}()
		if ctx.Err() != nil {
			return
		}
		rc.At = time.Now()
		if err != nil {
			rc.Err = err.Error()
			if conn != nil {
				conn.Close(context.Background())
				conn = nil
			}
		}
		w.mu.Lock()
		w.roles = append(w.roles, rc)
		w.mu.Unlock()
		if !w.sleep(ctx) {
			return
		}
	}
}

// SelfSamples is a copy of the self-view samples so far.
func (w *WriterWatch) SelfSamples() []Sample {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Sample(nil), w.self...)
}

// RouterSamples is a copy of the router-view samples so far.
func (w *WriterWatch) RouterSamples() []Sample {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Sample(nil), w.router...)
}

// RoleChecks is a copy of the checks through the write endpoint so far.
func (w *WriterWatch) RoleChecks() []RoleCheck {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]RoleCheck(nil), w.roles...)
}

// WaitSelf waits for a self-view sample of node, taken after since, that
// satisfies ok.
func (w *WriterWatch) WaitSelf(ctx context.Context, node string, since time.Time, ok func(Sample) bool) (Sample, error) {
	seen := 0
	for {
		w.mu.Lock()
		ss := w.self[seen:]
		seen = len(w.self)
		var hit *Sample
		for i := range ss {
			if ss[i].Node == node && ss[i].At.After(since) && ok(ss[i]) {
				hit = &ss[i]
				break
			}
		}
		w.mu.Unlock()
		if hit != nil {
			return *hit, nil
		}
		select {
		case <-ctx.Done():
			return Sample{}, ctx.Err()
		case <-time.After(w.cfg.Interval / 2):
		}
	}
}

// Summary is what the watch saw so far.
func (w *WriterWatch) Summary() WatchSummary {
	self, router, roles := w.SelfSamples(), w.RouterSamples(), w.RoleChecks()
	return Summarize(self, router, roles, w.cfg.withDefaults().MaxGap)
}

// Summarize computes a WatchSummary from samples and role checks.
func Summarize(self, router []Sample, roles []RoleCheck, maxGap time.Duration) WatchSummary {
	var s WatchSummary
	s.Samples, s.RouterSamples = len(self), len(router)
	s.MaxPrimaries, s.Overlaps = MaxConcurrent(PrimarySpans(self, maxGap))
	s.MaxRoutable, s.RouterOverlaps = MaxPerRound(router)
	for _, r := range roles {
		s.RoleChecks++
		switch {
		case r.Err != "":
			s.RoleErrors++
		case r.InRecovery:
			s.WrongRole++
		}
		if r.Err == "" && (len(s.Servers) == 0 || s.Servers[len(s.Servers)-1] != r.Server) {
			s.Servers = append(s.Servers, r.Server)
		}
	}
	return s
}
