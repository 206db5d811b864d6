package components

import (
	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/postgres-ha/postgres-ha/config"
)

// PMMServerArgs configures the monitoring server.
type PMMServerArgs struct {
	Config        config.Config
	Runtime       Runtime
	Image         pulumi.StringInput
	CACert        pulumi.StringInput
	Leaf          Leaf
	AdminPassword pulumi.StringOutput
}

// PMMServer is Percona Monitoring and Management: Grafana, VictoriaMetrics and
// Query Analytics behind HTTPS with our certificate. The admin password is
// read from an uploaded file (Grafana's __FILE convention), never from the
// environment.
type PMMServer struct {
	pulumi.ResourceState

	Container *docker.Container
	Name      pulumi.StringOutput `pulumi:"name"`
}

// pmmSecretFile is where the admin password is uploaded. It is the one
// secret file that is not owner-only: PMM 2 runs Grafana, which reads it,
// as the grafana user, and an upload is owned by root (PMM 3, issue 13,
// changes how the server gets its credentials).
const pmmSecretFile = "/srv/postgres-ha/admin-password"

// NewPMMServer creates the PMM server with its data volume.
func NewPMMServer(ctx *pulumi.Context, name string, args *PMMServerArgs, opts ...pulumi.ResourceOption) (*PMMServer, error) {
	p := &PMMServer{}
	if err := ctx.RegisterComponentResource(pkg+"PMMServer", name, p, opts...); err != nil {
		return nil, err
	}
	c := args.Config
	vol, err := docker.NewVolume(ctx, c.PMMName()+"-data", &docker.VolumeArgs{
		Name: pulumi.String(c.PMMName() + "-data"), Labels: volumeLabels(c.Cluster.Name, "pmm"),
	}, pulumi.Parent(p), pulumi.DeleteBeforeReplace(true))
	if err != nil {
		return nil, err
	}
	a := &docker.ContainerArgs{
		Name:     pulumi.String(c.PMMName()),
		Hostname: pulumi.String(c.PMMName()),
		Image:    args.Image,
		Envs: pulumi.StringArray{
			pulumi.String("GF_SECURITY_ADMIN_PASSWORD__FILE=" + pmmSecretFile),
			pulumi.String("DISABLE_UPDATES=true"),
			pulumi.String("DISABLE_TELEMETRY=true"),
		},
		NetworksAdvanced: args.Runtime.networks(c.PMMName()),
		Ports: docker.ContainerPortArray{docker.ContainerPortArgs{
			Internal: pulumi.Int(443), External: pulumi.Int(c.Ports.PMM), Ip: pulumi.String(c.Ports.BindAddress),
		}},
		Volumes: docker.ContainerVolumeArray{docker.ContainerVolumeArgs{
			VolumeName: vol.Name, ContainerPath: pulumi.String("/srv"),
		}},
		// PMM's nginx serves these as its HTTPS certificate.
		Uploads: uploads(
			upload{pmmSecretFile, pulumi.ToSecret(args.AdminPassword).(pulumi.StringOutput), "0644"},
			public("/srv/nginx/certificate.crt", args.Leaf.Cert),
			private("/srv/nginx/certificate.key", args.Leaf.Key),
			public("/srv/nginx/ca-certs.pem", args.CACert),
		),
		Labels: containerLabels(c.Cluster.Name, "pmm-server"),
	}
	ctr, err := args.Runtime.container(ctx, name, a, pulumi.Parent(p))
	if err != nil {
		return nil, err
	}
	p.Container = ctr
	p.Name = ctr.Name
	if err := ctx.RegisterResourceOutputs(p, pulumi.Map{"name": p.Name}); err != nil {
		return nil, err
	}
	return p, nil
}
