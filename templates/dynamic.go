package templates

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/postgres-ha/postgres-ha/config"
)

// Dynamic is the part of Patroni's dynamic configuration postgres-ha owns:
// what GET /config returns and PATCH /config changes on a running cluster.
//
// Patroni reads bootstrap.dcs from patroni.yml only when it initialises a
// new cluster, so a value rendered there and changed later has no effect.
// The stack's settings therefore reach Patroni through the patroni-config
// job (PatroniJobSettings), and patroni.yml bootstraps every cluster with
// the same defaults (BootstrapDCS): a settings change edits no node file
// and replaces no node.
type Dynamic struct {
	TTL                  int `json:"ttl"`
	LoopWait             int `json:"loop_wait"`
	RetryTimeout         int `json:"retry_timeout"`
	MaximumLagOnFailover int `json:"maximum_lag_on_failover"`
	PrimaryStartTimeout  int `json:"primary_start_timeout"`
	// SynchronousMode is false, true or "quorum"; strict is true with
	// SynchronousModeStrict.
	SynchronousMode       any  `json:"synchronous_mode"`
	SynchronousModeStrict bool `json:"synchronous_mode_strict"`
	SynchronousNodeCount  int  `json:"synchronous_node_count"`
	FailsafeMode          bool `json:"failsafe_mode"`
	PostgreSQL            struct {
		UsePgRewind bool `json:"use_pg_rewind"`
		UseSlots    bool `json:"use_slots"`
		// Parameters are strings (Patroni accepts either and GET /config
		// returns what was set), encoded with sorted keys.
		Parameters map[string]string `json:"parameters"`
	} `json:"postgresql"`
}

// FixedParameters are the PostgreSQL parameters every cluster gets; stack
// parameters cannot override them (config.ParameterOwner), but for
// shared_preload_libraries, which a stack extends. Slots and senders leave
// room for a node being added or re-cloned, and stay 10 up to 5 nodes so
// that scaling a small cluster needs no restart.
func FixedParameters(nodes int) map[string]string {
	senders := strconv.Itoa(max(10, nodes+5))
	return map[string]string{
		"wal_level":                "replica",
		"hot_standby":              "on",
		"wal_log_hints":            "on",
		"max_wal_senders":          senders,
		"max_replication_slots":    senders,
		"wal_keep_size":            "256MB",
		"shared_preload_libraries": "pg_stat_statements",
	}
}

// DynamicConfig is the dynamic configuration of a validated config.
func DynamicConfig(c config.Config) Dynamic {
	p := c.Postgres
	d := Dynamic{
		TTL: p.TTL, LoopWait: p.LoopWait, RetryTimeout: p.RetryTimeout,
		MaximumLagOnFailover: p.MaximumLagOnFailover, PrimaryStartTimeout: p.PrimaryStartTimeout,
		SynchronousMode: p.Synchronous(), SynchronousModeStrict: p.SynchronousMode == config.SyncStrict,
		SynchronousNodeCount: p.SynchronousNodeCount,
		FailsafeMode:         p.Failsafe(),
	}
	if p.SynchronousMode == config.SyncQuorum {
		d.SynchronousMode = "quorum"
	}
	d.PostgreSQL.UsePgRewind = true
	d.PostgreSQL.UseSlots = true
	params := FixedParameters(p.Nodes)
	params["max_connections"] = strconv.Itoa(p.MaxConnections)
	for k, v := range p.Parameters {
		if k == "shared_preload_libraries" {
			// A stack's libraries extend the program's (PMM's query
			// analytics needs pg_stat_statements).
			v = extendList(params[k], v)
		}
		params[k] = v
	}
	d.PostgreSQL.Parameters = params
	return d
}

// BootstrapDCS is bootstrap.dcs of every node: the defaults' dynamic
// configuration, whatever the stack says. The patroni-config job, which
// runs after the nodes on every `up` that changes a setting, brings a new
// cluster to the stack's values within seconds of its bootstrap.
func BootstrapDCS() Dynamic {
	return DynamicConfig(config.Defaults())
}

// PatroniJob is the patroni-config and hand-over jobs' settings.json.
type PatroniJob struct {
	// Nodes are the member names the cluster has at full strength; none
	// for a hand-over, so that scaling reruns no hand-over.
	Nodes []string `json:"nodes,omitempty"`
	// Config is the dynamic configuration to apply; nil for a hand-over.
	Config *Dynamic `json:"config,omitempty"`
	// TimeoutSeconds bounds each wait (postgres.waitTimeoutSeconds).
	TimeoutSeconds int `json:"timeoutSeconds"`
}

// PatroniJobSettings renders the patroni-config job's settings.json: the
// nodes and the whole dynamic configuration. It holds no secret; its
// content is what triggers a rerun of the job.
func PatroniJobSettings(c config.Config) (string, error) {
	d := DynamicConfig(c)
	return jobSettings(PatroniJob{Nodes: nodeNames(c), Config: &d, TimeoutSeconds: c.Postgres.WaitTimeoutSeconds})
}

// HandOverSettings renders a hand-over job's settings.json.
func HandOverSettings(c config.Config) (string, error) {
	return jobSettings(PatroniJob{TimeoutSeconds: c.Postgres.WaitTimeoutSeconds})
}

func jobSettings(j PatroniJob) (string, error) {
	b, err := json.MarshalIndent(j, "", "  ")
	return string(b) + "\n", err
}

// PatroniJobScript is the Python program both Patroni jobs run (from the
// Patroni image, which has python3): `apply-config` and `hand-over NODE`.
func PatroniJobScript() (string, error) {
	b, err := files.ReadFile(PatroniJobProgram)
	return string(b), err
}

// extendList appends the comma-separated items of more to list, once each.
func extendList(list, more string) string {
	items := strings.Split(list, ",")
	for _, m := range strings.Split(more, ",") {
		if m = strings.TrimSpace(m); m != "" && !slices.Contains(items, m) {
			items = append(items, m)
		}
	}
	return strings.Join(items, ",")
}

func nodeNames(c config.Config) []string {
	ns := make([]string, c.Postgres.Nodes)
	for i := range ns {
		ns[i] = c.NodeName(i + 1)
	}
	return ns
}
