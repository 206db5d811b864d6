package engine

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optrefresh"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"

	"github.com/postgres-ha/postgres-ha/cluster"
	"github.com/postgres-ha/postgres-ha/components"
	"github.com/postgres-ha/postgres-ha/tests/internal/realize"
	"github.com/postgres-ha/postgres-ha/tests/internal/testprovider"
)

// The tier's machine-wide setup, done once: the CLI on PATH, the providers
// chosen (and the test provider installed), the Docker engine reachable.
var (
	setupOnce sync.Once
	setupErr  error
	skipWhy   string
	shared    struct {
		root    string
		cli     string
		mode    string
		home    string
		docker  *client.Client
		tmpRoot string
	}
	t0 = time.Now()
)

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[engine %6.1fs] %s\n", time.Since(t0).Seconds(), fmt.Sprintf(format, args...))
}

// need skips (or fails, under CI=true) a test that cannot run here, and
// returns the shared setup.
func need(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("the engine tier deploys real containers; skipped under -short")
	}
	setupOnce.Do(func() { skipWhy, setupErr = setup() })
	if setupErr != nil {
		t.Fatal(setupErr)
	}
	if skipWhy != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true: %s", skipWhy)
		}
		t.Skip(skipWhy)
	}
}

func setup() (skip string, err error) {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
	shared.root = root
	cli := os.Getenv("PULUMI_CLI")
	if cli == "" {
		version, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", "github.com/pulumi/pulumi/sdk/v3").Output()
		if err != nil {
			return "", fmt.Errorf("reading the pulumi sdk version: %w", err)
		}
		cli = filepath.Join(root, ".cache", "pulumi", strings.TrimSpace(string(version)), "pulumi")
	}
	if _, err := os.Stat(cli); err != nil {
		return fmt.Sprintf("no Pulumi CLI at %s: run scripts/build-pulumi (or set PULUMI_CLI)", cli), nil
	}
	shared.cli = cli
	// The Automation API runs the `pulumi` it finds on PATH.
	os.Setenv("PATH", filepath.Dir(cli)+string(os.PathListSeparator)+os.Getenv("PATH"))

	d, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := d.Ping(ctx); err != nil {
		return fmt.Sprintf("no Docker engine answers: %v", err), nil
	}
	shared.docker = d
	if shared.tmpRoot, err = os.MkdirTemp("", "engine-tier-"); err != nil {
		return "", err
	}

	shared.mode = os.Getenv("ENGINE_PROVIDERS")
	switch shared.mode {
	case "", "test":
		shared.mode = "test"
		shared.home = filepath.Join(shared.tmpRoot, "pulumi-home")
		if err := installTestProvider(root, shared.home); err != nil {
			return "", err
		}
		// What a crashed run of the test provider left behind.
		leftovers := &realize.Docker{Cli: d}
		if gone := leftovers.RemoveLabelled(ctx, testprovider.LabelTest); len(gone) > 0 {
			logf("removed leftovers of an earlier run: %s", strings.Join(gone, ", "))
		}
	case "real":
		shared.home = os.Getenv("PULUMI_HOME")
		if shared.home == "" {
			home, _ := os.UserHomeDir()
			shared.home = filepath.Join(home, ".pulumi")
		}
	default:
		return "", fmt.Errorf("ENGINE_PROVIDERS=%q: allowed are test (default) and real", shared.mode)
	}
	plugins, err := exec.Command(cli, "plugin", "ls").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("pulumi plugin ls: %v\n%s", err, plugins)
	}
	logf("providers: %s (PULUMI_HOME %s); CLI %s\n%s", shared.mode, shared.home, cli, plugins)
	return "", nil
}

// installTestProvider builds the test provider plugin and installs it as
// the docker, tls and random plugins at the SDKs' versions.
func installTestProvider(root, home string) error {
	bin := filepath.Join(shared.tmpRoot, "testprovider")
	build := exec.Command("go", "build", "-o", bin, "./tests/internal/testprovider/plugin")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("building the test provider: %v\n%s", err, out)
	}
	for pkg, version := range testprovider.Versions {
		cmd := exec.Command(shared.cli, "plugin", "install", "resource", pkg, version, "-f", bin)
		cmd.Env = append(os.Environ(), "PULUMI_HOME="+home)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("installing the test provider as %s %s: %v\n%s", pkg, version, err, out)
		}
	}
	os.Setenv("PULUMI_HOME", home)
	return nil
}

// project is one stack of the program in a workspace of its own: a copy of
// the repository's Pulumi.yaml and stack files (templates linked, for the
// Patroni build context) and a file backend in a temporary directory.
type project struct {
	t       *testing.T
	dir     string
	name    string
	cluster string
	env     map[string]string
	stack   auto.Stack
}

// newProject selects (creating) stack in a fresh workspace. env is added to
// the CLI's (and so the plugins') environment.
func newProject(t *testing.T, stack, clusterName string, env map[string]string) *project {
	t.Helper()
	dir := t.TempDir()
	files, _ := filepath.Glob(filepath.Join(shared.root, "Pulumi*.yaml"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(shared.root, "templates"), filepath.Join(dir, "templates")); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, ".pulumi-state")
	if err := os.MkdirAll(state, 0o700); err != nil {
		t.Fatal(err)
	}
	all := map[string]string{
		"PULUMI_BACKEND_URL":       "file://" + state,
		"PULUMI_CONFIG_PASSPHRASE": "engine-tier",
		"PULUMI_HOME":              shared.home,
		"PULUMI_SKIP_UPDATE_CHECK": "true",
	}
	for k, v := range env {
		all[k] = v
	}
	s, err := auto.UpsertStackInlineSource(t.Context(), stack, "postgres-ha", cluster.Program,
		auto.WorkDir(dir), auto.EnvVars(all))
	if err != nil {
		t.Fatalf("selecting stack %s: %v", stack, err)
	}
	return &project{t: t, dir: dir, name: stack, cluster: clusterName, env: all, stack: s}
}

// elsewhere is the same stack (same backend, same stack files) from a
// checkout in another folder, as a colleague or a CI runner has it.
func (p *project) elsewhere() *project {
	p.t.Helper()
	dir := p.t.TempDir()
	files, _ := filepath.Glob(filepath.Join(p.dir, "Pulumi*.yaml"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			p.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644); err != nil {
			p.t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(shared.root, "templates"), filepath.Join(dir, "templates")); err != nil {
		p.t.Fatal(err)
	}
	s, err := auto.SelectStackInlineSource(p.t.Context(), p.name, "postgres-ha", cluster.Program,
		auto.WorkDir(dir), auto.EnvVars(p.env))
	if err != nil {
		p.t.Fatalf("selecting stack %s from %s: %v", p.name, dir, err)
	}
	return &project{t: p.t, dir: dir, name: p.name, cluster: p.cluster, env: p.env, stack: s}
}

// set sets a config path under the postgres-ha namespace
// ("cluster.name"), as `pulumi config set --path` does.
func (p *project) set(path, value string) {
	p.t.Helper()
	err := p.stack.SetConfigWithOptions(p.t.Context(), "postgres-ha:"+path, auto.ConfigValue{Value: value},
		&auto.ConfigOptions{Path: true})
	if err != nil {
		p.t.Fatalf("pulumi config set --path postgres-ha:%s %s: %v", path, value, err)
	}
}

// progress is the CLI's output, line by line on stderr under a prefix.
func progress(prefix string) io.Writer {
	pr, pw := io.Pipe()
	go func() {
		buf := make([]byte, 0, 4096)
		tmp := make([]byte, 4096)
		for {
			n, err := pr.Read(tmp)
			buf = append(buf, tmp[:n]...)
			for {
				i := bytes.IndexByte(buf, '\n')
				if i < 0 {
					break
				}
				if line := strings.TrimRight(string(buf[:i]), " \r"); line != "" {
					logf("%s| %s", prefix, line)
				}
				buf = buf[i+1:]
			}
			if err != nil {
				return
			}
		}
	}()
	return pw
}

// up runs `pulumi up` and returns its change summary.
func (p *project) up(what string) map[string]int {
	p.t.Helper()
	start := time.Now()
	res, err := p.stack.Up(p.t.Context(), optup.ProgressStreams(progress(p.name+" up")), optup.SuppressProgress())
	if err != nil {
		p.t.Fatalf("%s: pulumi up: %v", what, err)
	}
	sum := summary(res.Summary.ResourceChanges)
	logf("%s: up took %.1fs: %s", what, time.Since(start).Seconds(), summaryLine(sum))
	return sum
}

// preview runs `pulumi preview --diff`; out is the CLI's diff.
func (p *project) preview(what string) (map[string]int, string) {
	p.t.Helper()
	var out bytes.Buffer
	res, err := p.stack.Preview(p.t.Context(), optpreview.Diff(), optpreview.ProgressStreams(&out), optpreview.SuppressProgress())
	if err != nil {
		p.t.Fatalf("%s: pulumi preview: %v\n%s", what, err, out.String())
	}
	sum := map[string]int{}
	for op, n := range res.ChangeSummary {
		sum[string(op)] = n
	}
	logf("%s: preview: %s", what, summaryLine(sum))
	return sum, out.String()
}

// noChanges asserts that a preview shows nothing but unchanged resources.
func (p *project) noChanges(what string) {
	p.t.Helper()
	sum, out := p.preview(what)
	if changed := changes(sum); len(changed) > 0 {
		p.t.Errorf("%s: preview shows changes (%s); it must show none:\n%s", what, strings.Join(changed, ", "), out)
	}
}

// refresh runs `pulumi refresh` and asserts it changed nothing in state.
func (p *project) refresh(what string) {
	p.t.Helper()
	res, err := p.stack.Refresh(p.t.Context(), optrefresh.ProgressStreams(progress(p.name+" refresh")), optrefresh.SuppressProgress())
	if err != nil {
		p.t.Fatalf("%s: pulumi refresh: %v", what, err)
	}
	sum := summary(res.Summary.ResourceChanges)
	logf("%s: refresh: %s", what, summaryLine(sum))
	if changed := changes(sum); len(changed) > 0 {
		p.t.Errorf("%s: refresh changed the state (%s); it must find nothing to change", what, strings.Join(changed, ", "))
	}
}

// destroy removes the stack's resources and the stack; it is registered as
// a cleanup by the tests that deploy.
func (p *project) destroy() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if _, err := p.stack.Destroy(ctx, optdestroy.ProgressStreams(progress(p.name+" destroy")), optdestroy.SuppressProgress()); err != nil {
		p.t.Errorf("pulumi destroy: %v", err)
	}
	if err := p.stack.Workspace().RemoveStack(ctx, p.name); err != nil {
		p.t.Errorf("pulumi stack rm: %v", err)
	}
	// Nothing of the cluster may be left (volumes included: destroy removes
	// the data, like the old `make destroy`).
	if left := p.objects(ctx); len(left) > 0 {
		p.t.Errorf("after destroy, Docker still has %s", strings.Join(left, ", "))
	}
}

func summary(m *map[string]int) map[string]int {
	if m == nil {
		return map[string]int{}
	}
	return *m
}

// changes lists every operation but "same" with its count.
func changes(sum map[string]int) []string {
	var out []string
	for op, n := range sum {
		if op != string(apitype.OpSame) && n > 0 {
			out = append(out, fmt.Sprintf("%d %s", n, op))
		}
	}
	sort.Strings(out)
	return out
}

func summaryLine(sum map[string]int) string {
	var parts []string
	for op, n := range sum {
		parts = append(parts, fmt.Sprintf("%s %d", op, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// containers are the cluster's containers by name, with their state.
func (p *project) containers(ctx context.Context) map[string]container.Summary {
	p.t.Helper()
	f := filters.NewArgs(filters.Arg("label", components.LabelCluster+"="+p.cluster))
	cs, err := shared.docker.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		p.t.Fatal(err)
	}
	out := map[string]container.Summary{}
	for _, c := range cs {
		out[strings.TrimPrefix(c.Names[0], "/")] = c
	}
	return out
}

// volumes are the cluster's volumes by name, with their creation time.
func (p *project) volumes(ctx context.Context) map[string]string {
	p.t.Helper()
	f := filters.NewArgs(filters.Arg("label", components.LabelCluster+"="+p.cluster))
	vs, err := shared.docker.VolumeList(ctx, volume.ListOptions{Filters: f})
	if err != nil {
		p.t.Fatal(err)
	}
	out := map[string]string{}
	for _, v := range vs.Volumes {
		out[v.Name] = v.CreatedAt
	}
	return out
}

// objects lists every Docker object of the cluster still there.
func (p *project) objects(ctx context.Context) []string {
	var left []string
	for n := range p.containers(ctx) {
		left = append(left, "container "+n)
	}
	for n := range p.volumes(ctx) {
		left = append(left, "volume "+n)
	}
	sort.Strings(left)
	return left
}
