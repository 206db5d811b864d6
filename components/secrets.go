package components

import (
	"slices"

	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/postgres-ha/postgres-ha/templates"
)

type valuesT = templates.Values

// SecretsArgs lists what to generate.
type SecretsArgs struct {
	// Tokens are the ACL tokens to generate IDs for.
	Tokens []templates.TokenSpec
	// Nodes are the Consul node names that get a stable node_id.
	Nodes []string
}

// Secrets generates every credential of the cluster with pulumi-random:
// passwords, ACL token IDs, Consul node IDs and the gossip key. Values
// carries them all for rendering; it is a secret.
type Secrets struct {
	pulumi.ResourceState

	// Values is a templates.Values with every token and node ID, secret.
	Values pulumi.AnyOutput

	SuperuserPassword pulumi.StringOutput `pulumi:"superuserPassword"`
	StatsPassword     pulumi.StringOutput `pulumi:"statsPassword"`
	PMMAdminPassword  pulumi.StringOutput `pulumi:"pmmAdminPassword"`
	ManagementToken   pulumi.StringOutput `pulumi:"managementToken"`
	RestAPIPassword   pulumi.StringOutput `pulumi:"restApiPassword"`

	fixed   []any
	tokens  map[string][2]pulumi.StringOutput
	nodeIDs map[string]pulumi.StringOutput
}

// ValuesFor is a templates.Values (secret) with the passwords and only the
// named tokens and node IDs: what one container's files need. A consumer
// that depends on no other node's values is not unknown in the preview of
// a change that adds a node (the new node's random values are), so adding
// a node previews no change to the others.
func (s *Secrets) ValuesFor(tokens, nodes []string) pulumi.AnyOutput {
	parts := slices.Clone(s.fixed)
	for _, t := range tokens {
		parts = append(parts, s.tokens[t][0], s.tokens[t][1])
	}
	for _, n := range nodes {
		parts = append(parts, s.nodeIDs[n])
	}
	return pulumi.ToSecret(pulumi.All(parts...).ApplyT(func(xs []any) valuesT {
		str := func(i int) string { return xs[i].(string) }
		v := valuesT{
			ManagementToken: str(0), GossipKey: str(1), SuperuserPassword: str(2), ReplicationPassword: str(3),
			RewindPassword: str(4), RestAPIPassword: str(5), StatsPassword: str(6), PMMAdminPassword: str(7),
			PMMDBPassword: str(8), Tokens: map[string]templates.Token{}, NodeIDs: map[string]string{},
		}
		i := len(s.fixed)
		for _, t := range tokens {
			v.Tokens[t] = templates.Token{AccessorID: str(i), SecretID: str(i + 1)}
			i += 2
		}
		for _, n := range nodes {
			v.NodeIDs[n] = str(i)
			i++
		}
		return v
	})).(pulumi.AnyOutput)
}

// NewSecrets registers the random resources.
func NewSecrets(ctx *pulumi.Context, name string, args *SecretsArgs, opts ...pulumi.ResourceOption) (*Secrets, error) {
	s := &Secrets{}
	if err := ctx.RegisterComponentResource(pkg+"Secrets", name, s, opts...); err != nil {
		return nil, err
	}
	child := pulumi.Parent(s)

	// Passwords avoid the default special set, which breaks URIs and YAML.
	password := func(n string) (pulumi.StringOutput, error) {
		p, err := random.NewRandomPassword(ctx, name+"-"+n, &random.RandomPasswordArgs{
			Length: pulumi.Int(32), Special: pulumi.Bool(true), OverrideSpecial: pulumi.String("-_"),
		}, child)
		if err != nil {
			return pulumi.StringOutput{}, err
		}
		return pulumi.ToSecret(p.Result).(pulumi.StringOutput), nil
	}
	// RandomUuid.Result is not secret: wrap it when it is a token.
	uuid := func(n string, secret bool) (pulumi.StringOutput, error) {
		u, err := random.NewRandomUuid(ctx, name+"-"+n, &random.RandomUuidArgs{}, child)
		if err != nil {
			return pulumi.StringOutput{}, err
		}
		if secret {
			return pulumi.ToSecret(u.Result).(pulumi.StringOutput), nil
		}
		return u.Result, nil
	}

	var err error
	named := map[string]*pulumi.StringOutput{
		"superuser": &s.SuperuserPassword, "stats": &s.StatsPassword, "pmm-admin": &s.PMMAdminPassword,
		"restapi": &s.RestAPIPassword,
	}
	var replication, rewind, pmmDB pulumi.StringOutput
	named["replication"], named["rewind"], named["pmm-db"] = &replication, &rewind, &pmmDB
	for _, n := range []string{"superuser", "replication", "rewind", "restapi", "stats", "pmm-admin", "pmm-db"} {
		if *named[n], err = password(n); err != nil {
			return nil, err
		}
	}
	if s.ManagementToken, err = uuid("management-token", true); err != nil {
		return nil, err
	}
	gossip, err := random.NewRandomBytes(ctx, name+"-gossip-key", &random.RandomBytesArgs{Length: pulumi.Int(32)}, child)
	if err != nil {
		return nil, err
	}

	s.fixed = []any{s.ManagementToken, pulumi.ToSecret(gossip.Base64), s.SuperuserPassword, replication, rewind,
		s.RestAPIPassword, s.StatsPassword, s.PMMAdminPassword, pmmDB}
	s.tokens = map[string][2]pulumi.StringOutput{}
	s.nodeIDs = map[string]pulumi.StringOutput{}
	var tokens []string
	for _, t := range args.Tokens {
		acc, err := uuid(t.Name+"-accessor", false)
		if err != nil {
			return nil, err
		}
		sec, err := uuid(t.Name+"-secret", true)
		if err != nil {
			return nil, err
		}
		s.tokens[t.Name] = [2]pulumi.StringOutput{acc, sec}
		tokens = append(tokens, t.Name)
	}
	for _, n := range args.Nodes {
		if s.nodeIDs[n], err = uuid(n+"-node-id", false); err != nil {
			return nil, err
		}
	}
	s.Values = s.ValuesFor(tokens, args.Nodes)

	if err := ctx.RegisterResourceOutputs(s, pulumi.Map{
		"superuserPassword": s.SuperuserPassword, "statsPassword": s.StatsPassword,
		"pmmAdminPassword": s.PMMAdminPassword, "managementToken": s.ManagementToken,
		"restApiPassword": s.RestAPIPassword,
	}); err != nil {
		return nil, err
	}
	return s, nil
}
