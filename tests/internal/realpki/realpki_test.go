package realpki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/postgres-ha/postgres-ha/config"
)

// openssl returns the openssl binary; missing, it skips the test with the
// install step, or fails it under CI=true.
func openssl(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("openssl")
	if err != nil {
		msg := "openssl not found; run scripts/install-deps"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return p
}

func tlsVariants() map[string]config.TLS {
	base := config.Defaults().TLS
	v := map[string]config.TLS{}
	for _, curve := range []string{"P256", "P384", "P521"} {
		t := base
		t.Algorithm, t.EcdsaCurve = "ECDSA", curve
		v["ECDSA-"+curve] = t
	}
	rsa := base
	rsa.Algorithm, rsa.RsaBits = "RSA", 2048
	v["RSA-2048"] = rsa
	return v
}

func write(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestOpenSSLVerifiesEveryLeaf checks every leaf of the dev stack, for each
// key algorithm, with the real openssl: the chain to the CA, the purpose
// each usage allows, and that the key file opens and matches the
// certificate.
func TestOpenSSLVerifiesEveryLeaf(t *testing.T) {
	bin := openssl(t)
	for name, tlsCfg := range tlsVariants() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := config.Defaults()
			c.TLS = tlsCfg
			p, err := New(c)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Leaves) != len(c.Certs()) {
				t.Fatalf("%d leaves for %d cert specs", len(p.Leaves), len(c.Certs()))
			}
			dir := t.TempDir()
			ca := write(t, dir, "ca.pem", p.CA.CertPEM)
			for _, l := range p.Leaves {
				leaf := write(t, dir, l.Spec.Name+".pem", l.CertPEM)
				key := write(t, dir, l.Spec.Name+".key", l.KeyPEM())
				args := [][]string{{"verify", "-CAfile", ca, leaf}}
				if slices.Contains(l.Spec.Usages, config.UsageServerAuth) {
					args = append(args, []string{"verify", "-CAfile", ca, "-purpose", "sslserver", leaf})
				}
				if slices.Contains(l.Spec.Usages, config.UsageClientAuth) {
					args = append(args, []string{"verify", "-CAfile", ca, "-purpose", "sslclient", leaf})
				}
				for _, a := range args {
					out, err := exec.Command(bin, a...).CombinedOutput()
					if err != nil || !strings.Contains(string(out), ": OK") {
						t.Errorf("openssl %s: %v\n%s", strings.Join(a, " "), err, out)
					}
				}
				certPub, err := exec.Command(bin, "x509", "-in", leaf, "-noout", "-pubkey").Output()
				if err != nil {
					t.Fatalf("openssl x509 %s: %v", l.Spec.Name, err)
				}
				keyPub, err := exec.Command(bin, "pkey", "-in", key, "-pubout").Output()
				if err != nil {
					t.Fatalf("openssl pkey cannot read the key of %s: %v", l.Spec.Name, err)
				}
				if string(certPub) != string(keyPub) {
					t.Errorf("%s: key does not match certificate", l.Spec.Name)
				}
			}
		})
	}
}

// TestOpenSSLRejectsForeignLeaf makes sure the verification above can fail:
// a leaf of another CA, and a client-only leaf used as a server, are refused.
func TestOpenSSLRejectsForeignLeaf(t *testing.T) {
	bin := openssl(t)
	c := config.Defaults()
	a, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	caA := write(t, dir, "a.pem", a.CA.CertPEM)
	leafB := write(t, dir, "b-leaf.pem", b.Leaves[0].CertPEM)
	if out, err := exec.Command(bin, "verify", "-CAfile", caA, leafB).CombinedOutput(); err == nil {
		t.Errorf("openssl verified a leaf of another CA:\n%s", out)
	}
	admin, err := a.Leaf("admin")
	if err != nil {
		t.Fatal(err)
	}
	leaf := write(t, dir, "admin.pem", admin.CertPEM)
	if out, err := exec.Command(bin, "verify", "-CAfile", caA, "-purpose", "sslserver", leaf).CombinedOutput(); err == nil {
		t.Errorf("openssl accepted a client-only certificate as a server:\n%s", out)
	}
}

// TestCertificatesMatchTheTLSConfig checks what pulumi-tls would put in
// each certificate: key type and size, CA flags and usages, leaf SANs and
// usages, validity.
func TestCertificatesMatchTheTLSConfig(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	for name, tlsCfg := range tlsVariants() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := config.Defaults()
			c.TLS = tlsCfg
			p, err := NewAt(c, now)
			if err != nil {
				t.Fatal(err)
			}
			ca := p.CA.Cert
			if !ca.IsCA || !ca.BasicConstraintsValid || ca.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign {
				t.Errorf("CA: IsCA %v, basic constraints %v, key usage %b", ca.IsCA, ca.BasicConstraintsValid, ca.KeyUsage)
			}
			if got := ca.NotAfter.Sub(ca.NotBefore); got != time.Duration(c.TLS.CAValidityHours)*time.Hour {
				t.Errorf("CA validity %v, want %d h", got, c.TLS.CAValidityHours)
			}
			all := append([]*Cert{p.CA}, p.Leaves...)
			for _, l := range all {
				checkKey(t, l, c.TLS)
			}
			for _, l := range p.Leaves {
				x := l.Cert
				if x.IsCA {
					t.Errorf("%s is a CA", l.Spec.Name)
				}
				if x.Subject.CommonName != l.Spec.CommonName || !slices.Equal(x.DNSNames, l.Spec.DNSNames) {
					t.Errorf("%s: CN %q DNS %v, want %q %v", l.Spec.Name, x.Subject.CommonName, x.DNSNames, l.Spec.CommonName, l.Spec.DNSNames)
				}
				var ips []string
				for _, ip := range x.IPAddresses {
					ips = append(ips, ip.String())
				}
				if !slices.Equal(ips, l.Spec.IPs) {
					t.Errorf("%s: IPs %v, want %v", l.Spec.Name, ips, l.Spec.IPs)
				}
				var ku x509.KeyUsage
				var eku []x509.ExtKeyUsage
				for _, u := range l.Spec.Usages {
					ku |= keyUsages[u]
					if e, ok := extKeyUsages[u]; ok {
						eku = append(eku, e)
					}
				}
				if x.KeyUsage != ku || !slices.Equal(x.ExtKeyUsage, eku) {
					t.Errorf("%s: usages %b %v, want %b %v", l.Spec.Name, x.KeyUsage, x.ExtKeyUsage, ku, eku)
				}
				if got := x.NotAfter.Sub(x.NotBefore); got != time.Duration(c.TLS.ValidityHours)*time.Hour || !x.NotBefore.Equal(now) {
					t.Errorf("%s: valid %v from %v, want %d h from %v", l.Spec.Name, got, x.NotBefore, c.TLS.ValidityHours, now)
				}
				if err := x.CheckSignatureFrom(ca); err != nil {
					t.Errorf("%s: %v", l.Spec.Name, err)
				}
			}
		})
	}
}

func checkKey(t *testing.T, l *Cert, cfg config.TLS) {
	t.Helper()
	block, _ := pem.Decode(l.KeyPEM())
	if block == nil {
		t.Fatalf("%s: key is not PEM", l.Spec.Name)
	}
	switch cfg.Algorithm {
	case "ECDSA":
		k, ok := l.Cert.PublicKey.(*ecdsa.PublicKey)
		want := map[string]elliptic.Curve{"P256": elliptic.P256(), "P384": elliptic.P384(), "P521": elliptic.P521()}[cfg.EcdsaCurve]
		if !ok || k.Curve != want || block.Type != "EC PRIVATE KEY" {
			t.Errorf("%s: key %T, PEM %q; want ECDSA %s, EC PRIVATE KEY", l.Spec.Name, l.Cert.PublicKey, block.Type, cfg.EcdsaCurve)
		}
	case "RSA":
		k, ok := l.Cert.PublicKey.(*rsa.PublicKey)
		if !ok || k.N.BitLen() != cfg.RsaBits || block.Type != "RSA PRIVATE KEY" {
			t.Errorf("%s: key %T, PEM %q; want RSA %d, RSA PRIVATE KEY", l.Spec.Name, l.Cert.PublicKey, block.Type, cfg.RsaBits)
		}
	}
}

func TestUnknownUsageIsAnError(t *testing.T) {
	key, err := GenerateKey("ECDSA", "P256", 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = SelfSign(key, Request{CommonName: "x", Usages: []string{"server-auth"}, ValidityHours: 1}, time.Now())
	if err == nil || !strings.Contains(err.Error(), "server-auth") {
		t.Errorf("err = %v, want one naming the unknown usage", err)
	}
	if _, err := GenerateKey("DSA", "", 0); err == nil {
		t.Error("GenerateKey accepted DSA")
	}
}

func TestWriteTLSDir(t *testing.T) {
	c := config.Defaults()
	p, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := p.WriteTLSDir(dir, "haproxy", "haproxy", true); err != nil {
		t.Fatal(err)
	}
	leaf, _ := p.Leaf("haproxy")
	want := map[string]struct {
		data []byte
		mode os.FileMode
	}{
		"ca.crt":      {p.CA.CertPEM, 0o644},
		"haproxy.crt": {leaf.CertPEM, 0o644},
		"haproxy.key": {leaf.KeyPEM(), 0o600},
		"haproxy.pem": {leaf.Bundle(), 0o600},
	}
	for name, w := range want {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(filepath.Join(dir, name))
		if string(b) != string(w.data) || fi.Mode().Perm() != w.mode {
			t.Errorf("%s: mode %v, content ok %v", name, fi.Mode().Perm(), string(b) == string(w.data))
		}
	}
	if err := p.WriteTLSDir(dir, "nope", "x", false); err == nil {
		t.Error("WriteTLSDir accepted an unknown certificate")
	}
}
