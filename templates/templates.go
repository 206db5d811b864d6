// Package templates renders every file postgres-ha puts into a container:
// Consul server and agent configs, ACL policies and the one-shot ACL job,
// patroni.yml, haproxy.cfg and the PMM client files. The templates are files
// beside this one, embedded at build time.
//
// Rendering is deterministic: the same data gives byte-identical output (no
// maps are ranged, no timestamps), so `pulumi preview` after `up` shows no
// diff. Secrets are plain strings here; callers render inside an Apply over
// secret outputs so the result stays a secret.
package templates

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"text/template"
)

//go:embed consul acl patroni haproxy pmm
var files embed.FS

// The files this package renders, by template path.
const (
	ConsulServer  = "consul/server.hcl.tmpl"
	ConsulAgent   = "consul/agent.hcl.tmpl"
	PolicyPatroni = "consul/policies/patroni.hcl.tmpl"
	PolicyPMM     = "consul/policies/pmm.hcl.tmpl"
	ACLBootstrap  = "acl/bootstrap.sh.tmpl"
	ACLToken      = "acl/token.json.tmpl"
	Patroni       = "patroni/patroni.yml.tmpl"
	PostBootstrap = "patroni/post-bootstrap.sh.tmpl"
	// PatroniJobProgram is a plain file, not a template.
	PatroniJobProgram = "patroni/patroni-job.py"
	// PMMTokenProgram is the PMM job's program, a plain file too.
	PMMTokenProgram = "pmm/pmm-token.py"
	HAProxyConfig   = "haproxy/haproxy.cfg.tmpl"
	PMMAgentConfig  = "pmm/pmm-agent.yaml.tmpl"
	PMMRegister     = "pmm/register.sh.tmpl"
)

// parsed holds every template. missingkey=error: a key a map does not
// have fails the render instead of writing "<no value>" into a file.
var parsed = template.Must(template.New("").Option("missingkey=error").Funcs(template.FuncMap{
	"path": Path,
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
}).ParseFS(files, "consul/*.tmpl", "consul/policies/*.tmpl", "acl/*.tmpl", "patroni/*.tmpl", "haproxy/*.tmpl", "pmm/*.tmpl"))

// Render executes the named template (one of the constants above) with data.
func Render(name string, data any) (string, error) {
	t := parsed.Lookup(baseName(name))
	if t == nil {
		return "", fmt.Errorf("rendering %s: no such template", name)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return "", fmt.Errorf("rendering %s: %w", name, err)
	}
	return b.String(), nil
}

func baseName(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[i+1:]
		}
	}
	return p
}
