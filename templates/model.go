package templates

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/postgres-ha/postgres-ha/config"
)

// Values are the generated values files embed: secrets, ACL token IDs and
// Consul node IDs. The program fills it inside an Apply over pulumi-random
// outputs, so whatever is rendered from it stays a Pulumi secret.
type Values struct {
	GossipKey           string
	ManagementToken     string
	SuperuserPassword   string
	ReplicationPassword string
	RewindPassword      string
	RestAPIPassword     string
	StatsPassword       string
	PMMAdminPassword    string
	PMMDBPassword       string
	// Tokens by TokenSpec.Name.
	Tokens map[string]Token
	// NodeIDs are Consul node_ids by node name: stable across container
	// replacement, so a re-created agent is not a new node.
	NodeIDs map[string]string
}

// Token is one Consul ACL token.
type Token struct {
	AccessorID string
	SecretID   string
}

// TokenSpec describes one ACL token the ACL job creates.
type TokenSpec struct {
	Name           string
	Description    string
	Policies       []string
	NodeIdentities []string
}

// PolicySpec is one ACL policy the ACL job creates from a template.
type PolicySpec struct {
	Name        string
	Description string
	Template    string
}

// File is one rendered file.
type File struct {
	Name    string
	Content string
}

// Policies lists the ACL policies of a cluster. Agents need none: their
// tokens carry a node identity (node write on their own name only).
func Policies(c config.Config) []PolicySpec {
	ps := []PolicySpec{{Name: "patroni-" + c.Cluster.Name, Description: "Patroni DCS keys, sessions and service", Template: PolicyPatroni}}
	if c.PMM.On() {
		ps = append(ps, PolicySpec{Name: "pmm-" + c.Cluster.Name, Description: "PMM read-only metrics and catalog", Template: PolicyPMM})
	}
	return ps
}

// Tokens lists every ACL token of a cluster, least privilege each: a node
// identity per agent, the Patroni policy per node, read-only for PMM.
func Tokens(c config.Config) []TokenSpec {
	var ts []TokenSpec
	for i := 1; i <= c.Consul.Servers; i++ {
		n := c.ServerName(i)
		ts = append(ts, TokenSpec{Name: "agent-" + n, Description: "agent token of Consul server " + n, NodeIdentities: []string{n}})
	}
	for i := 1; i <= c.Postgres.Nodes; i++ {
		n := c.NodeName(i)
		ts = append(ts,
			TokenSpec{Name: "agent-" + n, Description: "agent token of node " + n, NodeIdentities: []string{n}},
			TokenSpec{Name: "patroni-" + n, Description: "Patroni of node " + n, Policies: []string{"patroni-" + c.Cluster.Name}})
	}
	if c.PMM.On() {
		ts = append(ts, TokenSpec{Name: "pmm", Description: "PMM metrics", Policies: []string{"pmm-" + c.Cluster.Name}})
	}
	return ts
}

// NodeNames lists every Consul node name: servers, then PostgreSQL nodes.
func NodeNames(c config.Config) []string {
	var ns []string
	for i := 1; i <= c.Consul.Servers; i++ {
		ns = append(ns, c.ServerName(i))
	}
	for i := 1; i <= c.Postgres.Nodes; i++ {
		ns = append(ns, c.NodeName(i))
	}
	return ns
}

func servers(c config.Config) []string {
	s := make([]string, c.Consul.Servers)
	for i := range s {
		s[i] = c.ServerName(i + 1)
	}
	return s
}

func (v Values) token(name string) (Token, error) {
	t, ok := v.Tokens[name]
	if !ok || t.SecretID == "" {
		return Token{}, fmt.Errorf("no ACL token %q", name)
	}
	return t, nil
}

type consulData struct {
	Cluster, NodeName, NodeID, Datacenter, Domain string
	BootstrapExpect                               int
	RetryJoin                                     []string
	Encrypt, InitialManagement, AgentToken        string
	Gossip                                        config.Gossip
}

func consulFile(c config.Config, name, tmpl string, v Values, management string) (string, error) {
	t, err := v.token("agent-" + name)
	if err != nil {
		return "", err
	}
	return Render(tmpl, consulData{
		Cluster: c.Cluster.Name, NodeName: name, NodeID: v.NodeIDs[name],
		Datacenter: c.Consul.Datacenter, Domain: c.Consul.Domain,
		BootstrapExpect: c.Consul.Servers, RetryJoin: servers(c),
		Encrypt: v.GossipKey, InitialManagement: management, AgentToken: t.SecretID,
		Gossip: c.Consul.Gossip,
	})
}

// ConsulServerFile renders the config of Consul server i (1-based).
func ConsulServerFile(c config.Config, i int, v Values) (string, error) {
	return consulFile(c, c.ServerName(i), ConsulServer, v, v.ManagementToken)
}

// ConsulAgentFile renders the config of node i's Consul agent.
func ConsulAgentFile(c config.Config, i int, v Values) (string, error) {
	return consulFile(c, c.NodeName(i), ConsulAgent, v, "")
}

// PolicyFiles renders every ACL policy, named <policy>.hcl.
func PolicyFiles(c config.Config) ([]File, error) {
	var fs []File
	for _, p := range Policies(c) {
		s, err := Render(p.Template, struct{ Cluster, Scope, NodePrefix string }{
			c.Cluster.Name, c.ServiceName(), c.Cluster.Name + "-pg-"})
		if err != nil {
			return nil, err
		}
		fs = append(fs, File{Name: p.Name + ".hcl", Content: s})
	}
	return fs, nil
}

// TokenFile renders one token's API body (secret).
func TokenFile(c config.Config, spec TokenSpec, v Values) (string, error) {
	t, err := v.token(spec.Name)
	if err != nil {
		return "", err
	}
	return Render(ACLToken, struct {
		TokenSpec
		Token
		Datacenter string
	}{spec, t, c.Consul.Datacenter})
}

// TokenFiles renders each token's API body, named <token>.json (secret).
func TokenFiles(c config.Config, v Values) ([]File, error) {
	var fs []File
	for _, spec := range Tokens(c) {
		s, err := TokenFile(c, spec, v)
		if err != nil {
			return nil, err
		}
		fs = append(fs, File{Name: spec.Name + ".json", Content: s})
	}
	return fs, nil
}

// ACLBootstrapFile renders the ACL job's script. It holds AccessorIDs only.
func ACLBootstrapFile(c config.Config, v Values) (string, error) {
	type tok struct{ Name, AccessorID string }
	var toks []tok
	for _, spec := range Tokens(c) {
		t, err := v.token(spec.Name)
		if err != nil {
			return "", err
		}
		toks = append(toks, tok{spec.Name, t.AccessorID})
	}
	return Render(ACLBootstrap, struct {
		Cluster, Server string
		TimeoutSeconds  int
		Policies        []PolicySpec
		Tokens          []tok
	}{c.Cluster.Name, c.ServerName(1), c.Postgres.WaitTimeoutSeconds, Policies(c), toks})
}

// PatroniFile renders patroni.yml of node i.
func PatroniFile(c config.Config, i int, v Values) (string, error) {
	name := c.NodeName(i)
	t, err := v.token("patroni-" + name)
	if err != nil {
		return "", err
	}
	return Render(Patroni, map[string]any{
		"Scope": c.ServiceName(), "Name": name, "Datacenter": c.Consul.Datacenter,
		"RestPassword": v.RestAPIPassword, "ConsulToken": t.SecretID, "BootstrapDCS": BootstrapDCS(),
		"SuperuserPassword": v.SuperuserPassword, "ReplicationPassword": v.ReplicationPassword,
		"RewindPassword": v.RewindPassword, "Subnet": c.Network.Subnet,
	})
}

// PostBootstrapFile renders the script Patroni runs once after initdb.
func PostBootstrapFile(c config.Config) (string, error) {
	return Render(PostBootstrap, map[string]any{"Scope": c.ServiceName(), "PMM": c.PMM.On()})
}

// HAProxyFile renders haproxy.cfg. Its servers come from Docker's DNS: a
// server-template of config.MaxNodes slots filled with the addresses of
// the name every node container answers to (NodesAlias), so adding or
// removing a node changes no HAProxy file and replaces no HAProxy.
func HAProxyFile(c config.Config, v Values) (string, error) {
	return Render(HAProxyConfig, map[string]any{
		"Cluster": c.Cluster.Name, "MaxConn": c.HAProxy.MaxConn, "CheckInterval": haproxyTime(c.HAProxy.CheckInterval),
		"StatsPassword": v.StatsPassword, "Alias": c.NodesAlias(), "Slots": config.MaxNodes,
		"MaxReplicaLag": c.HAProxy.MaxReplicaLag, "ReadFallback": c.HAProxy.ReadFallback == "leader",
	})
}

// haproxyTime writes a validated Go duration in HAProxy's time format,
// which has no fractions: whole milliseconds.
func haproxyTime(d string) string {
	v, err := time.ParseDuration(d)
	if err != nil {
		return d
	}
	return fmt.Sprintf("%dms", v.Milliseconds())
}

// PMMServerPort is where PMM 3's server listens for HTTPS inside its
// container (PMM 2 listened on 443); ports.pmm publishes it.
const PMMServerPort = 8443

// PMMAgentFile renders node i's pmm-agent.yaml. It holds no credential:
// PMM 3 clients register with the service-account token the PMM job keeps
// in the token volume, which the sidecar hands pmm-agent at start.
func PMMAgentFile(c config.Config, i int) (string, error) {
	return Render(PMMAgentConfig, map[string]any{
		"Cluster": c.Cluster.Name, "Node": c.NodeName(i), "Server": fmt.Sprintf("%s:%d", c.PMMName(), PMMServerPort),
	})
}

// PMMToken is the PMM job's settings.json (no secret in it).
type PMMToken struct {
	Server         string `json:"server"`
	Port           int    `json:"port"`
	ServiceAccount string `json:"serviceAccount"`
	TokenFile      string `json:"tokenFile"`
	TokenUID       int    `json:"tokenUid"`
	TimeoutSeconds int    `json:"timeoutSeconds"`
}

// PMMTokenSettings renders the PMM job's settings.json. The pmm-client
// sidecars run as root, so the token file is root's; PMM's first start
// takes minutes, hence at least 10 minutes to wait for it.
func PMMTokenSettings(c config.Config) (string, error) {
	b, err := json.MarshalIndent(PMMToken{
		Server: c.PMMName(), Port: PMMServerPort, ServiceAccount: c.Cluster.Name + "-pmm-clients",
		TokenFile: MustPath("pmmToken"), TokenUID: 0, TimeoutSeconds: max(600, c.Postgres.WaitTimeoutSeconds),
	}, "", "  ")
	return string(b) + "\n", err
}

// PMMTokenScript is the PMM job's Python program (run from the Patroni
// image, which has python3).
func PMMTokenScript() (string, error) {
	b, err := files.ReadFile(PMMTokenProgram)
	return string(b), err
}

// PMMRegisterFile renders node i's PMM registration script.
func PMMRegisterFile(c config.Config, i int) (string, error) {
	return Render(PMMRegister, map[string]any{"Cluster": c.Cluster.Name, "Node": c.NodeName(i)})
}
