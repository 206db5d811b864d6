package program_test

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/postgres-ha/postgres-ha/components"
	"github.com/postgres-ha/postgres-ha/config"
	"github.com/postgres-ha/postgres-ha/templates"
)

// pmmOn is the PMM switch of the sized stacks.
const pmmOn = `{"enabled":true}`

// sized is a stack of n PostgreSQL nodes and s Consul servers with PMM on.
func sized(n, s int) stackCfg {
	return stackCfg{
		"postgres": fmt.Sprintf(`{"nodes":%d}`, n),
		"consul":   fmt.Sprintf(`{"servers":%d}`, s),
		"pmm":      pmmOn,
	}
}

// expectedCounts is what the program must register for c, per type token,
// read off the components.
func expectedCounts(t testing.TB, c config.Config) map[string]int {
	t.Helper()
	n, s := c.Postgres.Nodes, c.Consul.Servers
	pmm, running := b2i(c.PMM.On()), b2i(c.Cluster.IsRunning())

	// Leaf certificates: one per Consul server; a Consul-agent and a node
	// certificate per PostgreSQL node; HAProxy, the ACL job and the admin
	// client; the Patroni jobs' client; PMM's server when on.
	certs := len(c.Certs())
	if certs != s+2*n+4+pmm {
		t.Fatalf("c.Certs() has %d certificates, want servers + 2*nodes + 4 + pmm = %d", certs, s+2*n+4+pmm)
	}
	// ACL tokens: an agent token per server; an agent and a Patroni token
	// per node; PMM's when on. Each has an accessor and a secret UUID.
	tokens := len(templates.Tokens(c))
	if tokens != s+2*n+pmm {
		t.Fatalf("templates.Tokens has %d tokens, want servers + 2*nodes + pmm = %d", tokens, s+2*n+pmm)
	}
	consulNodes := s + n // a stable node_id UUID each

	want := map[string]int{
		// Servers, the ACL, patroni-config and PMM jobs and a hand-over job
		// per node (only when running), per node Patroni + Consul agent +
		// pmm-client, HAProxy, the PMM server.
		tContainer: s + running*(2+n+pmm) + n*(1+1+pmm) + 1 + pmm,
		// Consul server data, PGDATA per node, PMM data and the clients' token.
		tVolume:  s + n + 2*pmm,
		tNetwork: 1,
		// The Patroni image is built; Consul, HAProxy and PMM's two are pulled.
		tImage:       1,
		tRemoteImage: 2 + 2*pmm,
		// The CA's key and one per leaf.
		tPrivateKey:    1 + certs,
		tSelfSigned:    1,
		tCertRequest:   certs,
		tLocallySigned: certs,
		// superuser, replication, rewind, restapi, stats, pmm-admin, pmm-db:
		// always seven, PMM or not.
		tPassword: 7,
		// The management token, an accessor and a secret per ACL token, a
		// node_id per Consul node.
		tUUID:  1 + 2*tokens + consulNodes,
		tBytes: 1, // the gossip key

		compPkg + "Secrets":       1,
		compPkg + "PKI":           1,
		compPkg + "Network":       1,
		compPkg + "Images":        1,
		compPkg + "ConsulCluster": 1,
		compPkg + "ConsulACL":     running,
		compPkg + "PatroniConfig": running,
		compPkg + "PostgresNode":  n,
		compPkg + "HAProxy":       1,
		compPkg + "PMMServer":     pmm,
	}
	maps.DeleteFunc(want, func(_ string, v int) bool { return v == 0 })
	return want
}

func checkCounts(t *testing.T, r *result) {
	t.Helper()
	got, want := r.counts(), expectedCounts(t, r.cfg)
	for _, k := range sortedKeys(want) {
		if got[k] != want[k] {
			t.Errorf("%s: %d registered, want %d", k, got[k], want[k])
		}
	}
	for _, k := range sortedKeys(got) {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: %d registered, want none", k, got[k])
		}
	}
}

// 1. Resource and component counts per type token.
func TestResourceCounts(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  stackCfg
	}{
		{"3 nodes 3 servers", sized(3, 3)},
		{"5 nodes 3 servers", sized(5, 3)},
		{"7 nodes 5 servers", sized(7, 5)},
		{"lab stack (PMM off)", loadStackFile(t, "lab")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkCounts(t, mustRun(t, tc.cfg))
		})
	}
}

// The dev stack, as Pulumi.dev.yaml sets it; its counts are logged.
func TestDevStackCounts(t *testing.T) {
	r := mustRun(t, loadStackFile(t, "dev"))
	checkCounts(t, r)
	got := r.counts()
	total := 0
	for _, k := range sortedKeys(got) {
		t.Logf("%-50s %3d", k, got[k])
		total += got[k]
	}
	t.Logf("%-50s %3d", "total", total)
}

// 2. Every custom resource is a child of a component; components sit under
// the stack.
func TestParents(t *testing.T) {
	r := mustRun(t, sized(3, 3))
	children := map[string]int{}
	for _, rec := range r.recs {
		parent := r.byURN[rec.Parent]
		if !rec.Custom {
			if !strings.HasPrefix(rec.Type, compPkg) {
				t.Errorf("%s: a component of type %s outside %s", rec.URN, rec.Type, compPkg)
			}
			if parent != nil || !strings.Contains(rec.Parent, "::pulumi:pulumi:Stack::") {
				t.Errorf("component %s: parent %q, want the stack", rec.URN, rec.Parent)
			}
			continue
		}
		switch {
		case parent == nil:
			t.Errorf("%s: parent %q is not a registered component (orphan)", rec.URN, rec.Parent)
		case parent.Custom || !strings.HasPrefix(parent.Type, compPkg):
			t.Errorf("%s: parent %s is not a component", rec.URN, rec.Parent)
		default:
			children[parent.URN]++
		}
	}
	for _, rec := range r.recs {
		if !rec.Custom && children[rec.URN] == 0 {
			t.Errorf("component %s has no children", rec.URN)
		}
	}
}

// Docker objects have fixed names, so a replacement must delete the old one
// first or Docker refuses the duplicate name.
func TestDeleteBeforeReplace(t *testing.T) {
	r := mustRun(t, sized(3, 3))
	for _, typ := range []string{tContainer, tVolume, tNetwork} {
		for _, rec := range r.ofType(typ) {
			if str(rec.Inputs, "name") == "" {
				t.Errorf("%s: no fixed name", rec.URN)
			}
			if !rec.DeleteBeforeReplace {
				t.Errorf("%s: named %q but not deleteBeforeReplace", rec.URN, str(rec.Inputs, "name"))
			}
		}
	}
}

// Every container logs with explicit json-file options (the provider reads
// log_opts back with the daemon's defaults merged in: left unset, each
// preview replaces it), and every long-running container is replaced when
// start changes (the provider updates start in place, stopping nothing);
// only while stopped are its ports, never published, ignored.
func TestLogOptionsAndRunningSwitch(t *testing.T) {
	for _, running := range []bool{true, false} {
		cfg := sized(3, 3)
		cfg["cluster"] = fmt.Sprintf(`{"running":%v}`, running)
		r := mustRun(t, cfg)
		for _, ctr := range r.containers() {
			c, name := ctr.record, ctr.name
			if got := str(c.Inputs, "logDriver"); got != components.LogDriver {
				t.Errorf("%s: logDriver %q, want %q", name, got, components.LogDriver)
			}
			opts := map[string]string{}
			if v, _ := field(c.Inputs, "logOpts"); v.IsObject() {
				for k, e := range v.ObjectValue() {
					opts[string(k)] = e.StringValue()
				}
			}
			if !maps.Equal(opts, components.LogOptions) {
				t.Errorf("%s: logOpts %v, want %v", name, opts, components.LogOptions)
			}
			if oneShot(ctr) {
				continue
			}
			if !slices.Equal(c.ReplaceOnChanges, []string{"start"}) {
				t.Errorf("%s: replaceOnChanges %v, want [start]", name, c.ReplaceOnChanges)
			}
			want := []string{}
			if !running {
				want = []string{"ports"}
			}
			if !slices.Equal(append([]string{}, c.IgnoreChanges...), want) {
				t.Errorf("running=%v: %s: ignoreChanges %v, want %v", running, name, c.IgnoreChanges, want)
			}
		}
	}
}

// 3. Containers: image, network, uploads, secrets.
func TestContainers(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  stackCfg
	}{
		{"dev", loadStackFile(t, "dev")},
		{"5 nodes 5 servers", sized(5, 5)},
		{"lab stack (PMM off)", loadStackFile(t, "lab")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := mustRun(t, tc.cfg)
			t.Run("roles", func(t *testing.T) { checkRoles(t, r) })
			t.Run("images", func(t *testing.T) { checkImages(t, r) })
			t.Run("networks", func(t *testing.T) { checkNetworks(t, r) })
			t.Run("certificates", func(t *testing.T) { checkCertificates(t, r) })
			t.Run("secrets", func(t *testing.T) { checkSecrets(t, r) })
		})
	}
}

// rolesOf is the component label each container must carry, by Docker name.
func rolesOf(c config.Config) map[string]string {
	want := map[string]string{c.HAProxyName(): "haproxy"}
	if c.Cluster.IsRunning() {
		want[c.ACLJobName()] = "consul-acl"
		want[c.PatroniJobName()] = "patroni-config"
		for i := 1; i <= c.Postgres.Nodes; i++ {
			want[c.HandOverJobName(i)] = "hand-over"
		}
	}
	if c.PMM.On() {
		want[c.PMMName()] = "pmm-server"
		if c.Cluster.IsRunning() {
			want[c.PMMTokenJobName()] = "pmm-token"
		}
	}
	for i := 1; i <= c.Consul.Servers; i++ {
		want[c.ServerName(i)] = "consul-server"
	}
	for i := 1; i <= c.Postgres.Nodes; i++ {
		want[c.NodeName(i)] = "postgres"
		want[c.AgentContainer(i)] = "consul-agent"
		if c.PMM.On() {
			want[c.PMMClientContainer(i)] = "pmm-client"
		}
	}
	return want
}

func checkRoles(t *testing.T, r *result) {
	want := rolesOf(r.cfg)
	got := map[string]string{}
	for _, c := range r.containers() {
		got[c.name] = c.role
		if cl := labelValue(c, "postgres-ha.cluster"); cl != r.cfg.Cluster.Name {
			t.Errorf("%s: cluster label %q, want %q", c.name, cl, r.cfg.Cluster.Name)
		}
	}
	if !maps.Equal(got, want) {
		t.Errorf("containers and roles:\n got %v\nwant %v", got, want)
	}
}

func labelValue(c container, key string) string {
	for _, l := range arr(c.Inputs, "labels") {
		o, _ := unwrap(l)
		if str(o.ObjectValue(), "label") == key {
			return str(o.ObjectValue(), "value")
		}
	}
	return ""
}

func checkImages(t *testing.T, r *result) {
	cfg := r.cfg
	remote := func(ref string) string {
		for _, rec := range r.ofType(tRemoteImage) {
			if str(rec.Inputs, "name") == ref {
				return str(rec.Outputs, "imageId")
			}
		}
		t.Fatalf("no RemoteImage of %s", ref)
		return ""
	}
	built := r.ofType(tImage)
	if len(built) != 1 {
		t.Fatalf("%d docker Images, want 1", len(built))
	}
	tag := str(built[0].Outputs, "imageName")
	wantTag := regexp.MustCompile("^" + regexp.QuoteMeta(cfg.Images.Patroni) + "-[0-9a-f]{12}$")
	if !wantTag.MatchString(tag) {
		t.Errorf("Patroni image tag %q does not match %s", tag, wantTag)
	}
	if cfg.Images.Patroni == "postgres-ha/patroni:4.0.7-pg17" &&
		!regexp.MustCompile(`^postgres-ha/patroni:4\.0\.7-pg17-[0-9a-f]{12}$`).MatchString(tag) {
		t.Errorf("Patroni image tag %q", tag)
	}
	if b, ok := boolean(built[0].Inputs, "skipPush"); !ok || !b {
		t.Errorf("Patroni image: skipPush %v, want true", b)
	}
	// Relative to the project directory: a clone elsewhere previews no change.
	if b, _ := field(built[0].Inputs, "build"); !b.IsObject() ||
		str(b.ObjectValue(), "context") != "templates/images/patroni" ||
		str(b.ObjectValue(), "dockerfile") != "templates/images/patroni/Dockerfile" {
		t.Errorf("Patroni image build %v, want context templates/images/patroni and its Dockerfile", b)
	}
	want := map[string]string{
		"postgres":      tag,
		"consul-server": remote(cfg.Images.Consul),
		"consul-agent":  remote(cfg.Images.Consul),
		"consul-acl":    remote(cfg.Images.Consul),
		"haproxy":       remote(cfg.Images.HAProxy),
		// The Patroni and PMM jobs run python3 from the Patroni image.
		"patroni-config": tag,
		"hand-over":      tag,
		"pmm-token":      tag,
	}
	if cfg.PMM.On() {
		want["pmm-server"] = remote(cfg.Images.PMMServer)
		want["pmm-client"] = remote(cfg.Images.PMMClient)
	}
	for _, c := range r.containers() {
		if got := str(c.Inputs, "image"); got != want[c.role] || got == "" {
			t.Errorf("%s (%s): image %q, want %q", c.name, c.role, got, want[c.role])
		}
	}
}

func checkNetworks(t *testing.T, r *result) {
	cfg := r.cfg
	netName := cfg.NetworkName()
	nets := r.ofType(tNetwork)
	if len(nets) != 1 || str(nets[0].Outputs, "name") != netName {
		t.Fatalf("want one network named %s", netName)
	}
	patroniID := map[string]string{} // node name -> Patroni container ID
	nodeOf := map[string]string{}    // sidecar name -> node name
	for i := 1; i <= cfg.Postgres.Nodes; i++ {
		n := cfg.NodeName(i)
		patroniID[n] = r.container(t, n).ID
		nodeOf[cfg.AgentContainer(i)] = n
		nodeOf[cfg.PMMClientContainer(i)] = n
	}
	for _, c := range r.containers() {
		networks := arr(c.Inputs, "networksAdvanced")
		mode := str(c.Inputs, "networkMode")
		host := str(c.Inputs, "hostname")
		switch c.role {
		case "consul-agent", "pmm-client":
			node := nodeOf[c.name]
			if want := "container:" + patroniID[node]; mode != want || patroniID[node] == "" {
				t.Errorf("%s: networkMode %q, want %q (the Patroni container of %s)", c.name, mode, want, node)
			}
			if len(networks) != 0 || host != "" || len(ports(c)) != 0 {
				t.Errorf("%s: a sidecar with networks %v, hostname %q, ports %v", c.name, networks, host, ports(c))
			}
			if patroni := r.container(t, node); c.Parent != patroni.Parent {
				t.Errorf("%s: parent %s, want its node's component %s", c.name, c.Parent, patroni.Parent)
			}
		default:
			if mode != "" {
				t.Errorf("%s: networkMode %q, want none", c.name, mode)
			}
			if len(networks) != 1 {
				t.Errorf("%s: %d networks, want 1", c.name, len(networks))
				continue
			}
			o, _ := unwrap(networks[0])
			if got := str(o.ObjectValue(), "name"); got != netName {
				t.Errorf("%s: network %q, want %q", c.name, got, netName)
			}
			aliases := strs(o.ObjectValue(), "aliases")
			if oneShot(c) {
				// A one-shot job is nobody's peer: no alias, no hostname.
				if len(aliases) != 0 || host != "" {
					t.Errorf("%s: aliases %v, hostname %q, want none", c.name, aliases, host)
				}
				continue
			}
			want := []string{c.name}
			if c.role == "postgres" {
				// HAProxy fills its server slots from the nodes' alias.
				want = append(want, cfg.NodesAlias())
			}
			if !slices.Equal(aliases, want) {
				t.Errorf("%s: aliases %v, want %v", c.name, aliases, want)
			}
			if host != c.name {
				t.Errorf("%s: hostname %q, want %q", c.name, host, c.name)
			}
		}
	}
}

// checkCertificates checks that each container gets the CA and its own leaf
// certificate and key at the paths its configs name.
func checkCertificates(t *testing.T, r *result) {
	cfg := r.cfg
	cl := cfg.Cluster.Name
	ca := r.output(t, tSelfSigned, cl+"-ca", "certPem")
	cert := func(leaf string) string { return r.output(t, tLocallySigned, cl+"-"+leaf, "certPem") }
	key := func(leaf string) string { return r.output(t, tPrivateKey, cl+"-"+leaf, "privateKeyPem") }
	// leafOf is the certificate spec name of a container.
	leafOf := func(c container) string {
		switch c.role {
		case "consul-server":
			return "consul-" + c.name
		case "consul-agent":
			return "consul-" + strings.TrimSuffix(c.name, "-consul")
		case "consul-acl":
			return "consul-acl"
		case "postgres":
			return "node-" + c.name
		case "haproxy":
			return "haproxy"
		case "pmm-server":
			return "pmm"
		case "patroni-config", "hand-over":
			return "patroni-jobs"
		}
		return ""
	}
	type want struct {
		content string
		secret  bool
	}
	for _, c := range r.containers() {
		files := map[string]want{}
		leaf := leafOf(c)
		switch c.role {
		case "consul-server", "consul-agent", "consul-acl":
			files["/etc/postgres-ha/tls/ca.crt"] = want{ca, false}
			files["/etc/postgres-ha/tls/consul.crt"] = want{cert(leaf), false}
			files["/etc/postgres-ha/tls/consul.key"] = want{key(leaf), true}
		case "postgres":
			files["/etc/postgres-ha/tls/ca.crt"] = want{ca, false}
			files["/etc/postgres-ha/tls/node.crt"] = want{cert(leaf), false}
			files["/etc/postgres-ha/tls/node.key"] = want{key(leaf), true}
		case "haproxy":
			files["/etc/postgres-ha/tls/ca.crt"] = want{ca, false}
			files["/etc/postgres-ha/tls/haproxy.pem"] = want{cert(leaf) + key(leaf), true}
		case "pmm-server":
			files["/srv/nginx/ca-certs.pem"] = want{ca, false}
			files["/srv/nginx/certificate.crt"] = want{cert(leaf), false}
			files["/srv/nginx/certificate.key"] = want{key(leaf), true}
		case "pmm-client":
			files["/etc/postgres-ha/tls/ca.crt"] = want{ca, false}
		case "pmm-token":
			files["/etc/postgres-ha/pmm-token/ca.crt"] = want{ca, false}
		case "patroni-config", "hand-over":
			files["/etc/postgres-ha/patroni-config/ca.crt"] = want{ca, false}
			files["/etc/postgres-ha/patroni-config/client.crt"] = want{cert(leaf), false}
			files["/etc/postgres-ha/patroni-config/client.key"] = want{key(leaf), true}
		default:
			t.Errorf("%s: unknown role %q", c.name, c.role)
		}
		got := uploads(c)
		for _, path := range sortedKeys(files) {
			w := files[path]
			u, ok := got[path]
			switch {
			case !ok:
				t.Errorf("%s: no upload at %s", c.name, path)
			case u.content != w.content:
				t.Errorf("%s: %s is not the expected PEM (leaf %q)", c.name, path, leaf)
			case u.secret != w.secret:
				t.Errorf("%s: %s secret=%v, want %v", c.name, path, u.secret, w.secret)
			case w.secret && u.mode != "0600" && !(c.role == "pmm-server" && u.mode == "0640"):
				// PMM 3's nginx reads its key as uid 1000, gid 0.
				t.Errorf("%s: private key %s has mode %q, want 0600", c.name, path, u.mode)
			}
		}
		// No key material anywhere else, and every key is secret.
		for _, path := range sortedKeys(got) {
			if strings.Contains(got[path].content, "PRIVATE KEY-----") {
				if _, listed := files[path]; !listed {
					t.Errorf("%s: unexpected private key at %s", c.name, path)
				}
				if !got[path].secret {
					t.Errorf("%s: private key at %s is not a secret", c.name, path)
				}
			}
		}
	}
}

// secretValues collects every secret the providers produce, from the mock
// outputs, by resource: passwords, the gossip key, private keys, and the
// UUIDs used as ACL secrets (management token, token SecretIDs). Accessor
// IDs and node IDs are identifiers, not secrets.
func secretValues(t *testing.T, r *result) map[string]string {
	t.Helper()
	cl := r.cfg.Cluster.Name
	out := map[string]string{}
	for _, rec := range r.recs {
		var v string
		switch rec.Type {
		case tPassword:
			v = str(rec.Outputs, "result")
		case tBytes:
			v = str(rec.Outputs, "base64")
		case tPrivateKey:
			v = str(rec.Outputs, "privateKeyPem")
		case tUUID:
			switch {
			case rec.Name == cl+"-management-token", strings.HasSuffix(rec.Name, "-secret"):
				v = str(rec.Outputs, "result")
			case strings.HasSuffix(rec.Name, "-accessor"), strings.HasSuffix(rec.Name, "-node-id"):
			default:
				t.Errorf("RandomUuid %s: neither a known secret nor a known identifier; classify it here", rec.Name)
			}
		}
		if v != "" {
			out[rec.Type+" "+rec.Name] = v
		}
	}
	if len(out) < 10 {
		t.Fatalf("only %d secret values collected", len(out))
	}
	return out
}

func checkSecrets(t *testing.T, r *result) {
	secrets := secretValues(t, r)
	leaks := func(s string) []string {
		var hit []string
		for _, name := range sortedKeys(secrets) {
			if strings.Contains(s, secrets[name]) {
				hit = append(hit, name)
			}
		}
		return hit
	}

	// Every input, of any resource, that carries a secret value is a secret.
	for _, rec := range r.recs {
		walkStrings(rec.Name, inputsValue(rec), false, func(path, s string, secret bool) {
			if !secret {
				if hit := leaks(s); len(hit) > 0 {
					t.Errorf("%s %s: input %s holds %v in plain text", rec.Type, rec.URN, path, hit)
				}
			}
		})
	}

	for _, c := range r.containers() {
		// No secret, even wrapped, in the environment, command line, labels,
		// health check or names: they show in `docker inspect` and `ps`.
		for _, key := range []string{"envs", "command", "entrypoints", "labels", "healthcheck", "hostname", "name", "user", "networksAdvanced", "networkMode"} {
			v, ok := c.Inputs[propKey(key)]
			if !ok {
				continue
			}
			walkStrings(key, v, false, func(path, s string, _ bool) {
				if hit := leaks(s); len(hit) > 0 {
					t.Errorf("%s: %s holds %v", c.name, path, hit)
				}
			})
		}
		// Every upload that holds a secret is a secret.
		for path, u := range uploads(c) {
			if hit := leaks(u.content); len(hit) > 0 && !u.secret {
				t.Errorf("%s: upload %s holds %v but is not a secret", c.name, path, hit)
			}
		}
	}
}

// 4. Published ports.
func TestPublishedPorts(t *testing.T) {
	custom := sized(3, 3)
	custom["ports"] = `{"bindAddress":"127.0.0.1","write":15432,"read":15433,"stats":17000,"metrics":18404,"consulUi":18501,"pmm":18443}`
	for _, tc := range []struct {
		name string
		cfg  stackCfg
	}{
		{"default ports", sized(3, 3)},
		{"custom ports", custom},
		{"lab stack (PMM off, loopback)", loadStackFile(t, "lab")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := mustRun(t, tc.cfg)
			cfg := r.cfg
			p := cfg.Ports
			ip := p.BindAddress
			want := map[string][]port{
				cfg.HAProxyName(): {{5000, p.Write, ip}, {5001, p.Read, ip}, {7000, p.Stats, ip}, {8404, p.Metrics, ip}},
				cfg.ServerName(1): {{8501, p.ConsulUI, ip}},
			}
			if cfg.PMM.On() {
				want[cfg.PMMName()] = []port{{8443, p.PMM, ip}}
			}
			published := map[int]string{}
			for _, c := range r.containers() {
				got := ports(c)
				if !slices.Equal(got, want[c.name]) {
					t.Errorf("%s: ports %v, want %v", c.name, got, want[c.name])
				}
				for _, pp := range got {
					published[pp.external] = c.name
				}
				if b, _ := boolean(c.Inputs, "publishAllPorts"); b {
					t.Errorf("%s: publishAllPorts", c.name)
				}
			}
			wantPorts := map[int]string{}
			for _, v := range cfg.PublishedPorts() {
				wantPorts[v] = ""
			}
			if len(published) != len(wantPorts) {
				t.Errorf("host ports %v, want exactly %v", published, cfg.PublishedPorts())
			}
			for pp := range published {
				if _, ok := wantPorts[pp]; !ok {
					t.Errorf("host port %d (%s) is not configured", pp, published[pp])
				}
			}
		})
	}
}

// 5. Start order. A child of a component is registered only once its parent's
// URN is known, and a component with DependsOn is registered only once every
// dependency's URN is known, which the engine returns after creating the
// resource. So the component's dependencies, plus the sequence in which the
// registrations reached the monitor, prove the order.
func TestStartOrder(t *testing.T) {
	r := mustRun(t, sized(3, 3))
	cfg := r.cfg
	acl := r.container(t, cfg.ACLJobName())
	aclComp := r.byURN[acl.Parent]
	if aclComp == nil || aclComp.Type != compPkg+"ConsulACL" {
		t.Fatalf("ACL job parent %s is not the ConsulACL component", acl.Parent)
	}
	var servers []string
	for i := 1; i <= cfg.Consul.Servers; i++ {
		s := r.container(t, cfg.ServerName(i))
		servers = append(servers, s.URN)
		if s.Seq > aclComp.Seq {
			t.Errorf("ConsulACL registered before server %s", s.name)
		}
	}
	slices.Sort(servers)
	if !slices.Equal(aclComp.Deps, servers) {
		t.Errorf("ConsulACL depends on %v, want the servers %v", aclComp.Deps, servers)
	}
	if aclComp.Seq > acl.Seq {
		t.Errorf("ACL job registered before its component")
	}
	pmm := r.container(t, cfg.PMMName())
	token := r.container(t, cfg.PMMTokenJobName())
	if !slices.Contains(token.Deps, pmm.URN) {
		t.Errorf("the PMM job does not depend on the PMM server")
	}

	var nodeChildren []string
	for i := 1; i <= cfg.Postgres.Nodes; i++ {
		patroni := r.container(t, cfg.NodeName(i))
		comp := r.byURN[patroni.Parent]
		if comp == nil || comp.Type != compPkg+"PostgresNode" {
			t.Fatalf("%s: parent %s is not a PostgresNode", patroni.name, patroni.Parent)
		}
		for _, dep := range append([]string{acl.URN}, servers...) {
			if !slices.Contains(comp.Deps, dep) {
				t.Errorf("PostgresNode %s does not depend on %s", comp.Name, dep)
			}
		}
		// The cluster does not wait for PMM; a pmm-client waits for the
		// token the PMM job gets once the server is ready.
		if slices.Contains(comp.Deps, pmm.URN) {
			t.Errorf("PostgresNode %s depends on the PMM server", comp.Name)
		}
		if client := r.container(t, cfg.PMMClientContainer(i)); !slices.Contains(client.Deps, token.URN) {
			t.Errorf("%s does not depend on the PMM job %s", client.name, token.name)
		}
		if acl.Seq > comp.Seq || comp.Seq > patroni.Seq {
			t.Errorf("%s: registration order ACL job %d, node component %d, Patroni %d; want increasing",
				patroni.name, acl.Seq, comp.Seq, patroni.Seq)
		}
		for _, sidecar := range []string{cfg.AgentContainer(i), cfg.PMMClientContainer(i)} {
			s := r.container(t, sidecar)
			if s.Seq < patroni.Seq {
				t.Errorf("%s registered before its Patroni container", sidecar)
			}
		}
		nodeChildren = append(nodeChildren, patroni.URN, r.container(t, cfg.AgentContainer(i)).URN)
	}
	// HAProxy comes after every node's Patroni and agent. (Depending on the
	// PostgresNode components instead would pick up only the children
	// registered so far, a different set on each run.)
	h := r.container(t, cfg.HAProxyName())
	hComp := r.byURN[h.Parent]
	for _, u := range nodeChildren {
		if !slices.Contains(hComp.Deps, u) {
			t.Errorf("HAProxy does not depend on %s", u)
		}
	}
}

// The ACL job's exit code fails the run.
func TestACLJobFailureFailsRun(t *testing.T) {
	c := config.Defaults()
	r := run(t, sized(3, 3), &mocks{exitCodes: map[string]int{c.ACLJobName(): 3}})
	if r.err == nil {
		t.Fatal("the run succeeded although the ACL job exited with code 3")
	}
	if !strings.Contains(r.err.Error(), "exited with code 3") {
		t.Errorf("error %q does not report the exit code", r.err)
	}
	mustRun(t, sized(3, 3)) // and exit code 0 passes
}

// 6. Stack outputs.
func TestExports(t *testing.T) {
	r := mustRun(t, loadStackFile(t, "dev"))
	cfg := r.cfg
	cl := cfg.Cluster.Name
	secret := []string{"writeUri", "readUri", "superuserPassword", "consulManagementToken", "adminClientKey",
		"haproxyStatsPassword", "patroniRestPassword", "pmmAdminPassword"}
	plainKeys := []string{"writeEndpoint", "readEndpoint", "consulUiUrl", "haproxyStatsUrl", "haproxyMetricsUrl",
		"pmmUrl", "caCert", "adminClientCert", "haproxy", "nodes"}
	for _, k := range append(slices.Clone(secret), plainKeys...) {
		if _, ok := r.exports[k]; !ok {
			t.Errorf("no export %s", k)
		}
	}
	// Any other export is fine as long as it is a secret when it holds one.
	values := secretValues(t, r)
	for _, k := range sortedKeys(r.exports) {
		e := r.exports[k]
		if !slices.Contains(secret, k) && !slices.Contains(plainKeys, k) {
			t.Logf("export %s (secret=%v) is not in this test's lists", k, e.Secret)
		}
		for _, name := range sortedKeys(values) {
			if strings.Contains(fmt.Sprint(e.Value), values[name]) && !e.Secret {
				t.Errorf("export %s holds %s but is not a secret", k, name)
			}
		}
	}
	for _, k := range secret {
		if e := r.exports[k]; !e.Secret || !e.Known {
			t.Errorf("export %s: secret=%v known=%v, want a known secret", k, e.Secret, e.Known)
		}
	}
	for _, k := range plainKeys {
		if e := r.exports[k]; e.Secret || !e.Known {
			t.Errorf("export %s: secret=%v known=%v, want known plain", k, e.Secret, e.Known)
		}
	}
	s := func(k string) string {
		v, _ := r.exports[k].Value.(string)
		return v
	}
	pw := r.output(t, tPassword, cl+"-superuser", "result")
	wantStr := map[string]string{
		"writeEndpoint":         fmt.Sprintf("localhost:%d", cfg.Ports.Write),
		"readEndpoint":          fmt.Sprintf("localhost:%d", cfg.Ports.Read),
		"consulUiUrl":           fmt.Sprintf("https://localhost:%d/ui/", cfg.Ports.ConsulUI),
		"haproxyStatsUrl":       fmt.Sprintf("https://localhost:%d/", cfg.Ports.Stats),
		"haproxyMetricsUrl":     fmt.Sprintf("https://localhost:%d/metrics", cfg.Ports.Metrics),
		"pmmUrl":                fmt.Sprintf("https://localhost:%d/", cfg.Ports.PMM),
		"caCert":                r.output(t, tSelfSigned, cl+"-ca", "certPem"),
		"adminClientCert":       r.output(t, tLocallySigned, cl+"-admin", "certPem"),
		"adminClientKey":        r.output(t, tPrivateKey, cl+"-admin", "privateKeyPem"),
		"haproxy":               cfg.HAProxyName(),
		"superuserPassword":     pw,
		"haproxyStatsPassword":  r.output(t, tPassword, cl+"-stats", "result"),
		"patroniRestPassword":   r.output(t, tPassword, cl+"-restapi", "result"),
		"pmmAdminPassword":      r.output(t, tPassword, cl+"-pmm-admin", "result"),
		"consulManagementToken": r.output(t, tUUID, cl+"-management-token", "result"),
	}
	for _, k := range sortedKeys(wantStr) {
		if s(k) != wantStr[k] {
			t.Errorf("export %s = %q, want %q", k, s(k), wantStr[k])
		}
	}
	var nodes []string
	for i := 1; i <= cfg.Postgres.Nodes; i++ {
		nodes = append(nodes, cfg.NodeName(i))
	}
	if got, _ := r.exports["nodes"].Value.([]string); !slices.Equal(got, nodes) {
		t.Errorf("export nodes = %#v, want %v", r.exports["nodes"].Value, nodes)
	}
	for k, p := range map[string]int{"writeUri": cfg.Ports.Write, "readUri": cfg.Ports.Read} {
		u, err := url.Parse(s(k))
		if err != nil {
			t.Errorf("%s: %v", k, err)
			continue
		}
		got, _ := u.User.Password()
		if u.Scheme != "postgresql" || u.User.Username() != "postgres" || got != pw ||
			u.Host != fmt.Sprintf("localhost:%d", p) || u.Path != "/postgres" {
			t.Errorf("%s = %q: want postgresql://postgres:<superuser password>@localhost:%d/postgres", k, s(k), p)
		}
		if !strings.Contains(s(k), "sslmode=verify-full") || u.Query().Get("sslmode") != "verify-full" {
			t.Errorf("%s = %q lacks sslmode=verify-full", k, s(k))
		}
	}

	// Without PMM, no PMM outputs.
	lab := mustRun(t, loadStackFile(t, "lab"))
	for _, k := range []string{"pmmUrl", "pmmAdminPassword"} {
		if _, ok := lab.exports[k]; ok {
			t.Errorf("lab stack (PMM off) exports %s", k)
		}
	}
}

// 7. Two runs register byte-identical inputs.
func TestDeterministic(t *testing.T) {
	custom := sized(5, 3)
	custom["ports"] = `{"bindAddress":"127.0.0.1","write":6432}`
	custom["tls"] = `{"algorithm":"RSA","rsaBits":3072}`
	for _, tc := range []struct {
		name string
		cfg  stackCfg
	}{
		{"dev", loadStackFile(t, "dev")},
		{"custom", custom},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := mustRun(t, tc.cfg), mustRun(t, tc.cfg)
			ca, cb := canonical(t, a.recs), canonical(t, b.recs)
			if len(ca) != len(cb) {
				t.Fatalf("%d registrations, then %d", len(ca), len(cb))
			}
			for i := range ca {
				if ca[i] != cb[i] {
					t.Errorf("registration differs between runs:\n%s\n%s", ca[i], cb[i])
				}
			}
			if fmt.Sprint(a.exports) != fmt.Sprint(b.exports) {
				t.Errorf("exports differ between runs")
			}
		})
	}
}

// 8. An invalid config names every bad key and registers nothing.
func TestInvalidConfig(t *testing.T) {
	cfg := stackCfg{
		"postgres": `{"nodes":1,"ttl":"soon"}`,
		"consul":   `{"servers":2,"bogus":1}`,
		"ports":    `{"write":70000}`,
		"tls":      `{"algorithm":"DSA"}`,
		"network":  `{"subnet":"10.0.0.1/24"}`,
		"replicas": `3`, // not a key of the namespace
	}
	r := run(t, cfg, nil)
	if r.err == nil {
		t.Fatal("the program accepted an invalid config")
	}
	for _, key := range []string{"postgres.nodes", "postgres.ttl", "consul.servers", "consul.bogus", "ports.write",
		"tls.algorithm", "network.subnet", "replicas"} {
		if !strings.Contains(r.err.Error(), "postgres-ha:"+key+":") {
			t.Errorf("error does not name %s:\n%v", key, r.err)
		}
	}
	var ps config.Problems
	if !errors.As(r.err, &ps) {
		t.Errorf("error %T does not wrap config.Problems", r.err)
	}
	if len(r.recs) != 0 {
		t.Errorf("%d resources registered, want none; first: %s", len(r.recs), r.recs[0].URN)
	}
	if len(r.exports) != 0 {
		t.Errorf("exports %v, want none", sortedKeys(r.exports))
	}
}

// 9. running: false stops every container, skips the ACL job and keeps the
// volumes.
func TestStopped(t *testing.T) {
	cfg := sized(3, 3)
	cfg["cluster"] = `{"running":false}`
	r := mustRun(t, cfg)
	if r.cfg.Cluster.IsRunning() {
		t.Fatal("config says running")
	}
	checkCounts(t, r)
	for _, c := range r.containers() {
		start, okStart := boolean(c.Inputs, "start")
		must, okMust := boolean(c.Inputs, "mustRun")
		if !okStart || start || !okMust || must {
			t.Errorf("%s: start=%v(set %v) mustRun=%v(set %v), want both false", c.name, start, okStart, must, okMust)
		}
		if got := str(c.Inputs, "restart"); got != "no" {
			t.Errorf("%s: restart %q, want \"no\"", c.name, got)
		}
		if w, _ := boolean(c.Inputs, "wait"); w {
			t.Errorf("%s: wait=true on a stopped container", c.name)
		}
		if oneShot(c) {
			t.Errorf("job %s registered while stopped", c.name)
		}
	}
	for _, comp := range []string{"ConsulACL", "PatroniConfig"} {
		if n := len(r.ofType(compPkg + comp)); n != 0 {
			t.Errorf("%d %s components while stopped", n, comp)
		}
	}
	var vols []string
	for _, v := range r.ofType(tVolume) {
		vols = append(vols, str(v.Inputs, "name"))
	}
	slices.Sort(vols)
	var want []string
	for i := 1; i <= r.cfg.Consul.Servers; i++ {
		want = append(want, r.cfg.ServerName(i)+"-data")
	}
	for i := 1; i <= r.cfg.Postgres.Nodes; i++ {
		want = append(want, r.cfg.NodeName(i)+"-data")
	}
	want = append(want, r.cfg.PMMName()+"-data", r.cfg.PMMName()+"-token")
	slices.Sort(want)
	if !slices.Equal(vols, want) {
		t.Errorf("volumes %v, want %v", vols, want)
	}

	// Running, every container but the one-shot jobs runs and restarts.
	up := mustRun(t, sized(3, 3))
	for _, c := range up.containers() {
		if oneShot(c) {
			continue
		}
		start, _ := boolean(c.Inputs, "start")
		must, _ := boolean(c.Inputs, "mustRun")
		if !start || !must || str(c.Inputs, "restart") != "unless-stopped" {
			t.Errorf("%s: start=%v mustRun=%v restart=%q when running", c.name, start, must, str(c.Inputs, "restart"))
		}
	}
}

// oneShot reports whether c is one of the jobs `up` runs to completion.
func oneShot(c container) bool {
	return c.role == "consul-acl" || c.role == "patroni-config" || c.role == "hand-over" || c.role == "pmm-token"
}

// 10. Registration cost by cluster size.
func BenchmarkProgram(b *testing.B) {
	root := projectDir(b)
	for _, n := range []int{3, 9, 27, 63} {
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			cfg := stackCfg{
				"postgres": fmt.Sprintf(`{"nodes":%d}`, n),
				"consul":   `{"servers":3}`,
				"network":  `{"subnet":"172.28.0.0/22"}`,
			}
			full := cfg.full()
			b.Setenv("PULUMI_CONFIG", mustJSON(b, full))
			b.ReportAllocs()
			resources, edges := 0, 0
			for b.Loop() {
				m := &mocks{}
				if err := runOnce(root, full, m, nil); err != nil {
					b.Fatal(err)
				}
				recs := m.records()
				resources, edges = len(recs), 0
				// Dependency edges: every property's dependencies (what a
				// resource waits on and is unknown with in a preview).
				for _, rec := range recs {
					for _, deps := range rec.PropDeps {
						edges += len(deps)
					}
				}
			}
			b.ReportMetric(float64(resources), "resources/op")
			b.ReportMetric(float64(edges), "edges/op")
		})
	}
}
