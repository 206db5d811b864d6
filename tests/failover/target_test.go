package failover

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestLoadOutputs(t *testing.T) {
	tg, err := LoadOutputs("testdata/outputs.json")
	if err != nil {
		t.Fatal(err)
	}
	want := Target{
		WriteEndpoint: "localhost:5000", ReadEndpoint: "localhost:5001",
		Nodes:         []string{"pgha-pg-1", "pgha-pg-2", "pgha-pg-3"},
		ConsulServers: []string{"pgha-consul-1", "pgha-consul-2", "pgha-consul-3"},
		HAProxy:       "pgha-haproxy", ClusterName: "pgha",
		PatroniRestPassword: "rest-password_testdata", SuperuserPassword: "superuser-pw_testdata",
		ConsulManagementToken: "00000000-1111-2222-3333-444444444444",
	}
	got := tg
	got.WriteURI, got.ReadURI, got.CACert, got.AdminClientCert, got.AdminClientKey = "", "", "", "", ""
	if !reflect.DeepEqual(got, want) {
		t.Errorf("LoadOutputs =\n%+v\nwant\n%+v", got, want)
	}
	if !strings.HasPrefix(tg.CACert, "-----BEGIN CERTIFICATE-----") || !strings.Contains(tg.AdminClientKey, "PRIVATE KEY") ||
		!strings.Contains(tg.AdminClientCert, "CERTIFICATE") || !strings.HasPrefix(tg.WriteURI, "postgresql://") ||
		!strings.Contains(tg.ReadURI, ":5001/") {
		t.Errorf("PEM or URI exports not loaded: %+v", tg)
	}
	if tg.Agent("pgha-pg-2") != "pgha-pg-2-consul" || tg.Network() != "pgha-net" {
		t.Errorf("Agent %q, Network %q", tg.Agent("pgha-pg-2"), tg.Network())
	}
}

func loadMap(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile("testdata/outputs.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestFromExportsProblems(t *testing.T) {
	m := loadMap(t)
	delete(m, "haproxy")
	m["nodes"] = []any{"pgha-pg-1"}
	m["superuserPassword"] = "[secret]"
	m["consulServers"] = "pgha-consul-1"
	m["writeEndpoint"] = "localhost"
	_, err := FromExports(m)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"export haproxy is missing",
		"export superuserPassword is hidden: take the outputs with --show-secrets",
		"export consulServers is string, want a list of strings",
		"export nodes lists 1 node(s)",
		"export writeEndpoint: \"localhost\" is not host:port",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if _, err := LoadOutputs(filepath.Join(t.TempDir(), "none.json")); err == nil || !strings.Contains(err.Error(), "reading stack outputs") {
		t.Errorf("missing file: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte("{"), 0o600)
	if _, err := LoadOutputs(bad); err == nil || !strings.Contains(err.Error(), "parsing stack outputs") {
		t.Errorf("bad JSON: %v", err)
	}
}

func TestFromExportsHarnessValues(t *testing.T) {
	// The e2e harness captures lists as []any and may hand []string.
	m := loadMap(t)
	m["nodes"] = []string{"e2e-pg-1", "e2e-pg-2"}
	tg, err := FromExports(m)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(tg.Nodes, []string{"e2e-pg-1", "e2e-pg-2"}) {
		t.Errorf("nodes %v", tg.Nodes)
	}
}

func TestPGConfig(t *testing.T) {
	tg, err := LoadOutputs("testdata/outputs.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tg.PGConfig(tg.WriteEndpoint); err == nil {
		t.Error("PGConfig without a CA file succeeded")
	}
	dir := t.TempDir()
	if err := tg.WriteCAFile(dir); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(tg.CAFile); string(b) != tg.CACert {
		t.Errorf("CA file %s does not hold the CA", tg.CAFile)
	}
	cfg, err := tg.PGConfig(tg.WriteEndpoint)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "localhost" || cfg.Port != 5000 || cfg.User != "postgres" || cfg.Password != "superuser-pw_testdata" ||
		cfg.Database != "postgres" || cfg.ConnectTimeout.Seconds() != 2 {
		t.Errorf("config host %s port %d user %s db %s timeout %s", cfg.Host, cfg.Port, cfg.User, cfg.Database, cfg.ConnectTimeout)
	}
	if cfg.TLSConfig == nil || cfg.TLSConfig.ServerName != "localhost" || cfg.TLSConfig.InsecureSkipVerify && cfg.TLSConfig.VerifyPeerCertificate == nil {
		t.Errorf("TLS config does not verify localhost: %+v", cfg.TLSConfig)
	}
	if len(cfg.Fallbacks) != 0 {
		t.Errorf("verify-full must have no fallbacks, got %d", len(cfg.Fallbacks))
	}
	addrs, err := cfg.LookupFunc(context.Background(), "localhost")
	if err != nil || !reflect.DeepEqual(addrs, []string{"127.0.0.1"}) {
		t.Errorf("localhost resolves to %v, %v; want 127.0.0.1 only", addrs, err)
	}

	// Without a URI the superuser export is used.
	tg.WriteURI = ""
	tg.SuperuserPassword = "other"
	if cfg, err = tg.PGConfig(tg.ReadEndpoint); err != nil || cfg.Password != "other" || cfg.Port != 5001 {
		t.Errorf("without URI: %v, password %q", err, cfg.Password)
	}
	cleanup, err := (&Target{CACert: tg.CACert, CAFile: "set"}).ensureCAFile()
	if err != nil {
		t.Fatal(err)
	}
	cleanup()
}
