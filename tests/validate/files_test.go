package validate

import (
	"path"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// validatedBy names, for every kind of rendered file, the real software
// that checks it in this package. A new kind of file fails
// TestEveryRenderedFileIsValidated until it is given one.
var validatedBy = []struct{ pattern, validator string }{
	{"*/consul.hcl", "consul validate"},
	{"*/patroni.yml", "patroni --validate-config; PostgreSQL 15 runs its parameters and pg_hba"},
	{"*/haproxy.cfg", "haproxy -c"},
	{"patroni/post-bootstrap.sh", "sh -n; run by sh against PostgreSQL 15"},
	{"*/bootstrap.sh", "sh -n"},
	{"*/register.sh", "sh -n"},
	{"*/policies/*.hcl", "consul acl policy create on a Consul dev agent"},
	{"*/tokens/*.json", "PUT /v1/acl/token on a Consul dev agent"},
	// pmm-agent is not packaged for Debian: YAML only, and its server is
	// covered by the certificate checks.
	{"*/pmm-agent.yaml", "YAML parse"},
	{"*/settings.json", "patroni-job.py's own patch logic (python3); PostgreSQL 15 runs its parameters"},
}

func validatorOf(name string) string {
	for _, v := range validatedBy {
		if ok, _ := path.Match(v.pattern, name); ok {
			return v.validator
		}
	}
	return ""
}

func TestEveryRenderedFileIsValidated(t *testing.T) {
	for _, s := range stacks(t) {
		for _, f := range s.files {
			if validatorOf(f.Name) == "" {
				t.Errorf("stack %s renders %s, which no validator in tests/validate checks; add one to validatedBy and a test", s.name, f.Name)
			}
		}
	}
}

func TestShellScriptsParse(t *testing.T) {
	sh := need(t, "sh", installDeps)
	for _, s := range stacks(t) {
		for _, f := range s.files {
			if !strings.HasSuffix(f.Name, ".sh") {
				continue
			}
			t.Run(s.name+"/"+f.Name, func(t *testing.T) {
				t.Parallel()
				if !strings.HasPrefix(f.Content, "#!/bin/sh\n") {
					t.Errorf("%s does not start with #!/bin/sh", f.Name)
				}
				p := filepath.Join(t.TempDir(), path.Base(f.Name))
				mustWrite(t, p, f.Content, 0o755)
				r := run(t, nil, sh, "-n", p)
				accept(t, r)
				if r.code == 0 {
					checked.add("sh -n", s.name)
				}
			})
		}
	}
}

func TestShellRejectsBrokenScript(t *testing.T) {
	sh := need(t, "sh", installDeps)
	s := stacks(t)[0]
	script := s.file(t, s.cfg.ACLJobName()+"/bootstrap.sh")
	broken := replaceOnce(t, script, "\nhas_leader() {\n", "\nhas_leader() {\n  if true; then\n")
	p := filepath.Join(t.TempDir(), "bootstrap.sh")
	mustWrite(t, p, broken, 0o755)
	reject(t, run(t, nil, sh, "-n", p), "Syntax error")
}

func TestPMMAgentConfigParses(t *testing.T) {
	for _, s := range stacks(t) {
		if !s.cfg.PMM.On() {
			continue
		}
		for i := 1; i <= s.cfg.Postgres.Nodes; i++ {
			name := s.cfg.PMMClientContainer(i) + "/pmm-agent.yaml"
			var doc struct {
				Server struct {
					Address     string `yaml:"address"`
					InsecureTLS *bool  `yaml:"insecure-tls"`
				} `yaml:"server"`
			}
			if err := yaml.Unmarshal([]byte(s.file(t, name)), &doc); err != nil {
				t.Errorf("%s/%s: %v", s.name, name, err)
				continue
			}
			if doc.Server.Address == "" || doc.Server.InsecureTLS == nil || *doc.Server.InsecureTLS {
				t.Errorf("%s/%s: server address %q, insecure-tls %v", s.name, name, doc.Server.Address, doc.Server.InsecureTLS)
				continue
			}
			checked.add("pmm-agent.yaml (YAML)", s.name)
		}
	}
}
