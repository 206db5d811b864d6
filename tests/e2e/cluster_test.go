package e2e

// The scenarios run in this order on one shared deployment; stop/start
// goes last because it replaces every container.

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestBootstrap: the deployed cluster has exactly one leader and N-1
// streaming replicas, every Consul server and agent is alive, Patroni has
// registered its service with role tags, and the ACL job exited 0.
func TestBootstrap(t *testing.T) {
	h := deployment(t)
	ctx := context.Background()
	t0 := time.Now()
	defer func() { t.Logf("timing: bootstrap checks %.1fs", time.Since(t0).Seconds()) }()

	t.Run("ACL job exited 0", func(t *testing.T) {
		name := h.c.ACLJobName()
		st, err := h.cli.ContainerInspect(ctx, name)
		if err != nil {
			t.Fatalf("inspecting %s: %v", name, err)
		}
		if st.State.Running || st.State.ExitCode != 0 {
			t.Fatalf("%s: running %v, exit code %d; logs:\n%s", name, st.State.Running, st.State.ExitCode,
				h.r.containerLogs(ctx, st.ID, "40"))
		}
		e := h.r.lookup(tokContainer, h.c.Cluster.Name)
		if e == nil || e.inputs["name"] != name {
			t.Fatalf("realizer has no container resource for the ACL job")
		}
		if code, ok := e.outputs["exitCode"]; !ok || code.NumberValue() != 0 {
			t.Fatalf("ACL job resource exitCode output = %v", code)
		}
	})

	var leader string
	t.Run("one leader within 60s, N-1 replicas streaming within 120s", func(t *testing.T) {
		var err error
		if leader, err = h.waitHealthy(ctx, 120*time.Second); err != nil {
			t.Fatal(err)
		}
		names, err := h.streaming(ctx, leader)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, n := range h.nodes() {
			if n != leader {
				want = append(want, n)
			}
		}
		sort.Strings(want)
		if strings.Join(names, ",") != strings.Join(want, ",") {
			t.Fatalf("pg_stat_replication on %s: streaming %v, want %v", leader, names, want)
		}
	})

	t.Run("every Consul server and agent alive", func(t *testing.T) {
		token := h.export(t, "consulManagementToken")
		srv := h.servers()[0]
		if err := h.copyFile(ctx, srv, "/tmp/e2e-management.token", []byte(token), 0o600); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{}
		for _, s := range h.servers() {
			want[s] = "server"
		}
		for _, n := range h.nodes() {
			want[n] = "client"
		}
		err := eventually(60*time.Second, time.Second, func() error {
			res, err := h.exec(ctx, srv, "", []string{"CONSUL_HTTP_TOKEN_FILE=/tmp/e2e-management.token"}, "consul", "members")
			if err != nil {
				return err
			}
			if res.code != 0 {
				return errorf("consul members: %s", res)
			}
			got := map[string]string{}
			for _, line := range strings.Split(strings.TrimSpace(res.stdout), "\n")[1:] {
				f := strings.Fields(line)
				if len(f) >= 4 && f[2] == "alive" {
					got[f[0]] = f[3]
				}
			}
			for n, typ := range want {
				if got[n] != typ {
					return errorf("member %s: want alive %s; consul members:\n%s", n, typ, res.stdout)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})

	t.Run("Patroni services registered with role tags", func(t *testing.T) {
		token := h.export(t, "consulManagementToken")
		if leader == "" {
			t.Skip("no leader")
		}
		err := eventually(60*time.Second, time.Second, func() error {
			code, body, err := h.consul(ctx, "/v1/catalog/service/"+h.c.ServiceName(), token)
			if err != nil {
				return err
			}
			if code != 200 {
				return errorf("catalog: HTTP %d: %s", code, body)
			}
			var svcs []struct {
				Node        string
				ServiceID   string
				ServiceTags []string
			}
			if err := json.Unmarshal([]byte(body), &svcs); err != nil {
				return err
			}
			tags := map[string]string{}
			for _, s := range svcs {
				tags[s.Node] = strings.Join(s.ServiceTags, ",")
			}
			for _, n := range h.nodes() {
				role := "replica"
				if n == leader {
					role = "primary"
				}
				if !hasTag(tags[n], role) && !(role == "primary" && hasTag(tags[n], "master")) {
					return errorf("service %s on node %s: tags %q, want %s; catalog: %v",
						h.c.ServiceName(), n, tags[n], role, tags)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

func hasTag(tags, tag string) bool {
	for _, t := range strings.Split(tags, ",") {
		if t == tag {
			return true
		}
	}
	return false
}
