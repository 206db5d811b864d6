package e2e

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

// tlsPrivateKey is tls:index/privateKey:PrivateKey.
func tlsPrivateKey(in *fields) (resource.PropertyMap, []string, error) {
	alg := in.str("algorithm", "")
	// pulumi-tls defaults: ECDSA on P224, RSA with 2048 bits.
	curve := in.str("ecdsaCurve", "P224")
	bits := in.num("rsaBits", 2048)
	if err := in.check(); err != nil {
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
	return props(out, "privateKeyPem", "privateKeyPemPkcs8"),
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

func parseCert(pemText string) (*x509.Certificate, error) {
	b, _ := pem.Decode([]byte(pemText))
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("certificate: no CERTIFICATE PEM block")
	}
	return x509.ParseCertificate(b.Bytes)
}

// subject reads a pulumi-tls subject block.
func subject(in *fields) pkix.Name {
	var n pkix.Name
	if in == nil {
		return n
	}
	one := func(k string) []string {
		if s := in.str(k, ""); s != "" {
			return []string{s}
		}
		return nil
	}
	n.CommonName = in.str("commonName", "")
	n.Organization = one("organization")
	n.OrganizationalUnit = one("organizationalUnit")
	n.Country = one("country")
	n.Province = one("province")
	n.Locality = one("locality")
	n.PostalCode = one("postalCode")
	n.StreetAddress = in.strs("streetAddresses")
	n.SerialNumber = in.str("serialNumber", "")
	return n
}

func ipAddresses(in *fields) ([]net.IP, error) {
	var ips []net.IP
	for _, s := range in.strs("ipAddresses") {
		ip := net.ParseIP(s)
		if ip == nil {
			return nil, fmt.Errorf("ipAddresses: %q is not an IP address", s)
		}
		ips = append(ips, ip)
	}
	return ips, nil
}

// certTemplate reads what SelfSignedCert and LocallySignedCert share.
func certTemplate(in *fields) (*x509.Certificate, error) {
	hours := in.num("validityPeriodHours", 0)
	if hours <= 0 {
		return nil, fmt.Errorf("validityPeriodHours must be positive, got %d", hours)
	}
	in.num("earlyRenewalHours", 0) // a renewal trigger only: nothing to issue
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
		IsCA:                  in.boolean("isCaCertificate", false),
	}
	if err := realpki.ApplyUsages(t, in.strs("allowedUses")); err != nil {
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
	return props(out, "privateKeyPem", "caPrivateKeyPem")
}

// tlsSelfSignedCert is tls:index/selfSignedCert:SelfSignedCert.
func tlsSelfSignedCert(in *fields) (resource.PropertyMap, error) {
	key, err := parseSigner(in.str("privateKeyPem", ""))
	if err != nil {
		return nil, err
	}
	t, err := certTemplate(in)
	if err != nil {
		return nil, err
	}
	t.Subject = subject(in.obj("subject"))
	t.DNSNames = in.strs("dnsNames")
	if t.IPAddresses, err = ipAddresses(in); err != nil {
		return nil, err
	}
	if err := in.check(); err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificate(rand.Reader, t, t, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("self-signing: %w", err)
	}
	return certOutputs(in.m, der, t), nil
}

// tlsCertRequest is tls:index/certRequest:CertRequest.
func tlsCertRequest(in *fields) (resource.PropertyMap, error) {
	key, err := parseSigner(in.str("privateKeyPem", ""))
	if err != nil {
		return nil, err
	}
	req := &x509.CertificateRequest{Subject: subject(in.obj("subject")), DNSNames: in.strs("dnsNames")}
	if req.IPAddresses, err = ipAddresses(in); err != nil {
		return nil, err
	}
	if err := in.check(); err != nil {
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
	return props(out, "privateKeyPem"), nil
}

// tlsLocallySignedCert is tls:index/locallySignedCert:LocallySignedCert: the
// subject and SANs come from the request, as the provider does.
func tlsLocallySignedCert(in *fields) (resource.PropertyMap, error) {
	b, _ := pem.Decode([]byte(in.str("certRequestPem", "")))
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
	caKey, err := parseSigner(in.str("caPrivateKeyPem", ""))
	if err != nil {
		return nil, fmt.Errorf("caPrivateKeyPem: %w", err)
	}
	ca, err := parseCert(in.str("caCertPem", ""))
	if err != nil {
		return nil, fmt.Errorf("caCertPem: %w", err)
	}
	t, err := certTemplate(in)
	if err != nil {
		return nil, err
	}
	if err := in.check(); err != nil {
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
