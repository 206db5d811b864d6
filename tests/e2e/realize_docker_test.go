package e2e

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
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/docker/go-connections/nat"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// withOutputs is the resource's inputs (secrets kept) plus extra outputs.
func withOutputs(inputs resource.PropertyMap, extra map[string]any, secret ...string) resource.PropertyMap {
	out := inputs.Copy()
	for k, v := range props(extra, secret...) {
		out[k] = v
	}
	return out
}

func (r *realizer) labels(objs []*fields) map[string]string {
	m := map[string]string{}
	for _, l := range objs {
		m[l.str("label", "")] = l.str("value", "")
	}
	m[LabelE2E] = r.runID
	return m
}

// createNetwork is docker:index/network:Network.
func (r *realizer) createNetwork(ctx context.Context, e *entry, in *fields, raw resource.PropertyMap) error {
	name := in.str("name", e.name)
	driver := in.str("driver", "bridge")
	labels := r.labels(in.objs("labels"))
	ipam := &network.IPAM{Driver: in.str("ipamDriver", "default")}
	for _, c := range in.objs("ipamConfigs") {
		ipam.Config = append(ipam.Config, network.IPAMConfig{
			Subnet: c.str("subnet", ""), Gateway: c.str("gateway", ""), IPRange: c.str("ipRange", ""),
		})
	}
	internal := in.boolean("internal", false)
	if err := in.check(); err != nil {
		return err
	}
	resp, err := r.cli.NetworkCreate(ctx, name, network.CreateOptions{
		Driver: driver, IPAM: ipam, Labels: labels, Internal: internal,
	})
	if err != nil {
		return fmt.Errorf("creating network %s: %w", name, err)
	}
	e.network, e.id = resp.ID, resp.ID
	e.outputs = withOutputs(raw, map[string]any{"name": name, "driver": driver, "scope": "local"})
	r.logf("realizer: network %s created", name)
	return nil
}

// createVolume is docker:index/volume:Volume.
func (r *realizer) createVolume(ctx context.Context, e *entry, in *fields, raw resource.PropertyMap) error {
	name := in.str("name", e.name)
	driver := in.str("driver", "local")
	opts := in.strMap("driverOpts")
	labels := r.labels(in.objs("labels"))
	if err := in.check(); err != nil {
		return err
	}
	v, err := r.cli.VolumeCreate(ctx, volume.CreateOptions{Name: name, Driver: driver, DriverOpts: opts, Labels: labels})
	if err != nil {
		return fmt.Errorf("creating volume %s: %w", name, err)
	}
	e.volume, e.id = v.Name, v.Name
	e.outputs = withOutputs(raw, map[string]any{"name": v.Name, "driver": v.Driver, "mountpoint": v.Mountpoint})
	return nil
}

// remoteImage is docker:index/remoteImage:RemoteImage. Nothing can be pulled
// here: the image must already be on the engine.
func (r *realizer) remoteImage(ctx context.Context, e *entry, in *fields, raw resource.PropertyMap) error {
	name := in.str("name", "")
	in.boolean("keepLocally", false) // images are never removed by the realizer
	if err := in.check(); err != nil {
		return err
	}
	img, err := r.cli.ImageInspect(ctx, name)
	if err != nil {
		return fmt.Errorf("image %q is not on this Docker engine and cannot be pulled here (no registry); "+
			"build the lab images with scripts/lab-images: %w", name, err)
	}
	digest := ""
	if len(img.RepoDigests) > 0 {
		digest = img.RepoDigests[0]
	}
	e.id = img.ID + name
	e.outputs = withOutputs(raw, map[string]any{"imageId": img.ID, "repoDigest": digest})
	return nil
}

// buildImage is docker:index/image:Image: a real build through the Engine
// API (the classic builder, which shares its layer cache with
// scripts/lab-images), tagged imageName. Nothing is pushed.
func (r *realizer) buildImage(ctx context.Context, e *entry, in *fields, raw resource.PropertyMap) error {
	name := in.str("imageName", "")
	if !in.boolean("skipPush", false) {
		return fmt.Errorf("skipPush must be true: there is no registry to push %s to", name)
	}
	in.boolean("buildOnPreview", false) // a preview-only switch: this is an update
	b := in.obj("build")
	if b == nil {
		return fmt.Errorf("build is not set: the realizer only builds images")
	}
	dir := b.str("context", ".")
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(r.root, dir)
	}
	dockerfile := b.str("dockerfile", filepath.Join(dir, "Dockerfile"))
	if !filepath.IsAbs(dockerfile) {
		dockerfile = filepath.Join(r.root, dockerfile)
	}
	rel, err := filepath.Rel(dir, dockerfile)
	if err != nil || strings.HasPrefix(rel, "..") {
		return fmt.Errorf("build.dockerfile %s is outside the context %s", dockerfile, dir)
	}
	args := map[string]*string{}
	for k, v := range b.strMap("args") {
		v := v
		args[k] = &v
	}
	netMode := b.str("network", "")
	platform := b.str("platform", "")
	if err := in.check(); err != nil {
		return err
	}
	tarball, err := tarDir(dir)
	if err != nil {
		return fmt.Errorf("build context %s: %w", dir, err)
	}
	start := time.Now()
	resp, err := r.cli.ImageBuild(ctx, tarball, build.ImageBuildOptions{
		Tags: []string{name}, Dockerfile: filepath.ToSlash(rel), BuildArgs: args,
		NetworkMode: netMode, Platform: platform, Remove: true, ForceRemove: true,
		Version: build.BuilderV1,
	})
	if err != nil {
		return fmt.Errorf("building %s: %w", name, err)
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
			return fmt.Errorf("building %s: reading build output: %w", name, err)
		}
		logBuf.WriteString(msg.Stream)
		if strings.Contains(msg.Stream, "Using cache") {
			cached++
		}
		if msg.Error != "" {
			return fmt.Errorf("building %s: %s\n%s", name, msg.Error, tail(logBuf.String(), 40))
		}
	}
	img, err := r.cli.ImageInspect(ctx, name)
	if err != nil {
		return fmt.Errorf("building %s: the tag is missing after the build: %w", name, err)
	}
	r.logf("realizer: built %s in %.1fs (%d cached steps), image %s", name, time.Since(start).Seconds(), cached, img.ID[:19])
	e.id = img.ID
	e.outputs = withOutputs(raw, map[string]any{"imageName": name, "repoDigest": "", "platform": platform,
		"context": dir, "dockerfile": dockerfile})
	return nil
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

// writeTar writes a one-file archive owned by uid 0.
func writeTar(w io.Writer, name string, content []byte, mode int64) error {
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

func duration(in *fields, key string) (time.Duration, error) {
	s := in.str(key, "0s")
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
func (r *realizer) createContainer(ctx context.Context, e *entry, in *fields, raw resource.PropertyMap) error {
	var unknown []string
	for k, v := range in.m {
		if v != nil && !slices.Contains(containerFields, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("container input fields the e2e realizer does not implement: %s", strings.Join(unknown, ", "))
	}
	name := in.str("name", "")
	if name == "" {
		return fmt.Errorf("name is not set: the realizer needs stable container names")
	}
	cfg := &container.Config{
		Image:      in.str("image", ""),
		Hostname:   in.str("hostname", ""),
		User:       in.str("user", ""),
		Entrypoint: in.strs("entrypoints"),
		Cmd:        in.strs("command"),
		Env:        in.strs("envs"),
		Labels:     r.labels(in.objs("labels")),
		StopSignal: in.str("stopSignal", ""),
		WorkingDir: in.str("workingDir", ""),
	}
	if in.has("stopTimeout") {
		n := in.num("stopTimeout", 0)
		cfg.StopTimeout = &n
	}
	if hc := in.obj("healthcheck"); hc != nil {
		h := &container.HealthConfig{Test: hc.strs("tests"), Retries: hc.num("retries", 0)}
		var err error
		if h.Interval, err = duration(hc, "interval"); err != nil {
			return err
		}
		if h.Timeout, err = duration(hc, "timeout"); err != nil {
			return err
		}
		if h.StartPeriod, err = duration(hc, "startPeriod"); err != nil {
			return err
		}
		cfg.Healthcheck = h
	}
	noInit := false
	host := &container.HostConfig{
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyMode(in.str("restart", "no"))},
		NetworkMode:   container.NetworkMode(in.str("networkMode", "")),
		ShmSize:       int64(in.num("shmSize", 0)) * 1024 * 1024, // the provider's unit is MB
		Init:          &noInit,
		LogConfig:     container.LogConfig{Type: in.str("logDriver", ""), Config: in.strMap("logOpts")},
	}
	if c := in.obj("capabilities"); c != nil {
		host.CapAdd, host.CapDrop = c.strs("adds"), c.strs("drops")
	}
	for _, v := range in.objs("volumes") {
		bind := v.str("volumeName", "") + ":" + v.str("containerPath", "")
		if v.boolean("readOnly", false) {
			bind += ":ro"
		}
		host.Binds = append(host.Binds, bind)
	}
	for _, p := range in.objs("ports") {
		port, err := nat.NewPort(p.str("protocol", "tcp"), strconv.Itoa(p.num("internal", 0)))
		if err != nil {
			return fmt.Errorf("ports: %w", err)
		}
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts, host.PortBindings = nat.PortSet{}, nat.PortMap{}
		}
		cfg.ExposedPorts[port] = struct{}{}
		ext := ""
		if n := p.num("external", 0); n > 0 {
			ext = strconv.Itoa(n)
		}
		host.PortBindings[port] = append(host.PortBindings[port], nat.PortBinding{HostIP: p.str("ip", "0.0.0.0"), HostPort: ext})
	}
	type netAttach struct {
		name    string
		aliases []string
	}
	var nets []netAttach
	for _, n := range in.objs("networksAdvanced") {
		nets = append(nets, netAttach{n.str("name", ""), n.strs("aliases")})
	}
	var ups []upload
	for _, u := range in.objs("uploads") {
		up := upload{file: u.str("file", ""), content: []byte(u.str("content", ""))}
		if u.has("contentBase64") {
			b, err := base64.StdEncoding.DecodeString(u.str("contentBase64", ""))
			if err != nil {
				return fmt.Errorf("uploads %s: contentBase64: %w", up.file, err)
			}
			up.content = b
		}
		up.mode = 0o644
		if u.boolean("executable", false) {
			up.mode = 0o744
		}
		if p := u.str("permissions", ""); p != "" {
			m, err := strconv.ParseInt(p, 8, 32)
			if err != nil {
				return fmt.Errorf("uploads %s: permissions %q: %w", up.file, p, err)
			}
			up.mode = m
		}
		ups = append(ups, up)
	}
	start := in.boolean("start", true)
	mustRun := in.boolean("mustRun", true)
	wait := in.boolean("wait", false)
	waitTimeout := time.Duration(in.num("waitTimeout", 60)) * time.Second
	attach := in.boolean("attach", false)
	logs := in.boolean("logs", false)
	e.destroyGrace = in.num("destroyGraceSeconds", 0)
	e.attach = attach
	if err := in.check(); err != nil {
		return err
	}

	netCfg := &network.NetworkingConfig{}
	if len(nets) > 0 {
		if host.NetworkMode != "" {
			return fmt.Errorf("both networkMode and networksAdvanced are set")
		}
		host.NetworkMode = container.NetworkMode(nets[0].name)
		netCfg.EndpointsConfig = map[string]*network.EndpointSettings{nets[0].name: {Aliases: nets[0].aliases}}
	}
	created, err := r.cli.ContainerCreate(ctx, cfg, host, netCfg, nil, name)
	if err != nil {
		return fmt.Errorf("creating container %s: %w", name, err)
	}
	e.container, e.id = created.ID, created.ID
	for _, n := range nets[min(1, len(nets)):] {
		if err := r.cli.NetworkConnect(ctx, n.name, created.ID, &network.EndpointSettings{Aliases: n.aliases}); err != nil {
			return fmt.Errorf("connecting %s to %s: %w", name, n.name, err)
		}
	}
	// Uploads before start, one archive per file as the provider does;
	// the daemon creates missing parent directories (root, 0755).
	for _, u := range ups {
		var buf bytes.Buffer
		if err := writeTar(&buf, strings.TrimPrefix(u.file, "/"), u.content, u.mode); err != nil {
			return err
		}
		if err := r.cli.CopyToContainer(ctx, created.ID, "/", &buf, container.CopyToContainerOptions{}); err != nil {
			return fmt.Errorf("uploading %s to %s: %w", u.file, name, err)
		}
	}
	extra := map[string]any{}
	if start {
		if err := r.cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
			return fmt.Errorf("starting %s: %w", name, err)
		}
	}
	if attach {
		okC, errC := r.cli.ContainerWait(ctx, created.ID, container.WaitConditionNotRunning)
		select {
		case err := <-errC:
			return fmt.Errorf("waiting for %s to exit: %w", name, err)
		case res := <-okC:
			extra["exitCode"] = int(res.StatusCode)
			r.logf("realizer: %s exited with code %d", name, res.StatusCode)
		}
		if logs {
			extra["containerLogs"] = r.containerLogs(ctx, created.ID, "all")
		}
	}
	if wait {
		if err := r.waitHealthy(ctx, name, created.ID, waitTimeout); err != nil {
			return err
		}
	}
	if mustRun {
		// The provider reads the container back after create and fails a
		// must_run container that is not running.
		time.Sleep(200 * time.Millisecond)
		st, err := r.cli.ContainerInspect(ctx, created.ID)
		if err != nil {
			return err
		}
		if !st.State.Running {
			return fmt.Errorf("container %s is not running (mustRun); exit code %d; last logs:\n%s",
				name, st.State.ExitCode, r.containerLogs(ctx, created.ID, "40"))
		}
	}
	e.outputs = withOutputs(raw, extra)
	return nil
}

// waitHealthy is the provider's wait: until Docker reports the container
// healthy, failing on timeout or exit with its last logs.
func (r *realizer) waitHealthy(ctx context.Context, name, id string, timeout time.Duration) error {
	start := time.Now()
	deadline := start.Add(timeout)
	for {
		st, err := r.cli.ContainerInspect(ctx, id)
		if err != nil {
			return err
		}
		if st.State.Health == nil {
			return fmt.Errorf("wait is set on %s, but it has no healthcheck", name)
		}
		if st.State.Health.Status == container.Healthy {
			r.logf("realizer: %s healthy after %.1fs", name, time.Since(start).Seconds())
			return nil
		}
		if !st.State.Running {
			return fmt.Errorf("container %s exited (code %d) before it was healthy; last logs:\n%s",
				name, st.State.ExitCode, r.containerLogs(ctx, id, "40"))
		}
		if time.Now().After(deadline) {
			probe := ""
			if n := len(st.State.Health.Log); n > 0 {
				probe = st.State.Health.Log[n-1].Output
			}
			return fmt.Errorf("container %s not healthy within %s (status %s, last probe: %q); last logs:\n%s",
				name, timeout, st.State.Health.Status, probe, r.containerLogs(ctx, id, "40"))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func (r *realizer) containerLogs(ctx context.Context, id, tailLines string) string {
	rc, err := r.cli.ContainerLogs(ctx, id, container.LogsOptions{ShowStdout: true, ShowStderr: true, Tail: tailLines})
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

// deleteContainer is the provider's delete: stop with destroyGraceSeconds
// (the provider's default is no grace at all), then force-remove with the
// container's anonymous volumes.
func (r *realizer) deleteContainer(ctx context.Context, id string, grace int, attach bool) error {
	if !attach {
		if err := r.cli.ContainerStop(ctx, id, container.StopOptions{Timeout: &grace}); err != nil && !isNotFound(err) {
			return fmt.Errorf("stopping container %s: %w", id[:12], err)
		}
	}
	if err := r.cli.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !isNotFound(err) {
		return fmt.Errorf("removing container %s: %w", id[:12], err)
	}
	return nil
}

func isNotFound(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "No such") || strings.Contains(err.Error(), "not found"))
}

// removeLabelled removes every container (with its volumes), volume and
// network labelled LabelE2E (=value when value is set).
func removeLabelled(ctx context.Context, r *realizer, value string) []string {
	label := LabelE2E
	if value != "" {
		label += "=" + value
	}
	f := filters.NewArgs(filters.Arg("label", label))
	var removed []string
	cs, err := r.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		return []string{"listing containers: " + err.Error()}
	}
	for _, c := range cs {
		if err := r.cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !isNotFound(err) {
			removed = append(removed, "container "+c.ID[:12]+": "+err.Error())
			continue
		}
		removed = append(removed, "container "+strings.TrimPrefix(strings.Join(c.Names, ","), "/"))
	}
	vs, err := r.cli.VolumeList(ctx, volume.ListOptions{Filters: f})
	if err == nil {
		for _, v := range vs.Volumes {
			if err := r.cli.VolumeRemove(ctx, v.Name, true); err != nil && !isNotFound(err) {
				removed = append(removed, "volume "+v.Name+": "+err.Error())
				continue
			}
			removed = append(removed, "volume "+v.Name)
		}
	}
	ns, err := r.cli.NetworkList(ctx, network.ListOptions{Filters: f})
	if err == nil {
		for _, n := range ns {
			if err := r.cli.NetworkRemove(ctx, n.ID); err != nil && !isNotFound(err) {
				removed = append(removed, "network "+n.Name+": "+err.Error())
				continue
			}
			removed = append(removed, "network "+n.Name)
		}
	}
	return removed
}
