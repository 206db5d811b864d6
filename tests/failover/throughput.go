package failover

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ThroughputOptions tunes Throughput; zero values take the defaults.
type ThroughputOptions struct {
	// Pairs is how many (HAProxy, direct) runs alternate (default 3).
	Pairs int
	// Duration of each pgbench run (default 20 s).
	Duration time.Duration
	// Clients is pgbench's -c (default 4; -j is min(Clients, 2)).
	Clients int
	// Scale is pgbench -i's scale factor (default 5).
	Scale int
	// SelectOnly runs pgbench -S instead of the TPC-B-like default.
	SelectOnly bool
}

func (o ThroughputOptions) withDefaults() ThroughputOptions {
	if o.Pairs == 0 {
		o.Pairs = 3
	}
	if o.Duration == 0 {
		o.Duration = 20 * time.Second
	}
	if o.Clients == 0 {
		o.Clients = 4
	}
	if o.Scale == 0 {
		o.Scale = 5
	}
	return o
}

// ThroughputResult is what Throughput measured: the TPS of every run.
type ThroughputResult struct {
	Options ThroughputOptions
	// Client is the container pgbench ran in; Leader the node it hit directly.
	Client, Leader  string
	HAProxy, Direct []float64
}

// Ratio is median(HAProxy) / median(Direct).
func (r ThroughputResult) Ratio() float64 {
	d := median(r.Direct)
	if d == 0 {
		return 0
	}
	return median(r.HAProxy) / d
}

// Mode names the pgbench workload.
func (r ThroughputResult) Mode() string {
	if r.Options.SelectOnly {
		return "select-only (-S)"
	}
	return "TPC-B-like (default script)"
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

var tpsLine = regexp.MustCompile(`(?m)^tps = ([0-9.]+) \(without initial connection time\)`)

// parseTPS reads pgbench's "tps = N (without initial connection time)".
func parseTPS(out string) (float64, error) {
	m := tpsLine.FindStringSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("no tps line in pgbench output: %q", tail(out, 400))
	}
	return strconv.ParseFloat(m[1], 64)
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// pgbenchScript runs pgbench with the password and the CA on standard input
// (first line the password, the rest the CA PEM), so that neither is on a
// command line or in the container's environment.
const pgbenchScript = `set -e
IFS= read -r PGPASSWORD
export PGPASSWORD
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
cat > "$d/ca.crt"
export PGSSLMODE=verify-full PGSSLROOTCERT="$d/ca.crt" PGCONNECT_TIMEOUT=5
exec "$@"
`

// Throughput measures what HAProxy costs: pgbench from a replica's
// container against HAProxy's write port and against the leader's
// PostgreSQL directly, alternating, over the cluster network (so both paths
// differ only by HAProxy). It initialises the pgbench tables (scale
// Options.Scale) through HAProxy first. The superuser runs it.
func Throughput(ctx context.Context, t Target, f Faults, o ThroughputOptions) (ThroughputResult, error) {
	o = o.withDefaults()
	res := ThroughputResult{Options: o}
	c := &Cluster{T: t, F: f}
	leader, err := c.Leader(ctx)
	if err != nil || leader == "" {
		return res, fmt.Errorf("no leader to measure against (%v)", err)
	}
	res.Leader = leader
	for _, n := range t.Nodes {
		if n != leader {
			res.Client = n
			break
		}
	}
	if res.Client == "" {
		return res, fmt.Errorf("pgbench runs in a replica's container: the cluster has none")
	}
	stdin := []byte(t.SuperuserPassword + "\n" + t.CACert)
	pgbench := func(ctx context.Context, host string, port int, args ...string) (string, error) {
		cmd := append([]string{"sh", "-c", pgbenchScript, "pgbench", "pgbench",
			"-h", host, "-p", strconv.Itoa(port), "-U", "postgres"}, args...)
		cmd = append(cmd, "postgres")
		r, err := f.Exec(ctx, res.Client, stdin, cmd...)
		if err != nil {
			return "", err
		}
		if r.Code != 0 {
			return "", fmt.Errorf("pgbench %s against %s:%d: exit %d: %s", strings.Join(args, " "), host, port, r.Code, tail(r.Stderr+r.Stdout, 600))
		}
		return r.Stdout + r.Stderr, nil
	}
	ictx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if _, err := pgbench(ictx, t.HAProxy, 5000, "-i", "-q", "-s", strconv.Itoa(o.Scale)); err != nil {
		return res, fmt.Errorf("initialising pgbench tables: %w", err)
	}
	jobs := min(o.Clients, 2)
	run := []string{"-c", strconv.Itoa(o.Clients), "-j", strconv.Itoa(jobs), "-T", strconv.Itoa(int(o.Duration.Seconds())), "-n"}
	if o.SelectOnly {
		run = append(run, "-S")
	}
	for i := 0; i < o.Pairs; i++ {
		for _, via := range []string{"haproxy", "direct"} {
			host, port, into := t.HAProxy, 5000, &res.HAProxy
			if via == "direct" {
				host, port, into = leader, 5432, &res.Direct
			}
			rctx, cancel := context.WithTimeout(ctx, o.Duration+2*time.Minute)
			out, err := pgbench(rctx, host, port, run...)
			cancel()
			if err != nil {
				return res, err
			}
			tps, err := parseTPS(out)
			if err != nil {
				return res, err
			}
			*into = append(*into, tps)
		}
	}
	return res, nil
}

// ThroughputReport is a Markdown section of results.
func ThroughputReport(rs ...ThroughputResult) string {
	var b strings.Builder
	b.WriteString("| workload | clients | runs × s | through HAProxy :5000 (TPS, each run) | direct to the leader :5432 | median ratio |\n")
	b.WriteString("|---|---|---|---|---|---|\n")
	for _, r := range rs {
		fmt.Fprintf(&b, "| %s | %d | %d × %.0f | %s | %s | **%.1f%%** |\n", r.Mode(), r.Options.Clients,
			r.Options.Pairs, r.Options.Duration.Seconds(), tpsList(r.HAProxy), tpsList(r.Direct), 100*r.Ratio())
	}
	return b.String()
}

func tpsList(v []float64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.FormatFloat(x, 'f', 0, 64)
	}
	return strings.Join(s, " / ")
}
