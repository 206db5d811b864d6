package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/client"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"
	"gopkg.in/yaml.v3"

	"github.com/postgres-ha/postgres-ha/cluster"
	"github.com/postgres-ha/postgres-ha/config"
	"github.com/postgres-ha/postgres-ha/tests/failover"
)

// The e2e stack: Pulumi.lab.yaml with its own cluster name, ports and
// subnet, so nothing collides with a user's lab stack.
const (
	e2eCluster = "e2e"
	stackName  = "e2e"
)

var e2ePorts = map[string]int{"write": 25000, "read": 25001, "stats": 27000, "metrics": 28404, "consulUi": 28501}

// Subnets tried in order; the first that overlaps no Docker network is used.
var subnetCandidates = []string{"172.31.250.0/24", "172.30.250.0/24", "10.250.77.0/24", "192.168.250.0/24"}

var (
	// skipReason is set when the tier cannot run here.
	skipReason string
	// env is the shared deployment.
	env       *harness
	envOnce   sync.Once
	envErr    error
	harnessT0 = time.Now()
	// deployTook is the program run, healthyTook the wait after it for a
	// healthy cluster (for BENCHMARKS.md).
	deployTook, healthyTook time.Duration
)

// harness is the shared deployment of every test in the package.
type harness struct {
	cli   *client.Client
	r     *realizer
	root  string
	runID string
	// cfg is the stack config passed to the program (values are JSON).
	cfg map[string]string
	// c is the same config, loaded as the program loads it.
	c config.Config
	// exports of the last program run.
	exports map[string]any
	caFile  string
	tmp     string
	// keep leaves the deployment running at exit (the lab).
	keep bool

	cleanupOnce sync.Once
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[e2e %6.1fs] %s\n", time.Since(harnessT0).Seconds(), fmt.Sprintf(format, args...))
}

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if testing.Short() {
		skipReason = "end-to-end tier skipped under -short"
		return m.Run()
	}
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err = cli.Ping(ctx)
		cancel()
	}
	if err != nil {
		skipReason = "Docker engine unreachable: " + err.Error()
		return m.Run()
	}
	root, err := repoRoot()
	if err != nil {
		skipReason = err.Error()
		return m.Run()
	}
	id := make([]byte, 4)
	_, _ = rand.Read(id)
	h := &harness{cli: cli, root: root, runID: time.Now().UTC().Format("20060102T150405") + "-" + hex.EncodeToString(id)}
	h.r = newRealizer(cli, h.runID, root, logf)
	if h.tmp, err = os.MkdirTemp("", "postgres-ha-e2e-"); err != nil {
		skipReason = err.Error()
		return m.Run()
	}
	env = h

	// Leftovers of crashed runs go first.
	if gone := h.r.docker.RemoveLabelled(context.Background(), LabelE2E); len(gone) > 0 {
		logf("removed leftovers of earlier runs: %s", strings.Join(gone, ", "))
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sigs
		logf("%s: cleaning up", s)
		h.r.cancel()
		h.cleanup()
		os.Exit(2)
	}()
	defer h.cleanup()
	return m.Run()
}

// cleanup removes everything of this run, once.
func (h *harness) cleanup() {
	h.cleanupOnce.Do(func() {
		if h.keep {
			_ = os.RemoveAll(h.tmp)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		gone := h.r.docker.RemoveLabelled(ctx, LabelE2E+"="+h.runID)
		logf("cleanup: removed %d objects: %s", len(gone), strings.Join(gone, ", "))
		_ = os.RemoveAll(h.tmp)
	})
}

// repoRoot is the directory of Pulumi.yaml, found from this file.
func repoRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("cannot locate the test source")
	}
	root := filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
	if _, err := os.Stat(filepath.Join(root, "Pulumi.lab.yaml")); err != nil {
		return "", fmt.Errorf("Pulumi.lab.yaml not found at the repo root: %w", err)
	}
	return root, nil
}

// cluster returns the shared deployment, deploying it on first use; it
// skips (or fails under CI=true) when the tier cannot run.
func deployment(t *testing.T) *harness {
	t.Helper()
	if skipReason != "" {
		if os.Getenv("CI") == "true" && !testing.Short() {
			t.Fatalf("CI=true: the end-to-end tier must run: %s", skipReason)
		}
		t.Skip(skipReason)
	}
	envOnce.Do(func() { envErr = env.deploy() })
	if envErr != nil {
		t.Fatalf("deploying the cluster: %v", envErr)
	}
	return env
}

// labConfig reads Pulumi.lab.yaml into postgres-ha:* JSON values and applies
// the e2e overrides.
func (h *harness) labConfig(subnet string, running bool) (map[string]string, error) {
	b, err := os.ReadFile(filepath.Join(h.root, "Pulumi.lab.yaml"))
	if err != nil {
		return nil, err
	}
	var doc struct {
		Config map[string]any `yaml:"config"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("Pulumi.lab.yaml: %w", err)
	}
	objs := map[string]map[string]any{}
	for k, v := range doc.Config {
		key, ok := strings.CutPrefix(k, config.Namespace+":")
		if !ok {
			continue
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("Pulumi.lab.yaml: %s is not a mapping", k)
		}
		objs[key] = m
	}
	set := func(obj, key string, v any) {
		if objs[obj] == nil {
			objs[obj] = map[string]any{}
		}
		objs[obj][key] = v
	}
	set("cluster", "name", e2eCluster)
	set("cluster", "running", running)
	set("network", "subnet", subnet)
	set("ports", "bindAddress", "127.0.0.1")
	for k, p := range e2ePorts {
		set("ports", k, p)
	}
	cfg := map[string]string{}
	for k, m := range objs {
		j, err := json.Marshal(m)
		if err != nil {
			return nil, err
		}
		cfg[config.Namespace+":"+k] = string(j)
	}
	return cfg, nil
}

// run runs the program once under the realizer with cfg and returns its
// exports; resources it no longer declares are deleted afterwards.
func (h *harness) run(cfg map[string]string) (map[string]any, error) {
	h.r.nextRun()
	exports := map[string]any{}
	var mu sync.Mutex
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		if err := cluster.Program(ctx); err != nil {
			return err
		}
		for k, v := range ctx.GetCurrentExportMap() {
			res, err := internals.UnsafeAwaitOutput(ctx.Context(), pulumi.ToOutput(v))
			if err != nil {
				return fmt.Errorf("export %s: %w", k, err)
			}
			mu.Lock()
			exports[k] = res.Value
			mu.Unlock()
		}
		return nil
	}, pulumi.WithMocks(config.Namespace, stackName, h.r), func(i *pulumi.RunInfo) {
		i.Config = cfg
		i.RootDirectory = h.root
	})
	if err != nil {
		return nil, err
	}
	if err := h.r.sweep(h.r.ctx); err != nil {
		return nil, err
	}
	return exports, nil
}

// deploy runs the program with the lab config and waits for a healthy
// cluster: a leader and every replica streaming.
func (h *harness) deploy() error {
	ctx := context.Background()
	for name, p := range e2ePorts {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			return fmt.Errorf("port %s %d on 127.0.0.1 is taken: %w", name, p, err)
		}
		l.Close()
	}
	subnet, err := failover.NewDockerFromClient(h.cli).FreeSubnet(ctx, subnetCandidates)
	if err != nil {
		return err
	}
	if h.cfg, err = h.labConfig(subnet, true); err != nil {
		return err
	}
	if h.c, err = config.Load(config.MapSource(h.cfg)); err != nil {
		return err
	}
	keys := make([]string, 0, len(h.cfg))
	for k := range h.cfg {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		logf("config %s = %s", k, h.cfg[k])
	}
	t0 := time.Now()
	if h.exports, err = h.run(h.cfg); err != nil {
		return fmt.Errorf("running the program: %w", err)
	}
	deployTook = time.Since(t0)
	logf("timing: program run (every resource created) %.1fs; slowest: %s",
		time.Since(t0).Seconds(), strings.Join(h.r.slowest(6), "; "))
	if err := h.writeCA(); err != nil {
		return err
	}
	t1 := time.Now()
	if _, err := h.waitHealthy(ctx, 120*time.Second); err != nil {
		return err
	}
	healthyTook = time.Since(t1)
	logf("timing: program done → healthy %.1fs; harness start → healthy cluster %.1fs",
		time.Since(t1).Seconds(), time.Since(harnessT0).Seconds())
	return nil
}

func (h *harness) writeCA() error {
	ca, ok := h.exports["caCert"].(string)
	if !ok || ca == "" {
		return fmt.Errorf("export caCert missing")
	}
	h.caFile = filepath.Join(h.tmp, "ca.crt")
	return os.WriteFile(h.caFile, []byte(ca), 0o600)
}

func (h *harness) export(t *testing.T, key string) string {
	t.Helper()
	s, ok := h.exports[key].(string)
	if !ok || s == "" {
		t.Fatalf("export %s is missing or not a string (%T)", key, h.exports[key])
	}
	return s
}
