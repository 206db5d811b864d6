package failover

import (
	"strings"
	"testing"
	"time"
)

func TestReport(t *testing.T) {
	s := func(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	win := func(at, d float64) Window { return Window{From: t0.Add(s(at)), To: t0.Add(s(at + d))} }
	results := []Result{
		{Name: "node-loss", Gap: s(2.4), Windows: []Window{win(0, 2.4), win(10, 5)}, Resumed: true, Acked: 1000, MaxPrimaries: 1, MaxRoutable: 1, BackToFull: s(9), Failover: true},
		{Name: "switchover", Gap: s(1.5), Windows: []Window{win(0, 1.5)}, Resumed: true, Acked: 300, MaxPrimaries: 1, MaxRoutable: 1, BackToFull: s(4), Failover: true},
		{Name: "node-loss", Gap: s(3.0), Windows: []Window{win(0, 3)}, Resumed: true, Acked: 900, MaxPrimaries: 1, MaxRoutable: 1, BackToFull: s(12), Failover: true},
		{Name: "node-loss", Gap: s(2.2), Resumed: true, Acked: 950, Lost: 1, MaxPrimaries: 2, MaxRoutable: 1, BackToFull: s(7), Failover: true},
		{Name: "consul-down", Resumed: true, Acked: 3000, MaxPrimaries: 1, MaxRoutable: 1, BackToFull: s(6.25)},
		{Name: "node-loss", Gap: s(9), Resumed: false, Acked: 10},
	}
	want := strings.Join([]string{
		"| Scenario | Runs | Write gap min / median / max | Unavailable in total median / max | Lost / acked | Max primaries (own / HAProxy) | Back to full median / max | Failovers | Not resumed |",
		"|---|---:|---|---|---|---|---|---:|---:|",
		"| node-loss | 4 | 2.20 s / 2.40 s / 3.00 s | 1.50 s / 7.40 s | 1 / 2860 | 2 / 1 | 9.00 s / 12.00 s | 3 | 1 |",
		"| switchover | 1 | 1.50 s / 1.50 s / 1.50 s | 1.50 s / 1.50 s | 0 / 300 | 1 / 1 | 4.00 s / 4.00 s | 1 | 0 |",
		"| consul-down | 1 | 0.00 s / 0.00 s / 0.00 s | 0.00 s / 0.00 s | 0 / 3000 | 1 / 1 | 6.25 s / 6.25 s | 0 | 0 |",
		"",
	}, "\n")
	if got := Report(results); got != want {
		t.Errorf("Report =\n%s\nwant\n%s", got, want)
	}
	if got := Report([]Result{{Name: "x"}}); !strings.Contains(got, "| x | 1 | – | 0.00 s / 0.00 s | 0 / 0 | 0 / 0 | – | 0 | 1 |") {
		t.Errorf("Report of a failed run:\n%s", got)
	}
}

func TestStatsEvenMedian(t *testing.T) {
	lo, med, hi := stats([]time.Duration{4, 1, 3, 2})
	if lo != 1 || med != 2 || hi != 4 { // (2+3)/2 in integer nanoseconds
		t.Errorf("stats %d %d %d", lo, med, hi)
	}
}

func TestDetails(t *testing.T) {
	d := Details([]Result{{Name: "partition", Gap: 2 * time.Second, LeaderBefore: "pg-1", LeaderAfter: "pg-2",
		Violations: []string{"pg-1 still claims"}, Notes: []string{"new leader pg-2"}}})
	for _, want := range []string{"- partition #1: gap 2.00 s", "leader pg-1 → pg-2", "  - VIOLATION: pg-1 still claims", "  - new leader pg-2"} {
		if !strings.Contains(d, want) {
			t.Errorf("Details lacks %q:\n%s", want, d)
		}
	}
}
