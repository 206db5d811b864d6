package failover

import (
	"errors"
	"strings"
	"testing"
)

func TestRoleEvents(t *testing.T) {
	log := strings.Join([]string{
		"2026-11-27 00:57:04,095 ERROR: Error communicating with DCS",
		"2026-11-27 00:57:04,158 INFO: continue to run as a leader because failsafe mode is enabled and all members are accessible",
		"2026-11-27 00:57:05,722 WARNING: Retry got exception: 500 No known Consul servers",
		"2026-11-27 00:57:06,100 ERROR: Error communicating with DCS",
		"  File \"/usr/lib/python3/dist-packages/patroni/dcs/consul.py\", line 88, in response",
		"2026-11-27 00:57:06,158 INFO: continue to run as a leader because failsafe mode is enabled and all members are accessible",
		"2026-11-27 00:57:08,158 INFO: continue to run as a leader because failsafe mode is enabled and all members are accessible",
		"2026-11-27 00:57:09,802 INFO: no action. I am (e2e-pg-2), the leader with the lock",
		"2026-11-27 00:57:10,100 INFO: demoting self because failed to update leader lock in DCS",
		"2026-11-27 00:57:10.200 UTC [66] LOG:  received fast shutdown request",
		"2026-11-27 00:57:10.300 UTC [66] LOG:  database system is shut down",
		"2026-11-27 00:57:10.300 UTC [70] LOG:  checkpoint starting: time",
	}, "\n")
	got := RoleEvents(log, 60)
	want := []string{
		"2026-11-27 00:57:04,158 INFO: continue to run as a leader because failsafe mode is enabled and all members are accessible",
		"  (the line above 2 more time(s))",
		"2026-11-27 00:57:10,100 INFO: demoting self because failed to update leader lock in DCS",
		"2026-11-27 00:57:10.200 UTC [66] LOG:  received fast shutdown request",
		"2026-11-27 00:57:10.300 UTC [66] LOG:  database system is shut down",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("RoleEvents:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := RoleEvents(log, 2); len(got) != 3 || !strings.Contains(got[0], "3 earlier line(s) left out") {
		t.Errorf("RoleEvents with max 2: %q", got)
	}
}

func TestKeepLogs(t *testing.T) {
	quiet := Scenario{Name: "consul-down", Unexpected: true}
	plain := Scenario{Name: "node-loss"}
	for _, tc := range []struct {
		sc       Scenario
		r        Result
		err      error
		problems []string
		want     bool
	}{
		{plain, Result{Failover: true}, nil, nil, false},
		{plain, Result{}, nil, []string{"writes did not resume"}, true},
		{plain, Result{}, errors.New("no leader"), nil, true},
		{quiet, Result{}, nil, nil, false},
		{quiet, Result{Failover: true}, nil, nil, true},
		{quiet, Result{Windows: []Window{{}}}, nil, nil, true},
		{Scenario{Name: "consul-leader-loss", NoFailover: true}, Result{Windows: []Window{{}}}, nil, nil, true},
		{plain, Result{Failover: true, Windows: []Window{{}}}, nil, nil, false},
		{plain, Result{Failover: true, Windows: []Window{{}, {}}}, nil, nil, true},
	} {
		if got := tc.sc.KeepLogs(tc.r, tc.err, tc.problems); got != tc.want {
			t.Errorf("%s.KeepLogs(failover %v, %d windows, %v, %v) = %v, want %v", tc.sc.Name, tc.r.Failover, len(tc.r.Windows), tc.err, tc.problems, got, tc.want)
		}
	}
}
