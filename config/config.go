// Package config holds the typed stack configuration of postgres-ha: the
// structured objects under the `postgres-ha:` namespace, their defaults and
// one validation that reports every problem at once.
//
// It is plain data: nothing here registers a resource, so the program can
// load, default and validate the whole config before touching Pulumi.
package config

import "encoding/json"

// Namespace is the Pulumi config namespace (the project name).
const Namespace = "postgres-ha"

// Config is the whole stack configuration.
type Config struct {
	Cluster  Cluster  `json:"cluster"`
	Postgres Postgres `json:"postgres"`
	Consul   Consul   `json:"consul"`
	HAProxy  HAProxy  `json:"haproxy"`
	PMM      PMM      `json:"pmm"`
	TLS      TLS      `json:"tls"`
	Network  Network  `json:"network"`
	Ports    Ports    `json:"ports"`
	Images   Images   `json:"images"`
}

// Cluster names the deployment and switches it on and off.
type Cluster struct {
	// Name prefixes every container, volume and network, and is the Patroni
	// scope; it must be a DNS label.
	Name string `json:"name"`
	// Running false stops every container and keeps the volumes (the old
	// `make stop`); `pulumi destroy` removes everything.
	Running *bool `json:"running"`
}

// Postgres configures the Patroni/PostgreSQL nodes.
type Postgres struct {
	Nodes int `json:"nodes"`
	// SynchronousMode is how commits wait for standbys (see SyncMode):
	// with any but off, a committed write survives a failover.
	SynchronousMode SyncMode `json:"synchronousMode"`
	// SynchronousNodeCount is Patroni's synchronous_node_count.
	SynchronousNodeCount int `json:"synchronousNodeCount"`
	// FailsafeMode keeps the primary running when the DCS is lost but every
	// member is still reachable.
	FailsafeMode *bool `json:"failsafeMode"`
	// TTL, LoopWait and RetryTimeout are Patroni's timings in seconds.
	TTL          int `json:"ttl"`
	LoopWait     int `json:"loopWait"`
	RetryTimeout int `json:"retryTimeout"`
	// MaximumLagOnFailover is in bytes.
	MaximumLagOnFailover int `json:"maximumLagOnFailover"`
	// PrimaryStartTimeout is Patroni's primary_start_timeout in seconds:
	// how long a crashed primary may take to restart in place before a
	// replica takes over. 0 fails over at once, which loses nothing in
	// synchronous mode and beats crash recovery in place by seconds.
	PrimaryStartTimeout int `json:"primaryStartTimeout"`
	MaxConnections      int `json:"maxConnections"`
	// Parameters are extra PostgreSQL parameters for the bootstrap DCS config.
	Parameters map[string]string `json:"parameters"`
	// WaitTimeoutSeconds bounds how long `pulumi up` waits for a node.
	WaitTimeoutSeconds int `json:"waitTimeoutSeconds"`
}

// Consul configures the Consul servers and the per-node agents.
type Consul struct {
	Servers    int    `json:"servers"`
	Datacenter string `json:"datacenter"`
	Domain     string `json:"domain"`
	// Gossip tunes LAN gossip on every server and agent: failure detection
	// time is what bounds a node-loss failover.
	Gossip Gossip `json:"gossip"`
}

// Gossip is Consul's gossip_lan block.
type Gossip struct {
	ProbeInterval string `json:"probeInterval"`
	ProbeTimeout  string `json:"probeTimeout"`
	SuspicionMult int    `json:"suspicionMult"`
}

// HAProxy configures the router in front of the nodes.
type HAProxy struct {
	// CheckInterval is the health-check interval against Patroni's REST API.
	CheckInterval string `json:"checkInterval"`
	MaxConn       int    `json:"maxConn"`
	// MaxReplicaLag (bytes) is how far behind the leader a replica may
	// replay and still serve reads on the read port.
	MaxReplicaLag int `json:"maxReplicaLag"`
	// ReadFallback is where reads go when no replica qualifies: "leader"
	// or "none" (the read port refuses them).
	ReadFallback string `json:"readFallback"`
}

// PMM switches Percona Monitoring and Management on or off.
type PMM struct {
	Enabled *bool `json:"enabled"`
}

// TLS sets the key algorithm and lifetimes of the cluster PKI.
type TLS struct {
	Algorithm         string `json:"algorithm"`
	EcdsaCurve        string `json:"ecdsaCurve"`
	RsaBits           int    `json:"rsaBits"`
	CAValidityHours   int    `json:"caValidityHours"`
	ValidityHours     int    `json:"validityHours"`
	EarlyRenewalHours int    `json:"earlyRenewalHours"`
}

// Network is the bridge network every container joins.
type Network struct {
	Subnet string `json:"subnet"`
	// PublicHost is the name clients use to reach the published ports; it
	// goes into the server certificates and the connection URIs.
	PublicHost string `json:"publicHost"`
}

// Ports are the host ports the cluster publishes.
type Ports struct {
	BindAddress string `json:"bindAddress"`
	Write       int    `json:"write"`
	Read        int    `json:"read"`
	Stats       int    `json:"stats"`
	Metrics     int    `json:"metrics"`
	ConsulUI    int    `json:"consulUi"`
	PMM         int    `json:"pmm"`
}

// Images are the container images. Patroni is built by the program from
// templates/images/patroni on BaseImage; the others are used as given.
type Images struct {
	BaseImage string `json:"baseImage"`
	Patroni   string `json:"patroni"`
	Consul    string `json:"consul"`
	HAProxy   string `json:"haproxy"`
	PMMServer string `json:"pmmServer"`
	PMMClient string `json:"pmmClient"`
	// BuildNetwork is the network of the Patroni image build (like
	// `docker build --network`); "host" lets apt reach a mirror that build
	// containers cannot. Empty means Docker's default.
	BuildNetwork string `json:"buildNetwork"`
}

// IsRunning reports whether containers should run.
func (c Cluster) IsRunning() bool { return c.Running == nil || *c.Running }

// Synchronous reports whether commits wait for a standby (on, strict or
// quorum).
func (p Postgres) Synchronous() bool { return p.SynchronousMode != SyncOff }

// Failsafe reports whether Patroni's failsafe mode is on.
func (p Postgres) Failsafe() bool { return p.FailsafeMode == nil || *p.FailsafeMode }

// On reports whether PMM is deployed.
func (p PMM) On() bool { return p.Enabled == nil || *p.Enabled }

// SyncMode is postgres.synchronousMode, Patroni's synchronous modes:
//   - off: commits do not wait for a standby (asynchronous replication);
//   - on: a commit waits for synchronousNodeCount named standbys; with none
//     left the primary goes on alone (Patroni's synchronous_mode);
//   - strict: the same, but with no standby left commits wait: no commit is
//     ever acknowledged on one copy (synchronous_mode_strict);
//   - quorum: a commit waits for any synchronousNodeCount of the standbys
//     (ANY k), so one slow standby costs nothing (Patroni 4's quorum mode).
//
// YAML true and false are read as on and off, the values of older stacks.
type SyncMode string

// The synchronous modes.
const (
	SyncOff    SyncMode = "off"
	SyncOn     SyncMode = "on"
	SyncStrict SyncMode = "strict"
	SyncQuorum SyncMode = "quorum"
)

// SyncModes lists the allowed values, in order.
var SyncModes = []SyncMode{SyncOff, SyncOn, SyncStrict, SyncQuorum}

// UnmarshalJSON reads a boolean as on or off, and a string as written
// (Validate checks it).
func (m *SyncMode) UnmarshalJSON(b []byte) error {
	var on bool
	if err := json.Unmarshal(b, &on); err == nil {
		*m = map[bool]SyncMode{true: SyncOn, false: SyncOff}[on]
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*m = SyncMode(s)
	return nil
}
