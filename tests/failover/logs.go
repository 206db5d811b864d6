package failover

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// patroniLine is a Patroni log line with its level; postgresLine a
// PostgreSQL line about a role change.
var (
	patroniLine  = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (INFO|WARNING|ERROR|CRITICAL): `)
	postgresLine = regexp.MustCompile(`LOG: .*(promot|shut ?down|timeline|recovery|rewind)`)
	// routine lines that say nothing about what went wrong
	routine = []string{"no action. I am", "Retry got exception", "Loop time exceeded", "Error communicating with DCS",
		"Exception happened during processing of request", "Traceback (most recent call last)"}
)

// RoleEvents is what a node's log says about leadership since a time:
// Patroni's decisions and PostgreSQL's role changes, routine lines dropped
// and repeats of the previous line counted instead of printed, at most max
// lines (the last ones).
func RoleEvents(log string, max int) []string {
	var out []string
	last, repeats := "", 0
	flush := func() {
		if repeats > 0 {
			out = append(out, fmt.Sprintf("  (the line above %d more time(s))", repeats))
			repeats = 0
		}
	}
	for _, l := range strings.Split(log, "\n") {
		l = strings.TrimRight(l, "\r")
		if !patroniLine.MatchString(l) && !postgresLine.MatchString(l) {
			continue
		}
		if containsAny(l, routine) {
			continue
		}
		// Compare without the timestamp (23 characters in both formats).
		key := l
		if len(key) > 24 {
			key = key[24:]
		}
		if key == last {
			repeats++
			continue
		}
		flush()
		out = append(out, l)
		last = key
	}
	flush()
	if len(out) > max {
		out = append([]string{fmt.Sprintf("  (%d earlier line(s) left out)", len(out)-max)}, out[len(out)-max:]...)
	}
	return out
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// SaveLogs keeps the evidence of a round that broke an assertion: every
// node's and agent's full log since a time goes to dir/<container>.log, and
// the nodes' role events are returned for the test output (CI keeps only
// that). Containers whose logs cannot be read are named in the summary.
func SaveLogs(ctx context.Context, t Target, f Faults, since time.Time, dir string) string {
	var b strings.Builder
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintf(&b, "saving logs: %v\n", err)
		dir = ""
	}
	for _, n := range t.Nodes {
		for _, c := range []string{n, t.Agent(n)} {
			log, err := f.Logs(ctx, c, since)
			if err != nil {
				fmt.Fprintf(&b, "%s: %v\n", c, err)
				continue
			}
			if dir != "" {
				if err := os.WriteFile(filepath.Join(dir, c+".log"), []byte(log), 0o644); err != nil {
					fmt.Fprintf(&b, "saving %s's log: %v\n", c, err)
				}
			}
			if c == n {
				fmt.Fprintf(&b, "--- %s since %s\n%s\n", n, since.UTC().Format("15:04:05.000"), strings.Join(RoleEvents(log, 60), "\n"))
			}
		}
	}
	if dir != "" {
		fmt.Fprintf(&b, "full logs in %s\n", dir)
	}
	return b.String()
}
