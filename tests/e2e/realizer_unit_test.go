package e2e

// The realizer's own checks. They need no Docker engine and run under -short.

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/postgres-ha/postgres-ha/tests/internal/realize"
)

func offline(t *testing.T) *realizer {
	t.Helper()
	return newRealizer(nil, "unit", t.TempDir(), t.Logf)
}

func register(t *testing.T, r *realizer, tok, name string, in map[string]any) (resource.PropertyMap, error) {
	t.Helper()
	_, out, err := r.NewResource(pulumi.MockResourceArgs{TypeToken: tok, Name: name, Custom: true,
		Inputs: resource.NewPropertyMapFromMap(in)})
	return out, err
}

func mustRegister(t *testing.T, r *realizer, tok, name string, in map[string]any) resource.PropertyMap {
	t.Helper()
	out, err := register(t, r, tok, name, in)
	if err != nil {
		t.Fatalf("%s %s: %v", tok, name, err)
	}
	return out
}

func str(t *testing.T, m resource.PropertyMap, k string) string {
	t.Helper()
	v, ok := m[resource.PropertyKey(k)]
	if !ok {
		t.Fatalf("output %s missing", k)
	}
	if v.IsSecret() {
		v = v.SecretValue().Element
	}
	return v.StringValue()
}

func TestRealizerPKI(t *testing.T) {
	r := offline(t)
	caKey := mustRegister(t, r, realize.TokPrivateKey, "ca", map[string]any{"algorithm": "ECDSA", "ecdsaCurve": "P384"})
	if !caKey["privateKeyPem"].IsSecret() {
		t.Error("privateKeyPem is not a secret")
	}
	ca := mustRegister(t, r, realize.TokSelfSignedCert, "ca", map[string]any{
		"privateKeyPem": str(t, caKey, "privateKeyPem"), "isCaCertificate": true, "validityPeriodHours": 48,
		"allowedUses": []any{"cert_signing", "crl_signing"},
		"subject":     map[string]any{"commonName": "unit CA", "organization": "postgres-ha"},
	})
	leafKey := mustRegister(t, r, realize.TokPrivateKey, "leaf", map[string]any{"algorithm": "RSA", "rsaBits": 2048})
	csr := mustRegister(t, r, realize.TokCertRequest, "leaf", map[string]any{
		"privateKeyPem": str(t, leafKey, "privateKeyPem"), "dnsNames": []any{"node-1", "localhost"},
		"ipAddresses": []any{"127.0.0.1"}, "subject": map[string]any{"commonName": "node-1"},
	})
	leaf := mustRegister(t, r, realize.TokLocallySignedCert, "leaf", map[string]any{
		"certRequestPem": str(t, csr, "certRequestPem"), "caPrivateKeyPem": str(t, caKey, "privateKeyPem"),
		"caCertPem": str(t, ca, "certPem"), "validityPeriodHours": 24, "earlyRenewalHours": 2,
		"allowedUses": []any{"digital_signature", "key_encipherment", "server_auth", "client_auth"},
	})
	caCert, err := realize.ParseCert(str(t, ca, "certPem"))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := realize.ParseCert(str(t, leaf, "certPem"))
	if err != nil {
		t.Fatal(err)
	}
	if !caCert.IsCA || caCert.KeyUsage&x509.KeyUsageCertSign == 0 || caCert.Subject.Organization[0] != "postgres-ha" {
		t.Errorf("CA: IsCA %v, usage %v, subject %v", caCert.IsCA, caCert.KeyUsage, caCert.Subject)
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: "node-1", KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
			t.Errorf("leaf does not verify for %v: %v", usage, err)
		}
	}
	if cert.Subject.CommonName != "node-1" || len(cert.IPAddresses) != 1 || !cert.IPAddresses[0].IsLoopback() {
		t.Errorf("leaf subject %v, IPs %v", cert.Subject, cert.IPAddresses)
	}
	if cert.KeyUsage != x509.KeyUsageDigitalSignature|x509.KeyUsageKeyEncipherment {
		t.Errorf("leaf key usage %v", cert.KeyUsage)
	}
	if d := cert.NotAfter.Sub(cert.NotBefore); d != 24*time.Hour {
		t.Errorf("leaf validity %s, want 24h", d)
	}

	if _, err := register(t, r, realize.TokLocallySignedCert, "bad", map[string]any{
		"certRequestPem": str(t, csr, "certRequestPem"), "caPrivateKeyPem": str(t, caKey, "privateKeyPem"),
		"caCertPem": str(t, ca, "certPem"), "validityPeriodHours": 24, "allowedUses": []any{"serverAuth"},
	}); err == nil || !strings.Contains(err.Error(), "serverAuth") {
		t.Errorf("camelCase allowedUses accepted: %v", err)
	}
}

func TestRealizerRandom(t *testing.T) {
	r := offline(t)
	pw := mustRegister(t, r, realize.TokRandomPassword, "pw", map[string]any{"length": 32, "special": true, "overrideSpecial": "-_"})
	if !pw["result"].IsSecret() {
		t.Error("RandomPassword.result is not a secret")
	}
	if s := str(t, pw, "result"); !regexp.MustCompile(`^[A-Za-z0-9_-]{32}$`).MatchString(s) {
		t.Errorf("password %q: want 32 of [A-Za-z0-9_-]", s)
	}
	u := mustRegister(t, r, realize.TokRandomUUID, "u", map[string]any{})
	if s := str(t, u, "result"); !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(s) {
		t.Errorf("uuid %q is not a version 4 UUID", s)
	}
	b := mustRegister(t, r, realize.TokRandomBytes, "b", map[string]any{"length": 32})
	raw, err := base64.StdEncoding.DecodeString(str(t, b, "base64"))
	if err != nil || len(raw) != 32 {
		t.Errorf("randomBytes base64: %d bytes, %v", len(raw), err)
	}
	// A second run with the same inputs is a no-op: the same password.
	r.nextRun()
	again := mustRegister(t, r, realize.TokRandomPassword, "pw", map[string]any{"length": 32, "special": true, "overrideSpecial": "-_"})
	if str(t, again, "result") != str(t, pw, "result") {
		t.Error("re-registering with unchanged inputs generated a new password")
	}
	if n := len(r.secretValues()); n < 3 {
		t.Errorf("%d secrets collected, want at least 3", n)
	}
}

func TestRealizerRejectsWhatItDoesNotImplement(t *testing.T) {
	r := offline(t)
	_, err := register(t, r, realize.TokContainer, "c", map[string]any{"name": "c", "image": "x", "privileged": true, "memory": 512})
	if err == nil || !strings.Contains(err.Error(), "privileged") || !strings.Contains(err.Error(), "memory") {
		t.Errorf("unknown container fields: %v", err)
	}
	_, err = register(t, r, realize.TokContainer, "c", map[string]any{"name": "c", "image": "x",
		"networksAdvanced": []any{map[string]any{"name": "n", "ipv4Address": "10.0.0.2"}}})
	if err == nil || !strings.Contains(err.Error(), "networksAdvanced[0].ipv4Address") {
		t.Errorf("unknown nested container field: %v", err)
	}
	_, err = register(t, r, "docker:index/service:Service", "s", map[string]any{})
	if err == nil || !strings.Contains(err.Error(), "docker:index/service:Service") {
		t.Errorf("unknown type token: %v", err)
	}
	if _, err := r.Call(pulumi.MockCallArgs{Token: "docker:index/getNetwork:getNetwork"}); err == nil ||
		!strings.Contains(err.Error(), "getNetwork") {
		t.Errorf("invoke: %v", err)
	}
	// Component resources are no-ops.
	if _, _, err := r.NewResource(pulumi.MockResourceArgs{TypeToken: "postgres-ha:components:PKI", Name: "x"}); err != nil {
		t.Errorf("component: %v", err)
	}
}

func TestSecretNeedles(t *testing.T) {
	key := string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte(strings.Repeat("k", 90))}))
	got := secretNeedles([]string{"short", "a-long-password", key})
	if len(got) != 2 || got[0] != "a-long-password" || strings.Contains(got[1], "-----") || len(got[1]) < 60 {
		t.Errorf("needles %q", got)
	}
}
