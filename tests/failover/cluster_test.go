package failover

import (
	"context"
	"strings"
	"testing"
)

const clusterJSON = `{"members": [
 {"name": "e2e-pg-1", "role": "replica", "state": "running", "api_url": "https://e2e-pg-1:8008/patroni", "host": "e2e-pg-1", "port": 5432, "timeline": 2, "lag": 0},
 {"name": "e2e-pg-2", "role": "leader", "state": "running", "api_url": "https://e2e-pg-2:8008/patroni", "host": "e2e-pg-2", "port": 5432, "timeline": 2},
 {"name": "e2e-pg-3", "role": "sync_standby", "state": "running", "api_url": "https://e2e-pg-3:8008/patroni", "host": "e2e-pg-3", "port": 5432, "timeline": 2, "lag": "unknown"}
], "scope": "e2e"}`

func TestClusterView(t *testing.T) {
	v, err := ParseClusterView([]byte(clusterJSON))
	if err != nil {
		t.Fatal(err)
	}
	nodes := []string{"e2e-pg-1", "e2e-pg-2", "e2e-pg-3"}
	if v.Leader() != "e2e-pg-2" {
		t.Errorf("leader %q", v.Leader())
	}
	if err := v.Healthy(nodes); err != nil {
		t.Errorf("healthy view: %v", err)
	}
	if ss := v.SyncStandbys(); len(ss) != 1 || ss[0] != "e2e-pg-3" {
		t.Errorf("sync standbys %v, want [e2e-pg-3]", ss)
	}
	v.Members[0].State = "starting"
	if err := v.Healthy(nodes); err == nil || !strings.Contains(err.Error(), "not running [e2e-pg-1 starting]") {
		t.Errorf("starting member: %v", err)
	}
	v.Members = v.Members[1:]
	if err := v.Healthy(nodes); err == nil || !strings.Contains(err.Error(), "members missing [e2e-pg-1]") {
		t.Errorf("missing member: %v", err)
	}
	v.Members[1].Role = "leader"
	if err := v.Healthy(nodes); err == nil || !strings.Contains(err.Error(), "leaders [e2e-pg-2 e2e-pg-3]") {
		t.Errorf("two leaders: %v", err)
	}
	if _, err := ParseClusterView([]byte("<html>")); err == nil {
		t.Error("bad JSON parsed")
	}
}

func TestParseCurl(t *testing.T) {
	code, body, err := parseCurl(ExecResult{Stdout: "{\"a\": 1}\n200"})
	if err != nil || code != 200 || string(body) != `{"a": 1}` {
		t.Errorf("got %d %q %v", code, body, err)
	}
	if _, _, err := parseCurl(ExecResult{Stdout: "\n000", Code: 7}); err == nil {
		t.Error("no answer parsed as success")
	}
	if _, _, err := parseCurl(ExecResult{Stdout: "oops"}); err == nil {
		t.Error("no status line parsed")
	}
}

func TestConsulLeaderName(t *testing.T) {
	ips := map[string]string{"172.31.250.5": "e2e-consul-2"}
	if n := consulLeaderName([]byte(`"172.31.250.5:8300"`), ips); n != "e2e-consul-2" {
		t.Errorf("leader %q", n)
	}
	if n := consulLeaderName([]byte(`""`), ips); n != "" {
		t.Errorf("no leader gave %q", n)
	}
	if n := consulLeaderName([]byte(`"10.0.0.9:8300"`), ips); n != "10.0.0.9:8300" {
		t.Errorf("unknown address gave %q", n)
	}
}

// The REST password reaches curl on stdin, never on its command line.
func TestSwitchoverKeepsPasswordOffCommandLine(t *testing.T) {
	f := &fakeFaults{exec: func(name string, stdin []byte, cmd []string) (ExecResult, error) {
		return ExecResult{Stdout: "Successfully switched over to \"e2e-pg-3\"\n200"}, nil
	}}
	c := &Cluster{T: Target{Nodes: []string{"e2e-pg-1"}, PatroniRestPassword: `p"w\x`}, F: f}
	if err := c.Switchover(context.Background(), "e2e-pg-1", ""); err != nil {
		t.Fatal(err)
	}
	if len(f.execs) != 1 {
		t.Fatalf("execs %+v", f.execs)
	}
	e := f.execs[0]
	line := strings.Join(e.cmd, " ")
	if e.name != "e2e-pg-1" || strings.Contains(line, `p"w`) || !strings.Contains(line, "-K -") ||
		!strings.Contains(line, "-X POST") || !strings.Contains(line, `--data-binary {"leader":"e2e-pg-1"}`) ||
		!strings.HasSuffix(line, "https://e2e-pg-1:8008/switchover") || !strings.Contains(line, "--resolve e2e-pg-1:8008:127.0.0.1") {
		t.Errorf("command line %q", line)
	}
	if string(e.stdin) != "user = \"patroni:p\\\"w\\\\x\"\n" {
		t.Errorf("stdin %q", e.stdin)
	}

	f.exec = func(string, []byte, []string) (ExecResult, error) {
		return ExecResult{Stdout: "switchover is not possible: cluster does not have members except leader\n412"}, nil
	}
	if err := c.Switchover(context.Background(), "e2e-pg-1", "e2e-pg-2"); err == nil || !strings.Contains(err.Error(), "412") {
		t.Errorf("refused switchover: %v", err)
	}
}

func TestViewFallsBackToNextNode(t *testing.T) {
	f := &fakeFaults{exec: func(name string, _ []byte, _ []string) (ExecResult, error) {
		if name == "n1" {
			return ExecResult{Stdout: "\n000", Code: 7}, nil
		}
		return ExecResult{Stdout: clusterJSON + "\n200"}, nil
	}}
	c := &Cluster{T: Target{Nodes: []string{"n1", "n2", "n3"}}, F: f}
	v, err := c.View(context.Background())
	if err != nil || v.Via != "n2" || v.Leader() != "e2e-pg-2" {
		t.Errorf("view via %q leader %q: %v", v.Via, v.Leader(), err)
	}
	v, err = c.View(context.Background(), "n2")
	if err != nil || v.Via != "n3" {
		t.Errorf("skipping n2: via %q: %v", v.Via, err)
	}
}
