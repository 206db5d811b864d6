package templates

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"

	"github.com/postgres-ha/postgres-ha/config"
)

// All renders every file of a cluster, named "<container>/<file>", in a
// fixed order. Golden tests and the real-software validators use it; the
// components render the same functions one container at a time.
func All(c config.Config, v Values) ([]File, error) {
	var out []File
	add := func(name string, s string, err error) error {
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, File{Name: name, Content: s})
		return nil
	}
	for i := 1; i <= c.Consul.Servers; i++ {
		s, err := ConsulServerFile(c, i, v)
		if err := add(c.ServerName(i)+"/consul.hcl", s, err); err != nil {
			return nil, err
		}
	}
	for i := 1; i <= c.Postgres.Nodes; i++ {
		s, err := ConsulAgentFile(c, i, v)
		if err := add(c.AgentContainer(i)+"/consul.hcl", s, err); err != nil {
			return nil, err
		}
		s, err = PatroniFile(c, i, v)
		if err := add(c.NodeName(i)+"/patroni.yml", s, err); err != nil {
			return nil, err
		}
		if c.PMM.On() {
			s, err = PMMAgentFile(c, i)
			if err := add(c.PMMClientContainer(i)+"/pmm-agent.yaml", s, err); err != nil {
				return nil, err
			}
			s, err = PMMRegisterFile(c, i)
			if err := add(c.PMMClientContainer(i)+"/register.sh", s, err); err != nil {
				return nil, err
			}
		}
	}
	s, err := PostBootstrapFile(c)
	if err := add("patroni/post-bootstrap.sh", s, err); err != nil {
		return nil, err
	}
	s, err = HAProxyFile(c, v)
	if err := add(c.HAProxyName()+"/haproxy.cfg", s, err); err != nil {
		return nil, err
	}
	s, err = ACLBootstrapFile(c, v)
	if err := add(c.ACLJobName()+"/bootstrap.sh", s, err); err != nil {
		return nil, err
	}
	s, err = PatroniJobSettings(c)
	if err := add(c.PatroniJobName()+"/settings.json", s, err); err != nil {
		return nil, err
	}
	s, err = HandOverSettings(c)
	if err := add(c.HandOverJobName(1)+"/settings.json", s, err); err != nil {
		return nil, err
	}
	if c.PMM.On() {
		s, err = PMMTokenSettings(c)
		if err := add(c.PMMTokenJobName()+"/settings.json", s, err); err != nil {
			return nil, err
		}
	}
	policies, err := PolicyFiles(c)
	if err != nil {
		return nil, err
	}
	for _, f := range policies {
		out = append(out, File{Name: c.ACLJobName() + "/policies/" + f.Name, Content: f.Content})
	}
	tokens, err := TokenFiles(c, v)
	if err != nil {
		return nil, err
	}
	for _, f := range tokens {
		out = append(out, File{Name: c.ACLJobName() + "/tokens/" + f.Name, Content: f.Content})
	}
	return out, nil
}

// Placeholders returns well-formed, deterministic stand-ins for every value
// (UUIDs, a 32-byte gossip key, passwords) derived from their names. They are
// for golden files and validators only: never for a deployment.
func Placeholders(c config.Config) Values {
	v := Values{
		GossipKey:           base64.StdEncoding.EncodeToString(digest("gossip")[:32]),
		ManagementToken:     uuid("management"),
		SuperuserPassword:   password("superuser"),
		ReplicationPassword: password("replication"),
		RewindPassword:      password("rewind"),
		RestAPIPassword:     password("restapi"),
		StatsPassword:       password("stats"),
		PMMAdminPassword:    password("pmm-admin"),
		PMMDBPassword:       password("pmm-db"),
		Tokens:              map[string]Token{},
		NodeIDs:             map[string]string{},
	}
	for _, t := range Tokens(c) {
		v.Tokens[t.Name] = Token{AccessorID: uuid("accessor-" + t.Name), SecretID: uuid("secret-" + t.Name)}
	}
	for _, n := range NodeNames(c) {
		v.NodeIDs[n] = uuid("node-" + n)
	}
	return v
}

func digest(s string) []byte {
	d := sha256.Sum256([]byte("postgres-ha placeholder " + s))
	return d[:]
}

func uuid(s string) string {
	d := digest(s)
	d[6] = d[6]&0x0f | 0x40
	d[8] = d[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", d[0:4], d[4:6], d[6:8], d[8:10], d[10:16])
}

func password(s string) string {
	return "placeholder-" + base64.RawURLEncoding.EncodeToString(digest(s)[:12])
}
