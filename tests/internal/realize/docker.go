package realize

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/docker/go-connections/nat"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// Docker makes docker:index resources real through the Docker Engine API, as
// the docker provider does. The e2e realizer and the test provider plugin
// both create through it.
type Docker struct {
	Cli *client.Client
	// Root is the project directory: relative build contexts are resolved
	// against it.
	Root string
	// Labels are added to every object created (the e2e run label).
	Labels map[string]string
	Logf   func(format string, args ...any)
}

// WithOutputs is the resource's inputs (secrets kept) plus extra outputs.
func WithOutputs(inputs resource.PropertyMap, extra map[string]any, secret ...string) resource.PropertyMap {
	out := inputs.Copy()
	for k, v := range Props(extra, secret...) {
		out[k] = v
	}
	return out
}

func (r *Docker) labels(objs []*Fields) map[string]string {
	m := map[string]string{}
	for _, l := range objs {
		m[l.Str("label", "")] = l.Str("value", "")
	}
	for k, v := range r.Labels {
		m[k] = v
	}
	return m
}

// createNetwork is docker:index/network:Network.
func (r *Docker) CreateNetwork(ctx context.Context, resName string, in *Fields, raw resource.PropertyMap) (id string, outputs resource.PropertyMap, err error) {
	name := in.Str("name", resName)
	driver := in.Str("driver", "bridge")
	labels := r.labels(in.Objs("labels"))
	ipam := &network.IPAM{Driver: in.Str("ipamDriver", "default")}
	for _, c := range in.Objs("ipamConfigs") {
		ipam.Config = append(ipam.Config, network.IPAMConfig{
			Subnet: c.Str("subnet", ""), Gateway: c.Str("gateway", ""), IPRange: c.Str("ipRange", ""),
		})
	}
	internal := in.Bool("internal", false)
	if err := in.Check(); err != nil {
		return "", nil, err
	}
	resp, err := r.Cli.NetworkCreate(ctx, name, network.CreateOptions{
		Driver: driver, IPAM: ipam, Labels: labels, Internal: internal,
	})
	if err != nil {
		return "", nil, fmt.Errorf("creating network %s: %w", name, err)
	}
	r.Logf("realizer: network %s created", name)
	return resp.ID, WithOutputs(raw, map[string]any{"name": name, "driver": driver, "scope": "local"}), nil
}

// createVolume is docker:index/volume:Volume.
func (r *Docker) CreateVolume(ctx context.Context, resName string, in *Fields, raw resource.PropertyMap) (id string, outputs resource.PropertyMap, err error) {
	name := in.Str("name", resName)
	driver := in.Str("driver", "local")
	opts := in.StrMap("driverOpts")
	labels := r.labels(in.Objs("labels"))
	if err := in.Check(); err != nil {
		return "", nil, err
	}
	v, err := r.Cli.VolumeCreate(ctx, volume.CreateOptions{Name: name, Driver: driver, DriverOpts: opts, Labels: labels})
	if err != nil {
		return "", nil, fmt.Errorf("creating volume %s: %w", name, err)
	}
	return v.Name, WithOutputs(raw, map[string]any{"name": v.Name, "driver": v.Driver, "mountpoint": v.Mountpoint}), nil
}

// remoteImage is docker:index/remoteImage:RemoteImage. Nothing can be pulled
// here: the image must already be on the engine.
func (r *Docker) RemoteImage(ctx context.Context, resName string, in *Fields, raw resource.PropertyMap) (id string, outputs resource.PropertyMap, err error) {
	name := in.Str("name", "")
	in.Bool("keepLocally", false) // images are never removed by the realizer
	if p := in.Str("platform", ""); p != "" {
		return "", nil, fmt.Errorf("platform %q: only the engine's own platform is implemented", p)
	}
	if err := in.Check(); err != nil {
		return "", nil, err
	}
	img, err := r.Cli.ImageInspect(ctx, name)
	if err != nil {
		return "", nil, fmt.Errorf("image %q is not on this Docker engine and cannot be pulled here (no registry); "+
			"build the lab images with scripts/lab-images: %w", name, err)
	}
	digest := ""
	if len(img.RepoDigests) > 0 {
		digest = img.RepoDigests[0]
	}
	return img.ID + name, WithOutputs(raw, map[string]any{"imageId": img.ID, "repoDigest": digest}), nil
}

// buildImage is docker:index/image:Image: a real build through the Engine
// API (the classic builder, which shares its layer cache with
// scripts/lab-images), tagged imageName. Nothing is pushed.
func (r *Docker) BuildImage(ctx context.Context, resName string, in *Fields, raw resource.PropertyMap) (id string, outputs resource.PropertyMap, err error) {
	name := in.Str("imageName", "")
	if !in.Bool("skipPush", false) {
		return "", nil, fmt.Errorf("skipPush must be true: there is no registry to push %s to", name)
	}
	in.Bool("buildOnPreview", false) // a preview-only switch: this is an update
	b := in.Obj("build")
	if b == nil {
		return "", nil, fmt.Errorf("build is not set: the realizer only builds images")
	}
	dir := b.Str("context", ".")
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(r.Root, dir)
	}
	dockerfile := b.Str("dockerfile", filepath.Join(dir, "Dockerfile"))
	if !filepath.IsAbs(dockerfile) {
		dockerfile = filepath.Join(r.Root, dockerfile)
	}
	rel, err := filepath.Rel(dir, dockerfile)
	if err != nil || strings.HasPrefix(rel, "..") {
		return "", nil, fmt.Errorf("build.dockerfile %s is outside the context %s", dockerfile, dir)
	}
	args := map[string]*string{}
	for k, v := range b.StrMap("args") {
		v := v
		args[k] = &v
	}
	netMode := b.Str("network", "")
	platform := b.Str("platform", "")
	if err := in.Check(); err != nil {
		return "", nil, err
	}
	tarball, err := tarDir(dir)
	if err != nil {
		return "", nil, fmt.Errorf("build context %s: %w", dir, err)
	}
	start := time.Now()
	resp, err := r.Cli.ImageBuild(ctx, tarball, build.ImageBuildOptions{
		Tags: []string{name}, Dockerfile: filepath.ToSlash(rel), BuildArgs: args,
		NetworkMode: netMode, Platform: platform, Remove: true, ForceRemove: true,
		Version: build.BuilderV1,
	})
	if err != nil {
		return "", nil, fmt.Errorf("building %s: %w", name, err)
	}
	defer resp.Body.Close()
	var logBuf strings.Builder
	dec := json.NewDecoder(resp.Body)
	cached := 0
	for {
		var msg struct {
			Stream      string `json:"stream"`
			Error       string `json:"error"`
			ErrorDetail *struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if err := dec.Decode(&msg); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return "", nil, fmt.Errorf("building %s: reading build output: %w", name, err)
		}
		logBuf.WriteString(msg.Stream)
		if strings.Contains(msg.Stream, "Using cache") {
			cached++
		}
		if msg.Error != "" {
			return "", nil, fmt.Errorf("building %s: %s\n%s", name, msg.Error, tail(logBuf.String(), 40))
		}
	}
	img, err := r.Cli.ImageInspect(ctx, name)
	if err != nil {
		return "", nil, fmt.Errorf("building %s: the tag is missing after the build: %w", name, err)
	}
	r.Logf("realizer: built %s in %.1fs (%d cached steps), image %s", name, time.Since(start).Seconds(), cached, img.ID[:19])
	return img.ID, WithOutputs(raw, map[string]any{"imageName": name, "repoDigest": "", "platform": platform,
		"context": dir, "dockerfile": dockerfile}), nil
}

// tarDir is a build context: every file under dir, relative paths.
func tarDir(dir string) (io.Reader, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if !info.Mode().IsRegular() && !info.IsDir() {
			return fmt.Errorf("%s: only files and directories are supported", p)
		}
		hdr, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if info.IsDir() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		_, err = tw.Write(b)
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return &buf, nil
}

// WriteTar writes a one-file archive owned by uid 0.
func WriteTar(w io.Writer, name string, content []byte, mode int64) error {
	tw := tar.NewWriter(w)
	hdr := &tar.Header{Name: name, Mode: mode, Size: int64(len(content)), Uid: 0, Gid: 0,
		ModTime: time.Now(), Typeflag: tar.TypeReg}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if _, err := tw.Write(content); err != nil {
		return err
	}
	return tw.Close()
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func duration(in *Fields, key string) (time.Duration, error) {
	s := in.Str(key, "0s")
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", key, err)
	}
	return d, nil
}

type upload struct {
	file    string
	content []byte
	mode    int64
}

// containerFields are the docker:index/container:Container inputs the
// realizer implements; any other input set fails the run, naming it.
var containerFields = []string{
	"name", "hostname", "image", "entrypoints", "command", "envs", "workingDir", "user",
	"uploads", "volumes", "networksAdvanced", "networkMode", "ports", "healthcheck",
	"restart", "start", "mustRun", "wait", "waitTimeout", "attach", "logs",
	"labels", "capabilities", "stopSignal", "stopTimeout", "shmSize", "destroyGraceSeconds",
	"logDriver", "logOpts",
}

// createContainer is docker:index/container:Container, honouring every input
// field of containerFields (and the nested fields read below); any other
// field fails the run.
func (r *Docker) CreateContainer(ctx context.Context, resName string, in *Fields, raw resource.PropertyMap) (id string, outputs resource.PropertyMap, err error) {
	var unknown []string
	for k, v := range in.m {
		if v != nil && !slices.Contains(containerFields, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return "", nil, fmt.Errorf("container input fields realize does not implement: %s", strings.Join(unknown, ", "))
	}
	name := in.Str("name", "")
	if name == "" {
		return "", nil, fmt.Errorf("name is not set: the realizer needs stable container names")
	}
	cfg := &container.Config{
		Image:      in.Str("image", ""),
		Hostname:   in.Str("hostname", ""),
		User:       in.Str("user", ""),
		Entrypoint: in.Strs("entrypoints"),
		Cmd:        in.Strs("command"),
		Env:        in.Strs("envs"),
		Labels:     r.labels(in.Objs("labels")),
		StopSignal: in.Str("stopSignal", ""),
		WorkingDir: in.Str("workingDir", ""),
	}
	if in.Has("stopTimeout") {
		n := in.Num("stopTimeout", 0)
		cfg.StopTimeout = &n
	}
	if hc := in.Obj("healthcheck"); hc != nil {
		h := &container.HealthConfig{Test: hc.Strs("tests"), Retries: hc.Num("retries", 0)}
		var err error
		if h.Interval, err = duration(hc, "interval"); err != nil {
			return "", nil, err
		}
		if h.Timeout, err = duration(hc, "timeout"); err != nil {
			return "", nil, err
		}
		if h.StartPeriod, err = duration(hc, "startPeriod"); err != nil {
			return "", nil, err
		}
		cfg.Healthcheck = h
	}
	noInit := false
	host := &container.HostConfig{
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyMode(in.Str("restart", "no"))},
		NetworkMode:   container.NetworkMode(in.Str("networkMode", "")),
		ShmSize:       int64(in.Num("shmSize", 0)) * 1024 * 1024, // the provider's unit is MB
		Init:          &noInit,
		LogConfig:     container.LogConfig{Type: in.Str("logDriver", ""), Config: in.StrMap("logOpts")},
	}
	if c := in.Obj("capabilities"); c != nil {
		host.CapAdd, host.CapDrop = c.Strs("adds"), c.Strs("drops")
	}
	for _, v := range in.Objs("volumes") {
		bind := v.Str("volumeName", "") + ":" + v.Str("containerPath", "")
		if v.Bool("readOnly", false) {
			bind += ":ro"
		}
		host.Binds = append(host.Binds, bind)
	}
	for _, p := range in.Objs("ports") {
		port, err := nat.NewPort(p.Str("protocol", "tcp"), strconv.Itoa(p.Num("internal", 0)))
		if err != nil {
			return "", nil, fmt.Errorf("ports: %w", err)
		}
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts, host.PortBindings = nat.PortSet{}, nat.PortMap{}
		}
		cfg.ExposedPorts[port] = struct{}{}
		ext := ""
		if n := p.Num("external", 0); n > 0 {
			ext = strconv.Itoa(n)
		}
		host.PortBindings[port] = append(host.PortBindings[port], nat.PortBinding{HostIP: p.Str("ip", "0.0.0.0"), HostPort: ext})
	}
	type netAttach struct {
		name    string
		aliases []string
	}
	var nets []netAttach
	for _, n := range in.Objs("networksAdvanced") {
		nets = append(nets, netAttach{n.Str("name", ""), n.Strs("aliases")})
	}
	var ups []upload
	for _, u := range in.Objs("uploads") {
		up := upload{file: u.Str("file", ""), content: []byte(u.Str("content", ""))}
		if u.Has("contentBase64") {
			b, err := base64.StdEncoding.DecodeString(u.Str("contentBase64", ""))
			if err != nil {
				return "", nil, fmt.Errorf("uploads %s: contentBase64: %w", up.file, err)
			}
			up.content = b
		}
		up.mode = 0o644
		if u.Bool("executable", false) {
			up.mode = 0o744
		}
		if p := u.Str("permissions", ""); p != "" {
			m, err := strconv.ParseInt(p, 8, 32)
			if err != nil {
				return "", nil, fmt.Errorf("uploads %s: permissions %q: %w", up.file, p, err)
			}
			up.mode = m
		}
		ups = append(ups, up)
	}
	start := in.Bool("start", true)
	mustRun := in.Bool("mustRun", true)
	wait := in.Bool("wait", false)
	waitTimeout := time.Duration(in.Num("waitTimeout", 60)) * time.Second
	attach := in.Bool("attach", false)
	logs := in.Bool("logs", false)
	in.Known("destroyGraceSeconds") // read by the delete
	if err := in.Check(); err != nil {
		return "", nil, err
	}

	netCfg := &network.NetworkingConfig{}
	if len(nets) > 0 {
		if host.NetworkMode != "" {
			return "", nil, fmt.Errorf("both networkMode and networksAdvanced are set")
		}
		host.NetworkMode = container.NetworkMode(nets[0].name)
		netCfg.EndpointsConfig = map[string]*network.EndpointSettings{nets[0].name: {Aliases: nets[0].aliases}}
	}
	created, err := r.Cli.ContainerCreate(ctx, cfg, host, netCfg, nil, name)
	if err != nil {
		return "", nil, fmt.Errorf("creating container %s: %w", name, err)
	}
	for _, n := range nets[min(1, len(nets)):] {
		if err := r.Cli.NetworkConnect(ctx, n.name, created.ID, &network.EndpointSettings{Aliases: n.aliases}); err != nil {
			return "", nil, fmt.Errorf("connecting %s to %s: %w", name, n.name, err)
		}
	}
	// Uploads before start, one archive per file as the provider does;
	// the daemon creates missing parent directories (root, 0755).
	for _, u := range ups {
		var buf bytes.Buffer
		if err := WriteTar(&buf, strings.TrimPrefix(u.file, "/"), u.content, u.mode); err != nil {
			return "", nil, err
		}
		if err := r.Cli.CopyToContainer(ctx, created.ID, "/", &buf, container.CopyToContainerOptions{}); err != nil {
			return "", nil, fmt.Errorf("uploading %s to %s: %w", u.file, name, err)
		}
	}
	extra := map[string]any{}
	if start {
		if err := r.Cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
			return "", nil, fmt.Errorf("starting %s: %w", name, err)
		}
	}
	if attach {
		okC, errC := r.Cli.ContainerWait(ctx, created.ID, container.WaitConditionNotRunning)
		select {
		case err := <-errC:
			return "", nil, fmt.Errorf("waiting for %s to exit: %w", name, err)
		case res := <-okC:
			extra["exitCode"] = int(res.StatusCode)
			r.Logf("realizer: %s exited with code %d", name, res.StatusCode)
		}
		if logs {
			extra["containerLogs"] = r.ContainerLogs(ctx, created.ID, "all")
		}
	}
	if wait {
		if err := r.WaitHealthy(ctx, name, created.ID, waitTimeout); err != nil {
			return "", nil, err
		}
	}
	if mustRun {
		// The provider reads the container back after create and fails a
		// must_run container that is not running.
		time.Sleep(200 * time.Millisecond)
		st, err := r.Cli.ContainerInspect(ctx, created.ID)
		if err != nil {
			return "", nil, err
		}
		if !st.State.Running {
			return "", nil, fmt.Errorf("container %s is not running (mustRun); exit code %d; last logs:\n%s",
				name, st.State.ExitCode, r.ContainerLogs(ctx, created.ID, "40"))
		}
	}
	return created.ID, WithOutputs(raw, extra), nil
}

// WaitHealthy is the provider's wait: until Docker reports the container
// healthy, failing on timeout or exit with its last logs.
func (r *Docker) WaitHealthy(ctx context.Context, name, id string, timeout time.Duration) error {
	start := time.Now()
	deadline := start.Add(timeout)
	for {
		st, err := r.Cli.ContainerInspect(ctx, id)
		if err != nil {
			return err
		}
		if st.State.Health == nil {
			return fmt.Errorf("wait is set on %s, but it has no healthcheck", name)
		}
		if st.State.Health.Status == container.Healthy {
			r.Logf("realizer: %s healthy after %.1fs", name, time.Since(start).Seconds())
			return nil
		}
		if !st.State.Running {
			return fmt.Errorf("container %s exited (code %d) before it was healthy; last logs:\n%s",
				name, st.State.ExitCode, r.ContainerLogs(ctx, id, "40"))
		}
		if time.Now().After(deadline) {
			probe := ""
			if n := len(st.State.Health.Log); n > 0 {
				probe = st.State.Health.Log[n-1].Output
			}
			return fmt.Errorf("container %s not healthy within %s (status %s, last probe: %q); last logs:\n%s",
				name, timeout, st.State.Health.Status, probe, r.ContainerLogs(ctx, id, "40"))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func (r *Docker) ContainerLogs(ctx context.Context, id, tailLines string) string {
	rc, err := r.Cli.ContainerLogs(ctx, id, container.LogsOptions{ShowStdout: true, ShowStderr: true, Tail: tailLines})
	if err != nil {
		return "(logs unavailable: " + err.Error() + ")"
	}
	defer rc.Close()
	var out bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &out, rc); err != nil {
		return out.String() + "(" + err.Error() + ")"
	}
	return out.String()
}

// DeleteContainer is the provider's delete: stop with destroyGraceSeconds
// (the provider's default is no grace at all), then force-remove with the
// container's anonymous volumes.
func (r *Docker) DeleteContainer(ctx context.Context, id string, grace int, attach bool) error {
	if !attach {
		if err := r.Cli.ContainerStop(ctx, id, container.StopOptions{Timeout: &grace}); err != nil && !IsNotFound(err) {
			return fmt.Errorf("stopping container %s: %w", id[:12], err)
		}
	}
	if err := r.Cli.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !IsNotFound(err) {
		return fmt.Errorf("removing container %s: %w", id[:12], err)
	}
	return nil
}

func IsNotFound(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "No such") || strings.Contains(err.Error(), "not found"))
}

// RemoveLabelled removes every container (with its volumes), volume and
// network carrying the label filter ("key" or "key=value").
func (r *Docker) RemoveLabelled(ctx context.Context, label string) []string {
	f := filters.NewArgs(filters.Arg("label", label))
	var removed []string
	cs, err := r.Cli.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		return []string{"listing containers: " + err.Error()}
	}
	for _, c := range cs {
		if err := r.Cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !IsNotFound(err) {
			removed = append(removed, "container "+c.ID[:12]+": "+err.Error())
			continue
		}
		removed = append(removed, "container "+strings.TrimPrefix(strings.Join(c.Names, ","), "/"))
	}
	vs, err := r.Cli.VolumeList(ctx, volume.ListOptions{Filters: f})
	if err == nil {
		for _, v := range vs.Volumes {
			if err := r.Cli.VolumeRemove(ctx, v.Name, true); err != nil && !IsNotFound(err) {
				removed = append(removed, "volume "+v.Name+": "+err.Error())
				continue
			}
			removed = append(removed, "volume "+v.Name)
		}
	}
	ns, err := r.Cli.NetworkList(ctx, network.ListOptions{Filters: f})
	if err == nil {
		for _, n := range ns {
			if err := r.Cli.NetworkRemove(ctx, n.ID); err != nil && !IsNotFound(err) {
				removed = append(removed, "network "+n.Name+": "+err.Error())
				continue
			}
			removed = append(removed, "network "+n.Name)
		}
	}
	return removed
}
