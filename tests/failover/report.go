package failover

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Report formats results (one or more rounds of each scenario) as a
// Markdown table for BENCHMARKS.md: per scenario, in order of first
// appearance, the write gap (the first window; min / median / max over
// the rounds whose writes resumed), writes unavailable in total (every
// window of a round added up; median / max), acknowledged writes lost over acknowledged, the most
// primaries seen at once (own view / HAProxy's), time back to full strength
// (median / max), failovers and errors.
func Report(results []Result) string {
	var order []string
	by := map[string][]Result{}
	for _, r := range results {
		if _, ok := by[r.Name]; !ok {
			order = append(order, r.Name)
		}
		by[r.Name] = append(by[r.Name], r)
	}
	var b strings.Builder
	b.WriteString("| Scenario | Runs | Write gap min / median / max | Unavailable in total median / max | Lost / acked | Max primaries (own / HAProxy) | Back to full median / max | Failovers | Not resumed |\n")
	b.WriteString("|---|---:|---|---|---|---|---|---:|---:|\n")
	for _, name := range order {
		rs := by[name]
		var gaps, totals, full []time.Duration
		lost, acked, maxP, maxR, failovers, notResumed := 0, 0, 0, 0, 0, 0
		for _, r := range rs {
			var total time.Duration
			for _, w := range r.Windows {
				total += w.Duration()
			}
			totals = append(totals, total)
			if r.Resumed {
				gaps = append(gaps, r.Gap)
			} else {
				notResumed++
			}
			if r.BackToFull > 0 {
				full = append(full, r.BackToFull)
			}
			lost += r.Lost
			acked += r.Acked
			maxP = max(maxP, r.MaxPrimaries)
			maxR = max(maxR, r.MaxRoutable)
			if r.Failover {
				failovers++
			}
		}
		gapCell := "–"
		if len(gaps) > 0 {
			lo, med, hi := stats(gaps)
			gapCell = fmt.Sprintf("%s / %s / %s", secs(lo), secs(med), secs(hi))
		}
		_, medT, hiT := stats(totals)
		totalCell := fmt.Sprintf("%s / %s", secs(medT), secs(hiT))
		fullCell := "–"
		if len(full) > 0 {
			_, med, hi := stats(full)
			fullCell = fmt.Sprintf("%s / %s", secs(med), secs(hi))
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %d / %d | %d / %d | %s | %d | %d |\n",
			name, len(rs), gapCell, totalCell, lost, acked, maxP, maxR, fullCell, failovers, notResumed)
	}
	return b.String()
}

// stats is the min, median (the mean of the middle two for an even count)
// and max.
func stats(ds []time.Duration) (lo, med, hi time.Duration) {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	n := len(s)
	if n%2 == 1 {
		med = s[n/2]
	} else {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return s[0], med, s[n-1]
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

// Details lists each result's notes and violations, for a log or an
// appendix under the table.
func Details(results []Result) string {
	var b strings.Builder
	for i, r := range results {
		fmt.Fprintf(&b, "- %s #%d: gap %s, acked %d, failed %d, lost %d, primaries %d/%d, back to full %s, leader %s → %s\n",
			r.Name, i+1, secs(r.Gap), r.Acked, r.Failed, r.Lost, r.MaxPrimaries, r.MaxRoutable, secs(r.BackToFull),
			orDash(r.LeaderBefore), orDash(r.LeaderAfter))
		for _, v := range r.Violations {
			fmt.Fprintf(&b, "  - VIOLATION: %s\n", v)
		}
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "  - %s\n", n)
		}
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}
