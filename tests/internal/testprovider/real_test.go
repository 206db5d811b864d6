package testprovider

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/emptypb"
)

// EnvRealPlugins names a PULUMI_HOME whose plugins directory holds the
// real docker, tls and random plugins at Versions: TestTableAgainstRealPlugins
// then checks the table's Replace flags against them. CI has no real
// plugins (they cannot be downloaded here), so this is the hand check.
const EnvRealPlugins = "TESTPROVIDER_REAL_PLUGINS"

// engineStub is the engine the plugins log to.
type engineStub struct {
	pulumirpc.UnimplementedEngineServer
}

func (engineStub) Log(context.Context, *pulumirpc.LogRequest) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

// startPlugin starts a real plugin and connects to it.
func startPlugin(t *testing.T, home, pkg string) pulumirpc.ResourceProviderClient {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	pulumirpc.RegisterEngineServer(srv, engineStub{})
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)

	bin := filepath.Join(home, "plugins", fmt.Sprintf("resource-%s-v%s", pkg, Versions[pkg]), "pulumi-resource-"+pkg)
	cmd := exec.Command(bin, lis.Addr().String())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	port, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("%s printed no port: %v", bin, err)
	}
	conn, err := grpc.NewClient("127.0.0.1:"+strings.TrimSpace(port), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := pulumirpc.NewResourceProviderClient(conn)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if _, err := c.Configure(ctx, &pulumirpc.ConfigureRequest{AcceptSecrets: true, AcceptResources: true}); err != nil {
		t.Fatalf("configuring %s: %v", pkg, err)
	}
	return c
}

type schemaProp struct {
	Type  string `json:"type"`
	Items *struct {
		Type string `json:"type"`
	} `json:"items"`
	AdditionalProperties *struct {
		Type string `json:"type"`
	} `json:"additionalProperties"`
}

// sample is two different values of a property's schema type, or false
// for types this check does not generate (objects, lists of objects).
func sample(p schemaProp) (any, any, bool) {
	switch p.Type {
	case "string":
		return "a", "b", true
	case "integer", "number":
		return 1.0, 2.0, true
	case "boolean":
		return false, true, true
	case "array":
		if p.Items != nil && p.Items.Type == "string" {
			return []any{"a"}, []any{"b"}, true
		}
	case "object":
		if p.AdditionalProperties != nil && p.AdditionalProperties.Type == "string" {
			return map[string]any{"k": "a"}, map[string]any{"k": "b"}, true
		}
	}
	return nil, nil, false
}

// TestTableAgainstRealPlugins asks each real plugin's Diff, for every
// top-level input of the table whose type has simple values, whether a
// change replaces, and compares with the table.
func TestTableAgainstRealPlugins(t *testing.T) {
	home := os.Getenv(EnvRealPlugins)
	if home == "" {
		t.Skipf("set %s to a PULUMI_HOME with the real plugins to check the table against them", EnvRealPlugins)
	}
	checked, skipped := 0, []string{}
	for _, pkg := range []string{"docker", "tls", "random"} {
		c := startPlugin(t, home, pkg)
		ctx := t.Context()
		resp, err := c.GetSchema(ctx, &pulumirpc.GetSchemaRequest{})
		if err != nil {
			t.Fatalf("%s schema: %v", pkg, err)
		}
		var schema struct {
			Resources map[string]struct {
				InputProperties map[string]schemaProp `json:"inputProperties"`
			} `json:"resources"`
		}
		if err := json.Unmarshal([]byte(resp.GetSchema()), &schema); err != nil {
			t.Fatal(err)
		}
		toks := []string{}
		for tok := range Table {
			if strings.HasPrefix(tok, pkg+":") {
				toks = append(toks, tok)
			}
		}
		sort.Strings(toks)
		for _, tok := range toks {
			res, ok := schema.Resources[tok]
			if !ok {
				t.Errorf("%s: not in the real %s schema", tok, pkg)
				continue
			}
			for key, p := range Table[tok].Props {
				sp, ok := res.InputProperties[key]
				if !ok {
					t.Errorf("%s.%s: not an input of the real schema", tok, key)
					continue
				}
				a, b, ok := sample(sp)
				if strings.HasSuffix(key, "Pem") {
					a, b = pemSample(t, key, 1), pemSample(t, key, 2)
				}
				if !ok {
					skipped = append(skipped, tok+"."+key+" ("+sp.Type+")")
					continue
				}
				// Both sides carry the defaults, as a real state and a
				// checked input do, so only key differs.
				o, n := WithDefaults(tok, resource.NewPropertyMapFromMap(realBase[tok])),
					WithDefaults(tok, resource.NewPropertyMapFromMap(realBase[tok]))
				o[resource.PropertyKey(key)], n[resource.PropertyKey(key)] = resource.NewPropertyValue(a), resource.NewPropertyValue(b)
				olds, _ := marshal(o)
				news, _ := marshal(n)
				name := "n"
				d, err := c.Diff(ctx, &pulumirpc.DiffRequest{Id: "x", Urn: "urn:pulumi:s::p::" + tok + "::" + name,
					Olds: olds, News: news, OldInputs: olds, Type: tok, Name: name})
				if err != nil {
					skipped = append(skipped, tok+"."+key+" (diff error: "+firstLine(err.Error())+")")
					continue
				}
				replaces := false
				for _, r := range d.GetReplaces() {
					if r == key || strings.HasPrefix(r, key+".") || strings.HasPrefix(r, key+"[") {
						replaces = true
					}
				}
				if d.GetChanges() != pulumirpc.DiffResponse_DIFF_SOME {
					skipped = append(skipped, tok+"."+key+" (the real Diff saw no change)")
					continue
				}
				checked++
				if replaces != p.Replace {
					t.Errorf("%s.%s: the real plugin's Diff says replace=%v (replaces %v), the table says %v",
						tok, key, replaces, d.GetReplaces(), p.Replace)
				}
			}
		}
	}
	sort.Strings(skipped)
	t.Logf("checked %d properties against the real plugins; not checked (%d): %s", checked, len(skipped), strings.Join(skipped, "; "))
	if checked == 0 {
		t.Error("no property was checked")
	}
}

// realBase are required inputs a real Diff needs besides the defaults.
var realBase = map[string]map[string]any{
	"random:index/randomPassword:RandomPassword": {"length": 16.0},
	"random:index/randomBytes:RandomBytes":       {"length": 32.0},
}

// pemSample is a valid PEM for a *Pem input (the tls provider compares
// PEM semantically, so "a" and "b" are no change): the n-th of two keys,
// certificate requests or certificates.
func pemSample(t *testing.T, key string, n int) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalECPrivateKey(k)
	switch {
	case strings.Contains(key, "PrivateKey"):
		return string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
	case strings.Contains(key, "Request"):
		csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: fmt.Sprint("r", n)}}, k)
		if err != nil {
			t.Fatal(err)
		}
		return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr}))
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(n)), Subject: pkix.Name{CommonName: fmt.Sprint("c", n)},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	cert, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert}))
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
