package failover

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"gopkg.in/yaml.v3"

	"github.com/postgres-ha/postgres-ha/components"
	"github.com/postgres-ha/postgres-ha/templates"
)

// TestSmokeReadOnly checks the suite's read paths against a running
// cluster named by FAILOVER_SMOKE_CLUSTER (e.g. the e2e harness's "e2e"),
// without its outputs and without touching it: the Target is rebuilt from
// `docker inspect` and files inside the containers (the superuser password
// stays in memory), then /cluster, full strength through the write
// endpoint (verify-full), the Consul leader and health, and a few seconds
// of WriterWatch (own view, HAProxy's view, role checks) must all agree on
// one primary. Nothing is written, killed or disconnected.
func TestSmokeReadOnly(t *testing.T) {
	cluster := os.Getenv("FAILOVER_SMOKE_CLUSTER")
	if cluster == "" {
		t.Skip("set FAILOVER_SMOKE_CLUSTER=<cluster name> to smoke-test the read paths against a running cluster")
	}
	d, err := NewDocker()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// The cluster may be coming up: wait for it.
	var tg Target
	for {
		if tg, err = targetFromDocker(ctx, d, cluster); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal(err)
		case <-time.After(2 * time.Second):
		}
	}
	if err := tg.WriteCAFile(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	t.Logf("target: nodes %v, servers %v, haproxy %s, write %s", tg.Nodes, tg.ConsulServers, tg.HAProxy, tg.WriteEndpoint)
	c := &Cluster{T: tg, F: d, Logf: t.Logf}

	leader, took, err := c.WaitFull(ctx, 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("full strength (waited %s): leader %s", took.Round(time.Millisecond), leader)
	v, err := c.View(ctx)
	if err != nil || v.Leader() != leader {
		t.Errorf("/cluster via %s: leader %q, %v", v.Via, v.Leader(), err)
	}
	dc, err := c.Config(ctx)
	if err != nil {
		t.Error(err)
	}
	t.Logf("dynamic config: %+v", dc)
	cl, err := c.ConsulLeader(ctx)
	if err != nil || !contains(tg.ConsulServers, cl) {
		t.Errorf("Consul leader %q: %v", cl, err)
	}
	if err := c.ConsulHealthy(ctx); err != nil {
		t.Error(err)
	}
	t.Logf("Consul leader %s", cl)

	w := NewWriterWatch(tg, d, WatchConfig{Logf: t.Logf})
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	watchFor := 5 * time.Second
	if v, err := time.ParseDuration(os.Getenv("FAILOVER_SMOKE_WATCH")); err == nil {
		watchFor = v
	}
	started := time.Now()
	time.Sleep(watchFor)
	w.Stop()
	for _, n := range tg.Nodes {
		var at []time.Time
		codes := map[int]int{}
		for _, x := range w.SelfSamples() {
			if x.Node == n {
				at = append(at, x.At)
				codes[x.Code]++
			}
		}
		first := time.Duration(0)
		if len(at) > 0 {
			first = at[0].Sub(started)
		}
		t.Logf("%s: %d own-view samples %v, first after %s, mean interval %s", n, len(at), codes, first.Round(time.Millisecond), meanInterval(at))
	}
	s := w.Summary()
	t.Logf("watch: %d own-view samples, %d HAProxy-view samples, %d role checks, servers %v", s.Samples, s.RouterSamples, s.RoleChecks, s.Servers)
	perNode := map[string]int{}
	for _, x := range w.SelfSamples() {
		if x.Primary() {
			perNode[x.Node]++
		}
	}
	// Every answer's body carries PostgreSQL's state and role, in both
	// views: they tell a demoting leader's 200, and a new leader's 200
	// before its promotion ends, from a claim.
	for view, samples := range map[string][]Sample{"own": w.SelfSamples(), "HAProxy": w.RouterSamples()} {
		got := map[string]int{}
		for _, x := range samples {
			if x.Code <= 0 {
				continue
			}
			want := "running replica"
			if x.Node == leader {
				want = "running primary"
			}
			if st := x.State + " " + x.Role; st != want {
				got[x.Node+": "+st+" (want "+want+")"]++
			} else {
				got["as expected"]++
			}
		}
		if got["as expected"] == 0 || len(got) != 1 {
			t.Errorf("state and role in the %s-view answers: %v", view, got)
		}
	}
	// Role checks may time out on a loaded host; a wrong answer may not.
	if s.MaxPrimaries != 1 || s.MaxRoutable != 1 || s.WrongRole != 0 || s.RoleErrors == s.RoleChecks {
		t.Errorf("watch summary %+v", s)
	}
	if s.Samples < 3*len(tg.Nodes) || s.RouterSamples < 3*len(tg.Nodes) || s.RoleChecks < 3 {
		t.Errorf("too few samples: %+v", s)
	}
	// What a failed round keeps: every node's and agent's log, and a
	// summary per node.
	dir := t.TempDir()
	summary := SaveLogs(ctx, tg, d, started.Add(-time.Minute), dir)
	for _, n := range tg.Nodes {
		for _, c := range []string{n, tg.Agent(n)} {
			if _, err := os.Stat(filepath.Join(dir, c+".log")); err != nil {
				t.Errorf("SaveLogs kept no log of %s: %v\n%s", c, err, summary)
			}
		}
		if !strings.Contains(summary, "--- "+n+" since ") {
			t.Errorf("SaveLogs' summary has no section for %s:\n%s", n, summary)
		}
	}
	if len(perNode) != 1 || perNode[leader] == 0 || len(s.Servers) != 1 || s.Servers[0] != leader {
		t.Errorf("primaries by node %v, servers %v; want only %s", perNode, s.Servers, leader)
	}
}

// targetFromDocker rebuilds a Target of a running cluster from its
// containers' labels, published ports and files: enough for the read
// paths (no REST password, no admin certificate, no URIs).
func targetFromDocker(ctx context.Context, d *Docker, cluster string) (Target, error) {
	cli := d.Client()
	list, err := cli.ContainerList(ctx, container.ListOptions{Filters: filters.NewArgs(
		filters.Arg("label", components.LabelCluster+"="+cluster))})
	if err != nil {
		return Target{}, err
	}
	tg := Target{ClusterName: cluster}
	for _, c := range list {
		if len(c.Names) == 0 {
			continue
		}
		name := strings.TrimPrefix(c.Names[0], "/")
		switch c.Labels[components.LabelComponent] {
		case "postgres":
			tg.Nodes = append(tg.Nodes, name)
		case "consul-server":
			tg.ConsulServers = append(tg.ConsulServers, name)
		case "haproxy":
			tg.HAProxy = name
			for _, p := range c.Ports {
				if p.PrivatePort == 5000 && p.PublicPort != 0 {
					tg.WriteEndpoint = fmt.Sprintf("localhost:%d", p.PublicPort)
				}
				if p.PrivatePort == 5001 && p.PublicPort != 0 {
					tg.ReadEndpoint = fmt.Sprintf("localhost:%d", p.PublicPort)
				}
			}
		}
	}
	sort.Strings(tg.Nodes)
	sort.Strings(tg.ConsulServers)
	if len(tg.Nodes) < 2 || len(tg.ConsulServers) == 0 || tg.HAProxy == "" || tg.WriteEndpoint == "" {
		return tg, fmt.Errorf("cluster %s is not fully running: nodes %v, servers %v, haproxy %q, write endpoint %q",
			cluster, tg.Nodes, tg.ConsulServers, tg.HAProxy, tg.WriteEndpoint)
	}
	res, err := d.Exec(ctx, tg.HAProxy, nil, "cat", templates.MustPath("haproxyCA"))
	if err != nil || res.Code != 0 {
		return tg, fmt.Errorf("reading the CA in %s: %v %s", tg.HAProxy, err, res)
	}
	tg.CACert = res.Stdout
	res, err = d.Exec(ctx, tg.Nodes[0], nil, "cat", templates.MustPath("patroniConfig"))
	if err != nil || res.Code != 0 {
		return tg, fmt.Errorf("reading patroni.yml in %s: %v (exit %d)", tg.Nodes[0], err, res.Code)
	}
	var p struct {
		PostgreSQL struct {
			Authentication struct {
				Superuser struct {
					Username string `yaml:"username"`
					Password string `yaml:"password"`
				} `yaml:"superuser"`
			} `yaml:"authentication"`
		} `yaml:"postgresql"`
	}
	if err := yaml.Unmarshal([]byte(res.Stdout), &p); err != nil || p.PostgreSQL.Authentication.Superuser.Password == "" {
		return tg, fmt.Errorf("no superuser password in %s's patroni.yml", tg.Nodes[0])
	}
	tg.SuperuserPassword = p.PostgreSQL.Authentication.Superuser.Password
	return tg, nil
}

func meanInterval(at []time.Time) time.Duration {
	if len(at) < 2 {
		return 0
	}
	return (at[len(at)-1].Sub(at[0]) / time.Duration(len(at)-1)).Round(time.Millisecond)
}
