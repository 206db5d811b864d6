// Package realpki issues a real cluster PKI with crypto/x509, the way the
// program's pulumi-tls resources do: a tls.PrivateKey per certificate with
// the algorithm, curve or size of the stack's `tls` settings, one CA from
// tls.SelfSignedCert (is_ca_certificate, cert_signing and crl_signing) and a
// tls.LocallySignedCert per config.CertSpec (common name, DNS and IP SANs,
// allowed_uses mapped to KeyUsage/ExtKeyUsage, validity_period_hours).
//
// It is test-only: the validator tier places these files where the rendered
// configs name them, and the end-to-end harness makes the program's declared
// tls resources real with the same functions.
package realpki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/postgres-ha/postgres-ha/config"
)

// CA usages the program gives its tls.SelfSignedCert.
const (
	UsageCertSigning = "cert_signing"
	UsageCRLSigning  = "crl_signing"
)

// keyUsages and extKeyUsages map pulumi-tls allowed_uses to x509, as the
// provider does.
var (
	keyUsages = map[string]x509.KeyUsage{
		"digital_signature":  x509.KeyUsageDigitalSignature,
		"content_commitment": x509.KeyUsageContentCommitment,
		"key_encipherment":   x509.KeyUsageKeyEncipherment,
		"data_encipherment":  x509.KeyUsageDataEncipherment,
		"key_agreement":      x509.KeyUsageKeyAgreement,
		"cert_signing":       x509.KeyUsageCertSign,
		"crl_signing":        x509.KeyUsageCRLSign,
		"encipher_only":      x509.KeyUsageEncipherOnly,
		"decipher_only":      x509.KeyUsageDecipherOnly,
	}
	extKeyUsages = map[string]x509.ExtKeyUsage{
		"any_extended":                  x509.ExtKeyUsageAny,
		"server_auth":                   x509.ExtKeyUsageServerAuth,
		"client_auth":                   x509.ExtKeyUsageClientAuth,
		"code_signing":                  x509.ExtKeyUsageCodeSigning,
		"email_protection":              x509.ExtKeyUsageEmailProtection,
		"ipsec_end_system":              x509.ExtKeyUsageIPSECEndSystem,
		"ipsec_tunnel":                  x509.ExtKeyUsageIPSECTunnel,
		"ipsec_user":                    x509.ExtKeyUsageIPSECUser,
		"timestamping":                  x509.ExtKeyUsageTimeStamping,
		"ocsp_signing":                  x509.ExtKeyUsageOCSPSigning,
		"microsoft_server_gated_crypto": x509.ExtKeyUsageMicrosoftServerGatedCrypto,
		"netscape_server_gated_crypto":  x509.ExtKeyUsageNetscapeServerGatedCrypto,
	}
)

// Key is a tls.PrivateKey: the signer and its PEM encodings.
type Key struct {
	Signer crypto.Signer
	// PrivateKeyPEM is pulumi-tls' private_key_pem: PKCS#1 "RSA PRIVATE KEY"
	// or SEC 1 "EC PRIVATE KEY".
	PrivateKeyPEM []byte
	// PrivateKeyPKCS8PEM is private_key_pem_pkcs8 ("PRIVATE KEY").
	PrivateKeyPKCS8PEM []byte
	// PublicKeyPEM is public_key_pem ("PUBLIC KEY", PKIX).
	PublicKeyPEM []byte
}

// GenerateKey makes a key as tls.PrivateKey does for algorithm "RSA" (with
// rsaBits) or "ECDSA" (with ecdsaCurve P224, P256, P384 or P521).
func GenerateKey(algorithm, ecdsaCurve string, rsaBits int) (*Key, error) {
	var signer crypto.Signer
	var legacy []byte
	var blockType string
	switch algorithm {
	case "RSA":
		if rsaBits < 1024 {
			return nil, fmt.Errorf("generating RSA key: %d bits is too small", rsaBits)
		}
		k, err := rsa.GenerateKey(rand.Reader, rsaBits)
		if err != nil {
			return nil, fmt.Errorf("generating RSA key: %w", err)
		}
		signer, legacy, blockType = k, x509.MarshalPKCS1PrivateKey(k), "RSA PRIVATE KEY"
	case "ECDSA":
		var curve elliptic.Curve
		switch ecdsaCurve {
		case "P224":
			curve = elliptic.P224()
		case "P256":
			curve = elliptic.P256()
		case "P384":
			curve = elliptic.P384()
		case "P521":
			curve = elliptic.P521()
		default:
			return nil, fmt.Errorf("generating ECDSA key: unknown curve %q", ecdsaCurve)
		}
		k, err := ecdsa.GenerateKey(curve, rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("generating ECDSA key: %w", err)
		}
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			return nil, fmt.Errorf("encoding ECDSA key: %w", err)
		}
		signer, legacy, blockType = k, der, "EC PRIVATE KEY"
	default:
		return nil, fmt.Errorf("generating key: unknown algorithm %q", algorithm)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(signer)
	if err != nil {
		return nil, fmt.Errorf("encoding key as PKCS#8: %w", err)
	}
	pub, err := x509.MarshalPKIXPublicKey(signer.Public())
	if err != nil {
		return nil, fmt.Errorf("encoding public key: %w", err)
	}
	return &Key{
		Signer:             signer,
		PrivateKeyPEM:      pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: legacy}),
		PrivateKeyPKCS8PEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}),
		PublicKeyPEM:       pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}),
	}, nil
}

// KeyFor makes a key with the stack's tls settings.
func KeyFor(t config.TLS) (*Key, error) { return GenerateKey(t.Algorithm, t.EcdsaCurve, t.RsaBits) }

// Request is what a tls.SelfSignedCert or tls.LocallySignedCert (through its
// tls.CertRequest) puts into a certificate.
type Request struct {
	CommonName    string
	DNSNames      []string
	IPs           []string
	Usages        []string
	ValidityHours int
	IsCA          bool
}

// Cert is an issued certificate with its key.
type Cert struct {
	// Spec is the leaf's spec; for the CA only Name and CommonName are set.
	Spec    config.CertSpec
	Cert    *x509.Certificate
	Key     *Key
	CertPEM []byte
}

// KeyPEM is the private key as the program uploads it (private_key_pem).
func (c *Cert) KeyPEM() []byte { return c.Key.PrivateKeyPEM }

// Bundle is the certificate followed by its key: HAProxy's crt file.
func (c *Cert) Bundle() []byte {
	return append(append([]byte{}, c.CertPEM...), c.Key.PrivateKeyPEM...)
}

func template(r Request, now time.Time) (*x509.Certificate, error) {
	if r.ValidityHours <= 0 {
		return nil, fmt.Errorf("validity of %q: %d hours", r.CommonName, r.ValidityHours)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	t := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: r.CommonName},
		NotBefore:             now,
		NotAfter:              now.Add(time.Duration(r.ValidityHours) * time.Hour),
		DNSNames:              r.DNSNames,
		BasicConstraintsValid: true,
		IsCA:                  r.IsCA,
	}
	for _, s := range r.IPs {
		ip := net.ParseIP(s)
		if ip == nil {
			return nil, fmt.Errorf("certificate %q: %q is not an IP address", r.CommonName, s)
		}
		t.IPAddresses = append(t.IPAddresses, ip)
	}
	if err := ApplyUsages(t, r.Usages); err != nil {
		return nil, fmt.Errorf("certificate %q: %w", r.CommonName, err)
	}
	return t, nil
}

// ApplyUsages sets t's key usages from pulumi-tls allowed_uses values, as the
// provider does; an unknown value (e.g. camelCase) is an error.
func ApplyUsages(t *x509.Certificate, uses []string) error {
	for _, u := range uses {
		if ku, ok := keyUsages[u]; ok {
			t.KeyUsage |= ku
		} else if eku, ok := extKeyUsages[u]; ok {
			t.ExtKeyUsage = append(t.ExtKeyUsage, eku)
		} else {
			return fmt.Errorf("unknown allowed_uses value %q (pulumi-tls spells them snake_case)", u)
		}
	}
	return nil
}

// SelfSign issues a self-signed certificate (tls.SelfSignedCert).
func SelfSign(key *Key, r Request, now time.Time) (*Cert, error) {
	t, err := template(r, now)
	if err != nil {
		return nil, err
	}
	return sign(t, t, key.Signer.Public(), key.Signer, key, config.CertSpec{Name: "ca", CommonName: r.CommonName})
}

// Sign issues a certificate for key signed by ca (tls.LocallySignedCert).
func Sign(ca *Cert, key *Key, r Request, now time.Time) (*Cert, error) {
	t, err := template(r, now)
	if err != nil {
		return nil, err
	}
	spec := config.CertSpec{CommonName: r.CommonName, DNSNames: r.DNSNames, IPs: r.IPs, Usages: r.Usages}
	return sign(t, ca.Cert, key.Signer.Public(), ca.Key.Signer, key, spec)
}

func sign(t, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer, key *Key, spec config.CertSpec) (*Cert, error) {
	der, err := x509.CreateCertificate(rand.Reader, t, parent, pub, signer)
	if err != nil {
		return nil, fmt.Errorf("signing certificate %q: %w", t.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parsing certificate %q: %w", t.Subject.CommonName, err)
	}
	return &Cert{Spec: spec, Cert: cert, Key: key,
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

// PKI is a cluster's CA and every leaf of config.Config.Certs.
type PKI struct {
	CA *Cert
	// Leaves in the order of config.Config.Certs.
	Leaves []*Cert
	byName map[string]*Cert
}

// CACommonName is the CA's subject common name.
func CACommonName(c config.Config) string { return c.Cluster.Name + "-ca" }

// New issues the CA and every leaf of c, valid from now.
func New(c config.Config) (*PKI, error) { return NewAt(c, time.Now()) }

// NewAt is New with a fixed start of validity.
func NewAt(c config.Config, now time.Time) (*PKI, error) {
	caKey, err := KeyFor(c.TLS)
	if err != nil {
		return nil, fmt.Errorf("CA key: %w", err)
	}
	ca, err := SelfSign(caKey, Request{CommonName: CACommonName(c), IsCA: true,
		Usages: []string{UsageCertSigning, UsageCRLSigning}, ValidityHours: c.TLS.CAValidityHours}, now)
	if err != nil {
		return nil, err
	}
	p := &PKI{CA: ca, byName: map[string]*Cert{}}
	for _, spec := range c.Certs() {
		if _, dup := p.byName[spec.Name]; dup {
			return nil, fmt.Errorf("certificate name %q is used twice", spec.Name)
		}
		key, err := KeyFor(c.TLS)
		if err != nil {
			return nil, fmt.Errorf("key of certificate %q: %w", spec.Name, err)
		}
		leaf, err := Sign(ca, key, Request{CommonName: spec.CommonName, DNSNames: spec.DNSNames, IPs: spec.IPs,
			Usages: spec.Usages, ValidityHours: c.TLS.ValidityHours}, now)
		if err != nil {
			return nil, fmt.Errorf("certificate %q: %w", spec.Name, err)
		}
		leaf.Spec = spec
		p.Leaves = append(p.Leaves, leaf)
		p.byName[spec.Name] = leaf
	}
	return p, nil
}

// Leaf returns the leaf named by its CertSpec.Name ("node-pgha-pg-1").
func (p *PKI) Leaf(name string) (*Cert, error) {
	if l, ok := p.byName[name]; ok {
		return l, nil
	}
	names := make([]string, 0, len(p.byName))
	for n := range p.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	return nil, fmt.Errorf("no certificate %q; have %v", name, names)
}

// Pool is a pool holding the CA only.
func (p *PKI) Pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.CA.Cert)
	return pool
}

// WriteTLSDir writes the CA and leaf name's files into dir with the names the
// rendered configs use: ca.crt, <base>.crt, <base>.key (0600) and, when
// bundle is set, <base>.pem (certificate then key, HAProxy's crt).
func (p *PKI) WriteTLSDir(dir, name, base string, bundle bool) error {
	l, err := p.Leaf(name)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	type file struct {
		name string
		data []byte
		mode os.FileMode
	}
	files := []file{
		{"ca.crt", p.CA.CertPEM, 0o644},
		{base + ".crt", l.CertPEM, 0o644},
		{base + ".key", l.KeyPEM(), 0o600},
	}
	if bundle {
		files = append(files, file{base + ".pem", l.Bundle(), 0o600})
	}
	for _, f := range files {
		path := filepath.Join(dir, f.name)
		if err := os.WriteFile(path, f.data, f.mode); err != nil {
			return err
		}
		// The mode is exact whatever the umask: PostgreSQL refuses keys
		// that others can read.
		if err := os.Chmod(path, f.mode); err != nil {
			return err
		}
	}
	return nil
}
