package config

import (
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"
	"time"
)

var (
	dnsLabel  = regexp.MustCompile(`^[a-z]([a-z0-9-]*[a-z0-9])?$`)
	hostname  = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)
	paramName = regexp.MustCompile(`^[a-z_][a-z0-9_.]*$`)
	// imageRef is Docker's reference grammar: [registry[:port]/]path[:tag][@digest].
	imageRef = regexp.MustCompile(`^([a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]+)?/)?[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*` +
		`(:(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(@sha256:[0-9a-f]{64})?$`)
	networkName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)
)

// MaxNodes is the most PostgreSQL nodes a cluster may have; HAProxy lists
// a server for every one of them.
const MaxNodes = 64

// MaxServers is the most Consul servers a cluster may have.
const MaxServers = 7

// maxNameLen keeps the longest derived name ("<name>-pg-NN-consul") a DNS label.
const maxNameLen = 40

// Validate checks a defaulted config and returns every problem, in key order
// of the config struct. It is pure: nothing is registered.
func (c Config) Validate() Problems {
	var ps Problems
	c.validateCluster(&ps)
	c.validatePostgres(&ps)
	c.validateConsul(&ps)
	c.validateHAProxy(&ps)
	c.validateTLS(&ps)
	c.validateNetwork(&ps)
	c.validatePorts(&ps)
	c.validateImages(&ps)
	return ps
}

func (c Config) validateCluster(ps *Problems) {
	n := c.Cluster.Name
	if !dnsLabel.MatchString(n) || len(n) > maxNameLen {
		ps.add("cluster.name", "%q is not usable as a DNS label and container-name prefix; allowed: 1-%d of a-z, 0-9 and '-', starting with a letter, not ending with '-'", n, maxNameLen)
	}
}

func (c Config) validatePostgres(ps *Problems) {
	p := c.Postgres
	between(ps, "postgres.nodes", p.Nodes, 2, MaxNodes, "a cluster needs a leader and at least one replica")
	nodesOK := p.Nodes >= 2 && p.Nodes <= MaxNodes
	if p.TTL < 20 {
		ps.add("postgres.ttl", "%d is below Patroni's minimum 20", p.TTL)
	} else if p.TTL > 86400 {
		ps.add("postgres.ttl", "%d is out of range; allowed: 20 to 86400 (a Consul session lasts at most 24 h)", p.TTL)
	}
	if p.LoopWait < 1 {
		ps.add("postgres.loopWait", "%d is below Patroni's minimum 1", p.LoopWait)
	}
	if p.RetryTimeout < 3 {
		ps.add("postgres.retryTimeout", "%d is below Patroni's minimum 3", p.RetryTimeout)
	}
	if p.LoopWait+2*p.RetryTimeout > p.TTL {
		ps.add("postgres.ttl", "%d is less than loopWait + 2*retryTimeout = %d + 2*%d = %d; Patroni requires loop_wait + 2*retry_timeout <= ttl",
			p.TTL, p.LoopWait, p.RetryTimeout, p.LoopWait+2*p.RetryTimeout)
	}
	modeOK := slices.Contains(SyncModes, p.SynchronousMode)
	if !modeOK {
		ps.add("postgres.synchronousMode", "%q is not a synchronous mode; allowed: %s", p.SynchronousMode, joinModes())
	}
	switch {
	case p.SynchronousNodeCount < 1:
		ps.add("postgres.synchronousNodeCount", "%d is below 1", p.SynchronousNodeCount)
	case !nodesOK || !modeOK:
	case p.SynchronousMode == SyncQuorum && p.Nodes < max(3, p.SynchronousNodeCount+1):
		ps.add("postgres.synchronousMode", "quorum with synchronousNodeCount %d needs at least %d nodes (a quorum of standbys to choose from), postgres.nodes is %d; allowed: more nodes, or synchronousMode on or strict",
			p.SynchronousNodeCount, max(3, p.SynchronousNodeCount+1), p.Nodes)
	case p.Synchronous() && p.Nodes < p.SynchronousNodeCount+1:
		ps.add("postgres.synchronousNodeCount", "%d with synchronousMode %s needs at least %d nodes, postgres.nodes is %d; allowed: more nodes, a lower count, or synchronousMode off",
			p.SynchronousNodeCount, p.SynchronousMode, p.SynchronousNodeCount+1, p.Nodes)
	}
	between(ps, "postgres.primaryStartTimeout", p.PrimaryStartTimeout, 0, 3600,
		"0 fails over at once after a crash, more lets the primary restart in place first")
	if p.MaximumLagOnFailover < 0 {
		ps.add("postgres.maximumLagOnFailover", "%d is negative; allowed: bytes >= 0", p.MaximumLagOnFailover)
	}
	between(ps, "postgres.maxConnections", p.MaxConnections, 10, 10000, "")
	between(ps, "postgres.waitTimeoutSeconds", p.WaitTimeoutSeconds, 30, 3600, "")
	for _, k := range sortedKeys(p.Parameters) {
		key := "postgres.parameters." + k
		switch {
		case !paramName.MatchString(k):
			ps.add(key, "%q is not a PostgreSQL parameter name; allowed: lower-case letters, digits, '_' and '.'", k)
		case k == "max_connections":
			ps.add(key, "set postgres.maxConnections instead")
		case ParameterOwner(k) != "":
			ps.add(key, "is managed by postgres-ha (%s) and cannot be set here", ParameterOwner(k))
		case !singleLine(p.Parameters[k]):
			ps.add(key, "%q contains a newline or another control character; allowed: a single-line value", p.Parameters[k])
		}
	}
}

func (c Config) validateConsul(ps *Problems) {
	k := c.Consul
	if k.Servers < 1 || k.Servers > MaxServers || k.Servers%2 == 0 {
		ps.add("consul.servers", "%d is not allowed; allowed: an odd number from 1 to 7 (Raft needs a majority)", k.Servers)
	}
	if !dnsLabel.MatchString(k.Datacenter) {
		ps.add("consul.datacenter", "%q is not a DNS label; allowed: a-z, 0-9 and '-'", k.Datacenter)
	}
	if !dnsLabel.MatchString(k.Domain) {
		ps.add("consul.domain", "%q is not a DNS label; allowed: a-z, 0-9 and '-'", k.Domain)
	}
	interval := duration(ps, "consul.gossip.probeInterval", k.Gossip.ProbeInterval, 100*time.Millisecond, time.Minute)
	timeout := duration(ps, "consul.gossip.probeTimeout", k.Gossip.ProbeTimeout, 50*time.Millisecond, time.Minute)
	if interval > 0 && timeout > 0 && timeout >= interval {
		ps.add("consul.gossip.probeTimeout", "%s is not shorter than consul.gossip.probeInterval %s; allowed: a timeout below the interval", k.Gossip.ProbeTimeout, k.Gossip.ProbeInterval)
	}
	between(ps, "consul.gossip.suspicionMult", k.Gossip.SuspicionMult, 1, 10, "")
}

func (c Config) validateHAProxy(ps *Problems) {
	if d := duration(ps, "haproxy.checkInterval", c.HAProxy.CheckInterval, 100*time.Millisecond, time.Minute); d%time.Millisecond != 0 {
		ps.add("haproxy.checkInterval", "%s is not a whole number of milliseconds; allowed: e.g. 500ms, 1.5s", c.HAProxy.CheckInterval)
	}
	between(ps, "haproxy.maxConn", c.HAProxy.MaxConn, 1, 100000, "")
	between(ps, "haproxy.maxReplicaLag", c.HAProxy.MaxReplicaLag, 0, 1<<40,
		"bytes of WAL a replica may be behind in replay and still serve reads")
	if f := c.HAProxy.ReadFallback; f != "leader" && f != "none" {
		ps.add("haproxy.readFallback", "%q is not allowed; allowed: leader (reads go to the leader when no replica is within maxReplicaLag), none (the read port refuses them)", f)
	}
}

func (c Config) validateTLS(ps *Problems) {
	t := c.TLS
	switch t.Algorithm {
	case "ECDSA":
		if !contains([]string{"P256", "P384", "P521"}, t.EcdsaCurve) {
			ps.add("tls.ecdsaCurve", "%q is not allowed; allowed: P256, P384, P521 (Go's TLS in Consul rejects P224)", t.EcdsaCurve)
		}
	case "RSA":
		if t.RsaBits != 2048 && t.RsaBits != 3072 && t.RsaBits != 4096 {
			ps.add("tls.rsaBits", "%d is not allowed; allowed: 2048, 3072, 4096", t.RsaBits)
		}
	default:
		ps.add("tls.algorithm", "%q is not allowed; allowed: ECDSA, RSA", t.Algorithm)
	}
	if t.EarlyRenewalHours < 0 {
		ps.add("tls.earlyRenewalHours", "%d is negative; allowed: hours >= 0", t.EarlyRenewalHours)
	}
	if t.ValidityHours <= t.EarlyRenewalHours {
		ps.add("tls.validityHours", "%d is not longer than the renewal window tls.earlyRenewalHours %d; certificates would be renewed on every run", t.ValidityHours, t.EarlyRenewalHours)
	}
	if t.CAValidityHours < t.ValidityHours {
		ps.add("tls.caValidityHours", "%d is shorter than tls.validityHours %d; leaf certificates would outlive their CA", t.CAValidityHours, t.ValidityHours)
	}
}

func (c Config) validateNetwork(ps *Problems) {
	if h := c.Network.PublicHost; net.ParseIP(h) == nil && !validHostname(h) {
		ps.add("network.publicHost", "%q is neither a host name nor an IP address; allowed: labels of 1-63 of a-z, 0-9 and '-', 253 characters in all", h)
	}
	s := c.Network.Subnet
	ip, ipnet, err := net.ParseCIDR(s)
	if err != nil || ip.To4() == nil {
		ps.add("network.subnet", "%q is not an IPv4 CIDR such as 172.28.0.0/24", s)
		return
	}
	if !ip.Equal(ipnet.IP) {
		ps.add("network.subnet", "%q has host bits set; allowed: the network address %s", s, ipnet.String())
	}
	for _, r := range reservedNets {
		_, rn, _ := net.ParseCIDR(r.cidr)
		if rn.Contains(ipnet.IP) || ipnet.Contains(rn.IP) {
			ps.add("network.subnet", "%q overlaps %s (%s); allowed: a private range of its own such as 172.28.0.0/24", s, r.cidr, r.what)
			return
		}
	}
	ones, bits := ipnet.Mask.Size()
	usable := 1<<(bits-ones) - 3 // network, broadcast, gateway
	// A bad count is reported once, under its own key.
	countsOK := c.Postgres.Nodes >= 2 && c.Postgres.Nodes <= MaxNodes && c.Consul.Servers >= 1 && c.Consul.Servers <= MaxServers
	if need := c.Addresses(); countsOK && usable < need {
		ps.add("network.subnet", "%q has %d usable addresses but the cluster needs %d; allowed: a larger subnet (smaller prefix)", s, max(usable, 0), need)
	}
}

// reservedNets are ranges a cluster network must not overlap.
var reservedNets = []struct{ cidr, what string }{
	{"0.0.0.0/8", "\"this network\""},
	{"127.0.0.0/8", "loopback"},
	{"169.254.0.0/16", "link-local"},
	{"172.17.0.0/16", "Docker's default bridge"},
	{"224.0.0.0/4", "multicast"},
	{"240.0.0.0/4", "reserved"},
}

// validHostname is a DNS name: labels of 1-63 characters, 253 in all.
func validHostname(h string) bool {
	if len(h) > 253 || !hostname.MatchString(h) {
		return false
	}
	for _, l := range strings.Split(h, ".") {
		if len(l) > 63 {
			return false
		}
	}
	return true
}

func (c Config) validatePorts(ps *Problems) {
	if net.ParseIP(c.Ports.BindAddress) == nil {
		ps.add("ports.bindAddress", "%q is not an IP address; allowed: e.g. 0.0.0.0 or 127.0.0.1", c.Ports.BindAddress)
	}
	seen := map[int]string{}
	published := c.PublishedPorts()
	for _, key := range sortedKeys(published) {
		port := published[key]
		if port < 1 || port > 65535 {
			ps.add(key, "%d is out of range; allowed: 1-65535", port)
			continue
		}
		if other, dup := seen[port]; dup {
			ps.add(key, "%d is already used by %s; allowed: a port no other setting uses", port, other)
			continue
		}
		seen[port] = key
	}
}

func (c Config) validateImages(ps *Problems) {
	images := map[string]string{
		"images.baseImage": c.Images.BaseImage,
		"images.patroni":   c.Images.Patroni,
		"images.consul":    c.Images.Consul,
		"images.haproxy":   c.Images.HAProxy,
	}
	if c.PMM.On() {
		images["images.pmmServer"] = c.Images.PMMServer
		images["images.pmmClient"] = c.Images.PMMClient
	}
	for _, key := range sortedKeys(images) {
		if ref := images[key]; !imageRef.MatchString(ref) {
			ps.add(key, "%q is not an image reference; allowed: a non-empty name such as repo/name:tag, lower-case repository, no spaces", ref)
		}
	}
	// The program tags its Patroni build <images.patroni>-<12 hex digits>.
	if ref := c.Images.Patroni; imageRef.MatchString(ref) {
		m := imageRef.FindStringSubmatch(ref)
		tag := m[imageRef.SubexpIndex("tag")]
		switch {
		case strings.Contains(ref, "@"):
			ps.add("images.patroni", "%q has a digest; allowed: name:tag (the program builds this image and tags it itself)", ref)
		case tag == "":
			ps.add("images.patroni", "%q has no tag; allowed: name:tag (the program appends -<content hash> to the tag)", ref)
		case len(tag) > 115:
			ps.add("images.patroni", "%q has a %d-character tag; allowed: at most 115 (the program appends a 13-character -<content hash>)", ref, len(tag))
		}
	}
	if n := c.Images.BuildNetwork; n != "" && !networkName.MatchString(n) {
		ps.add("images.buildNetwork", "%q is not a Docker network name; allowed: empty (Docker's default), host, none or a network's name", n)
	}
}

func between(ps *Problems, key string, v, lo, hi int, why string) {
	if v < lo || v > hi {
		msg := fmt.Sprintf("%d is out of range; allowed: %d to %d", v, lo, hi)
		if why != "" {
			msg += " (" + why + ")"
		}
		ps.add(key, "%s", msg)
	}
}

// duration parses a Go duration and checks its bounds; 0 means invalid.
func duration(ps *Problems, key, v string, lo, hi time.Duration) time.Duration {
	d, err := time.ParseDuration(v)
	if err != nil {
		ps.add(key, "%q is not a duration; allowed: Go form such as 500ms or 2s", v)
		return 0
	}
	if d < lo || d > hi {
		ps.add(key, "%s is out of range; allowed: %s to %s", v, lo, hi)
		return 0
	}
	return d
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func joinModes() string {
	names := make([]string, len(SyncModes))
	for i, m := range SyncModes {
		names[i] = string(m)
	}
	return strings.Join(names, ", ")
}
