package components

import (
	"crypto/sha256"
	"encoding/hex"
	"path"
	"sort"
	"strings"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/postgres-ha/postgres-ha/config"
	"github.com/postgres-ha/postgres-ha/templates"
)

// ImagesArgs configures the images.
type ImagesArgs struct {
	Images config.Images
	PMM    bool
}

// Images builds the Patroni image and resolves the others from config.
type Images struct {
	pulumi.ResourceState

	Patroni   pulumi.StringOutput `pulumi:"patroni"`
	Consul    pulumi.StringOutput `pulumi:"consul"`
	HAProxy   pulumi.StringOutput `pulumi:"haproxy"`
	PMMServer pulumi.StringOutput `pulumi:"pmmServer"`
	PMMClient pulumi.StringOutput `pulumi:"pmmClient"`
}

// PatroniContext is the Patroni image's build context, relative to the
// project directory.
const PatroniContext = "templates/images/patroni"

// NewImages registers the build and the remote images.
func NewImages(ctx *pulumi.Context, name string, args *ImagesArgs, opts ...pulumi.ResourceOption) (*Images, error) {
	im := &Images{}
	if err := ctx.RegisterComponentResource(pkg+"Images", name, im, opts...); err != nil {
		return nil, err
	}
	child := pulumi.Parent(im)

	// The tag carries a hash of the build context and arguments: a changed
	// Dockerfile gives a new tag, so the containers using it are replaced,
	// and an unchanged one gives the same tag, so preview shows no diff.
	tag, err := patroniTag(args.Images)
	if err != nil {
		return nil, err
	}
	// The context is relative to the project directory, where the engine
	// runs the provider: the same stack previews no change from a clone in
	// another folder (a CI runner, a colleague's checkout).
	build := &docker.DockerBuildArgs{
		Context:    pulumi.String(PatroniContext),
		Dockerfile: pulumi.String(PatroniContext + "/Dockerfile"),
		Args:       pulumi.StringMap{"BASE_IMAGE": pulumi.String(args.Images.BaseImage)},
		// No platform: the provider builds for the host's (its Check
		// fills linux/<arch>), so an arm64 host builds an arm64 image.
	}
	if args.Images.BuildNetwork != "" {
		build.Network = pulumi.String(args.Images.BuildNetwork)
	}
	patroni, err := docker.NewImage(ctx, name+"-patroni", &docker.ImageArgs{
		ImageName: pulumi.String(tag),
		Build:     build,
		SkipPush:  pulumi.Bool(true),
	}, child)
	if err != nil {
		return nil, err
	}
	im.Patroni = patroni.ImageName

	remote := func(n, ref string) (pulumi.StringOutput, error) {
		r, err := docker.NewRemoteImage(ctx, name+"-"+n, &docker.RemoteImageArgs{
			Name: pulumi.String(ref), KeepLocally: pulumi.Bool(true),
		}, child)
		if err != nil {
			return pulumi.StringOutput{}, err
		}
		return r.ImageId, nil
	}
	if im.Consul, err = remote("consul", args.Images.Consul); err != nil {
		return nil, err
	}
	if im.HAProxy, err = remote("haproxy", args.Images.HAProxy); err != nil {
		return nil, err
	}
	outs := pulumi.Map{"patroni": im.Patroni, "consul": im.Consul, "haproxy": im.HAProxy}
	if args.PMM {
		if im.PMMServer, err = remote("pmm-server", args.Images.PMMServer); err != nil {
			return nil, err
		}
		if im.PMMClient, err = remote("pmm-client", args.Images.PMMClient); err != nil {
			return nil, err
		}
		outs["pmmServer"], outs["pmmClient"] = im.PMMServer, im.PMMClient
	}
	if err := ctx.RegisterResourceOutputs(im, outs); err != nil {
		return nil, err
	}
	return im, nil
}

// patroniTag is images.patroni with its tag suffixed by a content hash.
func patroniTag(i config.Images) (string, error) {
	files, err := templates.ImageFiles("patroni")
	if err != nil {
		return "", err
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha256.New()
	h.Write([]byte("BASE_IMAGE=" + i.BaseImage + "\n"))
	for _, n := range names {
		h.Write([]byte(path.Base(n) + "\n"))
		h.Write(files[n])
	}
	sum := hex.EncodeToString(h.Sum(nil))[:12]
	ref := i.Patroni
	if slash := strings.LastIndex(ref, "/"); strings.LastIndex(ref, ":") > slash {
		return ref + "-" + sum, nil
	}
	return ref + ":" + sum, nil
}
