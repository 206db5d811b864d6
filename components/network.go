package components

import (
	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// NetworkArgs configures the cluster network.
type NetworkArgs struct {
	Cluster string
	Name    string
	Subnet  string
}

// Network is the one bridge network every container joins; Docker's DNS on it
// resolves container names and aliases. Moving nodes onto several hosts means
// replacing this component, not the others.
type Network struct {
	pulumi.ResourceState

	Name pulumi.StringOutput `pulumi:"name"`
}

// NewNetwork creates the bridge network.
func NewNetwork(ctx *pulumi.Context, name string, args *NetworkArgs, opts ...pulumi.ResourceOption) (*Network, error) {
	n := &Network{}
	if err := ctx.RegisterComponentResource(pkg+"Network", name, n, opts...); err != nil {
		return nil, err
	}
	net, err := docker.NewNetwork(ctx, name, &docker.NetworkArgs{
		Name:   pulumi.String(args.Name),
		Driver: pulumi.String("bridge"),
		IpamConfigs: docker.NetworkIpamConfigArray{
			docker.NetworkIpamConfigArgs{Subnet: pulumi.String(args.Subnet)},
		},
		Labels: docker.NetworkLabelArray{
			docker.NetworkLabelArgs{Label: pulumi.String(LabelCluster), Value: pulumi.String(args.Cluster)},
			docker.NetworkLabelArgs{Label: pulumi.String(LabelComponent), Value: pulumi.String("network")},
		},
	}, pulumi.Parent(n), pulumi.DeleteBeforeReplace(true))
	if err != nil {
		return nil, err
	}
	n.Name = net.Name
	if err := ctx.RegisterResourceOutputs(n, pulumi.Map{"name": n.Name}); err != nil {
		return nil, err
	}
	return n, nil
}
