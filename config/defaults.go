package config

// Defaults are the values of the old vars/main.yml: three PostgreSQL nodes,
// three Consul servers, HAProxy and PMM on, synchronous replication.
func Defaults() Config {
	var c Config
	c.ApplyDefaults()
	return c
}

// ApplyDefaults fills every unset field. It runs before Validate so that
// validation sees the values the program will use.
func (c *Config) ApplyDefaults() {
	str(&c.Cluster.Name, "pgha")
	boolean(&c.Cluster.Running, true)

	p := &c.Postgres
	num(&p.Nodes, 3)
	if p.SynchronousMode == "" {
		p.SynchronousMode = SyncOn
	}
	num(&p.SynchronousNodeCount, 1)
	boolean(&p.FailsafeMode, true)
	num(&p.TTL, 20)
	num(&p.LoopWait, 2)
	num(&p.RetryTimeout, 7)
	num(&p.MaximumLagOnFailover, 1048576)
	num(&p.MaxConnections, 200)
	num(&p.WaitTimeoutSeconds, 300)
	if p.Parameters == nil {
		p.Parameters = map[string]string{}
	}

	k := &c.Consul
	num(&k.Servers, 3)
	str(&k.Datacenter, "dc1")
	str(&k.Domain, "consul")
	str(&k.Gossip.ProbeInterval, "500ms")
	str(&k.Gossip.ProbeTimeout, "250ms")
	num(&k.Gossip.SuspicionMult, 3)

	str(&c.HAProxy.CheckInterval, "500ms")
	num(&c.HAProxy.MaxConn, 2000)
	num(&c.HAProxy.MaxReplicaLag, 1048576)
	str(&c.HAProxy.ReadFallback, "leader")

	boolean(&c.PMM.Enabled, true)

	t := &c.TLS
	str(&t.Algorithm, "ECDSA")
	str(&t.EcdsaCurve, "P256")
	num(&t.RsaBits, 2048)
	num(&t.CAValidityHours, 87600)
	num(&t.ValidityHours, 8760)
	num(&t.EarlyRenewalHours, 720)

	str(&c.Network.Subnet, "172.28.0.0/24")
	str(&c.Network.PublicHost, "localhost")

	o := &c.Ports
	str(&o.BindAddress, "0.0.0.0")
	num(&o.Write, 5000)
	num(&o.Read, 5001)
	num(&o.Stats, 7000)
	num(&o.Metrics, 8404)
	num(&o.ConsulUI, 8500)
	num(&o.PMM, 8443)

	i := &c.Images
	str(&i.BaseImage, "debian:trixie-slim")
	str(&i.Patroni, "postgres-ha/patroni:4.0.7-pg17")
	str(&i.Consul, "hashicorp/consul:1.16.1")
	str(&i.HAProxy, "haproxy:3.0")
	str(&i.PMMServer, "percona/pmm-server:3")
	str(&i.PMMClient, "percona/pmm-client:3")
}

func str(p *string, v string) {
	if *p == "" {
		*p = v
	}
}

func num(p *int, v int) {
	if *p == 0 {
		*p = v
	}
}

func boolean(p **bool, v bool) {
	if *p == nil {
		*p = &v
	}
}
