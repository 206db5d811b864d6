package testprovider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/postgres-ha/postgres-ha/tests/internal/realize"
)

// EnvDaemonLogOpts chooses which daemon the test provider models for log
// options: unset reads them from the real container (what this daemon did);
// "none" models a daemon without default log-opts; a JSON object models a
// daemon.json whose json-file "log-opts" are that object.
const EnvDaemonLogOpts = "TESTPROVIDER_DAEMON_LOG_OPTS"

// daemonLogOpts is the modelled daemon: real reads the container, else
// defaults are merged as dockerd's mergeAndVerifyLogConfig does.
type daemonLogOpts struct {
	real     bool
	defaults map[string]string
}

func modelledLogOpts(env string) (daemonLogOpts, error) {
	switch env {
	case "":
		return daemonLogOpts{real: true}, nil
	case "none":
		return daemonLogOpts{}, nil
	}
	d := daemonLogOpts{}
	if err := json.Unmarshal([]byte(env), &d.defaults); err != nil {
		return d, fmt.Errorf("%s=%q: want \"\", \"none\" or a JSON object of strings: %w", EnvDaemonLogOpts, env, err)
	}
	return d, nil
}

// LogOptsReadBack is what the provider reads back as log_opts: the
// container's own options, plus the daemon's default options for keys the
// container leaves unset when it uses the daemon's default driver
// (json-file here), which is dockerd's merge.
func LogOptsReadBack(driver string, own, daemonDefaults map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range own {
		out[k] = v
	}
	if driver == "" || driver == "json-file" {
		for k, v := range daemonDefaults {
			if _, ok := out[k]; !ok {
				out[k] = v
			}
		}
	}
	return out
}

// errGone: the container is no longer there (or the real provider's Read
// removes it), so the resource leaves the state.
var errGone = errors.New("container is gone")

// readContainer is the real provider's Read of a container
// (kreuzwerker/terraform-provider-docker v3.9.0
// resource_docker_container_funcs.go:675-879): the properties it reads back
// from `docker inspect` replace the state's; those it never reads (envs,
// labels, volumes, networksAdvanced, uploads, start, mustRun, wait, ...)
// keep the program's values.
func (s *Server) readContainer(ctx context.Context, id string, state resource.PropertyMap) (resource.PropertyMap, error) {
	ct, err := s.docker.Cli.ContainerInspect(ctx, id)
	if realize.IsNotFound(err) {
		return nil, errGone
	}
	if err != nil {
		return nil, err
	}
	mustRun := true
	if v := state["mustRun"]; v.IsBool() {
		mustRun = v.BoolValue()
	}
	if !ct.State.Running && mustRun {
		// A stopped must_run container is deleted by the Read (709-732).
		if err := s.docker.DeleteContainer(ctx, id, 0, false); err != nil {
			return nil, err
		}
		return nil, errGone
	}
	out := state.Copy()
	set := func(k string, v any) { out[resource.PropertyKey(k)] = resource.NewPropertyValue(v) }
	set("ports", flattenPorts(ct.NetworkSettings))
	set("name", strings.TrimLeft(ct.Name, "/"))
	if img := state["image"]; !(img.IsString() && strings.HasPrefix(img.StringValue(), "sha256:")) {
		set("image", ct.Config.Image)
	} else {
		set("image", ct.Image)
	}
	set("hostname", ct.Config.Hostname)
	set("command", strs(ct.Config.Cmd))
	set("entrypoints", strs(ct.Config.Entrypoint))
	set("user", ct.Config.User)
	set("restart", string(ct.HostConfig.RestartPolicy.Name))
	if len(ct.HostConfig.CapAdd) > 0 || len(ct.HostConfig.CapDrop) > 0 {
		set("capabilities", map[string]any{"adds": strs(ct.HostConfig.CapAdd), "drops": strs(ct.HostConfig.CapDrop)})
	}
	set("shmSize", float64(ct.HostConfig.ShmSize/1024/1024))
	set("logDriver", ct.HostConfig.LogConfig.Type)
	opts := ct.HostConfig.LogConfig.Config
	if !s.logOpts.real {
		own := map[string]string{}
		if v := state["logOpts"]; v.IsObject() {
			for k, e := range v.ObjectValue() {
				own[string(k)] = e.StringValue()
			}
		}
		opts = LogOptsReadBack(ct.HostConfig.LogConfig.Type, own, s.logOpts.defaults)
	}
	m := map[string]any{}
	for k, v := range opts {
		m[k] = v
	}
	set("logOpts", m)
	set("networkMode", networkModeReadBack(string(ct.HostConfig.NetworkMode), state))
	if hc := ct.Config.Healthcheck; hc != nil {
		set("healthcheck", map[string]any{
			"tests": strs(hc.Test), "interval": hc.Interval.String(), "timeout": hc.Timeout.String(),
			"startPeriod": hc.StartPeriod.String(), "retries": float64(hc.Retries),
		})
	}
	set("stopSignal", ct.Config.StopSignal)
	stop := 0
	if ct.Config.StopTimeout != nil {
		stop = *ct.Config.StopTimeout
	}
	set("stopTimeout", float64(stop))
	if !ct.State.Running {
		set("exitCode", float64(ct.State.ExitCode))
	}
	return out, nil
}

// networkModeReadBack: the real provider creates a container that has
// networksAdvanced in the default "bridge" mode, then disconnects it from
// the bridge and connects it to those networks (funcs.go:445-476), so
// Docker keeps NetworkMode "bridge" and that is what it reads back. realize
// creates the container on its first network directly; the model reports
// what the real provider's container would.
func networkModeReadBack(mode string, state resource.PropertyMap) string {
	if nets := state["networksAdvanced"]; nets.IsArray() && len(nets.ArrayValue()) > 0 {
		if first := nets.ArrayValue()[0]; first.IsObject() {
			if n := first.ObjectValue()["name"]; n.IsString() && n.StringValue() == mode {
				return "bridge"
			}
		}
	}
	return mode
}

// flattenPorts is the provider's flattenContainerPorts (structures.go:33-57):
// one entry per host binding Docker reports, sorted by internal port. A
// container that never started reports none.
func flattenPorts(ns *container.NetworkSettings) []any {
	out := []any{}
	if ns == nil {
		return out
	}
	type row struct {
		internal, external int
		ip, proto          string
	}
	var rows []row
	for port, bindings := range ns.Ports {
		for _, b := range bindings {
			ext, _ := strconv.Atoi(b.HostPort)
			rows = append(rows, row{port.Int(), ext, b.HostIP, port.Proto()})
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].internal < rows[j].internal })
	for _, r := range rows {
		out = append(out, map[string]any{"internal": float64(r.internal), "external": float64(r.external),
			"ip": r.ip, "protocol": r.proto})
	}
	return out
}

func strs(ss []string) []any {
	out := []any{}
	for _, s := range ss {
		out = append(out, s)
	}
	return out
}

// updateContainer is the real Update (funcs.go:931-981): ContainerUpdate
// when the restart policy changed, nothing else on the container.
func (s *Server) updateContainer(ctx context.Context, id string, olds, news resource.PropertyMap) error {
	o, n := olds["restart"], news["restart"]
	if n.IsString() && (!o.IsString() || o.StringValue() != n.StringValue()) {
		_, err := s.docker.Cli.ContainerUpdate(ctx, id, container.UpdateConfig{
			RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyMode(n.StringValue())},
		})
		return err
	}
	return nil
}
