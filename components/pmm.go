package components

import (
	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/postgres-ha/postgres-ha/config"
	"github.com/postgres-ha/postgres-ha/templates"
)

// PMMServerArgs configures the monitoring server.
type PMMServerArgs struct {
	Config        config.Config
	Runtime       Runtime
	Image         pulumi.StringInput
	CACert        pulumi.StringInput
	Leaf          Leaf
	AdminPassword pulumi.StringOutput
	// JobImage runs the PMM job (the Patroni image: it has python3).
	JobImage pulumi.StringInput
}

// PMMServer is Percona Monitoring and Management 3: Grafana, VictoriaMetrics
// and Query Analytics behind HTTPS with our certificate, and the PMM job
// that gets the pmm-clients' service-account token (PMM 3 clients register
// with one, not with the admin password). The admin password is read from
// an uploaded file (Grafana's __FILE convention), never from the
// environment; the token is kept in the token volume, never in Pulumi's
// state.
type PMMServer struct {
	pulumi.ResourceState

	Container *docker.Container
	// TokenJob has written the clients' token when it exits 0.
	TokenJob *docker.Container
	// TokenVolume holds the token; the clients mount it read-only.
	TokenVolume pulumi.StringOutput
	Name        pulumi.StringOutput `pulumi:"name"`
	// ExitCode is the job's (unset while the cluster is stopped).
	ExitCode pulumi.IntOutput `pulumi:"tokenJobExitCode"`
}

// pmmSecretFile is where the admin password is uploaded. PMM 3's server
// runs as uid 1000 with gid 0 (Percona's images, for OpenShift): a 0640 file
// owned by root:root is readable by it and by nobody else but root. PMM's
// nginx reads the key the same way.
const pmmSecretFile = "/srv/postgres-ha/admin-password"

// groupOnly is a root:root file readable by group 0 too (PMM 3's user).
func groupOnly(path string, content pulumi.StringOutput) upload {
	return upload{path, pulumi.ToSecret(content).(pulumi.StringOutput), "0640"}
}

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
			pulumi.String("PMM_ENABLE_UPDATES=false"),
			pulumi.String("PMM_ENABLE_TELEMETRY=false"),
		},
		NetworksAdvanced: args.Runtime.networks(c.PMMName()),
		Ports: docker.ContainerPortArray{docker.ContainerPortArgs{
			Internal: pulumi.Int(templates.PMMServerPort), External: pulumi.Int(c.Ports.PMM), Ip: pulumi.String(c.Ports.BindAddress),
		}},
		Volumes: docker.ContainerVolumeArray{docker.ContainerVolumeArgs{
			VolumeName: vol.Name, ContainerPath: pulumi.String("/srv"),
		}},
		// PMM's nginx serves these as its HTTPS certificate.
		Uploads: uploads(
			groupOnly(pmmSecretFile, args.AdminPassword),
			public("/srv/nginx/certificate.crt", args.Leaf.Cert),
			groupOnly("/srv/nginx/certificate.key", args.Leaf.Key),
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
	tokens, err := docker.NewVolume(ctx, c.PMMName()+"-token", &docker.VolumeArgs{
		Name: pulumi.String(c.PMMName() + "-token"), Labels: volumeLabels(c.Cluster.Name, "pmm-token"),
	}, pulumi.Parent(p), pulumi.DeleteBeforeReplace(true))
	if err != nil {
		return nil, err
	}
	p.TokenVolume = tokens.Name
	outs := pulumi.Map{"name": p.Name}
	if args.Runtime.Running {
		if err := p.tokenJob(ctx, args); err != nil {
			return nil, err
		}
		outs["tokenJobExitCode"] = p.ExitCode
	}
	if err := ctx.RegisterResourceOutputs(p, outs); err != nil {
		return nil, err
	}
	return p, nil
}

// tokenJob declares the PMM job (templates/pmm/pmm-token.py), which waits
// for the server, and so is what makes `up` wait for PMM to be ready.
func (p *PMMServer) tokenJob(ctx *pulumi.Context, args *PMMServerArgs) error {
	c := args.Config
	script, err := templates.PMMTokenScript()
	if err != nil {
		return err
	}
	settings, err := templates.PMMTokenSettings(c)
	if err != nil {
		return err
	}
	dir := templates.MustPath("pmmJobDir")
	a := &docker.ContainerArgs{
		Name:             pulumi.String(c.PMMTokenJobName()),
		Image:            args.JobImage,
		Entrypoints:      pulumi.StringArray{pulumi.String("python3")},
		Command:          pulumi.StringArray{pulumi.String(dir + "/pmm-token.py")},
		NetworksAdvanced: args.Runtime.networks(),
		Uploads: uploads(
			public(dir+"/pmm-token.py", pulumi.String(script)),
			public(dir+"/settings.json", pulumi.String(settings)),
			public(dir+"/ca.crt", args.CACert),
			private(dir+"/admin.password", args.AdminPassword),
			// A replaced server (another image, a lost volume) reruns the
			// job, which keeps a token the new server still accepts.
			public(dir+"/server-id", p.Container.ID().ToStringOutput()),
		),
		Volumes: docker.ContainerVolumeArray{docker.ContainerVolumeArgs{
			VolumeName: p.TokenVolume, ContainerPath: pulumi.String(templates.MustPath("pmmTokenDir")),
		}},
		// Root reads the root-only uploads and owns the volume; it needs
		// no capability.
		User:         pulumi.String("0"),
		Capabilities: &docker.ContainerCapabilitiesArgs{Drops: pulumi.StringArray{pulumi.String("ALL")}},
		Labels:       containerLabels(c.Cluster.Name, "pmm-token"),
	}
	p.TokenJob, p.ExitCode, err = newJob(ctx, c.PMMTokenJobName(), a, pulumi.Parent(p), pulumi.DependsOn([]pulumi.Resource{p.Container}))
	return err
}
