package cluster

import (
	"encoding/json"
	"os"
	"sort"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// contextSource reads stack config from the Pulumi context. The Go SDK cannot
// list config keys, so the list of keys (to report unknown ones) comes from
// PULUMI_CONFIG, which the engine sets for every program run.
type contextSource struct{ ctx *pulumi.Context }

func (s contextSource) Get(key string) (string, bool) { return s.ctx.GetConfig(key) }

func (s contextSource) Keys() []string {
	var all map[string]string
	if err := json.Unmarshal([]byte(os.Getenv(pulumi.EnvConfig)), &all); err != nil {
		return nil
	}
	keys := make([]string, 0, len(all))
	for k := range all {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
