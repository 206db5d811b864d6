package components

import (
	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/postgres-ha/postgres-ha/config"
	"github.com/postgres-ha/postgres-ha/templates"
)

// PatroniJobArgs is what the Patroni jobs (patroni-config and every node's
// hand-over) share: they run templates/patroni/patroni-job.py from the
// Patroni image (it has python3) as clients of Patroni's REST API.
type PatroniJobArgs struct {
	Config  config.Config
	Runtime Runtime
	Image   pulumi.StringInput
	CACert  pulumi.StringInput
	// Leaf is the jobs' client certificate.
	Leaf   Leaf
	Values pulumi.AnyOutput
}

// PatroniConfig applies the stack's Patroni and PostgreSQL settings to the
// running cluster through PATCH /config and restarts the members that need
// it, replicas first (templates.Dynamic says why bootstrap.dcs cannot).
// Its settings file holds the whole dynamic configuration, so a change of a
// setting replaces this job and nothing else, and the replacement reruns it.
type PatroniConfig struct {
	pulumi.ResourceState

	Job      *docker.Container
	ExitCode pulumi.IntOutput `pulumi:"exitCode"`
}

// NewPatroniConfig registers the job.
func NewPatroniConfig(ctx *pulumi.Context, name string, args *PatroniJobArgs, opts ...pulumi.ResourceOption) (*PatroniConfig, error) {
	j := &PatroniConfig{}
	if err := ctx.RegisterComponentResource(pkg+"PatroniConfig", name, j, opts...); err != nil {
		return nil, err
	}
	settings, err := templates.PatroniJobSettings(args.Config)
	if err != nil {
		return nil, err
	}
	j.Job, j.ExitCode, err = args.job(ctx, args.Config.PatroniJobName(), "patroni-config", settings, []string{"apply-config"}, nil, pulumi.Parent(j))
	if err != nil {
		return nil, err
	}
	if err := ctx.RegisterResourceOutputs(j, pulumi.Map{"exitCode": j.ExitCode}); err != nil {
		return nil, err
	}
	return j, nil
}

// job declares one Patroni job container named name, labelled role,
// running patroni-job.py with args; extra files go beside the others.
func (a *PatroniJobArgs) job(ctx *pulumi.Context, name, role, settings string, args []string, extra []upload, opts ...pulumi.ResourceOption) (*docker.Container, pulumi.IntOutput, error) {
	script, err := templates.PatroniJobScript()
	if err != nil {
		return nil, pulumi.IntOutput{}, err
	}
	dir := templates.MustPath("patroniJobDir")
	password := render(a.Values, func(v valuesT) (string, error) { return v.RestAPIPassword, nil })
	files := append([]upload{
		public(dir+"/patroni-job.py", pulumi.String(script)),
		public(dir+"/settings.json", pulumi.String(settings)),
		public(dir+"/ca.crt", a.CACert),
		public(dir+"/client.crt", a.Leaf.Cert),
		private(dir+"/client.key", a.Leaf.Key),
		private(dir+"/rest.password", password),
	}, extra...)
	command := pulumi.StringArray{pulumi.String(dir + "/patroni-job.py")}
	for _, s := range args {
		command = append(command, pulumi.String(s))
	}
	c := &docker.ContainerArgs{
		Name:             pulumi.String(name),
		Image:            a.Image,
		Entrypoints:      pulumi.StringArray{pulumi.String("python3")},
		Command:          command,
		NetworksAdvanced: a.Runtime.networks(),
		Uploads:          uploads(files...),
		// Root reads the root-only uploads; it needs no capability.
		User:         pulumi.String("0"),
		Capabilities: &docker.ContainerCapabilitiesArgs{Drops: pulumi.StringArray{pulumi.String("ALL")}},
		Labels:       containerLabels(a.Config.Cluster.Name, role),
	}
	return newJob(ctx, name, c, opts...)
}
