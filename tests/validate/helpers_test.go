package validate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/postgres-ha/postgres-ha/config"
	"github.com/postgres-ha/postgres-ha/templates"
	"github.com/postgres-ha/postgres-ha/tests/internal/realpki"
)

// stack is one rendered stack with its real PKI.
type stack struct {
	name  string
	cfg   config.Config
	files []templates.File
	pki   *realpki.PKI
}

// file returns the rendered file "<container>/<name>".
func (s *stack) file(t *testing.T, name string) string {
	t.Helper()
	for _, f := range s.files {
		if f.Name == name {
			return f.Content
		}
	}
	t.Fatalf("stack %s renders no file %q", s.name, name)
	return ""
}

// stackConfigs are the stacks every validator checks: the dev defaults, a
// large cluster without synchronous mode, one without PMM, and one with every
// name, port, datacenter and the key algorithm changed.
func stackConfigs() []struct {
	name string
	cfg  config.Config
} {
	f := false
	dev := config.Defaults()

	big := config.Defaults()
	big.Postgres.Nodes = 5
	big.Consul.Servers = 5
	big.Postgres.SynchronousMode = config.SyncOff
	big.TLS.EcdsaCurve = "P384"

	nopmm := config.Defaults()
	nopmm.PMM.Enabled = &f

	orders := config.Defaults()
	orders.Cluster.Name = "orders"
	orders.Consul.Datacenter = "eu1"
	orders.Consul.Domain = "internal"
	orders.Network.Subnet = "10.77.0.0/24"
	orders.Ports = config.Ports{BindAddress: "127.0.0.1", Write: 6432, Read: 6433, Stats: 6434,
		Metrics: 6435, ConsulUI: 6436, PMM: 6437}
	orders.Postgres.Parameters = map[string]string{"work_mem": "16MB", "log_min_duration_statement": "250"}
	orders.Postgres.SynchronousNodeCount = 2
	orders.Postgres.SynchronousMode = config.SyncQuorum
	orders.HAProxy.CheckInterval = "1.5s" // HAProxy gets 1500ms
	orders.HAProxy.ReadFallback = "none"
	orders.HAProxy.MaxReplicaLag = 16 << 20
	orders.Consul.Gossip = config.Gossip{ProbeInterval: "1s", ProbeTimeout: "500ms", SuspicionMult: 4}
	orders.TLS.Algorithm = "RSA"
	orders.TLS.RsaBits = 2048

	return []struct {
		name string
		cfg  config.Config
	}{{"dev", dev}, {"big", big}, {"nopmm", nopmm}, {"orders", orders}}
}

var (
	stacksOnce sync.Once
	stacksAll  []*stack
	stacksErr  error
)

// stacks renders every stack and issues its PKI once per test binary.
func stacks(t *testing.T) []*stack {
	t.Helper()
	stacksOnce.Do(func() {
		for _, sc := range stackConfigs() {
			c := sc.cfg
			c.ApplyDefaults()
			if ps := c.Validate(); len(ps) > 0 {
				stacksErr = fmt.Errorf("stack %s: %v", sc.name, ps)
				return
			}
			files, err := templates.All(c, templates.Placeholders(c))
			if err != nil {
				stacksErr = fmt.Errorf("rendering stack %s: %w", sc.name, err)
				return
			}
			pki, err := realpki.New(c)
			if err != nil {
				stacksErr = fmt.Errorf("PKI of stack %s: %w", sc.name, err)
				return
			}
			stacksAll = append(stacksAll, &stack{name: sc.name, cfg: c, files: files, pki: pki})
		}
	})
	if stacksErr != nil {
		t.Fatal(stacksErr)
	}
	return stacksAll
}

// containerPaths is the test-only substitution: each container path prefix a
// rendered file names is moved under a temporary root, so the validators find
// the files where the config says they are. Nothing else in a file changes.
// /usr/lib/postgresql/17/bin is not moved: the Patroni image has it.
var containerPaths = []string{
	templates.UploadRoot,             // /etc/postgres-ha
	templates.RuntimeRoot,            // /run/postgres-ha
	templates.MustPath("consulData"), // /var/lib/postgres-ha/consul
	templates.MustPath("pgData"),     // /var/lib/postgresql/data/pgdata
	templates.MustPath("pgSocket"),   // /run/postgresql
}

// rooted is a container file system under a temporary directory.
type rooted struct{ dir string }

func newRoot(t *testing.T) rooted {
	t.Helper()
	return rooted{dir: t.TempDir()}
}

// path maps a container path to the host.
func (r rooted) path(containerPath string) string { return filepath.Join(r.dir, containerPath) }

// rewrite moves every container path prefix in content under the root.
func (r rooted) rewrite(content string) string {
	pairs := make([]string, 0, 2*len(containerPaths))
	for _, p := range containerPaths {
		pairs = append(pairs, p, r.path(p))
	}
	return strings.NewReplacer(pairs...).Replace(content)
}

// write puts data at a container path, creating its directory.
func (r rooted) write(t *testing.T, containerPath string, data []byte, mode os.FileMode) string {
	t.Helper()
	p := r.path(containerPath)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// mkdir creates a container directory.
func (r rooted) mkdir(t *testing.T, containerPath string) string {
	t.Helper()
	p := r.path(containerPath)
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// need returns the path of a tool; a missing tool skips the test with the
// install step to run, or fails it under CI=true.
func need(t *testing.T, tool, install string) string {
	t.Helper()
	var p string
	var err error
	if strings.Contains(tool, "/") {
		if _, err = os.Stat(tool); err == nil {
			p = tool
		}
	} else {
		p, err = exec.LookPath(tool)
	}
	if err != nil {
		msg := fmt.Sprintf("%s not found (%v); run %s", tool, err, install)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return p
}

const (
	installDeps  = "scripts/install-deps"
	buildConsul  = "scripts/build-consul"
	consulWanted = "v1.16.1"
)

var pgBin = templates.MustPath("pgBin")

// image is a lab image (scripts/lab-images) a validator runs its tool in, so
// that the tool is the version the cluster runs (Debian 13's PostgreSQL 17,
// Patroni 4.0.7, HAProxy 3.0, python3), not whatever the host has.
type image string

const (
	patroniImage image = "postgres-ha/patroni:lab"
	haproxyImage image = "postgres-ha/haproxy:3.0"
)

var (
	imagesMu      sync.Mutex
	imagesPresent = map[image]error{}
)

// need skips the test when the image is missing (fails it under CI=true),
// with the step that builds it.
func (im image) need(t *testing.T) {
	t.Helper()
	imagesMu.Lock()
	err, seen := imagesPresent[im]
	if !seen {
		if out, e := exec.Command("docker", "image", "inspect", "-f", "{{.Id}}", string(im)).CombinedOutput(); e != nil {
			err = fmt.Errorf("image %s: %v: %s", im, e, bytes.TrimSpace(out))
		}
		imagesPresent[im] = err
	}
	imagesMu.Unlock()
	if err != nil {
		msg := fmt.Sprintf("%v; run scripts/lab-images", err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// args is the docker command line that runs name in the image: on the
// host's network, as user (the image's default when empty), with the
// temporary directory mounted at the same path (the tests' roots live
// there), and env passed by name so no value is on a command line.
func (im image) args(user string, env []string, name string, args ...string) []string {
	tmp := os.TempDir()
	a := []string{"run", "--rm", "--network", "host", "-v", tmp + ":" + tmp, "--entrypoint", name}
	if user != "" {
		a = append(a, "--user", user)
	}
	a = append(a, envByName(env)...)
	return append(append(a, string(im)), args...)
}

// envByName is docker's --env flags for env ("K=V" each) by name only: the
// values reach docker through its own environment, not its command line.
func envByName(env []string) []string {
	var a []string
	for _, e := range env {
		k, _, _ := strings.Cut(e, "=")
		a = append(a, "--env", k)
	}
	return a
}

// run runs name in the image and returns how it ended.
func (im image) run(t *testing.T, user string, env []string, name string, args ...string) result {
	t.Helper()
	im.need(t)
	return run(t, env, "docker", im.args(user, env, name, args...)...)
}

// repoRoot is the directory holding go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
}

var consulVersionOnce sync.Once
var consulVersionErr error

// consulBin is .cache/bin/consul, which must be Consul v1.16.1.
func consulBin(t *testing.T) string {
	t.Helper()
	bin := need(t, filepath.Join(repoRoot(t), ".cache", "bin", "consul"), buildConsul)
	consulVersionOnce.Do(func() {
		out, err := exec.Command(bin, "version").CombinedOutput()
		if err != nil {
			consulVersionErr = fmt.Errorf("%s version: %v\n%s", bin, err, out)
		} else if first, _, _ := strings.Cut(string(out), "\n"); first != "Consul "+consulWanted {
			consulVersionErr = fmt.Errorf("%s is %q, want Consul %s; run %s", bin, first, consulWanted, buildConsul)
		}
	})
	if consulVersionErr != nil {
		t.Fatal(consulVersionErr)
	}
	return bin
}

// result is a finished command.
type result struct {
	cmd    string
	code   int
	stdout string
	stderr string
}

func (r result) String() string {
	return fmt.Sprintf("$ %s\nexit %d\n--- stdout\n%s--- stderr\n%s", r.cmd, r.code, r.stdout, r.stderr)
}

// output is stdout and stderr together.
func (r result) output() string { return r.stdout + r.stderr }

// run runs a command with a timeout and returns how it ended; only a
// failure to start it at all fails the test.
func run(t *testing.T, env []string, name string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{cmd: strings.Join(append([]string{name}, args...), " "), stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
		if ctx.Err() != nil {
			t.Fatalf("timed out:\n%s", r)
		}
	default:
		t.Fatalf("%s: %v", r.cmd, err)
	}
	return r
}

// accept fails the test unless the command exited 0.
func accept(t *testing.T, r result) {
	t.Helper()
	if r.code != 0 {
		t.Errorf("validator rejected a rendered file:\n%s", r)
	}
}

// reject fails the test unless the command exited non-zero and said why,
// mentioning every one of want.
func reject(t *testing.T, r result, want ...string) {
	t.Helper()
	if r.code == 0 {
		t.Errorf("validator accepted a file broken on purpose:\n%s", r)
		return
	}
	for _, w := range want {
		if !strings.Contains(r.output(), w) {
			t.Errorf("validator rejected the broken file but did not mention %q:\n%s", w, r)
		}
	}
}

// replaceOnce replaces exactly one occurrence of old, failing if there is
// none, so a negative test cannot silently stop breaking anything.
func replaceOnce(t *testing.T, s, old, new string) string {
	t.Helper()
	if n := strings.Count(s, old); n != 1 {
		t.Fatalf("want exactly one %q in the rendered file, found %d", old, n)
	}
	return strings.Replace(s, old, new, 1)
}

// pgUser is who runs PostgreSQL in the Patroni image: its postgres user
// (uid and gid 999) when the tests run as root, else the current user, who
// owns the test's files (PostgreSQL refuses to run as root).
type pgUser struct {
	asRoot   bool
	uid, gid int
}

func postgresUser(t *testing.T) pgUser {
	t.Helper()
	if os.Geteuid() != 0 {
		return pgUser{uid: os.Geteuid(), gid: os.Getegid()}
	}
	return pgUser{asRoot: true, uid: 999, gid: 999}
}

// docker is the --user value for the image.
func (u pgUser) docker() string { return fmt.Sprintf("%d:%d", u.uid, u.gid) }

// chownTree gives dir and everything below it to the PostgreSQL user and
// opens the directories above it for traversal.
func (u pgUser) chownTree(t *testing.T, dir string) {
	t.Helper()
	if !u.asRoot {
		return
	}
	err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, u.uid, u.gid)
	})
	if err != nil {
		t.Fatal(err)
	}
	// t.TempDir's directories are 0700: let the postgres user through.
	for p := filepath.Dir(dir); p != os.TempDir() && p != "/" && p != "."; p = filepath.Dir(p) {
		if err := os.Chmod(p, 0o711); err != nil {
			t.Fatal(err)
		}
	}
}

// freePort is a port on 127.0.0.1 that nothing holds right now, for TCP
// and UDP alike (Consul's Serf ports take both). Ports come from below the
// kernel's ephemeral range, so no outgoing connection of a parallel test can
// take one between this check and the server's bind, and none is handed out
// twice in a run (a CI run once failed on exactly that race: Serf LAN port
// 36429 "address already in use").
func freePort(t *testing.T) int {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	for tries := 0; tries < 2000; tries++ {
		port := portsLow + int(portsNext%uint32(portsHigh-portsLow))
		portsNext++
		tl, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		ul, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		tl.Close()
		if err != nil {
			continue
		}
		ul.Close()
		return port
	}
	t.Fatalf("no free TCP+UDP port on 127.0.0.1 in %d-%d", portsLow, portsHigh)
	return 0
}

// The range freePort hands out: under Linux's default ephemeral range
// (32768-60999) and over the well-known service ports.
const portsLow, portsHigh = 20000, 32000

var (
	portsMu sync.Mutex
	// portsNext walks the range once per 12,000 ports handed out (a run takes
	// a few dozen), so no port is given twice; it starts at a point that
	// differs between runs, so two test binaries seldom walk the same ports.
	portsNext = uint32(os.Getpid() * 7919)
)

// splitHostPort fails the test on a malformed address.
func splitHostPort(t *testing.T, hostport string) (string, int) {
	t.Helper()
	h, p, err := net.SplitHostPort(hostport)
	if err != nil {
		t.Fatalf("%q: %v", hostport, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("%q: %v", hostport, err)
	}
	return h, port
}

// counter tallies what each validator checked, reported at the end.
type counter struct {
	mu     sync.Mutex
	files  map[string]int
	stacks map[string]map[string]bool
}

var checked = &counter{files: map[string]int{}, stacks: map[string]map[string]bool{}}

func (c *counter) add(validator, stack string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.files[validator]++
	if c.stacks[validator] == nil {
		c.stacks[validator] = map[string]bool{}
	}
	c.stacks[validator][stack] = true
}

func (c *counter) report() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	names := make([]string, 0, len(c.files))
	for n := range c.files {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "  %-26s %3d files accepted across %d stacks\n", n, c.files[n], len(c.stacks[n]))
	}
	return b.String()
}

func TestMain(m *testing.M) {
	code := m.Run()
	if r := checked.report(); r != "" {
		fmt.Print("validators:\n" + r)
	}
	os.Exit(code)
}

// replaceFirst replaces the first occurrence of old, failing if there is none.
func replaceFirst(t *testing.T, s, old, new string) string {
	t.Helper()
	if !strings.Contains(s, old) {
		t.Fatalf("want %q in the rendered file", old)
	}
	return strings.Replace(s, old, new, 1)
}
