package failover

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
)

// The Docker test works only on containers and a network it creates
// itself, labelled with this key, on a subnet no other network uses.
const unitLabel = "postgres-ha.failover-unit"

var unitSubnets = []string{"10.213.91.0/24", "10.213.92.0/24", "192.168.213.0/24"}

// unitImage is any local image with sh, cat, sleep and ls.
var unitImages = []string{"postgres-ha/debian:trixie", "postgres-ha/consul:1.16.1", "debian:trixie-slim"}

// TestDockerFaults exercises the Docker implementation of Faults on two
// throwaway containers (the second sharing the first's network namespace,
// as a Consul agent sidecar does): exec with and without stdin, streamed
// exec, pause, kill and start, logs, and a partition that must take both
// off the network and give the first its address and alias back.
func TestDockerFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("Docker test skipped under -short")
	}
	d, err := NewDocker()
	if err != nil {
		t.Skip(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := d.Ping(ctx); err != nil {
		t.Skipf("Docker engine unreachable: %v", err)
	}
	cli := d.Client()
	img := ""
	for _, i := range unitImages {
		if _, err := cli.ImageInspect(ctx, i); err == nil {
			img = i
			break
		}
	}
	if img == "" {
		imgs, _ := cli.ImageList(ctx, image.ListOptions{})
		t.Skipf("none of the images %v is present (%d images)", unitImages, len(imgs))
	}
	subnet := freeSubnet(ctx, t, d)
	id := make([]byte, 3)
	rand.Read(id)
	prefix := "failover-unit-" + hex.EncodeToString(id)
	netName, a, b := prefix+"-net", prefix+"-a", prefix+"-b"
	labels := map[string]string{unitLabel: prefix}

	_, err = cli.NetworkCreate(ctx, netName, network.CreateOptions{Driver: "bridge", Labels: labels,
		IPAM: &network.IPAM{Config: []network.IPAMConfig{{Subnet: subnet}}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for _, c := range []string{b, a} {
			_ = cli.ContainerRemove(ctx, c, container.RemoveOptions{Force: true})
		}
		_ = cli.NetworkRemove(ctx, netName)
	})
	create := func(name string, hc *container.HostConfig, nc *network.NetworkingConfig) {
		t.Helper()
		_, err := cli.ContainerCreate(ctx, &container.Config{Image: img, Labels: labels, Hostname: "",
			Entrypoint: []string{"sh", "-c", "echo hello from " + name + "; exec sleep 600"}}, hc, nc, nil, name)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Start(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	// The cluster's containers restart unless-stopped: a kill must still
	// leave them down.
	restart := container.RestartPolicy{Name: container.RestartPolicyUnlessStopped}
	create(a, &container.HostConfig{RestartPolicy: restart}, &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
		netName: {Aliases: []string{a}}}})
	create(b, &container.HostConfig{NetworkMode: container.NetworkMode("container:" + a), RestartPolicy: restart}, nil)

	// Exec, with stdin and exit codes.
	res, err := d.Exec(ctx, a, []byte("secret-on-stdin"), "sh", "-c", "cat; echo; echo err >&2; exit 3")
	if err != nil || res.Code != 3 || strings.TrimSpace(res.Stdout) != "secret-on-stdin" || strings.TrimSpace(res.Stderr) != "err" {
		t.Errorf("exec with stdin: %v, %s", err, res)
	}
	res, err = d.Exec(ctx, a, nil, "id", "-u")
	if err != nil || strings.TrimSpace(res.Stdout) != "0" {
		t.Errorf("exec runs as root: %v, %s", err, res)
	}

	// Streamed exec: lines as they come, and cancellation.
	var lines []string
	if err := d.ExecLines(ctx, a, func(l string) { lines = append(lines, l) }, "sh", "-c", "for i in 1 2 3; do echo $i; done"); err != nil ||
		strings.Join(lines, ",") != "1,2,3" {
		t.Errorf("exec lines: %v %v", lines, err)
	}
	sctx, scancel := context.WithCancel(ctx)
	n := 0
	start := time.Now()
	err = d.ExecLines(sctx, a, func(string) {
		if n++; n == 3 {
			scancel()
		}
	}, "sh", "-c", UntilStdinCloses("while :; do echo tick; sleep 0.05; done"))
	if err != nil || n < 3 || time.Since(start) > 10*time.Second {
		t.Errorf("cancelled exec lines: %v after %d lines, %s", err, n, time.Since(start))
	}
	scancel()
	// The streamed command must not outlive the stream (the watch's polling
	// loops would pile up in the cluster's containers).
	left := ""
	for i := 0; i < 30; i++ {
		res, err := d.Exec(ctx, a, nil, "sh", "-c", `for p in /proc/[0-9]*; do tr '\0' ' ' < $p/cmdline 2>/dev/null; echo; done`)
		if err != nil {
			t.Fatal(err)
		}
		left = ""
		for _, l := range strings.Split(res.Stdout, "\n") {
			if strings.Contains(l, "echo tick") {
				left = l
			}
		}
		if left == "" {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if left != "" {
		t.Errorf("the streamed command still runs after the stream was cancelled: %q", left)
	}

	// Partition: both lose the network, then a gets its address and alias back.
	st, err := d.Inspect(ctx, a)
	if err != nil || !st.Running || st.IPs[netName] == "" {
		t.Fatalf("inspect %s: %+v %v", a, st, err)
	}
	ip := st.IPs[netName]
	ifaces := func(name string) string {
		res, err := d.Exec(ctx, name, nil, "ls", "/sys/class/net")
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(strings.Fields(res.Stdout), ",")
	}
	if got := ifaces(b); got != "eth0,lo" {
		t.Errorf("sidecar interfaces before the partition: %s", got)
	}
	if err := d.Disconnect(ctx, netName, a); err != nil {
		t.Fatal(err)
	}
	if got := ifaces(b); got != "lo" {
		t.Errorf("sidecar interfaces during the partition: %s, want lo only", got)
	}
	if st, _ := d.Inspect(ctx, a); st.IPs[netName] != "" {
		t.Errorf("%s still on %s: %v", a, netName, st.IPs)
	}
	if err := d.Reconnect(ctx, netName, a); err != nil {
		t.Fatal(err)
	}
	full, err := cli.ContainerInspect(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	ep := full.NetworkSettings.Networks[netName]
	if ep == nil || ep.IPAddress != ip || !contains(ep.Aliases, a) {
		t.Errorf("after reconnect: %+v, want address %s and alias %s", ep, ip, a)
	}
	// The interface may come back under another name (eth1): nothing in
	// the cluster binds to an interface name.
	if got := ifaces(b); got == "lo" || !strings.Contains(got, "lo") {
		t.Errorf("sidecar interfaces after the partition: %s", got)
	}

	// Pause, kill, start, logs.
	if err := d.Pause(ctx, a); err != nil {
		t.Fatal(err)
	}
	if st, _ := d.Inspect(ctx, a); !st.Paused {
		t.Errorf("%s not paused", a)
	}
	if _, err := d.Exec(ctx, a, nil, "true"); err == nil {
		t.Errorf("exec in a paused container succeeded")
	}
	if err := d.Unpause(ctx, a); err != nil {
		t.Fatal(err)
	}
	since := time.Now().Add(-time.Minute)
	if err := d.Kill(ctx, b); err != nil {
		t.Fatal(err)
	}
	if st, _ := d.Inspect(ctx, b); st.Running {
		t.Errorf("%s still running after kill", b)
	}
	if err := d.Start(ctx, b); err != nil {
		t.Fatal(err)
	}
	if st, _ := d.Inspect(ctx, b); !st.Running {
		t.Errorf("%s not running after start", b)
	}
	var logs string
	for i := 0; i < 50 && strings.Count(logs, "hello from "+b) < 2; i++ {
		time.Sleep(100 * time.Millisecond)
		if logs, err = d.Logs(ctx, b, since); err != nil {
			t.Fatal(err)
		}
	}
	if strings.Count(logs, "hello from "+b) != 2 {
		t.Errorf("logs of %s since before its first start: %q", b, logs)
	}
	// Node loss: both killed stay down; started again, namespace owner
	// first, the sidecar is back on the network.
	if err := d.Kill(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := d.Kill(ctx, b); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	for _, c := range []string{a, b} {
		if st, _ := d.Inspect(ctx, c); st.Running {
			t.Errorf("%s restarted by Docker after a kill", c)
		}
	}
	if err := d.Start(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := d.Start(ctx, b); err != nil {
		t.Fatal(err)
	}
	if got := ifaces(b); got == "lo" {
		t.Errorf("sidecar has no network after both were restarted: %s", got)
	}
	if st, _ := d.Inspect(ctx, a); st.IPs[netName] == "" {
		t.Errorf("%s lost its network after a restart: %v", a, st.IPs)
	}

	if err := d.Stop(ctx, a, time.Second); err != nil {
		t.Fatal(err)
	}
	if st, _ := d.Inspect(ctx, a); st.Running {
		t.Errorf("%s still running after stop", a)
	}
}

// freeSubnet is the first of unitSubnets that overlaps no Docker network.
func freeSubnet(ctx context.Context, t *testing.T, d *Docker) string {
	t.Helper()
	s, err := d.FreeSubnet(ctx, unitSubnets)
	if errors.Is(err, ErrNoFreeSubnet) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return s
}
