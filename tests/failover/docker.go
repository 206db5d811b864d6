package failover

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
)

// ExecResult is the outcome of one command run in a container.
type ExecResult struct {
	Stdout, Stderr string
	Code           int
}

func (e ExecResult) String() string {
	return fmt.Sprintf("exit %d, stdout %q, stderr %q", e.Code, strings.TrimSpace(e.Stdout), strings.TrimSpace(e.Stderr))
}

// ContainerState is what the suite needs to know of a container.
type ContainerState struct {
	Running bool
	Paused  bool
	// Health is "healthy", "unhealthy", "starting" or "" (no healthcheck).
	Health string
	// IPs maps each network the container is attached to to its address.
	IPs map[string]string
}

// Faults is the Docker control surface of the suite. Names are container
// names. Docker implements it with the Engine API; tests can fake it.
type Faults interface {
	// Kill sends SIGKILL: no clean shutdown, and Docker's restart policy
	// leaves the container down.
	Kill(ctx context.Context, name string) error
	// Stop stops gracefully (the container's stop signal, then SIGKILL
	// after timeout).
	Stop(ctx context.Context, name string, timeout time.Duration) error
	Start(ctx context.Context, name string) error
	Pause(ctx context.Context, name string) error
	Unpause(ctx context.Context, name string) error
	// Exec runs cmd as root in the container and waits for it; stdin, when
	// not nil, is written to the command's standard input and closed, so
	// secrets never appear on a command line.
	Exec(ctx context.Context, name string, stdin []byte, cmd ...string) (ExecResult, error)
	// ExecLines runs a long-lived cmd and calls line for every line of its
	// standard output until the command ends or ctx is done. The command's
	// standard input stays open until then and is closed at the end: a
	// long-lived command must exit when it reads EOF there (see
	// UntilStdinCloses), since Docker does not stop an exec whose client
	// went away.
	ExecLines(ctx context.Context, name string, line func(string), cmd ...string) error
	// Disconnect partitions a container from network (forcibly), remembering
	// its address and aliases; Reconnect attaches it again with both.
	// Containers sharing its network namespace (the Consul agent sidecar)
	// are partitioned with it.
	Disconnect(ctx context.Context, network, name string) error
	Reconnect(ctx context.Context, network, name string) error
	Inspect(ctx context.Context, name string) (ContainerState, error)
	// Logs returns the container's stdout and stderr since a time.
	Logs(ctx context.Context, name string, since time.Time) (string, error)
}

// Docker implements Faults with the Docker Engine API.
type Docker struct {
	cli *client.Client

	mu sync.Mutex
	// parted remembers the endpoint of each disconnected container.
	parted map[string]*network.EndpointSettings
}

// NewDocker connects to the engine of the environment (DOCKER_HOST etc.),
// negotiating the API version (the lab engine is 20.10).
func NewDocker() (*Docker, error) {
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	return NewDockerFromClient(cli), nil
}

// NewDockerFromClient wraps an existing client (the e2e harness's).
func NewDockerFromClient(cli *client.Client) *Docker {
	return &Docker{cli: cli, parted: map[string]*network.EndpointSettings{}}
}

// Client is the underlying Engine API client.
func (d *Docker) Client() *client.Client { return d.cli }

// Ping checks that the engine answers.
func (d *Docker) Ping(ctx context.Context) error {
	_, err := d.cli.Ping(ctx)
	return err
}

func (d *Docker) Kill(ctx context.Context, name string) error {
	if err := d.cli.ContainerKill(ctx, name, "KILL"); err != nil {
		return fmt.Errorf("killing %s: %w", name, err)
	}
	return nil
}

func (d *Docker) Stop(ctx context.Context, name string, timeout time.Duration) error {
	secs := int(timeout.Seconds())
	if err := d.cli.ContainerStop(ctx, name, container.StopOptions{Timeout: &secs}); err != nil {
		return fmt.Errorf("stopping %s: %w", name, err)
	}
	return nil
}

func (d *Docker) Start(ctx context.Context, name string) error {
	if err := d.cli.ContainerStart(ctx, name, container.StartOptions{}); err != nil {
		return fmt.Errorf("starting %s: %w", name, err)
	}
	return nil
}

func (d *Docker) Pause(ctx context.Context, name string) error {
	if err := d.cli.ContainerPause(ctx, name); err != nil {
		return fmt.Errorf("pausing %s: %w", name, err)
	}
	return nil
}

func (d *Docker) Unpause(ctx context.Context, name string) error {
	if err := d.cli.ContainerUnpause(ctx, name); err != nil {
		return fmt.Errorf("unpausing %s: %w", name, err)
	}
	return nil
}

func (d *Docker) Exec(ctx context.Context, name string, stdin []byte, cmd ...string) (ExecResult, error) {
	return d.ExecAs(ctx, name, "0", nil, stdin, cmd...)
}

// ExecAs is Exec as user, with env added to the container's environment.
func (d *Docker) ExecAs(ctx context.Context, name, user string, env []string, stdin []byte, cmd ...string) (ExecResult, error) {
	ex, err := d.cli.ContainerExecCreate(ctx, name, container.ExecOptions{
		User: user, Env: env, Cmd: cmd, AttachStdin: stdin != nil, AttachStdout: true, AttachStderr: true,
	})
	if err != nil {
		return ExecResult{}, fmt.Errorf("exec in %s: %w", name, err)
	}
	att, err := d.cli.ContainerExecAttach(ctx, ex.ID, container.ExecAttachOptions{})
	if err != nil {
		return ExecResult{}, fmt.Errorf("exec attach in %s: %w", name, err)
	}
	defer att.Close()
	// The hijacked connection ignores ctx: close it when ctx ends.
	stop := context.AfterFunc(ctx, func() { att.Close() })
	defer stop()
	if stdin != nil {
		if _, err := att.Conn.Write(stdin); err != nil {
			return ExecResult{}, fmt.Errorf("exec stdin in %s: %w", name, err)
		}
		if err := att.CloseWrite(); err != nil {
			return ExecResult{}, fmt.Errorf("exec stdin in %s: %w", name, err)
		}
	}
	var out, errb bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &errb, att.Reader); err != nil && !errors.Is(err, io.EOF) {
		if ctx.Err() != nil {
			return ExecResult{}, fmt.Errorf("exec in %s: %w", name, ctx.Err())
		}
		return ExecResult{}, fmt.Errorf("exec output in %s: %w", name, err)
	}
	for {
		st, err := d.cli.ContainerExecInspect(ctx, ex.ID)
		if err != nil {
			return ExecResult{}, fmt.Errorf("exec inspect in %s: %w", name, err)
		}
		if !st.Running {
			return ExecResult{Stdout: out.String(), Stderr: errb.String(), Code: st.ExitCode}, nil
		}
		select {
		case <-ctx.Done():
			return ExecResult{}, fmt.Errorf("exec in %s: %w", name, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (d *Docker) ExecLines(ctx context.Context, name string, line func(string), cmd ...string) error {
	ex, err := d.cli.ContainerExecCreate(ctx, name, container.ExecOptions{
		User: "0", Cmd: cmd, AttachStdin: true, AttachStdout: true, AttachStderr: true,
	})
	if err != nil {
		return fmt.Errorf("exec in %s: %w", name, err)
	}
	att, err := d.cli.ContainerExecAttach(ctx, ex.ID, container.ExecAttachOptions{})
	if err != nil {
		return fmt.Errorf("exec attach in %s: %w", name, err)
	}
	defer att.Close()
	// Closing the connection ends the stream and closes the command's
	// standard input.
	stop := context.AfterFunc(ctx, func() { att.Close() })
	defer stop()
	pr, pw := io.Pipe()
	go func() {
		_, err := stdcopy.StdCopy(pw, io.Discard, att.Reader)
		pw.CloseWithError(err)
	}()
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		line(sc.Text())
	}
	pr.Close()
	if ctx.Err() != nil {
		return nil
	}
	if err := sc.Err(); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("exec output in %s: %w", name, err)
	}
	return nil
}

// UntilStdinCloses wraps a shell script so that it runs in the background
// and is killed when standard input reaches EOF (for ExecLines). A
// background list of a non-interactive shell reads /dev/null, so the
// script cannot swallow that EOF.
func UntilStdinCloses(script string) string {
	return "(\n" + script + "\n) &\np=$!\nwhile read -r _; do :; done\nkill $p 2>/dev/null\n"
}

func (d *Docker) Disconnect(ctx context.Context, netName, name string) error {
	st, err := d.cli.ContainerInspect(ctx, name)
	if err != nil {
		return fmt.Errorf("inspecting %s: %w", name, err)
	}
	ep, ok := st.NetworkSettings.Networks[netName]
	if !ok {
		return fmt.Errorf("%s is not attached to network %s", name, netName)
	}
	saved := &network.EndpointSettings{Aliases: aliasesOf(ep.Aliases, name)}
	if ep.IPAddress != "" {
		// Reconnecting with the same address keeps the Consul agent's
		// advertised address valid.
		saved.IPAMConfig = &network.EndpointIPAMConfig{IPv4Address: ep.IPAddress}
	}
	if err := d.cli.NetworkDisconnect(ctx, netName, name, true); err != nil {
		return fmt.Errorf("disconnecting %s from %s: %w", name, netName, err)
	}
	d.mu.Lock()
	d.parted[netName+"/"+name] = saved
	d.mu.Unlock()
	return nil
}

// aliasesOf keeps the user aliases of an endpoint (Docker also lists the
// container's short ID there) and makes sure the name is one of them.
func aliasesOf(aliases []string, name string) []string {
	out := []string{name}
	for _, a := range aliases {
		if a == name || isShortID(a) {
			continue
		}
		out = append(out, a)
	}
	return out
}

func isShortID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return false
		}
	}
	return true
}

func (d *Docker) Reconnect(ctx context.Context, netName, name string) error {
	d.mu.Lock()
	saved := d.parted[netName+"/"+name]
	d.mu.Unlock()
	if saved == nil {
		saved = &network.EndpointSettings{Aliases: []string{name}}
	}
	err := d.cli.NetworkConnect(ctx, netName, name, saved)
	if err != nil && saved.IPAMConfig != nil {
		// The address may have been taken meanwhile: any address beats none.
		retry := &network.EndpointSettings{Aliases: saved.Aliases}
		if err2 := d.cli.NetworkConnect(ctx, netName, name, retry); err2 == nil {
			err = nil
		}
	}
	if err != nil {
		return fmt.Errorf("reconnecting %s to %s: %w", name, netName, err)
	}
	d.mu.Lock()
	delete(d.parted, netName+"/"+name)
	d.mu.Unlock()
	return nil
}

func (d *Docker) Inspect(ctx context.Context, name string) (ContainerState, error) {
	st, err := d.cli.ContainerInspect(ctx, name)
	if err != nil {
		return ContainerState{}, fmt.Errorf("inspecting %s: %w", name, err)
	}
	cs := ContainerState{IPs: map[string]string{}}
	if st.State != nil {
		cs.Running = st.State.Running
		cs.Paused = st.State.Paused
		if st.State.Health != nil {
			cs.Health = st.State.Health.Status
		}
	}
	if st.NetworkSettings != nil {
		for n, ep := range st.NetworkSettings.Networks {
			if ep != nil {
				cs.IPs[n] = ep.IPAddress
			}
		}
	}
	return cs, nil
}

func (d *Docker) Logs(ctx context.Context, name string, since time.Time) (string, error) {
	rc, err := d.cli.ContainerLogs(ctx, name, container.LogsOptions{
		ShowStdout: true, ShowStderr: true, Since: since.UTC().Format(time.RFC3339Nano),
	})
	if err != nil {
		return "", fmt.Errorf("logs of %s: %w", name, err)
	}
	defer rc.Close()
	var b bytes.Buffer
	if _, err := stdcopy.StdCopy(&b, &b, rc); err != nil && !errors.Is(err, io.EOF) {
		return b.String(), fmt.Errorf("logs of %s: %w", name, err)
	}
	return b.String(), nil
}

// ErrNoFreeSubnet is FreeSubnet's error when every candidate is taken.
var ErrNoFreeSubnet = errors.New("every candidate subnet overlaps a Docker network")

// FreeSubnet is the first of candidates (CIDRs) that overlaps no Docker
// network, for a test network that must not collide with the host's.
func (d *Docker) FreeSubnet(ctx context.Context, candidates []string) (string, error) {
	nets, err := d.cli.NetworkList(ctx, network.ListOptions{})
	if err != nil {
		return "", err
	}
	var used []*net.IPNet
	for _, n := range nets {
		for _, c := range n.IPAM.Config {
			if _, p, err := net.ParseCIDR(c.Subnet); err == nil {
				used = append(used, p)
			}
		}
	}
	for _, cand := range candidates {
		_, c, err := net.ParseCIDR(cand)
		if err != nil {
			return "", fmt.Errorf("candidate subnet %q: %w", cand, err)
		}
		free := true
		for _, u := range used {
			if u.Contains(c.IP) || c.Contains(u.IP) {
				free = false
			}
		}
		if free {
			return cand, nil
		}
	}
	return "", fmt.Errorf("%w: %v", ErrNoFreeSubnet, candidates)
}
