package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/jackc/pgx/v5"
	"github.com/postgres-ha/postgres-ha/templates"
	"github.com/postgres-ha/postgres-ha/tests/failover"

	"github.com/postgres-ha/postgres-ha/tests/internal/realize"
)

// exec runs cmd in a container (as user, with extra env and stdin, if not
// nil) and waits for it.
func (h *harness) exec(ctx context.Context, ctr, user string, env []string, stdin []byte, cmd ...string) (failover.ExecResult, error) {
	return failover.NewDockerFromClient(h.cli).ExecAs(ctx, ctr, user, env, stdin, cmd...)
}

// psql runs one query on a node over its unix socket as the superuser,
// returning unaligned, tuples-only output. The password goes on standard
// input, never on a command line or in the exec's environment.
func (h *harness) psql(ctx context.Context, node, sql string) (string, error) {
	pw, _ := h.exports["superuserPassword"].(string)
	res, err := h.exec(ctx, node, "postgres", []string{"PGCONNECT_TIMEOUT=3"}, []byte(pw+"\n"),
		"sh", "-c", `IFS= read -r PGPASSWORD; export PGPASSWORD; exec psql "$@"`, "psql",
		"-h", "/run/postgresql", "-U", "postgres", "-d", "postgres", "-AtXq", "-v", "ON_ERROR_STOP=1", "-c", sql)
	if err != nil {
		return "", err
	}
	if res.Code != 0 {
		return "", fmt.Errorf("psql on %s: %s", node, res)
	}
	return strings.TrimSpace(res.Stdout), nil
}

func (h *harness) nodes() []string {
	var ns []string
	for i := 1; i <= h.c.Postgres.Nodes; i++ {
		ns = append(ns, h.c.NodeName(i))
	}
	return ns
}

func (h *harness) servers() []string {
	var ns []string
	for i := 1; i <= h.c.Consul.Servers; i++ {
		ns = append(ns, h.c.ServerName(i))
	}
	return ns
}

// roles asks every node whether it is in recovery.
func (h *harness) roles(ctx context.Context) (leaders, replicas []string, err error) {
	for _, n := range h.nodes() {
		out, err := h.psql(ctx, n, "SELECT pg_is_in_recovery()")
		if err != nil {
			return nil, nil, err
		}
		switch out {
		case "f":
			leaders = append(leaders, n)
		case "t":
			replicas = append(replicas, n)
		default:
			return nil, nil, fmt.Errorf("%s: pg_is_in_recovery() = %q", n, out)
		}
	}
	return leaders, replicas, nil
}

// streaming lists the application names streaming from node.
func (h *harness) streaming(ctx context.Context, node string) ([]string, error) {
	out, err := h.psql(ctx, node, "SELECT application_name FROM pg_stat_replication WHERE state = 'streaming' ORDER BY 1")
	if err != nil {
		return nil, err
	}
	if out == "" {
		return nil, nil
	}
	return strings.Split(out, "\n"), nil
}

// waitHealthy waits until exactly one node is the leader and every other
// node streams from it; it returns the leader.
func (h *harness) waitHealthy(ctx context.Context, timeout time.Duration) (string, error) {
	start := time.Now()
	var last string
	leaderAt := time.Duration(0)
	for time.Since(start) < timeout {
		leaders, replicas, err := h.roles(ctx)
		switch {
		case err != nil:
			last = err.Error()
		case len(leaders) != 1:
			last = fmt.Sprintf("leaders %v, replicas %v", leaders, replicas)
		default:
			if leaderAt == 0 {
				leaderAt = time.Since(start)
				logf("leader %s elected (%.1fs into the wait)", leaders[0], leaderAt.Seconds())
			}
			names, err := h.streaming(ctx, leaders[0])
			if err != nil {
				last = err.Error()
				break
			}
			if len(names) == len(replicas) && len(replicas) == h.c.Postgres.Nodes-1 {
				logf("healthy: leader %s, streaming %v (%.1fs into the wait)", leaders[0], names, time.Since(start).Seconds())
				return leaders[0], nil
			}
			last = fmt.Sprintf("leader %s, streaming %v, replicas %v", leaders[0], names, replicas)
		}
		time.Sleep(time.Second)
	}
	var logs strings.Builder
	for _, n := range h.nodes() {
		fmt.Fprintf(&logs, "\n--- docker logs --tail 25 %s\n%s", n, h.r.docker.ContainerLogs(ctx, n, "25"))
	}
	return "", fmt.Errorf("cluster not healthy (one leader, %d replicas streaming) within %s: %s%s",
		h.c.Postgres.Nodes-1, timeout, last, logs.String())
}

// pgConfig is a connection through a published port on 127.0.0.1 with the
// given sslmode; the host name is localhost (in every node certificate),
// but only 127.0.0.1 is ever dialled.
func (h *harness) pgConfig(port int, sslmode, rootCert string) (*pgx.ConnConfig, error) {
	pw, _ := h.exports["superuserPassword"].(string)
	dsn := fmt.Sprintf("host=localhost port=%d user=postgres dbname=postgres connect_timeout=5 sslmode=%s", port, sslmode)
	if rootCert != "" {
		dsn += " sslrootcert=" + rootCert
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	cfg.Password = pw
	cfg.LookupFunc = func(ctx context.Context, host string) ([]string, error) { return []string{"127.0.0.1"}, nil }
	for _, fb := range cfg.Fallbacks {
		fb.Host = "127.0.0.1"
	}
	return cfg, nil
}

func (h *harness) pgConnect(ctx context.Context, port int) (*pgx.Conn, error) {
	cfg, err := h.pgConfig(port, "verify-full", h.caFile)
	if err != nil {
		return nil, err
	}
	return pgx.ConnectConfig(ctx, cfg)
}

// containerIPs maps each node's address on the cluster network to its name.
func (h *harness) containerIPs(ctx context.Context) (map[string]string, error) {
	m := map[string]string{}
	for _, n := range h.nodes() {
		st, err := h.cli.ContainerInspect(ctx, n)
		if err != nil {
			return nil, err
		}
		for _, ep := range st.NetworkSettings.Networks {
			m[ep.IPAddress] = n
		}
	}
	return m, nil
}

// consulClient is an HTTPS client for the published Consul port with the
// admin client certificate (or none).
func (h *harness) httpClient(withCert bool) (*http.Client, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(h.exports["caCert"].(string))) {
		return nil, fmt.Errorf("caCert export is not PEM")
	}
	tc := &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}
	if withCert {
		cert, err := tls.X509KeyPair([]byte(h.exports["adminClientCert"].(string)), []byte(h.exports["adminClientKey"].(string)))
		if err != nil {
			return nil, err
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{
		TLSClientConfig: tc,
		// Only 127.0.0.1 is ever dialled.
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			_, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			return dialer.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", port))
		},
		DisableKeepAlives: true,
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}, nil
}

// consul calls the Consul HTTP API on the published port with the admin
// client certificate and the given token ("" for none).
func (h *harness) consul(ctx context.Context, path, token string) (int, string, error) {
	c, err := h.httpClient(true)
	if err != nil {
		return 0, "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("https://localhost:%d%s", h.c.Ports.ConsulUI, path), nil)
	if err != nil {
		return 0, "", err
	}
	if token != "" {
		req.Header.Set("X-Consul-Token", token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// copyFile puts content at path in a container (root-owned, mode).
func (h *harness) copyFile(ctx context.Context, ctr, path string, content []byte, mode int64) error {
	var buf bytes.Buffer
	if err := realize.WriteTar(&buf, strings.TrimPrefix(path, "/"), content, mode); err != nil {
		return err
	}
	return h.cli.CopyToContainer(ctx, ctr, "/", &buf, container.CopyToContainerOptions{})
}

// tempFile writes a file in the harness's temporary directory.
func (h *harness) tempFile(name string, content []byte) (string, error) {
	p := filepath.Join(h.tmp, name)
	return p, os.WriteFile(p, content, 0o600)
}

// eventually polls f every interval until it succeeds or timeout passes.
func eventually(timeout, interval time.Duration, f func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %s: %w", timeout, err)
		}
		time.Sleep(interval)
	}
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

// controlState is "Database cluster state" from pg_controldata on a stopped
// node's data volume: what PostgreSQL itself recorded about its last stop
// ("shut down", "shut down in recovery" on a replica; "in production" or
// "in archive recovery" if it was killed). It runs pg_controldata in a
// one-shot container from the node's image, with the data volume mounted
// read-only and no network.
func (h *harness) controlState(ctx context.Context, node string) (string, error) {
	ins, err := h.cli.ContainerInspect(ctx, node)
	if err != nil {
		return "", err
	}
	if ins.State != nil && ins.State.Running {
		return "", fmt.Errorf("%s is running: pg_controldata needs it stopped", node)
	}
	pgData := templates.MustPath("pgData")
	var bind string
	for _, b := range ins.HostConfig.Binds {
		parts := strings.Split(b, ":")
		if len(parts) >= 2 && strings.HasPrefix(pgData+"/", strings.TrimSuffix(parts[1], "/")+"/") {
			bind = parts[0] + ":" + parts[1] + ":ro"
		}
	}
	if bind == "" {
		return "", fmt.Errorf("%s mounts no volume at or above %s (binds %v)", node, pgData, ins.HostConfig.Binds)
	}
	noInit := false
	created, err := h.cli.ContainerCreate(ctx,
		&container.Config{Image: ins.Config.Image, User: "postgres", Entrypoint: []string{"pg_controldata"},
			Cmd: []string{pgData}, Labels: map[string]string{LabelE2E: h.runID}},
		&container.HostConfig{Binds: []string{bind}, NetworkMode: "none", Init: &noInit}, nil, nil, node+"-controldata")
	if err != nil {
		return "", err
	}
	defer h.cli.ContainerRemove(context.WithoutCancel(ctx), created.ID, container.RemoveOptions{Force: true})
	wait, errc := h.cli.ContainerWait(ctx, created.ID, container.WaitConditionNextExit)
	if err := h.cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		return "", err
	}
	var code int64
	select {
	case w := <-wait:
		code = w.StatusCode
	case err := <-errc:
		return "", err
	}
	out := h.r.docker.ContainerLogs(ctx, created.ID, "all")
	if code != 0 {
		return "", fmt.Errorf("pg_controldata on %s exited %d: %s", node, code, out)
	}
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, "Database cluster state:"); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("pg_controldata on %s printed no cluster state: %s", node, out)
}
