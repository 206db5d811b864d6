package validate

import (
	"strings"
	"testing"

	"github.com/postgres-ha/postgres-ha/templates"
)

// haproxyCheck writes cfg (already rendered) with the stack's real CA and
// haproxy.pem under a temporary root and runs `haproxy -c`. A warning fails
// the check as an error does (a deprecated or ignored keyword only warns),
// except that the nodes' container names do not resolve outside their
// Docker network.
func haproxyCheck(t *testing.T, s *stack, cfg string) result {
	t.Helper()
	leaf, err := s.pki.Leaf("haproxy")
	if err != nil {
		t.Fatal(err)
	}
	root := newRoot(t)
	root.write(t, templates.MustPath("haproxyCA"), s.pki.CA.CertPEM, 0o644)
	root.write(t, templates.MustPath("haproxyPEM"), leaf.Bundle(), 0o600)
	path := root.write(t, templates.MustPath("haproxyConfig"), []byte(root.rewrite(cfg)), 0o644)
	// `user haproxy` and `group haproxy` must exist where the check runs:
	// Debian's haproxy package creates them in the image.
	r := haproxyImage.run(t, "", haproxyEnv, "haproxy", "-c", "-f", path)
	if r.code == 0 {
		if w := haproxyWarnings(r.stderr); len(w) > 0 {
			r.code = -1
			r.stderr += "--- warnings fail the check:\n" + strings.Join(w, "\n") + "\n"
		}
	}
	return r
}

// haproxyEnv keeps glibc from waiting on DNS for a name only Docker's DNS
// knows, should a config ever resolve one at startup.
var haproxyEnv = []string{"RES_OPTIONS=single-request timeout:1 attempts:1"}

// haproxyWarnings lists haproxy's warnings and alerts: every one fails the
// check (the servers resolve at run time only, init-addr none).
func haproxyWarnings(stderr string) []string {
	var out []string
	for _, line := range strings.Split(stderr, "\n") {
		if strings.Contains(line, "[WARNING]") || strings.Contains(line, "[ALERT]") {
			out = append(out, line)
		}
	}
	return out
}

func TestHAProxyAcceptsRenderedConfig(t *testing.T) {
	for _, s := range stacks(t) {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			r := haproxyCheck(t, s, s.file(t, s.cfg.HAProxyName()+"/haproxy.cfg"))
			accept(t, r)
			if r.code == 0 {
				checked.add("haproxy -c", s.name)
			}
		})
	}
}

func TestHAProxyRejectsBrokenConfig(t *testing.T) {
	s := stacks(t)[0]
	cfg := s.file(t, s.cfg.HAProxyName()+"/haproxy.cfg")
	server := " verifyhost " + s.cfg.NodesAlias() + "\n"
	cases := []struct {
		name   string
		broken string
		want   []string
	}{
		{"unknown keyword", replaceOnce(t, cfg, "    option dontlognull\n", "    option dontlognull\n    frobnicate yes\n"), []string{"frobnicate"}},
		{"unknown server option", replaceFirst(t, cfg, server, " verifyhost "+s.cfg.NodesAlias()+" bogus-option\n"), []string{"bogus-option"}},
		{"bad timeout", replaceOnce(t, cfg, "timeout check 2s", "timeout check soon"), []string{"timeout"}},
		// Valid syntax that HAProxy ignores with a warning fails as well.
		{"keyword that only warns", replaceOnce(t, cfg, "    bind :5001\n", "    bind :5001\n    option httplog\n"), []string{"httplog"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reject(t, haproxyCheck(t, s, tc.broken), tc.want...)
		})
	}
	t.Run("missing certificate", func(t *testing.T) {
		t.Parallel()
		root := newRoot(t)
		root.write(t, templates.MustPath("haproxyCA"), s.pki.CA.CertPEM, 0o644)
		path := root.write(t, templates.MustPath("haproxyConfig"), []byte(root.rewrite(cfg)), 0o644)
		reject(t, haproxyImage.run(t, "", haproxyEnv, "haproxy", "-c", "-f", path), "haproxy.pem")
	})
}
