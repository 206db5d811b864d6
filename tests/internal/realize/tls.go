package realize

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/postgres-ha/postgres-ha/tests/internal/realpki"
)

// TLSPrivateKey is tls:index/privateKey:PrivateKey.
func TLSPrivateKey(in *Fields) (resource.PropertyMap, []string, error) {
	alg := in.Str("algorithm", "")
	// pulumi-tls defaults: ECDSA on P224, RSA with 2048 bits.
	curve := in.Str("ecdsaCurve", "P224")
	bits := in.Num("rsaBits", 2048)
	if err := in.Check(); err != nil {
		return nil, nil, err
	}
	k, err := realpki.GenerateKey(alg, curve, bits)
	if err != nil {
		return nil, nil, err
	}
	out := map[string]any{
		"algorithm": alg, "ecdsaCurve": curve, "rsaBits": bits,
		"privateKeyPem":      string(k.PrivateKeyPEM),
		"privateKeyPemPkcs8": string(k.PrivateKeyPKCS8PEM),
		"publicKeyPem":       string(k.PublicKeyPEM),
	}
	return Props(out, "privateKeyPem", "privateKeyPemPkcs8"),
		[]string{string(k.PrivateKeyPEM), string(k.PrivateKeyPKCS8PEM)}, nil
}

func parseSigner(pemText string) (crypto.Signer, error) {
	b, _ := pem.Decode([]byte(pemText))
	if b == nil {
		return nil, fmt.Errorf("private key: no PEM block")
	}
	switch b.Type {
	case "EC PRIVATE KEY":
		return x509.ParseECPrivateKey(b.Bytes)
	case "RSA PRIVATE KEY":
		return x509.ParsePKCS1PrivateKey(b.Bytes)
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
		if err != nil {
			return nil, err
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("private key: %T is not a signer", k)
		}
		return s, nil
	}
	return nil, fmt.Errorf("private key: unsupported PEM type %q", b.Type)
}

func ParseCert(pemText string) (*x509.Certificate, error) {
	b, _ := pem.Decode([]byte(pemText))
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("certificate: no CERTIFICATE PEM block")
	}
	return x509.ParseCertificate(b.Bytes)
}

// subject reads a pulumi-tls subject block.
func subject(in *Fields) pkix.Name {
	var n pkix.Name
	if in == nil {
		return n
	}
	one := func(k string) []string {
		if s := in.Str(k, ""); s != "" {
			return []string{s}
		}
		return nil
	}
	n.CommonName = in.Str("commonName", "")
	n.Organization = one("organization")
	n.OrganizationalUnit = one("organizationalUnit")
	n.Country = one("country")
	n.Province = one("province")
	n.Locality = one("locality")
	n.PostalCode = one("postalCode")
	n.StreetAddress = in.Strs("streetAddresses")
	n.SerialNumber = in.Str("serialNumber", "")
	return n
}

func ipAddresses(in *Fields) ([]net.IP, error) {
	var ips []net.IP
	for _, s := range in.Strs("ipAddresses") {
		ip := net.ParseIP(s)
		if ip == nil {
			return nil, fmt.Errorf("ipAddresses: %q is not an IP address", s)
		}
		ips = append(ips, ip)
	}
	return ips, nil
}

// certTemplate reads what SelfSignedCert and LocallySignedCert share.
func certTemplate(in *Fields) (*x509.Certificate, error) {
	hours := in.Num("validityPeriodHours", 0)
	if hours <= 0 {
		return nil, fmt.Errorf("validityPeriodHours must be positive, got %d", hours)
	}
	in.Num("earlyRenewalHours", 0) // a renewal trigger only: nothing to issue
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	t := &x509.Certificate{
		SerialNumber:          serial,
		NotBefore:             now,
		NotAfter:              now.Add(time.Duration(hours) * time.Hour),
		BasicConstraintsValid: true,
		IsCA:                  in.Bool("isCaCertificate", false),
	}
	if err := realpki.ApplyUsages(t, in.Strs("allowedUses")); err != nil {
		return nil, fmt.Errorf("allowedUses: %w", err)
	}
	return t, nil
}

func certOutputs(in map[string]any, der []byte, t *x509.Certificate) resource.PropertyMap {
	out := map[string]any{}
	for k, v := range in {
		out[k] = v
	}
	out["certPem"] = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	out["validityStartTime"] = t.NotBefore.UTC().Format(time.RFC3339)
	out["validityEndTime"] = t.NotAfter.UTC().Format(time.RFC3339)
	out["readyForRenewal"] = false
	return Props(out, "privateKeyPem", "caPrivateKeyPem")
}

// TLSSelfSignedCert is tls:index/selfSignedCert:SelfSignedCert.
func TLSSelfSignedCert(in *Fields) (resource.PropertyMap, error) {
	key, err := parseSigner(in.Str("privateKeyPem", ""))
	if err != nil {
		return nil, err
	}
	t, err := certTemplate(in)
	if err != nil {
		return nil, err
	}
	t.Subject = subject(in.Obj("subject"))
	t.DNSNames = in.Strs("dnsNames")
	if t.IPAddresses, err = ipAddresses(in); err != nil {
		return nil, err
	}
	if err := in.Check(); err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificate(rand.Reader, t, t, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("self-signing: %w", err)
	}
	return certOutputs(in.m, der, t), nil
}

// TLSCertRequest is tls:index/certRequest:CertRequest.
func TLSCertRequest(in *Fields) (resource.PropertyMap, error) {
	key, err := parseSigner(in.Str("privateKeyPem", ""))
	if err != nil {
		return nil, err
	}
	req := &x509.CertificateRequest{Subject: subject(in.Obj("subject")), DNSNames: in.Strs("dnsNames")}
	if req.IPAddresses, err = ipAddresses(in); err != nil {
		return nil, err
	}
	if err := in.Check(); err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, req, key)
	if err != nil {
		return nil, fmt.Errorf("certificate request: %w", err)
	}
	out := map[string]any{}
	for k, v := range in.m {
		out[k] = v
	}
	out["certRequestPem"] = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
	return Props(out, "privateKeyPem"), nil
}

// TLSLocallySignedCert is tls:index/locallySignedCert:LocallySignedCert: the
// subject and SANs come from the request, as the provider does.
func TLSLocallySignedCert(in *Fields) (resource.PropertyMap, error) {
	b, _ := pem.Decode([]byte(in.Str("certRequestPem", "")))
	if b == nil {
		return nil, fmt.Errorf("certRequestPem: no PEM block")
	}
	csr, err := x509.ParseCertificateRequest(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("certRequestPem: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("certRequestPem: %w", err)
	}
	caKey, err := parseSigner(in.Str("caPrivateKeyPem", ""))
	if err != nil {
		return nil, fmt.Errorf("caPrivateKeyPem: %w", err)
	}
	ca, err := ParseCert(in.Str("caCertPem", ""))
	if err != nil {
		return nil, fmt.Errorf("caCertPem: %w", err)
	}
	t, err := certTemplate(in)
	if err != nil {
		return nil, err
	}
	if err := in.Check(); err != nil {
		return nil, err
	}
	t.Subject = csr.Subject
	t.DNSNames, t.IPAddresses, t.URIs = csr.DNSNames, csr.IPAddresses, csr.URIs
	der, err := x509.CreateCertificate(rand.Reader, t, ca, csr.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("signing %q: %w", csr.Subject.CommonName, err)
	}
	return certOutputs(in.m, der, t), nil
}
