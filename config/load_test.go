package config_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/postgres-ha/postgres-ha/config"
)

// loadFile reads a stack-config-like YAML file and returns it the way Pulumi
// hands it to the program: one raw string per full key, structured values
// as JSON, plain strings as they are.
func loadFile(t *testing.T, name string) config.MapSource {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	src := config.MapSource{}
	for k, v := range doc {
		if s, ok := v.(string); ok {
			src[k] = s
			continue
		}
		raw, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("%s: %s: %v", name, k, err)
		}
		src[k] = string(raw)
	}
	return src
}

// problems runs Load and returns its error as Problems; a nil slice when the
// config is valid.
func problems(t *testing.T, src config.Source) (config.Config, config.Problems) {
	t.Helper()
	c, err := config.Load(src)
	if err == nil {
		return c, nil
	}
	var ps config.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("Load returned %T %v, want config.Problems", err, err)
	}
	if len(ps) == 0 {
		t.Fatalf("Load returned an empty Problems as a non-nil error")
	}
	return c, ps
}

func TestLoadBad(t *testing.T) {
	tests := []struct {
		file     string
		wantKeys []string
		// wantIn, when set, are substrings every message must contain (the
		// bad value as printed, "allowed" or a named bound).
		wantIn []string
	}{
		// One root cause, one line: no follow-on synchronous-mode complaint.
		{"nodes-one.bad.yaml", []string{"postgres.nodes"}, []string{"1"}},
		{"nodes-too-many.bad.yaml", []string{"postgres.nodes"}, []string{"65", "allowed: 2 to 64"}},
		{"primary-start-timeout.bad.yaml", []string{"postgres.primaryStartTimeout"}, []string{"-5", "allowed: 0 to 3600"}},
		{"servers-even.bad.yaml", []string{"postgres.nodes", "consul.servers"}, nil},
		{"servers-zero.bad.yaml", []string{"consul.servers"}, []string{"0 is not allowed", "allowed: an odd number"}},
		{"servers-nine.bad.yaml", []string{"consul.servers"}, []string{"9", "allowed"}},
		{"ttl-low.bad.yaml", []string{"postgres.ttl", "postgres.ttl"}, []string{"10"}},
		{"loopwait-zero.bad.yaml", []string{"postgres.loopWait"}, []string{"0", "minimum 1"}},
		{"retrytimeout-low.bad.yaml", []string{"postgres.retryTimeout"}, []string{"2", "minimum 3"}},
		{"timings-sum.bad.yaml", []string{"postgres.ttl"}, []string{"20", "= 24", "loop_wait + 2*retry_timeout <= ttl"}},
		{"sync-too-few-nodes.bad.yaml", []string{"postgres.synchronousNodeCount"}, []string{"2 with synchronousMode on", "at least 3 nodes", "allowed"}},
		{"haproxy-read-fallback.bad.yaml", []string{"haproxy.maxReplicaLag", "haproxy.readFallback"}, []string{"allowed"}},
		{"sync-mode-unknown.bad.yaml", []string{"postgres.synchronousMode"}, []string{`"sometimes"`, "allowed: off, on, strict, quorum"}},
		{"sync-mode-number.bad.yaml", []string{"postgres.synchronousMode"}, []string{"2 is not a valid synchronous mode", "allowed: off, on, strict, quorum"}},
		{"sync-quorum-two-nodes.bad.yaml", []string{"postgres.synchronousMode"}, []string{"quorum", "at least 3 nodes", "postgres.nodes is 2", "allowed"}},
		{"namespace-near-miss.bad.yaml", []string{"postgres", "consul"}, []string{"postgres-ha does not read", "allowed: postgres-ha:"}},
		{"dotted-without-path.bad.yaml", []string{"postgres.nodes"}, []string{"without --path", "pulumi config set --path 'postgres-ha:postgres.nodes'"}},
		{"image-two-tags.bad.yaml", []string{"images.baseImage"}, []string{`"debian:bookworm:slim"`, "allowed"}},
		{"image-patroni-digest.bad.yaml", []string{"images.patroni"}, []string{"has a digest", "allowed: name:tag"}},
		{"image-patroni-long-tag.bad.yaml", []string{"images.patroni"}, []string{"120-character tag", "at most 115"}},
		{"build-network.bad.yaml", []string{"images.buildNetwork"}, []string{`"my net"`, "allowed"}},
		{"nodes-huge.bad.yaml", []string{"postgres.nodes"}, []string{"1000", "allowed: 2 to 64"}},
		{"subnet-docker-bridge.bad.yaml", []string{"network.subnet"}, []string{`"172.17.5.0/24"`, "Docker's default bridge", "allowed"}},
		{"subnet-everything.bad.yaml", []string{"network.subnet"}, []string{`"0.0.0.0/0"`, "overlaps", "allowed"}},
		{"subnet-loopback.bad.yaml", []string{"network.subnet"}, []string{`"127.1.0.0/24"`, "loopback"}},
		{"subnet-multicast.bad.yaml", []string{"network.subnet"}, []string{`"224.1.1.0/24"`, "multicast"}},
		{"subnet-link-local.bad.yaml", []string{"network.subnet"}, []string{`"169.254.10.0/24"`, "link-local"}},
		{"public-host-long-label.bad.yaml", []string{"network.publicHost"}, []string{"1-63", "253"}},
		{"sync-count-zero.bad.yaml", []string{"postgres.synchronousNodeCount"}, []string{"0 is below 1"}},
		{"port-zero.bad.yaml", []string{"ports.write"}, []string{"0 is out of range", "allowed: 1-65535"}},
		{"port-too-high.bad.yaml", []string{"ports.stats"}, []string{"70000", "allowed: 1-65535"}},
		{"ports-collide.bad.yaml", []string{"ports.write"}, []string{"5000", "ports.read", "allowed"}},
		{"pmm-port-collides.bad.yaml", []string{"ports.write"}, []string{"5000", "ports.pmm"}},
		{"subnet-not-cidr.bad.yaml", []string{"network.subnet"}, []string{`"172.28.0.0/33"`}},
		{"subnet-ipv6.bad.yaml", []string{"network.subnet"}, []string{`"fd00:28::/64"`, "IPv4"}},
		{"subnet-host-bits.bad.yaml", []string{"network.subnet"}, []string{`"172.28.0.1/24"`, "allowed: the network address 172.28.0.0/24"}},
		{"subnet-too-small.bad.yaml", []string{"network.subnet"}, []string{`"172.28.0.0/29"`, "5 usable", "needs 11", "allowed"}},
		{"name-upper.bad.yaml", []string{"cluster.name"}, []string{`"PGHA"`, "allowed"}},
		{"name-underscore.bad.yaml", []string{"cluster.name"}, []string{`"pg_ha"`, "allowed"}},
		{"name-too-long.bad.yaml", []string{"cluster.name"}, []string{"abcdefghijabcdefghijabcdefghijabcdefghijk", "1-40"}},
		{"name-leading-digit.bad.yaml", []string{"cluster.name"}, []string{`"1pgha"`, "starting with a letter"}},
		{"name-trailing-dash.bad.yaml", []string{"cluster.name"}, []string{`"pgha-"`, "not ending with '-'"}},
		{"image-empty.bad.yaml", []string{"images.patroni"}, []string{`""`, "allowed: a non-empty name"}},
		{"image-space.bad.yaml", []string{"images.haproxy"}, []string{`"haproxy 2.6"`, "no spaces"}},
		{"tls-algorithm.bad.yaml", []string{"tls.algorithm"}, []string{`"DSA"`, "allowed: ECDSA, RSA"}},
		{"tls-curve-p224.bad.yaml", []string{"tls.ecdsaCurve"}, []string{`"P224"`, "allowed: P256, P384, P521"}},
		{"tls-rsa-1024.bad.yaml", []string{"tls.rsaBits"}, []string{"1024", "allowed: 2048, 3072, 4096"}},
		{"tls-validity.bad.yaml", []string{"tls.validityHours"}, []string{"720", "tls.earlyRenewalHours 720"}},
		{"tls-ca-shorter.bad.yaml", []string{"tls.caValidityHours"}, []string{"1000", "tls.validityHours 8760"}},
		{"unknown-top-level.bad.yaml", []string{"postgress"}, []string{"unknown key", "allowed: cluster, consul, haproxy, images, network, pmm, ports, postgres, tls"}},
		{"unknown-nested.bad.yaml", []string{"postgres.node"}, []string{"unknown key", "nodes"}},
		{"unknown-gossip.bad.yaml", []string{"consul.gossip.probeIntervall"}, []string{"unknown key", "allowed: probeInterval, probeTimeout, suspicionMult"}},
		{"mistyped-nodes.bad.yaml", []string{"postgres.nodes"}, []string{`"three"`, "integer"}},
		{"mistyped-bool.bad.yaml", []string{"pmm.enabled"}, []string{`"yes"`, "boolean"}},
		{"mistyped-parameter-value.bad.yaml", []string{"postgres.parameters.work_mem"}, []string{"10 is not a string", `allowed: a quoted value such as "10"`}},
		{"parameter-tls.bad.yaml", []string{"postgres.parameters.ssl_ciphers", "postgres.parameters.ssl_max_protocol_version"}, []string{"managed by postgres-ha (TLS)"}},
		{"parameter-include.bad.yaml", []string{"postgres.parameters.include", "postgres.parameters.include_dir"}, []string{"managed by postgres-ha (config files)"}},
		{"parameter-newline.bad.yaml", []string{"postgres.parameters.work_mem"}, []string{`"4MB\nfsync = off"`, "allowed: a single-line value"}},
		{"parameter-replication.bad.yaml", []string{"postgres.parameters.cluster_name", "postgres.parameters.data_directory",
			"postgres.parameters.primary_conninfo", "postgres.parameters.recovery_target_time",
			"postgres.parameters.synchronous_standby_names", "postgres.parameters.wal_level"}, []string{"managed by postgres-ha ("}},
		{"ttl-high.bad.yaml", []string{"postgres.ttl"}, []string{"100000", "allowed: 20 to 86400"}},
		{"check-interval-fraction.bad.yaml", []string{"haproxy.checkInterval"}, []string{"100.5ms", "whole number of milliseconds"}},
		{"object-as-scalar.bad.yaml", []string{"postgres"}, []string{"3 is not an object"}},
		{"gossip-timeout-not-shorter.bad.yaml", []string{"consul.gossip.probeTimeout"}, []string{"500ms", "consul.gossip.probeInterval"}},
		{"duration-bad.bad.yaml", []string{"haproxy.checkInterval"}, []string{`"fast"`, "not a duration"}},
		{"duration-no-unit.bad.yaml", []string{"consul.gossip.probeInterval"}, []string{`"5"`, "not a duration"}},
		{"duration-out-of-range.bad.yaml", []string{"haproxy.checkInterval"}, []string{"10ms", "allowed: 100ms to 1m0s"}},
		{"parameter-managed.bad.yaml", []string{"postgres.parameters.ssl"}, []string{"managed by postgres-ha"}},
		{"parameter-name.bad.yaml", []string{"postgres.parameters.Shared-Buffers"}, []string{`"Shared-Buffers"`, "allowed"}},
		{"parameter-max-connections.bad.yaml", []string{"postgres.parameters.max_connections"}, []string{"postgres.maxConnections"}},
		{"public-host.bad.yaml", []string{"network.publicHost"}, []string{`"db_host"`}},
		{"bind-address.bad.yaml", []string{"ports.bindAddress"}, []string{`"localhost"`, "allowed"}},
		{"datacenter.bad.yaml", []string{"consul.datacenter"}, []string{`"DC_1"`, "allowed"}},
		{"everything.bad.yaml", []string{
			// decoded field by field, in struct order
			"postgres.node",
			"postgres.nodes",
			// unknown top-level keys
			"postgress",
			// Validate, in struct order
			"cluster.name",
			"postgres.ttl",
			"postgres.ttl",
			"postgres.parameters.ssl",
			"consul.servers",
			"consul.gossip.probeTimeout",
			"tls.rsaBits",
			"network.subnet",
			"ports.bindAddress",
			"ports.write",
			"images.consul",
		}, nil},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		if seen[tt.file] {
			t.Fatalf("%s listed twice", tt.file)
		}
		seen[tt.file] = true
		t.Run(strings.TrimSuffix(tt.file, ".bad.yaml"), func(t *testing.T) {
			_, ps := problems(t, loadFile(t, tt.file))
			if got := ps.Keys(); !reflect.DeepEqual(got, tt.wantKeys) {
				t.Fatalf("keys = %q, want %q\n%v", got, tt.wantKeys, ps)
			}
			for _, p := range ps {
				if strings.TrimSpace(p.Message) == "" {
					t.Errorf("%s: empty message", p.Key)
				}
				for _, want := range tt.wantIn {
					if !strings.Contains(p.Message, want) {
						t.Errorf("%s: message %q does not contain %q", p.Key, p.Message, want)
					}
				}
			}
			// The error names every key under the namespace.
			msg := ps.Error()
			for _, k := range tt.wantKeys {
				if !strings.Contains(msg, config.Namespace+":"+k+": ") {
					t.Errorf("Error() does not name %s:\n%s", k, msg)
				}
			}
		})
	}
	// Every bad file in testdata is in the table, and the other way round.
	files, err := filepath.Glob(filepath.Join("testdata", "*.bad.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !seen[filepath.Base(f)] {
			t.Errorf("%s is not in the table", f)
		}
	}
	if len(files) != len(tests) {
		t.Errorf("%d bad files, %d table rows", len(files), len(tests))
	}
}

func TestLoadEverythingMessages(t *testing.T) {
	_, ps := problems(t, loadFile(t, "everything.bad.yaml"))
	want := map[string]string{
		"postgres.nodes":             `"three"`,
		"cluster.name":               `"Bad_Name"`,
		"consul.servers":             "4",
		"consul.gossip.probeTimeout": "1s",
		"tls.rsaBits":                "1024",
		"network.subnet":             `"10.0.0.1/24"`,
		"ports.bindAddress":          `"everywhere"`,
		"ports.write":                "5000",
		"images.consul":              `""`,
	}
	for _, p := range ps {
		if v, ok := want[p.Key]; ok && !strings.Contains(p.Message, v) {
			t.Errorf("%s: message %q does not contain %s", p.Key, p.Message, v)
		}
	}
	if got := strings.Count(ps.Error(), "\n"); got != len(ps) {
		t.Errorf("Error() has %d lines after the header, want %d:\n%s", got, len(ps), ps.Error())
	}
	if !strings.HasPrefix(ps.Error(), "invalid stack config (14 problems):") {
		t.Errorf("Error() header: %q", strings.SplitN(ps.Error(), "\n", 2)[0])
	}
}

func TestLoadGood(t *testing.T) {
	tests := []struct {
		file  string
		check func(t *testing.T, c config.Config)
	}{
		{"five-nodes-sync-off.good.yaml", func(t *testing.T, c config.Config) {
			if c.Postgres.Nodes != 5 || c.Postgres.Synchronous() {
				t.Errorf("nodes %d synchronous %v, want 5 false", c.Postgres.Nodes, c.Postgres.Synchronous())
			}
		}},
		{"sync-quorum.good.yaml", func(t *testing.T, c config.Config) {
			if c.Postgres.SynchronousMode != config.SyncQuorum || !c.Postgres.Synchronous() || c.Postgres.SynchronousNodeCount != 2 {
				t.Errorf("synchronous mode %q count %d, want quorum 2", c.Postgres.SynchronousMode, c.Postgres.SynchronousNodeCount)
			}
		}},
		{"sync-strict.good.yaml", func(t *testing.T, c config.Config) {
			if c.Postgres.SynchronousMode != config.SyncStrict || !c.Postgres.Synchronous() {
				t.Errorf("synchronous mode %q, want strict", c.Postgres.SynchronousMode)
			}
		}},
		{"image-registry-port.good.yaml", func(t *testing.T, c config.Config) {
			if c.Images.Patroni != "registry.local:5000/team/patroni:4.0.7-pg17" || c.Images.BuildNetwork != "host" {
				t.Errorf("images %+v", c.Images)
			}
		}},
		{"pmm-off.good.yaml", func(t *testing.T, c config.Config) {
			if c.PMM.On() {
				t.Error("PMM is on")
			}
			if _, ok := c.PublishedPorts()["ports.pmm"]; ok {
				t.Error("ports.pmm published with PMM off")
			}
		}},
		{"custom-ports.good.yaml", func(t *testing.T, c config.Config) {
			want := map[string]int{
				"ports.write": 15432, "ports.read": 15433, "ports.stats": 17000,
				"ports.metrics": 18404, "ports.consulUi": 18500, "ports.pmm": 18443,
			}
			if got := c.PublishedPorts(); !reflect.DeepEqual(got, want) {
				t.Errorf("ports = %v, want %v", got, want)
			}
			if c.Ports.BindAddress != "127.0.0.1" {
				t.Errorf("bindAddress = %q", c.Ports.BindAddress)
			}
		}},
		{"rsa-4096.good.yaml", func(t *testing.T, c config.Config) {
			if c.TLS.Algorithm != "RSA" || c.TLS.RsaBits != 4096 {
				t.Errorf("tls = %+v", c.TLS)
			}
		}},
		{"zero-values.good.yaml", func(t *testing.T, c config.Config) {
			if c.Postgres.MaximumLagOnFailover != 0 {
				t.Errorf("maximumLagOnFailover = %d, want the explicit 0", c.Postgres.MaximumLagOnFailover)
			}
			if c.TLS.EarlyRenewalHours != 0 {
				t.Errorf("earlyRenewalHours = %d, want the explicit 0", c.TLS.EarlyRenewalHours)
			}
		}},
		{"full.good.yaml", func(t *testing.T, c config.Config) {
			if c.Cluster.Name != "prod-db" || c.Consul.Servers != 5 || c.Postgres.SynchronousNodeCount != 2 {
				t.Errorf("config = %+v", c)
			}
			if got := c.Postgres.Parameters["pg_stat_statements.track"]; got != "all" {
				t.Errorf("parameter = %q", got)
			}
			// Unset fields next to set ones keep their defaults.
			if c.Postgres.MaxConnections != 200 || c.Consul.Gossip.SuspicionMult != 4 || c.HAProxy.MaxConn != 2000 {
				t.Errorf("defaults lost: %+v", c)
			}
		}},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		seen[tt.file] = true
		t.Run(strings.TrimSuffix(tt.file, ".good.yaml"), func(t *testing.T) {
			c, ps := problems(t, loadFile(t, tt.file))
			if ps != nil {
				t.Fatalf("unexpected problems:\n%v", ps)
			}
			tt.check(t, c)
		})
	}
	files, err := filepath.Glob(filepath.Join("testdata", "*.good.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !seen[filepath.Base(f)] {
			t.Errorf("%s is not in the table", f)
		}
	}
}

func TestLoadEmptyIsDefaults(t *testing.T) {
	for name, src := range map[string]config.MapSource{
		"empty":            {},
		"empty objects":    {"postgres-ha:postgres": "{}", "postgres-ha:consul": `{"gossip":{}}`},
		"nulls":            {"postgres-ha:postgres": `{"nodes":null,"synchronousMode":null,"parameters":null}`, "postgres-ha:pmm": `{"enabled":null}`},
		"other namespaces": {"docker:host": "unix:///var/run/docker.sock", "pulumi:disable-default-providers": `["*"]`},
	} {
		t.Run(name, func(t *testing.T) {
			c, ps := problems(t, src)
			if ps != nil {
				t.Fatalf("unexpected problems:\n%v", ps)
			}
			if want := config.Defaults(); !reflect.DeepEqual(c, want) {
				t.Errorf("Load = %+v\nwant %+v", c, want)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	c := config.Defaults()
	if ps := c.Validate(); len(ps) != 0 {
		t.Fatalf("defaults do not validate:\n%v", ps)
	}
	ints := []struct {
		name      string
		got, want int
	}{
		{"postgres.nodes", c.Postgres.Nodes, 3},
		{"consul.servers", c.Consul.Servers, 3},
		{"postgres.synchronousNodeCount", c.Postgres.SynchronousNodeCount, 1},
		{"ports.write", c.Ports.Write, 5000},
		{"ports.read", c.Ports.Read, 5001},
		{"ports.stats", c.Ports.Stats, 7000},
		{"ports.metrics", c.Ports.Metrics, 8404},
		{"ports.consulUi", c.Ports.ConsulUI, 8500},
		{"ports.pmm", c.Ports.PMM, 8443},
	}
	for _, tt := range ints {
		if tt.got != tt.want {
			t.Errorf("%s = %d, want %d", tt.name, tt.got, tt.want)
		}
	}
	bools := []struct {
		name      string
		got, want bool
	}{
		{"pmm.enabled", c.PMM.On(), true},
		{"postgres.synchronousMode", c.Postgres.Synchronous(), true},
		{"postgres.failsafeMode", c.Postgres.Failsafe(), true},
		{"cluster.running", c.Cluster.IsRunning(), true},
	}
	for _, tt := range bools {
		if tt.got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
	if c.Cluster.Name != "pgha" {
		t.Errorf("cluster.name = %q", c.Cluster.Name)
	}
}

// ApplyDefaults only fills what is unset.
func TestApplyDefaultsKeepsSetValues(t *testing.T) {
	off := false
	c := config.Config{}
	c.Postgres.Nodes = 5
	c.PMM.Enabled = &off
	c.Ports.Write = 6000
	c.Cluster.Name = "x"
	c.ApplyDefaults()
	if c.Postgres.Nodes != 5 || c.PMM.On() || c.Ports.Write != 6000 || c.Cluster.Name != "x" {
		t.Errorf("set values overwritten: %+v", c)
	}
	if c.Consul.Servers != 3 || c.Ports.Read != 5001 {
		t.Errorf("unset values not defaulted: %+v", c)
	}
}

func TestMapSourceKeysSorted(t *testing.T) {
	m := config.MapSource{"b": "1", "a": "2", "c": "3"}
	if got := m.Keys(); !sort.StringsAreSorted(got) || len(got) != 3 {
		t.Errorf("Keys = %q", got)
	}
	if v, ok := m.Get("a"); !ok || v != "2" {
		t.Errorf("Get(a) = %q %v", v, ok)
	}
	if _, ok := m.Get("z"); ok {
		t.Error("Get(z) found")
	}
}
