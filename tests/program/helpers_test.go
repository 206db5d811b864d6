package program_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"
	"gopkg.in/yaml.v3"

	"github.com/postgres-ha/postgres-ha/cluster"
	"github.com/postgres-ha/postgres-ha/config"
)

const (
	project   = config.Namespace // "postgres-ha", the Pulumi project
	stackName = "dev"
	compPkg   = "postgres-ha:components:"
)

// Type tokens the program registers.
const (
	tContainer     = "docker:index/container:Container"
	tVolume        = "docker:index/volume:Volume"
	tNetwork       = "docker:index/network:Network"
	tImage         = "docker:index/image:Image"
	tRemoteImage   = "docker:index/remoteImage:RemoteImage"
	tPrivateKey    = "tls:index/privateKey:PrivateKey"
	tSelfSigned    = "tls:index/selfSignedCert:SelfSignedCert"
	tCertRequest   = "tls:index/certRequest:CertRequest"
	tLocallySigned = "tls:index/locallySignedCert:LocallySignedCert"
	tPassword      = "random:index/randomPassword:RandomPassword"
	tUUID          = "random:index/randomUuid:RandomUuid"
	tBytes         = "random:index/randomBytes:RandomBytes"
)

// record is one resource registration as the mock monitor saw it.
type record struct {
	// Seq is the order in which the registration reached the monitor. A
	// registration is only sent once its parent's URN and every dependency's
	// URN are known, i.e. once their own registrations have returned.
	Seq                 int
	URN                 string
	Type                string
	Name                string
	Custom              bool
	Parent              string
	Deps                []string
	PropDeps            map[string][]string
	DeleteBeforeReplace bool
	ReplaceOnChanges    []string
	IgnoreChanges       []string
	ID                  string
	Inputs              resource.PropertyMap
	Outputs             resource.PropertyMap
}

// mocks stands in for the docker, tls and random providers. Every output is
// derived from the resource's type and name, so two runs are identical. No
// output is marked secret here: the program must wrap every secret itself.
type mocks struct {
	// exitCodes sets the exitCode output of containers by their name input;
	// absent names exit 0.
	exitCodes map[string]int

	mu   sync.Mutex
	recs []*record
}

var _ pulumi.MockResourceMonitor = (*mocks)(nil)

func (m *mocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	rec := &record{Type: args.TypeToken, Name: args.Name, Custom: args.Custom, Inputs: args.Inputs,
		PropDeps: map[string][]string{}}
	if rpc := args.RegisterRPC; rpc != nil {
		rec.Parent = rpc.GetParent()
		rec.Deps = sortedCopy(rpc.GetDependencies())
		for k, v := range rpc.GetPropertyDependencies() {
			rec.PropDeps[k] = sortedCopy(v.GetUrns())
		}
		rec.DeleteBeforeReplace = rpc.GetDeleteBeforeReplace()
		rec.ReplaceOnChanges = sortedCopy(rpc.GetReplaceOnChanges())
		rec.IgnoreChanges = sortedCopy(rpc.GetIgnoreChanges())
	}
	rec.URN = mockURN(rec.Parent, rec.Type, rec.Name)
	if args.Custom {
		rec.ID = "id-" + digest(rec.URN)[:16]
	}
	rec.Outputs = m.outputs(args)

	m.mu.Lock()
	rec.Seq = len(m.recs)
	m.recs = append(m.recs, rec)
	m.mu.Unlock()
	return rec.ID, rec.Outputs, nil
}

func (m *mocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return nil, fmt.Errorf("unexpected invoke %s", args.Token)
}

func (m *mocks) records() []*record {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]*record(nil), m.recs...)
}

// outputs are the inputs plus what the provider would compute.
func (m *mocks) outputs(args pulumi.MockResourceArgs) resource.PropertyMap {
	out := args.Inputs.Copy()
	if out == nil {
		out = resource.PropertyMap{}
	}
	h := digest(args.TypeToken + "\x00" + args.Name)
	set := func(k, v string) { out[resource.PropertyKey(k)] = resource.NewStringProperty(v) }
	switch args.TypeToken {
	case tContainer:
		code := m.exitCodes[str(args.Inputs, "name")]
		out["exitCode"] = resource.NewNumberProperty(float64(code))
	case tRemoteImage:
		set("imageId", "sha256:"+digest("image\x00"+str(args.Inputs, "name")))
		set("repoDigest", str(args.Inputs, "name")+"@sha256:"+h)
	case tImage:
		set("repoDigest", "")
		set("baseImageName", str(args.Inputs, "imageName"))
	case tPrivateKey:
		set("privateKeyPem", fakePEM("PRIVATE KEY", h))
		set("publicKeyPem", fakePEM("PUBLIC KEY", h))
	case tSelfSigned, tLocallySigned:
		set("certPem", fakePEM("CERTIFICATE", h))
	case tCertRequest:
		set("certRequestPem", fakePEM("CERTIFICATE REQUEST", h))
	case tPassword:
		sum := sha256.Sum256([]byte(h))
		set("result", base64.RawURLEncoding.EncodeToString(sum[:])[:32]) // A-Z a-z 0-9 - _
	case tUUID:
		set("result", h[0:8]+"-"+h[8:12]+"-4"+h[13:16]+"-8"+h[17:20]+"-"+h[20:32])
	case tBytes:
		b, _ := hex.DecodeString(h) // 32 bytes
		set("base64", base64.StdEncoding.EncodeToString(b))
		set("hex", h)
	}
	return out
}

// mockURN is the URN the mock monitor gives a registration (see its newURN).
func mockURN(parent, typ, name string) string {
	parentType := tokens.Type("")
	if p := resource.URN(parent); p != "" && p.QualifiedType() != resource.RootStackType {
		parentType = p.QualifiedType()
	}
	return string(resource.NewURN(tokens.QName(stackName), tokens.PackageName(project), parentType,
		tokens.Type(typ), name))
}

func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func fakePEM(kind, h string) string {
	sum := sha256.Sum256([]byte(kind + h))
	body := base64.StdEncoding.EncodeToString(append([]byte(h), sum[:]...))
	return fmt.Sprintf("-----BEGIN %s-----\n%s\n-----END %s-----\n", kind, body, kind)
}

func sortedCopy(s []string) []string {
	out := append([]string{}, s...)
	sort.Strings(out)
	return out
}

// stackCfg is a stack's config by short key ("postgres"), each value the JSON
// the engine hands the program for a structured value.
type stackCfg map[string]string

// full is the config keyed the way the engine passes it ("postgres-ha:postgres").
func (s stackCfg) full() map[string]string {
	out := make(map[string]string, len(s))
	for k, v := range s {
		out[project+":"+k] = v
	}
	return out
}

// loadStackFile reads Pulumi.<stack>.yaml from the project directory into a
// stackCfg, structured values as JSON like the engine does.
func loadStackFile(t testing.TB, stack string) stackCfg {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(projectDir(t), "Pulumi."+stack+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Config map[string]any `yaml:"config"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	out := stackCfg{}
	for k, v := range doc.Config {
		short, ok := strings.CutPrefix(k, project+":")
		if !ok {
			t.Fatalf("Pulumi.%s.yaml: key %q outside the %s namespace", stack, k, project)
		}
		if s, ok := v.(string); ok {
			out[short] = s
			continue
		}
		raw, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		out[short] = string(raw)
	}
	return out
}

func projectDir(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// exported is one resolved stack output.
type exported struct {
	Value  any
	Known  bool
	Secret bool
}

// result is one run of the program under mocks.
type result struct {
	cfg     config.Config
	err     error
	recs    []*record
	byURN   map[string]*record
	exports map[string]exported
}

// run runs cluster.Program under mocks with cfg as the stack config. It sets
// PULUMI_CONFIG as the engine does, which is where the program lists the
// config keys to report unknown ones.
func run(t testing.TB, cfg stackCfg, m *mocks) *result {
	t.Helper()
	full := cfg.full()
	raw, err := json.Marshal(full)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(pulumi.EnvConfig, string(raw))
	if m == nil {
		m = &mocks{}
	}
	r := &result{byURN: map[string]*record{}}
	var exports map[string]pulumi.Input
	r.err = runOnce(projectDir(t), full, m, &exports)
	r.recs = m.records()
	for _, rec := range r.recs {
		if _, dup := r.byURN[rec.URN]; dup {
			t.Fatalf("URN %s registered twice", rec.URN)
		}
		r.byURN[rec.URN] = rec
	}
	r.exports = map[string]exported{}
	for k, v := range exports {
		res, err := internals.UnsafeAwaitOutput(context.Background(), pulumi.ToOutput(v))
		if err != nil {
			t.Fatalf("awaiting export %s: %v", k, err)
		}
		r.exports[k] = exported{Value: res.Value, Known: res.Known, Secret: res.Secret}
	}
	if r.err == nil {
		if r.cfg, err = config.Load(config.MapSource(full)); err != nil {
			t.Fatalf("the program accepted a config that config.Load rejects: %v", err)
		}
	}
	return r
}

// runOnce is one pulumi.RunErr of the program; exports receives the stack
// outputs when non-nil.
func runOnce(root string, full map[string]string, m *mocks, exports *map[string]pulumi.Input) error {
	prog := func(ctx *pulumi.Context) error {
		err := cluster.Program(ctx)
		if exports != nil {
			*exports = ctx.GetCurrentExportMap()
		}
		return err
	}
	return pulumi.RunErr(prog, pulumi.WithMocks(project, stackName, m), func(i *pulumi.RunInfo) {
		i.Config = full
		i.RootDirectory = root
	})
}

// mustRun is run that fails the test when the program fails.
func mustRun(t testing.TB, cfg stackCfg) *result {
	t.Helper()
	r := run(t, cfg, nil)
	if r.err != nil {
		t.Fatalf("program failed: %v", r.err)
	}
	return r
}

func (r *result) ofType(typ string) []*record {
	var out []*record
	for _, rec := range r.recs {
		if rec.Type == typ {
			out = append(out, rec)
		}
	}
	return out
}

// counts is the number of registrations per type token.
func (r *result) counts() map[string]int {
	out := map[string]int{}
	for _, rec := range r.recs {
		out[rec.Type]++
	}
	return out
}

// named is the one registration of typ with logical name name.
func (r *result) named(t testing.TB, typ, name string) *record {
	t.Helper()
	var found *record
	for _, rec := range r.ofType(typ) {
		if rec.Name == name {
			if found != nil {
				t.Fatalf("two %s named %s", typ, name)
			}
			found = rec
		}
	}
	if found == nil {
		t.Fatalf("no %s named %s", typ, name)
	}
	return found
}

// output is a string output of the one typ named name.
func (r *result) output(t testing.TB, typ, name, key string) string {
	t.Helper()
	v := str(r.named(t, typ, name).Outputs, key)
	if v == "" {
		t.Fatalf("%s %s has no output %s", typ, name, key)
	}
	return v
}

// container is a Docker container registration with its role (the
// postgres-ha.component label) and its Docker name.
type container struct {
	*record
	role, name string
}

func (r *result) containers() []container {
	var out []container
	for _, rec := range r.ofType(tContainer) {
		role := ""
		for _, l := range arr(rec.Inputs, "labels") {
			o, _ := unwrap(l)
			if o.IsObject() && str(o.ObjectValue(), "label") == "postgres-ha.component" {
				role = str(o.ObjectValue(), "value")
			}
		}
		out = append(out, container{record: rec, role: role, name: str(rec.Inputs, "name")})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// container is the container whose Docker name is name.
func (r *result) container(t testing.TB, name string) container {
	t.Helper()
	for _, c := range r.containers() {
		if c.name == name {
			return c
		}
	}
	t.Fatalf("no container named %s", name)
	return container{}
}

// unwrap strips secret and output wrappers, reporting whether any was secret.
func unwrap(v resource.PropertyValue) (resource.PropertyValue, bool) {
	secret := false
	for {
		switch {
		case v.IsSecret():
			secret = true
			v = v.SecretValue().Element
		case v.IsOutput():
			o := v.OutputValue()
			secret = secret || o.Secret
			v = o.Element
		default:
			return v, secret
		}
	}
}

// field is pm[key] unwrapped, with whether it was secret.
func field(pm resource.PropertyMap, key string) (resource.PropertyValue, bool) {
	v, ok := pm[resource.PropertyKey(key)]
	if !ok {
		return resource.NewNullProperty(), false
	}
	return unwrap(v)
}

// str is a string property, "" when absent or not a string.
func str(pm resource.PropertyMap, key string) string {
	v, _ := field(pm, key)
	if v.IsString() {
		return v.StringValue()
	}
	return ""
}

func arr(pm resource.PropertyMap, key string) []resource.PropertyValue {
	v, _ := field(pm, key)
	if v.IsArray() {
		return v.ArrayValue()
	}
	return nil
}

func strs(pm resource.PropertyMap, key string) []string {
	var out []string
	for _, e := range arr(pm, key) {
		if u, _ := unwrap(e); u.IsString() {
			out = append(out, u.StringValue())
		}
	}
	return out
}

// boolean is a bool property and whether it is set.
func boolean(pm resource.PropertyMap, key string) (bool, bool) {
	v, _ := field(pm, key)
	if v.IsBool() {
		return v.BoolValue(), true
	}
	return false, false
}

func number(pm resource.PropertyMap, key string) (int, bool) {
	v, _ := field(pm, key)
	if v.IsNumber() {
		return int(v.NumberValue()), true
	}
	return 0, false
}

// upload is one file of a container's uploads.
type upload struct {
	content, mode string
	secret        bool
}

func uploads(c container) map[string]upload {
	out := map[string]upload{}
	for _, e := range arr(c.Inputs, "uploads") {
		o, _ := unwrap(e)
		if !o.IsObject() {
			continue
		}
		content, secret := field(o.ObjectValue(), "content")
		u := upload{mode: str(o.ObjectValue(), "permissions"), secret: secret}
		if content.IsString() {
			u.content = content.StringValue()
		}
		out[str(o.ObjectValue(), "file")] = u
	}
	return out
}

// port is one published port.
type port struct {
	internal, external int
	ip                 string
}

func ports(c container) []port {
	var out []port
	for _, e := range arr(c.Inputs, "ports") {
		o, _ := unwrap(e)
		in, _ := number(o.ObjectValue(), "internal")
		ex, _ := number(o.ObjectValue(), "external")
		out = append(out, port{in, ex, str(o.ObjectValue(), "ip")})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].internal < out[j].internal })
	return out
}

// walkStrings calls f for every string in v with its path and whether it sits
// under a secret.
func walkStrings(path string, v resource.PropertyValue, secret bool, f func(path, s string, secret bool)) {
	switch {
	case v.IsSecret():
		walkStrings(path, v.SecretValue().Element, true, f)
	case v.IsOutput():
		walkStrings(path, v.OutputValue().Element, secret || v.OutputValue().Secret, f)
	case v.IsString():
		f(path, v.StringValue(), secret)
	case v.IsArray():
		for i, e := range v.ArrayValue() {
			walkStrings(fmt.Sprintf("%s[%d]", path, i), e, secret, f)
		}
	case v.IsObject():
		for _, k := range v.ObjectValue().StableKeys() {
			walkStrings(path+"."+string(k), v.ObjectValue()[k], secret, f)
		}
	}
}

// plain turns a property value into JSON-able data, keeping secrets and
// unknowns visible, for a canonical serialization.
func plain(v resource.PropertyValue) any {
	switch {
	case v.IsSecret():
		return map[string]any{"$secret": plain(v.SecretValue().Element)}
	case v.IsOutput():
		o := v.OutputValue()
		return map[string]any{"$output": plain(o.Element), "known": o.Known, "secret": o.Secret}
	case v.IsComputed():
		return "$computed"
	case v.IsResourceReference():
		return "$ref:" + string(v.ResourceReferenceValue().URN)
	case v.IsObject():
		m := map[string]any{}
		for k, e := range v.ObjectValue() {
			m[string(k)] = plain(e)
		}
		return m
	case v.IsArray():
		a := []any{}
		for _, e := range v.ArrayValue() {
			a = append(a, plain(e))
		}
		return a
	case v.IsString():
		return v.StringValue()
	case v.IsNumber():
		return v.NumberValue()
	case v.IsBool():
		return v.BoolValue()
	case v.IsNull():
		return nil
	default:
		return fmt.Sprintf("$unhandled:%v", v)
	}
}

// canonical serializes every registration, sorted by URN, one per line.
func canonical(t testing.TB, recs []*record) []string {
	t.Helper()
	sorted := append([]*record(nil), recs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].URN < sorted[j].URN })
	lines := make([]string, len(sorted))
	for i, rec := range sorted {
		b, err := json.Marshal(map[string]any{
			"urn": rec.URN, "type": rec.Type, "name": rec.Name, "custom": rec.Custom, "id": rec.ID,
			"parent": rec.Parent, "deps": rec.Deps, "propDeps": rec.PropDeps,
			"deleteBeforeReplace": rec.DeleteBeforeReplace,
			"inputs":              plain(resource.NewObjectProperty(rec.Inputs)),
		})
		if err != nil {
			t.Fatal(err)
		}
		lines[i] = string(b)
	}
	return lines
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func inputsValue(rec *record) resource.PropertyValue { return resource.NewObjectProperty(rec.Inputs) }

func propKey(k string) resource.PropertyKey { return resource.PropertyKey(k) }

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
