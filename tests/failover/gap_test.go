package failover

import (
	"testing"
	"time"
)

// timeline builds attempts from (offset in ms, ok) pairs, in order.
func timeline(t0 time.Time, steps ...any) []Attempt {
	var atts []Attempt
	for i := 0; i < len(steps); i += 2 {
		ms := steps[i].(int)
		ok := steps[i+1].(bool)
		end := t0.Add(time.Duration(ms) * time.Millisecond)
		a := Attempt{Seq: int64(len(atts) + 1), ID: int64(len(atts) + 1), Start: end.Add(-time.Millisecond), End: end, OK: ok}
		if !ok {
			a.Err = "boom"
		}
		atts = append(atts, a)
	}
	return atts
}

func TestGap(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	for _, tc := range []struct {
		name     string
		atts     []Attempt
		gap      time.Duration
		ok       bool
		nWindows int
	}{
		{name: "no attempts", gap: 0, ok: true},
		{name: "no failure", atts: timeline(t0, 0, true, 10, true, 20, true), gap: 0, ok: true},
		{
			name: "one outage",
			atts: timeline(t0, 0, true, 10, true, 2010, false, 2070, false, 4000, false, 4012, true, 4025, true),
			gap:  ms(4002), ok: true, nWindows: 1,
		},
		{
			// The kill lands at 20 ms; the commit in flight is acknowledged in
			// the same millisecond, then every attempt fails until 2.5 s. The
			// first success after the kill is not the recovery.
			name: "ack in the same millisecond as the kill",
			atts: timeline(t0, 0, true, 10, true, 20, true, 2020, false, 2075, false, 2500, true),
			gap:  ms(2480), ok: true, nWindows: 1,
		},
		{
			// An ack and a failure with the same timestamp: the order of the
			// attempts decides, not the clock.
			name: "ack and failure in the same instant",
			atts: timeline(t0, 0, true, 20, true, 20, false, 20, false, 900, true),
			gap:  ms(880), ok: true, nWindows: 1,
		},
		{
			name: "still failing",
			atts: timeline(t0, 0, true, 10, true, 2010, false, 4010, false),
			gap:  ms(4000), ok: false, nWindows: 1,
		},
		{
			name: "start-up failures open no window",
			atts: timeline(t0, 0, false, 50, false, 100, true, 110, true),
			gap:  0, ok: true,
		},
		{
			name: "two outages: Gap is the first",
			atts: timeline(t0, 0, true, 1000, false, 3000, true, 3010, true, 5000, false, 5100, false, 9000, true),
			gap:  ms(3000), ok: true, nWindows: 2,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gap, ok := Gap(tc.atts)
			if gap != tc.gap || ok != tc.ok {
				t.Errorf("Gap = %s, %v; want %s, %v", gap, ok, tc.gap, tc.ok)
			}
			if n := len(Windows(tc.atts)); n != tc.nWindows {
				t.Errorf("%d windows, want %d", n, tc.nWindows)
			}
		})
	}
}

func TestWindowsDetail(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	atts := timeline(t0, 0, true, 1000, false, 1500, false, 1600, false, 3000, true, 3010, true, 5000, false)
	ws := Windows(atts)
	if len(ws) != 2 {
		t.Fatalf("windows %+v", ws)
	}
	w := ws[0]
	if !w.From.Equal(t0) || !w.To.Equal(t0.Add(3*time.Second)) || w.Failures != 3 ||
		!w.FirstFailure.Equal(t0.Add(time.Second)) || !w.LastFailure.Equal(t0.Add(1600*time.Millisecond)) || w.LastErr != "boom" {
		t.Errorf("first window %+v", w)
	}
	if w.Open() || w.Duration() != 3*time.Second {
		t.Errorf("first window open %v, duration %s", w.Open(), w.Duration())
	}
	w = ws[1]
	if !w.Open() || !w.From.Equal(t0.Add(3010*time.Millisecond)) || w.Duration() != 1990*time.Millisecond {
		t.Errorf("second window %+v (open %v, duration %s)", w, w.Open(), w.Duration())
	}
}

func TestWriterWaits(t *testing.T) {
	// WaitAck and WaitRecovered on a writer fed by hand (no database).
	w := newWriter(nil, "test", WriterConfig{})
	t0 := time.Now()
	for _, a := range timeline(t0, 0, true, 10, true) {
		w.record(a)
	}
	ctx, cancel := contextWithTimeout(t, 50*time.Millisecond)
	defer cancel()
	if err := w.WaitRecovered(ctx, t0); err == nil {
		t.Fatal("WaitRecovered returned with no failure")
	}
	if err := w.WaitAck(ctx, t0.Add(-time.Second)); err != nil {
		t.Fatalf("WaitAck: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := contextWithTimeout(t, 5*time.Second)
		defer cancel()
		done <- w.WaitRecovered(ctx, t0)
	}()
	time.Sleep(20 * time.Millisecond)
	w.record(Attempt{Start: t0.Add(20 * time.Millisecond), End: t0.Add(30 * time.Millisecond), Err: "x"})
	w.record(Attempt{ID: 9, Start: t0.Add(40 * time.Millisecond), End: t0.Add(50 * time.Millisecond), OK: true})
	if err := <-done; err != nil {
		t.Fatalf("WaitRecovered: %v", err)
	}
	if acked, failed, warn := w.Counts(); acked != 3 || failed != 1 || warn != 0 {
		t.Errorf("counts %d %d %d", acked, failed, warn)
	}
	if ids := w.Acked(); len(ids) != 3 || ids[2] != 9 {
		t.Errorf("acked %v", ids)
	}
}
