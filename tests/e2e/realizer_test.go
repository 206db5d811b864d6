package e2e

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/client"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/postgres-ha/postgres-ha/tests/internal/realize"
)

// LabelE2E marks every Docker object the realizer creates; its value is the
// run id.
const LabelE2E = "postgres-ha.e2e"

// entry is one realized resource, keyed by parent URN, type and name (what
// makes its URN), so a second run of the program finds it again.
type entry struct {
	key, typ, name string
	// inputs are the plain inputs, to tell an unchanged re-registration
	// (no-op) from a changed one (replace).
	inputs  map[string]any
	id      string
	outputs resource.PropertyMap
	// Docker objects, when the resource is one.
	container, network, volume string
	// destroyGrace is the container's destroyGraceSeconds.
	destroyGrace int
	attach       bool
	// gen is the last program run that registered the resource.
	gen int
	// took is how long creating it took.
	took time.Duration
}

// realizer is the mock resource monitor that makes every resource real.
// NewResource is called concurrently by the SDK, once per resource and only
// after all its inputs and its DependsOn resources are resolved, so blocking
// in it (waiting for a healthy container) orders the deployment as the
// program's dependencies say. Only the shared maps are locked.
type realizer struct {
	cli    *client.Client
	docker *realize.Docker
	// ctx bounds every Docker call; it is cancelled on SIGINT/SIGTERM so
	// that nothing is created after the cleanup.
	ctx    context.Context
	cancel context.CancelFunc
	runID  string
	// root is the repository root (Pulumi.yaml): relative build contexts
	// are resolved against it.
	root string
	logf func(format string, args ...any)

	mu      sync.Mutex
	entries map[string]*entry
	gen     int
	// secrets are every generated secret value (passwords, tokens, keys).
	secrets []string
	// created lists what each run created, for timings.
	created []*entry
}

var _ pulumi.MockResourceMonitor = (*realizer)(nil)

func newRealizer(cli *client.Client, runID, root string, logf func(string, ...any)) *realizer {
	ctx, cancel := context.WithCancel(context.Background())
	d := &realize.Docker{Cli: cli, Root: root, Labels: map[string]string{LabelE2E: runID}, Logf: logf}
	return &realizer{cli: cli, docker: d, ctx: ctx, cancel: cancel, runID: runID, root: root, logf: logf, entries: map[string]*entry{}}
}

// Call serves invokes; the program makes none.
func (r *realizer) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return nil, fmt.Errorf("e2e realizer: invoke %s is not implemented", args.Token)
}

// NewResource realizes one registration.
func (r *realizer) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	if !args.Custom {
		// Component resources: nothing to create.
		return args.Name, resource.PropertyMap{}, nil
	}
	if strings.HasPrefix(args.TypeToken, "pulumi:providers:") {
		return args.Name + "-provider", args.Inputs, nil
	}
	parent := ""
	if args.RegisterRPC != nil {
		parent = args.RegisterRPC.GetParent()
	}
	key := parent + "|" + args.TypeToken + "|" + args.Name
	in, err := realize.PlainMap(args.Inputs)
	if err != nil {
		return "", nil, fmt.Errorf("e2e realizer: %s %s: %w", args.TypeToken, args.Name, err)
	}

	r.mu.Lock()
	gen := r.gen
	prev := r.entries[key]
	if prev != nil && reflect.DeepEqual(prev.inputs, in) {
		prev.gen = gen
		r.mu.Unlock()
		return prev.id, prev.outputs, nil
	}
	r.mu.Unlock()

	ctx := r.ctx
	if err := ctx.Err(); err != nil {
		return "", nil, fmt.Errorf("e2e realizer: %s %s: %w", args.TypeToken, args.Name, err)
	}
	if prev != nil {
		// Changed inputs: replace. Every resource the program declares
		// either asks for delete-before-replace (containers, named
		// networks and volumes) or has nothing outside this process.
		r.logf("realizer: replacing %s %s (inputs changed: %s)", short(args.TypeToken), args.Name, diffKeys(prev.inputs, in))
		if err := r.destroy(ctx, prev); err != nil {
			return "", nil, fmt.Errorf("e2e realizer: replacing %s %s: %w", args.TypeToken, args.Name, err)
		}
	}

	start := time.Now()
	e := &entry{key: key, typ: args.TypeToken, name: args.Name, inputs: in, gen: gen}
	f := realize.NewFields(short(args.TypeToken)+" "+args.Name, in)
	var secrets []string
	switch args.TypeToken {
	case realize.TokPrivateKey:
		e.outputs, secrets, err = realize.TLSPrivateKey(f)
		e.id = args.Name
	case realize.TokSelfSignedCert:
		e.outputs, err = realize.TLSSelfSignedCert(f)
		e.id = args.Name
	case realize.TokCertRequest:
		e.outputs, err = realize.TLSCertRequest(f)
		e.id = args.Name
	case realize.TokLocallySignedCert:
		e.outputs, err = realize.TLSLocallySignedCert(f)
		e.id = args.Name
	case realize.TokRandomPassword:
		e.outputs, secrets, err = realize.RandomPassword(f)
		e.id = args.Name
	case realize.TokRandomUUID:
		e.outputs, secrets, err = realize.RandomUUID(f)
		if err == nil {
			e.id = e.outputs["result"].StringValue()
		}
	case realize.TokRandomBytes:
		e.outputs, secrets, err = realize.RandomBytes(f)
		e.id = args.Name
	case realize.TokNetwork:
		e.id, e.outputs, err = r.docker.CreateNetwork(ctx, args.Name, f, args.Inputs)
		e.network = e.id
	case realize.TokVolume:
		e.id, e.outputs, err = r.docker.CreateVolume(ctx, args.Name, f, args.Inputs)
		e.volume = e.id
	case realize.TokRemoteImage:
		e.id, e.outputs, err = r.docker.RemoteImage(ctx, args.Name, f, args.Inputs)
	case realize.TokImage:
		e.id, e.outputs, err = r.docker.BuildImage(ctx, args.Name, f, args.Inputs)
	case realize.TokContainer:
		e.id, e.outputs, err = r.docker.CreateContainer(ctx, args.Name, f, args.Inputs)
		e.container = e.id
		grace, _ := in["destroyGraceSeconds"].(float64)
		e.destroyGrace = int(grace)
		e.attach, _ = in["attach"].(bool)
	default:
		err = fmt.Errorf("resource type %s is not implemented by the e2e realizer", args.TypeToken)
	}
	if err != nil {
		return "", nil, fmt.Errorf("e2e realizer: %s %s: %w", args.TypeToken, args.Name, err)
	}
	e.took = time.Since(start)

	r.mu.Lock()
	r.entries[key] = e
	r.secrets = append(r.secrets, secrets...)
	r.created = append(r.created, e)
	r.mu.Unlock()
	return e.id, e.outputs, nil
}

// short is the last part of a type token ("Container").
func short(tok string) string {
	if i := strings.LastIndex(tok, ":"); i >= 0 {
		return tok[i+1:]
	}
	return tok
}

func diffKeys(a, b map[string]any) string {
	var ks []string
	seen := map[string]bool{}
	for k := range a {
		seen[k] = true
		if !reflect.DeepEqual(a[k], b[k]) {
			ks = append(ks, k)
		}
	}
	for k := range b {
		if !seen[k] {
			ks = append(ks, k)
		}
	}
	sort.Strings(ks)
	return strings.Join(ks, ", ")
}

// nextRun starts a program run: resources it does not register again are
// deleted by sweep, as `pulumi up` would.
func (r *realizer) nextRun() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gen++
	r.created = nil
}

// sweep deletes what the last run no longer declares: containers first,
// then volumes and networks.
func (r *realizer) sweep(ctx context.Context) error {
	r.mu.Lock()
	var stale []*entry
	for k, e := range r.entries {
		if e.gen != r.gen {
			stale = append(stale, e)
			delete(r.entries, k)
		}
	}
	r.mu.Unlock()
	sort.Slice(stale, func(i, j int) bool { return stale[i].container != "" && stale[j].container == "" })
	var errs []string
	for _, e := range stale {
		r.logf("realizer: deleting %s %s (no longer declared)", short(e.typ), e.name)
		if err := r.destroy(ctx, e); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("sweep: %s", strings.Join(errs, "; "))
	}
	return nil
}

// destroy deletes a resource's Docker object as the provider does. A
// container's dependents (containers sharing its network namespace) go
// first: Pulumi replaces them too, since their networkMode names its ID.
func (r *realizer) destroy(ctx context.Context, e *entry) error {
	switch {
	case e.container != "":
		r.mu.Lock()
		var deps []*entry
		for _, o := range r.entries {
			if o != e && o.container != "" && o.inputs["networkMode"] == "container:"+e.container {
				deps = append(deps, o)
			}
		}
		r.mu.Unlock()
		for _, d := range deps {
			if err := r.destroy(ctx, d); err != nil {
				return err
			}
		}
		err := r.docker.DeleteContainer(ctx, e.container, e.destroyGrace, e.attach)
		e.container = ""
		return err
	case e.network != "":
		err := r.cli.NetworkRemove(ctx, e.network)
		e.network = ""
		return err
	case e.volume != "":
		err := r.cli.VolumeRemove(ctx, e.volume, false)
		e.volume = ""
		return err
	}
	return nil
}

// secretValues returns every generated secret.
func (r *realizer) secretValues() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.secrets...)
}

// lookup returns the entry of type typ named name.
func (r *realizer) lookup(typ, name string) *entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.entries {
		if e.typ == typ && e.name == name {
			return e
		}
	}
	return nil
}

// container returns the container resource whose container name is name
// (resource names are not unique: the ACL job and HAProxy share theirs).
func (r *realizer) container(name string) *entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.entries {
		if e.typ == realize.TokContainer && e.inputs["name"] == name {
			return e
		}
	}
	return nil
}

// slowest lists the last run's slowest creations, for the timing log.
func (r *realizer) slowest(n int) []string {
	r.mu.Lock()
	es := append([]*entry(nil), r.created...)
	r.mu.Unlock()
	sort.Slice(es, func(i, j int) bool { return es[i].took > es[j].took })
	var out []string
	for i := 0; i < len(es) && i < n; i++ {
		out = append(out, fmt.Sprintf("%s %s %.1fs", short(es[i].typ), es[i].name, es[i].took.Seconds()))
	}
	return out
}
