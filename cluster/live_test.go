package cluster

import (
	"slices"
	"testing"

	"github.com/postgres-ha/postgres-ha/config"
)

func TestNodeOrderPutsTheLeaderLast(t *testing.T) {
	c := config.Defaults()
	c.Postgres.Nodes = 4
	for leader, want := range map[string][]int{
		"":          {1, 2, 3, 4},
		"pgha-pg-1": {2, 3, 4, 1},
		"pgha-pg-3": {1, 2, 4, 3},
		"pgha-pg-4": {1, 2, 3, 4},
		// A leader that is not (or no longer) a node: index order.
		"pgha-pg-9": {1, 2, 3, 4},
	} {
		if got := nodeOrder(c, leader); !slices.Equal(got, want) {
			t.Errorf("nodeOrder(leader %q) = %v, want %v", leader, got, want)
		}
	}
}
