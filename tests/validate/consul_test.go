package validate

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/postgres-ha/postgres-ha/templates"
)

// consulFiles are a stack's Consul configs: "<container>/consul.hcl" with
// the name of the certificate its container holds.
func consulFiles(s *stack) []struct{ file, cert string } {
	var fs []struct{ file, cert string }
	for i := 1; i <= s.cfg.Consul.Servers; i++ {
		fs = append(fs, struct{ file, cert string }{s.cfg.ServerName(i) + "/consul.hcl", "consul-" + s.cfg.ServerName(i)})
	}
	for i := 1; i <= s.cfg.Postgres.Nodes; i++ {
		fs = append(fs, struct{ file, cert string }{s.cfg.AgentContainer(i) + "/consul.hcl", "consul-" + s.cfg.NodeName(i)})
	}
	return fs
}

// consulCheck runs `consul validate` (v1.16.1) on a config directory holding
// content as consul.hcl, with the container's certificate, key and CA and
// the data directory present.
func consulCheck(t *testing.T, s *stack, cert, content string) result {
	t.Helper()
	bin := consulBin(t)
	_, dir := consulRoot(t, s, cert, content)
	name, args := containerNetwork(t, s, bin, "validate", dir)
	return run(t, nil, name, args...)
}

// consulRoot places content as consul.hcl in the config directory with the
// certificate, key and CA of cert and the data directory, under a temporary
// root; it returns the root and the config directory.
func consulRoot(t *testing.T, s *stack, cert, content string) (rooted, string) {
	t.Helper()
	leaf, err := s.pki.Leaf(cert)
	if err != nil {
		t.Fatal(err)
	}
	root := newRoot(t)
	root.write(t, templates.MustPath("consulCA"), s.pki.CA.CertPEM, 0o644)
	root.write(t, templates.MustPath("consulCert"), leaf.CertPEM, 0o644)
	root.write(t, templates.MustPath("consulKey"), leaf.KeyPEM(), 0o600)
	root.mkdir(t, templates.MustPath("consulData"))
	dir := templates.MustPath("consulConfigDir")
	root.write(t, filepath.Join(dir, "consul.hcl"), []byte(root.rewrite(content)), 0o600)
	return root, root.path(dir)
}

// containerNetwork runs argv in a new network namespace shaped like a
// container's on the cluster network: loopback plus one interface with an
// address of the stack's subnet. Consul binds 0.0.0.0 and advertises its
// one private address; on a host with several (Docker bridges), `consul
// validate` refuses to pick one, which says nothing about the file.
func containerNetwork(t *testing.T, s *stack, argv ...string) (string, []string) {
	t.Helper()
	unshare := need(t, "unshare", installDeps)
	ipBin := need(t, "ip", installDeps)
	_, subnet, err := net.ParseCIDR(s.cfg.Network.Subnet)
	if err != nil {
		t.Fatal(err)
	}
	addr := subnet.IP.To4()
	addr = net.IPv4(addr[0], addr[1], addr[2], addr[3]+10)
	ones, _ := subnet.Mask.Size()
	script := fmt.Sprintf(`set -e
%[1]s link set lo up
%[1]s link add eth0 type veth peer name eth0-peer
%[1]s addr add %[2]s/%[3]d dev eth0
%[1]s link set eth0-peer up
%[1]s link set eth0 up
exec "$@"`, ipBin, addr, ones)
	args := []string{"--net"}
	if os.Geteuid() != 0 {
		args = append(args, "--map-root-user")
	}
	return unshare, append(append(args, "sh", "-c", script, "sh"), argv...)
}

func TestConsulAcceptsRenderedConfig(t *testing.T) {
	for _, s := range stacks(t) {
		for _, f := range consulFiles(s) {
			t.Run(s.name+"/"+f.file, func(t *testing.T) {
				t.Parallel()
				r := consulCheck(t, s, f.cert, s.file(t, f.file))
				accept(t, r)
				if r.code == 0 {
					checked.add("consul validate", s.name)
				}
			})
		}
	}
}

func TestConsulRejectsBrokenConfig(t *testing.T) {
	s := stacks(t)[0]
	server := s.file(t, s.cfg.ServerName(1)+"/consul.hcl")
	agent := s.file(t, s.cfg.AgentContainer(1)+"/consul.hcl")
	cases := []struct {
		name, cert, broken string
		want               []string
	}{
		{"unknown key", "consul-" + s.cfg.ServerName(1),
			replaceOnce(t, server, "disable_update_check = true\n", "disable_update_check = true\nfrobnicate = true\n"),
			[]string{"frobnicate"}},
		{"unknown key in a block", "consul-" + s.cfg.NodeName(1),
			replaceOnce(t, agent, "    verify_incoming = true\n", "    verify_incoming = true\n    verify_everything = true\n"),
			[]string{"verify_everything"}},
		{"bad TLS version", "consul-" + s.cfg.ServerName(1),
			replaceOnce(t, server, `tls_min_version = "TLSv1_2"`, `tls_min_version = "TLSv9"`),
			[]string{"TLSv9"}},
		{"bad gossip key", "consul-" + s.cfg.NodeName(1),
			replaceFirst(t, agent, "encrypt              = \"", "encrypt              = \"!!"),
			[]string{"encrypt"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reject(t, consulCheck(t, s, tc.cert, tc.broken), tc.want...)
		})
	}
}
