package failover

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
)

// ProbeTable is the table the Writer inserts into.
const ProbeTable = "failover_probe"

// Attempt is one write attempt of a Writer: a connect that failed, or an
// INSERT that was acknowledged (OK) or not.
type Attempt struct {
	// Seq orders attempts; it is exact where timestamps tie.
	Seq int64
	// ID is the row id (0 for a failed connect).
	ID         int64
	Start, End time.Time
	OK         bool
	Err        string
	// SyncWarning marks an acknowledged commit that came with PostgreSQL's
	// "canceling wait for synchronous replication" warning: committed
	// locally, possibly not replicated. The Writer never cancels a query, so
	// this should not happen.
	SyncWarning bool
}

// Window is one write-unavailability window: from the last acknowledged
// commit before a failed attempt to the first acknowledged commit after it.
type Window struct {
	// From is the end of the last ack before the first failure.
	From time.Time
	// To is the end of the first ack after a failure; zero while the window
	// is open (no ack since).
	To time.Time
	// Failures counts the failed attempts inside the window.
	Failures int
	// FirstFailure and LastFailure are when those attempts ended.
	FirstFailure, LastFailure time.Time
	// LastErr is the error of the last failed attempt.
	LastErr string
}

// Open reports whether writes have not resumed yet.
func (w Window) Open() bool { return w.To.IsZero() }

// Duration is To-From; for an open window, up to the last failure.
func (w Window) Duration() time.Duration {
	if w.Open() {
		return w.LastFailure.Sub(w.From)
	}
	return w.To.Sub(w.From)
}

// Windows finds the write-unavailability windows of a sequence of attempts
// (ordered by Seq). Recovery is an acknowledged commit after a failed
// attempt, never merely the first success after a fault: a commit can be
// acknowledged in the same millisecond as a kill. Failures before the first
// ack (start-up) open no window.
func Windows(atts []Attempt) []Window {
	var out []Window
	var cur *Window
	var lastAck *Attempt
	for i := range atts {
		a := &atts[i]
		if a.OK {
			if cur != nil {
				cur.To = a.End
				out = append(out, *cur)
				cur = nil
			}
			lastAck = a
			continue
		}
		if lastAck == nil {
			continue
		}
		if cur == nil {
			cur = &Window{From: lastAck.End, FirstFailure: a.End}
		}
		cur.Failures++
		cur.LastFailure = a.End
		cur.LastErr = a.Err
	}
	if cur != nil {
		out = append(out, *cur)
	}
	return out
}

// Gap is the first write-unavailability window's duration: from the last
// ack before the first failure to the first ack after a failure. It is 0
// when no attempt failed after the first ack; ok is false when writes have
// not resumed.
func Gap(atts []Attempt) (gap time.Duration, ok bool) {
	ws := Windows(atts)
	if len(ws) == 0 {
		return 0, true
	}
	return ws[0].Duration(), !ws[0].Open()
}

// WriterConfig tunes a Writer; zero values take the defaults.
type WriterConfig struct {
	// Interval is the pause between two acknowledged inserts (default
	// 10 ms: ~100 writes/s, enough resolution without loading 2 cores).
	Interval time.Duration
	// Backoff is the pause after a failed attempt (default 50 ms).
	Backoff time.Duration
	// Timeout bounds each connect and each INSERT (default 2 s). It is a
	// client-side deadline that drops the connection; no server-side
	// statement_timeout is set, because a cancelled wait for synchronous
	// replication is reported to the client as a commit.
	Timeout time.Duration
	// Logf, when set, gets a line per connect failure streak.
	Logf func(format string, args ...any)
}

func (c WriterConfig) withDefaults() WriterConfig {
	if c.Interval == 0 {
		c.Interval = 10 * time.Millisecond
	}
	if c.Backoff == 0 {
		c.Backoff = 50 * time.Millisecond
	}
	if c.Timeout == 0 {
		c.Timeout = 2 * time.Second
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
	return c
}

// Writer inserts numbered rows into ProbeTable through one endpoint, one
// short transaction each, reconnecting on error, and records every attempt.
type Writer struct {
	cfg      WriterConfig
	pg       *pgx.ConnConfig
	endpoint string

	mu       sync.Mutex
	atts     []Attempt
	seq      int64
	nextID   int64
	warnings int
	changed  chan struct{}

	stop    chan struct{}
	done    chan struct{}
	started bool
}

// NewWriter is a Writer on the target's write endpoint. The target needs a
// CA file (WriteCAFile).
func NewWriter(t Target, cfg WriterConfig) (*Writer, error) {
	return NewWriterAt(t, t.WriteEndpoint, cfg)
}

// NewWriterAt is a Writer on another endpoint of the target.
func NewWriterAt(t Target, endpoint string, cfg WriterConfig) (*Writer, error) {
	pg, err := t.PGConfig(endpoint)
	if err != nil {
		return nil, err
	}
	return newWriter(pg, endpoint, cfg), nil
}

func newWriter(pg *pgx.ConnConfig, endpoint string, cfg WriterConfig) *Writer {
	return &Writer{cfg: cfg.withDefaults(), pg: pg, endpoint: endpoint,
		changed: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
}

// Start creates ProbeTable if needed (retrying until ctx ends), picks the
// first id above any existing row, and starts writing in the background.
func (w *Writer) Start(ctx context.Context) error {
	if w.started {
		return errors.New("writer already started")
	}
	var last error
	for {
		next, err := w.prepare(ctx)
		if err == nil {
			w.nextID = next
			break
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("preparing %s through %s: %w (last error: %v)", ProbeTable, w.endpoint, ctx.Err(), last)
		case <-time.After(500 * time.Millisecond):
		}
	}
	w.started = true
	go w.loop()
	return nil
}

func (w *Writer) prepare(ctx context.Context) (int64, error) {
	cctx, cancel := context.WithTimeout(ctx, 2*w.cfg.Timeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, w.pg)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(cctx, "CREATE TABLE IF NOT EXISTS "+ProbeTable+" (id bigint PRIMARY KEY, at timestamptz)"); err != nil {
		return 0, err
	}
	var max int64
	if err := conn.QueryRow(cctx, "SELECT coalesce(max(id), 0) FROM "+ProbeTable).Scan(&max); err != nil {
		return 0, err
	}
	return max + 1, nil
}

// Stop ends the writing loop (after the attempt in flight) and waits.
func (w *Writer) Stop() {
	if !w.started {
		return
	}
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

func (w *Writer) stopped() bool {
	select {
	case <-w.stop:
		return true
	default:
		return false
	}
}

func (w *Writer) pause(d time.Duration) {
	select {
	case <-w.stop:
	case <-time.After(d):
	}
}

func (w *Writer) record(a Attempt) {
	w.mu.Lock()
	w.seq++
	a.Seq = w.seq
	w.atts = append(w.atts, a)
	if a.SyncWarning {
		w.warnings++
	}
	close(w.changed)
	w.changed = make(chan struct{})
	w.mu.Unlock()
}

func (w *Writer) loop() {
	defer close(w.done)
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			conn.Close(context.Background())
		}
	}()
	// warned is set by the notice handler while an INSERT runs; the handler
	// runs on this goroutine, inside Exec.
	warned := false
	pg := w.pg.Copy()
	// A deadline drops the connection; pgx must never send a cancel request
	// (its default today, made explicit): see WriterConfig.Timeout.
	pg.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.DeadlineContextWatcherHandler{Conn: c.Conn()}
	}
	pg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
		if strings.Contains(n.Message, "wait for synchronous replication") {
			warned = true
		}
	}
	failing := false
	for !w.stopped() {
		if conn == nil {
			start := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), w.cfg.Timeout)
			c, err := pgx.ConnectConfig(ctx, pg)
			cancel()
			if err != nil {
				w.record(Attempt{Start: start, End: time.Now(), Err: "connect: " + err.Error()})
				if !failing {
					w.cfg.Logf("writer: connect through %s failed: %v", w.endpoint, err)
					failing = true
				}
				w.pause(w.cfg.Backoff)
				continue
			}
			conn = c
		}
		w.mu.Lock()
		id := w.nextID
		w.nextID++
		w.mu.Unlock()
		warned = false
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), w.cfg.Timeout)
		tag, err := conn.Exec(ctx, "INSERT INTO "+ProbeTable+" (id, at) VALUES ($1, now())", id)
		cancel()
		end := time.Now()
		if err == nil && tag.RowsAffected() != 1 {
			err = fmt.Errorf("INSERT affected %d rows", tag.RowsAffected())
		}
		if err != nil {
			w.record(Attempt{ID: id, Start: start, End: end, Err: err.Error()})
			if !failing {
				w.cfg.Logf("writer: insert %d through %s failed: %v", id, w.endpoint, err)
				failing = true
			}
			conn.Close(context.Background())
			conn = nil
			w.pause(w.cfg.Backoff)
			continue
		}
		w.record(Attempt{ID: id, Start: start, End: end, OK: true, SyncWarning: warned})
		failing = false
		w.pause(w.cfg.Interval)
	}
}

// Attempts is a copy of every attempt so far, in order.
func (w *Writer) Attempts() []Attempt {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Attempt(nil), w.atts...)
}

// Acked is the ids of every acknowledged commit.
func (w *Writer) Acked() []int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	var ids []int64
	for _, a := range w.atts {
		if a.OK {
			ids = append(ids, a.ID)
		}
	}
	return ids
}

// Counts is the number of acknowledged and failed attempts, and of acks
// that came with a synchronous replication warning.
func (w *Writer) Counts() (acked, failed, syncWarnings int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, a := range w.atts {
		if a.OK {
			acked++
		} else {
			failed++
		}
	}
	return acked, failed, w.warnings
}

// Gap is Gap of the attempts so far.
func (w *Writer) Gap() (time.Duration, bool) { return Gap(w.Attempts()) }

// Windows is Windows of the attempts so far.
func (w *Writer) Windows() []Window { return Windows(w.Attempts()) }

// WaitAck waits for an acknowledged commit whose attempt started at or
// after t.
func (w *Writer) WaitAck(ctx context.Context, t time.Time) error {
	return w.wait(ctx, func(atts []Attempt) bool {
		for i := len(atts) - 1; i >= 0 && !atts[i].Start.Before(t); i-- {
			if atts[i].OK {
				return true
			}
		}
		return false
	}, func() string { return "no acknowledged commit since " + t.Format("15:04:05.000") })
}

// WaitRecovered waits until an attempt that ended at or after t has failed
// and a commit has been acknowledged after it: writes were interrupted and
// resumed.
func (w *Writer) WaitRecovered(ctx context.Context, t time.Time) error {
	return w.wait(ctx, func(atts []Attempt) bool {
		failed := false
		for _, a := range atts {
			if !a.OK && !a.End.Before(t) {
				failed = true
			} else if a.OK && failed {
				return true
			}
		}
		return false
	}, func() string {
		ws := Windows(w.Attempts())
		if len(ws) > 0 && ws[len(ws)-1].Open() {
			return "writes failing since " + ws[len(ws)-1].FirstFailure.Format("15:04:05.000") + ": " + ws[len(ws)-1].LastErr
		}
		return "no failed write since " + t.Format("15:04:05.000")
	})
}

func (w *Writer) wait(ctx context.Context, done func([]Attempt) bool, why func() string) error {
	for {
		w.mu.Lock()
		ok := done(w.atts)
		ch := w.changed
		w.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %s", ctx.Err(), why())
		case <-w.done:
			return errors.New("writer stopped: " + why())
		case <-ch:
		}
	}
}

// Verify counts how many of ids are present, through endpoint of t (a
// fresh connection, retried until ctx ends).
func Verify(ctx context.Context, t Target, endpoint string, ids []int64) (present int, err error) {
	pg, err := t.PGConfig(endpoint)
	if err != nil {
		return 0, err
	}
	return verify(ctx, pg, ids)
}

func verify(ctx context.Context, pg *pgx.ConnConfig, ids []int64) (int, error) {
	var last error
	for {
		n, err := func() (int, error) {
			cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			conn, err := pgx.ConnectConfig(cctx, pg)
			if err != nil {
				return 0, err
			}
			defer conn.Close(context.Background())
			var n int
			err = conn.QueryRow(cctx, "SELECT count(*) FROM "+ProbeTable+" WHERE id = ANY($1)", ids).Scan(&n)
			return n, err
		}()
		if err == nil {
			return n, nil
		}
		last = err
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("counting acknowledged rows: %w (last error: %v)", ctx.Err(), last)
		case <-time.After(time.Second):
		}
	}
}

// Missing lists (up to limit) acknowledged ids that are not present.
func Missing(ctx context.Context, t Target, endpoint string, ids []int64, limit int) ([]int64, error) {
	pg, err := t.PGConfig(endpoint)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, pg)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(cctx, "SELECT a.id FROM unnest($1::bigint[]) AS a(id) WHERE NOT EXISTS (SELECT 1 FROM "+
		ProbeTable+" p WHERE p.id = a.id) ORDER BY a.id LIMIT $2", ids, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}
