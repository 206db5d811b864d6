package failover

import (
	"math"
	"strings"
	"testing"
	"time"
)

const pgbenchOut = `pgbench (15.14 (Debian 15.14-0+deb12u1))
transaction type: <builtin: TPC-B (sort of)>
scaling factor: 5
query mode: simple
number of clients: 4
number of threads: 2
maximum number of tries: 1
duration: 20 s
number of transactions actually processed: 12345
number of failed transactions: 0 (0.000%)
latency average = 6.480 ms
initial connection time = 40.123 ms
tps = 617.250000 (without initial connection time)
`

func TestParseTPS(t *testing.T) {
	got, err := parseTPS(pgbenchOut)
	if err != nil || got != 617.25 {
		t.Fatalf("parseTPS = %v, %v; want 617.25", got, err)
	}
	if _, err := parseTPS("pgbench: error: connection to server failed"); err == nil || !strings.Contains(err.Error(), "no tps line") {
		t.Fatalf("parseTPS of an error output: %v, want a no-tps-line error", err)
	}
}

func TestThroughputRatio(t *testing.T) {
	r := ThroughputResult{HAProxy: []float64{90, 100, 95}, Direct: []float64{100, 200, 50}}
	if got := r.Ratio(); math.Abs(got-0.95) > 1e-9 {
		t.Fatalf("Ratio = %v, want 0.95 (median 95 / median 100)", got)
	}
	if got := (ThroughputResult{HAProxy: []float64{1}}).Ratio(); got != 0 {
		t.Fatalf("Ratio without direct runs = %v, want 0", got)
	}
	if got := median([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Fatalf("median = %v, want 2.5", got)
	}
	rep := ThroughputReport(ThroughputResult{Options: ThroughputOptions{Pairs: 1, Duration: 5 * time.Second, Clients: 4},
		HAProxy: []float64{96}, Direct: []float64{100}})
	if !strings.Contains(rep, "**96.0%**") || !strings.Contains(rep, "TPC-B") {
		t.Fatalf("report lacks the ratio or the workload:\n%s", rep)
	}
}
