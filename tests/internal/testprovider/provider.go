// Package testprovider is a Pulumi resource provider plugin that stands in
// for the real docker, tls and random plugins where they cannot be had (CI
// on a fresh machine): the real Pulumi engine drives it over the provider
// gRPC interface, and it makes every resource real (Docker objects through
// the Engine API, keys and certificates through crypto/x509, random values
// through crypto/rand) with the code the e2e realizer uses.
//
// What the engine sees follows the real providers at the pinned versions,
// property by property: Table says which inputs replace, which update in
// place and which the provider fills; Read puts in state what the real
// provider reads back from the Docker object (readContainer). Both are
// derived from the providers' sources and checked against the real plugins
// by hand.
package testprovider

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"github.com/postgres-ha/postgres-ha/tests/internal/realize"
)

// Versions are the packages this plugin serves, at the versions of the
// program's Go SDKs.
var Versions = map[string]string{"docker": "4.11.2", "tls": "5.5.1", "random": "4.21.1"}

// LabelTest marks every Docker object the test provider creates.
const LabelTest = "postgres-ha.testprovider"

// Server is one package's provider.
type Server struct {
	pulumirpc.UnimplementedResourceProviderServer
	pkg    string
	docker *realize.Docker
	// logOpts models the daemon's default log options (see readContainer).
	logOpts daemonLogOpts
}

// NewServer serves pkg ("docker", "tls" or "random"). root is the project
// directory, for relative build contexts.
func NewServer(pkg, root string) (*Server, error) {
	if _, ok := Versions[pkg]; !ok {
		return nil, fmt.Errorf("test provider: package %q is not served (only docker, tls, random)", pkg)
	}
	s := &Server{pkg: pkg}
	if pkg == "docker" {
		cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
		if err != nil {
			return nil, err
		}
		logf := func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
		s.docker = &realize.Docker{Cli: cli, Root: root, Labels: map[string]string{LabelTest: "true"}, Logf: logf}
		if s.logOpts, err = modelledLogOpts(os.Getenv(EnvDaemonLogOpts)); err != nil {
			return nil, err
		}
	}
	return s, nil
}

var opts = plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true, KeepResources: true, KeepOutputValues: true}

func unmarshal(s *structpb.Struct) (resource.PropertyMap, error) {
	if s == nil {
		return resource.PropertyMap{}, nil
	}
	return plugin.UnmarshalProperties(s, opts)
}

func marshal(m resource.PropertyMap) (*structpb.Struct, error) {
	return plugin.MarshalProperties(m, opts)
}

// GetPluginInfo reports the version the engine asked for.
func (s *Server) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: Versions[s.pkg]}, nil
}

// CheckConfig accepts the provider configuration as it is.
func (s *Server) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

// DiffConfig: the program configures no provider.
func (s *Server) DiffConfig(context.Context, *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
}

// Configure: secrets are accepted; preview is done by the engine (outputs
// the provider computes are unknown in a preview, as with the real ones).
func (s *Server) Configure(context.Context, *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true}, nil
}

// Check fills the provider's defaults.
func (s *Server) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	if _, ok := Table[req.GetType()]; !ok {
		return nil, fmt.Errorf("test provider: resource type %s is not modelled", req.GetType())
	}
	out, err := marshal(WithDefaults(req.GetType(), news))
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CheckResponse{Inputs: out}, nil
}

// Diff reports the table's changes between the new inputs and the state.
func (s *Server) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	olds, err := unmarshal(req.GetOlds())
	if err != nil {
		return nil, err
	}
	changes, err := Diff(req.GetType(), news, olds, req.GetIgnoreChanges())
	if err != nil {
		return nil, err
	}
	resp := &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE, HasDetailedDiff: true,
		DetailedDiff: map[string]*pulumirpc.PropertyDiff{}}
	for _, c := range changes {
		resp.Changes = pulumirpc.DiffResponse_DIFF_SOME
		resp.Diffs = append(resp.Diffs, c.Key)
		kind := map[string]pulumirpc.PropertyDiff_Kind{
			"add": pulumirpc.PropertyDiff_ADD, "delete": pulumirpc.PropertyDiff_DELETE, "update": pulumirpc.PropertyDiff_UPDATE,
		}[c.Kind]
		if c.Replace {
			resp.Replaces = append(resp.Replaces, c.Key)
			kind++ // each *_REPLACE kind follows its plain kind
		}
		resp.DetailedDiff[c.Key] = &pulumirpc.PropertyDiff{Kind: kind, InputDiff: true}
	}
	return resp, nil
}

// Create makes the resource real.
func (s *Server) Create(ctx context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	if req.GetPreview() {
		return nil, status.Error(codes.Unimplemented, "preview is done by the engine")
	}
	raw, err := unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	tok, name := req.GetType(), req.GetName()
	in, err := realize.PlainMap(raw)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", tok, name, err)
	}
	// realize reads what the program sets and knows the providers'
	// defaults itself; the defaults Check filled in are dropped.
	for key, p := range Table[tok].Props {
		if p.Default != nil && reflect.DeepEqual(in[key], p.Default) {
			delete(in, key)
		}
	}
	f := realize.NewFields(name, in)
	var id string
	var out resource.PropertyMap
	switch tok {
	case realize.TokPrivateKey:
		out, _, err = realize.TLSPrivateKey(f)
	case realize.TokSelfSignedCert:
		out, err = realize.TLSSelfSignedCert(f)
	case realize.TokCertRequest:
		out, err = realize.TLSCertRequest(f)
	case realize.TokLocallySignedCert:
		out, err = realize.TLSLocallySignedCert(f)
	case realize.TokRandomPassword:
		out, _, err = realize.RandomPassword(f)
	case realize.TokRandomUUID:
		out, _, err = realize.RandomUUID(f)
		if err == nil {
			id = out["result"].StringValue()
		}
	case realize.TokRandomBytes:
		out, _, err = realize.RandomBytes(f)
	case realize.TokNetwork:
		id, out, err = s.docker.CreateNetwork(ctx, name, f, raw)
	case realize.TokVolume:
		id, out, err = s.docker.CreateVolume(ctx, name, f, raw)
	case realize.TokRemoteImage:
		id, out, err = s.docker.RemoteImage(ctx, name, f, raw)
	case realize.TokImage:
		id, out, err = s.docker.BuildImage(ctx, name, f, raw)
		if err == nil {
			// With skipPush, repoDigest is the local image ID.
			out["repoDigest"] = resource.NewStringProperty(id)
		}
	case realize.TokContainer:
		id, out, err = s.docker.CreateContainer(ctx, name, f, raw)
		if err == nil {
			// The provider's Create ends with its Read.
			out, err = s.readContainer(ctx, id, out)
		}
	default:
		err = fmt.Errorf("resource type %s is not modelled", tok)
	}
	if err != nil {
		return nil, fmt.Errorf("test provider: %s %s: %w", tok, name, err)
	}
	// The state holds every checked input, defaults included, as the real
	// providers' does.
	for k, v := range raw {
		if _, ok := out[k]; !ok {
			out[k] = v
		}
	}
	if id == "" {
		id = randomID()
	}
	props, err := marshal(out)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CreateResponse{Id: id, Properties: props}, nil
}

// Read refreshes the state from the real object, as the real provider
// does: a Docker object that is gone leaves the state (empty ID).
func (s *Server) Read(ctx context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	state, err := unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	id := req.GetId()
	switch req.GetType() {
	case realize.TokContainer:
		state, err = s.readContainer(ctx, id, state)
		if errors.Is(err, errGone) {
			return &pulumirpc.ReadResponse{}, nil
		}
	case realize.TokNetwork:
		if _, err = s.docker.Cli.NetworkInspect(ctx, id, network.InspectOptions{}); realize.IsNotFound(err) {
			return &pulumirpc.ReadResponse{}, nil
		}
	case realize.TokVolume:
		if _, err = s.docker.Cli.VolumeInspect(ctx, id); realize.IsNotFound(err) {
			return &pulumirpc.ReadResponse{}, nil
		}
	case realize.TokRemoteImage:
		if _, err = s.docker.Cli.ImageInspect(ctx, state["name"].StringValue()); realize.IsNotFound(err) {
			return &pulumirpc.ReadResponse{}, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("test provider: reading %s %s: %w", req.GetType(), req.GetName(), err)
	}
	props, err := marshal(state)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.ReadResponse{Id: id, Properties: props, Inputs: req.GetInputs()}, nil
}

// Update changes a resource in place. Like the real providers, it changes
// the state to the new inputs and, for a container, calls ContainerUpdate
// for the restart policy only: start, mustRun, wait and the rest change
// nothing on the container.
func (s *Server) Update(ctx context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	if req.GetPreview() {
		return nil, status.Error(codes.Unimplemented, "preview is done by the engine")
	}
	olds, err := unmarshal(req.GetOlds())
	if err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	out := olds.Copy()
	for k, v := range news {
		out[k] = v
	}
	if req.GetType() == realize.TokContainer {
		if err := s.updateContainer(ctx, req.GetId(), olds, news); err != nil {
			return nil, fmt.Errorf("test provider: updating %s: %w", req.GetName(), err)
		}
	}
	if req.GetType() == realize.TokImage {
		// The native Image's Update builds again, as its Create does
		// (pulumi-docker provider/provider.go, Update): a new name gets
		// a new build under that tag.
		created, err := s.Create(ctx, &pulumirpc.CreateRequest{Urn: req.GetUrn(), Name: req.GetName(),
			Type: req.GetType(), Properties: req.GetNews()})
		if err != nil {
			return nil, err
		}
		return &pulumirpc.UpdateResponse{Properties: created.GetProperties()}, nil
	}
	props, err := marshal(out)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.UpdateResponse{Properties: props}, nil
}

// Delete removes the Docker object; images stay (RemoteImage keepLocally,
// and the native Image's delete does nothing), as do keys and values.
func (s *Server) Delete(ctx context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	state, err := unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	id := req.GetId()
	switch req.GetType() {
	case realize.TokContainer:
		grace, attach := 0, false
		if v := state["destroyGraceSeconds"]; v.IsNumber() {
			grace = int(v.NumberValue())
		}
		if v := state["attach"]; v.IsBool() {
			attach = v.BoolValue()
		}
		err = s.docker.DeleteContainer(ctx, id, grace, attach)
	case realize.TokNetwork:
		if err = s.docker.Cli.NetworkRemove(ctx, id); realize.IsNotFound(err) {
			err = nil
		}
	case realize.TokVolume:
		if err = s.docker.Cli.VolumeRemove(ctx, id, true); realize.IsNotFound(err) {
			err = nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("test provider: deleting %s %s: %w", req.GetType(), req.GetName(), err)
	}
	return &emptypb.Empty{}, nil
}

// Cancel: nothing runs in the background.
func (s *Server) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func randomID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// PackageOf is the package a plugin binary serves, from its file name
// (pulumi-resource-<pkg>), as the engine starts it.
func PackageOf(argv0 string) string {
	return strings.TrimPrefix(filepath.Base(argv0), "pulumi-resource-")
}
