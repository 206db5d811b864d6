package components

import (
	"github.com/pulumi/pulumi-tls/sdk/v5/go/tls"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/postgres-ha/postgres-ha/config"
)

// PKIArgs configures the cluster's certificate authority and leaves.
type PKIArgs struct {
	Cluster string
	TLS     config.TLS
	Certs   []config.CertSpec
}

// Leaf is one signed certificate and its private key (a secret).
type Leaf struct {
	Cert pulumi.StringOutput
	Key  pulumi.StringOutput
}

// PKI is one CA and a leaf certificate per service instance. Every hop in
// the cluster verifies its peer against this CA.
type PKI struct {
	pulumi.ResourceState

	CACert pulumi.StringOutput `pulumi:"caCert"`
	Leaves map[string]Leaf
}

// NewPKI creates the CA and every leaf in args.Certs.
func NewPKI(ctx *pulumi.Context, name string, args *PKIArgs, opts ...pulumi.ResourceOption) (*PKI, error) {
	p := &PKI{Leaves: map[string]Leaf{}}
	if err := ctx.RegisterComponentResource(pkg+"PKI", name, p, opts...); err != nil {
		return nil, err
	}
	child := pulumi.Parent(p)

	caKey, err := newKey(ctx, name+"-ca", args.TLS, child)
	if err != nil {
		return nil, err
	}
	ca, err := tls.NewSelfSignedCert(ctx, name+"-ca", &tls.SelfSignedCertArgs{
		PrivateKeyPem:       caKey,
		IsCaCertificate:     pulumi.Bool(true),
		ValidityPeriodHours: pulumi.Int(args.TLS.CAValidityHours),
		EarlyRenewalHours:   pulumi.Int(args.TLS.EarlyRenewalHours),
		AllowedUses:         pulumi.ToStringArray([]string{"cert_signing", "crl_signing", config.UsageDigitalSignature}),
		Subject: &tls.SelfSignedCertSubjectArgs{
			CommonName:   pulumi.String(args.Cluster + " postgres-ha CA"),
			Organization: pulumi.String("postgres-ha"),
		},
	}, child)
	if err != nil {
		return nil, err
	}
	p.CACert = ca.CertPem

	for _, spec := range args.Certs {
		leaf, err := newLeaf(ctx, name+"-"+spec.Name, spec, args.TLS, caKey, ca.CertPem, child)
		if err != nil {
			return nil, err
		}
		p.Leaves[spec.Name] = leaf
	}

	outs := pulumi.Map{"caCert": p.CACert}
	for n, l := range p.Leaves {
		outs[n+"Cert"] = l.Cert
	}
	if err := ctx.RegisterResourceOutputs(p, outs); err != nil {
		return nil, err
	}
	return p, nil
}

// newKey makes a private key with the configured algorithm and returns its
// PEM as a secret. pulumi-tls defaults ECDSA to P224, which Go's TLS (Consul)
// rejects, so the curve is always set.
func newKey(ctx *pulumi.Context, name string, t config.TLS, opts ...pulumi.ResourceOption) (pulumi.StringOutput, error) {
	args := &tls.PrivateKeyArgs{Algorithm: pulumi.String(t.Algorithm)}
	if t.Algorithm == "RSA" {
		args.RsaBits = pulumi.Int(t.RsaBits)
	} else {
		args.EcdsaCurve = pulumi.String(t.EcdsaCurve)
	}
	k, err := tls.NewPrivateKey(ctx, name, args, opts...)
	if err != nil {
		return pulumi.StringOutput{}, err
	}
	return pulumi.ToSecret(k.PrivateKeyPem).(pulumi.StringOutput), nil
}

func newLeaf(ctx *pulumi.Context, name string, spec config.CertSpec, t config.TLS, caKey, caCert pulumi.StringOutput, opts ...pulumi.ResourceOption) (Leaf, error) {
	key, err := newKey(ctx, name, t, opts...)
	if err != nil {
		return Leaf{}, err
	}
	csr, err := tls.NewCertRequest(ctx, name, &tls.CertRequestArgs{
		PrivateKeyPem: key,
		DnsNames:      pulumi.ToStringArray(spec.DNSNames),
		IpAddresses:   pulumi.ToStringArray(spec.IPs),
		Subject: &tls.CertRequestSubjectArgs{
			CommonName:   pulumi.String(spec.CommonName),
			Organization: pulumi.String("postgres-ha"),
		},
	}, opts...)
	if err != nil {
		return Leaf{}, err
	}
	cert, err := tls.NewLocallySignedCert(ctx, name, &tls.LocallySignedCertArgs{
		CertRequestPem:      csr.CertRequestPem,
		CaPrivateKeyPem:     caKey,
		CaCertPem:           caCert,
		ValidityPeriodHours: pulumi.Int(t.ValidityHours),
		EarlyRenewalHours:   pulumi.Int(t.EarlyRenewalHours),
		AllowedUses:         pulumi.ToStringArray(spec.Usages),
	}, opts...)
	if err != nil {
		return Leaf{}, err
	}
	return Leaf{Cert: cert.CertPem, Key: key}, nil
}
