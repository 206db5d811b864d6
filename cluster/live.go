package cluster

import (
	"context"
	"encoding/json"
	"os/exec"
	"time"

	"github.com/postgres-ha/postgres-ha/config"
	"github.com/postgres-ha/postgres-ha/templates"
)

// LeaderOf names the node that leads the deployed cluster now, or "" when
// none can be asked (first deployment, no Docker CLI, cluster stopped). The
// program declares the nodes with the leader last, so that a change that
// replaces every node rolls the replicas first and hands the leadership over
// once. Tests that need a fixed order replace it.
var LeaderOf = liveLeader

// liveLeader asks each node's Patroni for GET /cluster from inside its own
// container, with the node's client certificate (Patroni requires one), so
// it needs no published port and no secret from the state.
func liveLeader(c config.Config) string {
	ca, cert, key := templates.MustPath("pgCA"), templates.MustPath("pgCert"), templates.MustPath("pgKey")
	for i := 1; i <= c.Postgres.Nodes; i++ {
		node := c.NodeName(i)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		out, err := exec.CommandContext(ctx, "docker", "exec", "-u", "postgres", node,
			"curl", "-sf", "--max-time", "3", "--cacert", ca, "--cert", cert, "--key", key,
			"https://"+node+":8008/cluster").Output()
		cancel()
		if err != nil {
			continue
		}
		var view struct {
			Members []struct{ Name, Role string } `json:"members"`
		}
		if json.Unmarshal(out, &view) != nil {
			continue
		}
		for _, m := range view.Members {
			if m.Role == "leader" || m.Role == "primary" {
				return m.Name
			}
		}
	}
	return ""
}

// nodeOrder lists the node indexes in the order the program chains them:
// by number, with the current leader moved last.
func nodeOrder(c config.Config, leader string) []int {
	var order []int
	last := 0
	for i := 1; i <= c.Postgres.Nodes; i++ {
		if c.NodeName(i) == leader {
			last = i
			continue
		}
		order = append(order, i)
	}
	if last != 0 {
		order = append(order, last)
	}
	return order
}
