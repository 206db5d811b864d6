package failover

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/postgres-ha/postgres-ha/templates"
)

// Member is one entry of Patroni's GET /cluster.
type Member struct {
	Name     string `json:"name"`
	Role     string `json:"role"`
	State    string `json:"state"`
	Host     string `json:"host"`
	Timeline int    `json:"timeline"`
	// Lag is a number of bytes, or "unknown".
	Lag any `json:"lag"`
}

// ClusterView is Patroni's GET /cluster.
type ClusterView struct {
	Members []Member `json:"members"`
	// Via is the node that answered.
	Via string `json:"-"`
}

// ParseClusterView decodes a GET /cluster body.
func ParseClusterView(body []byte) (ClusterView, error) {
	var v ClusterView
	if err := json.Unmarshal(body, &v); err != nil {
		return v, fmt.Errorf("decoding GET /cluster: %w", err)
	}
	return v, nil
}

// Leader is the member with the leader role ("" when none).
func (v ClusterView) Leader() string {
	for _, m := range v.Members {
		if m.Role == "leader" || m.Role == "primary" {
			return m.Name
		}
	}
	return ""
}

// Leaders lists every member claiming the leader role.
func (v ClusterView) Leaders() []string {
	var ls []string
	for _, m := range v.Members {
		if m.Role == "leader" || m.Role == "primary" {
			ls = append(ls, m.Name)
		}
	}
	return ls
}

// Healthy checks the view for full strength: every node listed, exactly
// one leader, every member running (or streaming).
func (v ClusterView) Healthy(nodes []string) error {
	if ls := v.Leaders(); len(ls) != 1 {
		return fmt.Errorf("leaders %v", ls)
	}
	seen := map[string]bool{}
	var bad []string
	for _, m := range v.Members {
		seen[m.Name] = true
		if m.State != "running" && m.State != "streaming" {
			bad = append(bad, m.Name+" "+m.State)
		}
	}
	var missing []string
	for _, n := range nodes {
		if !seen[n] {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 || len(bad) > 0 {
		return fmt.Errorf("members missing %v, not running %v", missing, bad)
	}
	return nil
}

// SyncStandbys lists the members Patroni's /sync key names synchronous
// standbys (quorum standbys in quorum mode): only they may be promoted in
// synchronous mode.
func (v ClusterView) SyncStandbys() []string {
	var ss []string
	for _, m := range v.Members {
		if m.Role == "sync_standby" || m.Role == "quorum_standby" {
			ss = append(ss, m.Name)
		}
	}
	return ss
}

// Cluster runs the suite's queries on a Target through Faults: Patroni's
// REST API and Consul's HTTP API through `docker exec curl` in the cluster's
// own containers, SQL through the published endpoints.
type Cluster struct {
	T    Target
	F    Faults
	Logf func(format string, args ...any)
}

func (c *Cluster) logf(format string, args ...any) {
	if c.Logf != nil {
		c.Logf(format, args...)
	}
}

// Patroni calls node's REST API from inside node (its own certificate),
// returning the status code and body. With auth, the basic-auth password
// reaches curl on its standard input (a curl config), never on a command
// line.
func (c *Cluster) Patroni(ctx context.Context, node, method, path string, body []byte, auth bool) (int, []byte, error) {
	ca, cert, key := templates.MustPath("pgCA"), templates.MustPath("pgCert"), templates.MustPath("pgKey")
	maxTime := "5"
	if method != "GET" {
		maxTime = "90"
	}
	cmd := []string{"curl", "-s", "--connect-timeout", "2", "--max-time", maxTime,
		"--cacert", ca, "--cert", cert, "--key", key,
		"--resolve", node + ":8008:127.0.0.1", "-w", "\n%{http_code}", "-X", method}
	if body != nil {
		cmd = append(cmd, "-H", "Content-Type: application/json", "--data-binary", string(body))
	}
	var stdin []byte
	if auth {
		cmd = append(cmd, "-K", "-")
		stdin = []byte("user = \"" + curlQuote("patroni:"+c.T.PatroniRestPassword) + "\"\n")
	}
	cmd = append(cmd, "https://"+node+":8008"+path)
	res, err := c.F.Exec(ctx, node, stdin, cmd...)
	if err != nil {
		return 0, nil, err
	}
	return parseCurl(res)
}

// curlQuote escapes a value for a double-quoted curl config string.
func curlQuote(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}

// parseCurl splits `curl -w '\n%{http_code}'` output into code and body.
func parseCurl(res ExecResult) (int, []byte, error) {
	out := res.Stdout
	i := strings.LastIndexByte(out, '\n')
	if i < 0 {
		return 0, nil, fmt.Errorf("curl: no status line (%s)", res)
	}
	code, err := strconv.Atoi(strings.TrimSpace(out[i+1:]))
	if err != nil {
		return 0, nil, fmt.Errorf("curl: bad status line (%s)", res)
	}
	if code == 0 {
		return 0, nil, fmt.Errorf("curl got no answer (%s)", res)
	}
	return code, []byte(out[:i]), nil
}

// View asks GET /cluster of the first node that answers, skipping the
// nodes in skip.
func (c *Cluster) View(ctx context.Context, skip ...string) (ClusterView, error) {
	var errs []error
	for _, n := range c.T.Nodes {
		if contains(skip, n) {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 8*time.Second)
		code, body, err := c.Patroni(cctx, n, "GET", "/cluster", nil, false)
		cancel()
		if err == nil && code != 200 {
			err = fmt.Errorf("GET /cluster: %d %s", code, strings.TrimSpace(string(body)))
		}
		if err == nil {
			v, err := ParseClusterView(body)
			if err == nil {
				v.Via = n
				return v, nil
			}
			errs = append(errs, fmt.Errorf("%s: %w", n, err))
			continue
		}
		errs = append(errs, fmt.Errorf("%s: %w", n, err))
	}
	return ClusterView{}, errors.Join(errs...)
}

// Leader is the current leader as /cluster reports it ("" when none).
func (c *Cluster) Leader(ctx context.Context, skip ...string) (string, error) {
	v, err := c.View(ctx, skip...)
	if err != nil {
		return "", err
	}
	return v.Leader(), nil
}

// WaitLeader polls /cluster (skipping nodes in skip) until ok accepts the
// leader.
func (c *Cluster) WaitLeader(ctx context.Context, timeout time.Duration, ok func(string) bool, skip ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	last := "no answer yet"
	for {
		l, err := c.Leader(ctx, skip...)
		if err == nil && ok(l) {
			return l, nil
		}
		if err != nil {
			last = err.Error()
		} else {
			last = fmt.Sprintf("leader %q", l)
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("leader not as expected within %s: %s", timeout, last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// Streaming counts the replicas streaming from the server behind
// endpoint, and reports whether that server is in recovery.
func (c *Cluster) Streaming(ctx context.Context, endpoint string) (streaming int, inRecovery bool, err error) {
	pg, err := c.T.PGConfig(endpoint)
	if err != nil {
		return 0, false, err
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, pg)
	if err != nil {
		return 0, false, err
	}
	defer conn.Close(context.Background())
	err = conn.QueryRow(cctx, "SELECT (SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'), pg_is_in_recovery()").
		Scan(&streaming, &inRecovery)
	return streaming, inRecovery, err
}

// FullStrength checks once: /cluster lists every node running with one
// leader (and, in synchronous mode, a synchronous standby), and the server behind the write endpoint is out of recovery with
// N-1 replicas streaming. It returns the leader.
func (c *Cluster) FullStrength(ctx context.Context) (string, error) {
	v, err := c.View(ctx)
	if err != nil {
		return "", err
	}
	if err := v.Healthy(c.T.Nodes); err != nil {
		return "", fmt.Errorf("/cluster (via %s): %w", v.Via, err)
	}
	// In synchronous mode a cluster whose /sync key names no standby cannot
	// fail over (Patroni promotes only a synchronous standby); right after
	// a promotion that lasts until the new leader's next cycle.
	if dc, err := c.Config(ctx); err == nil && bool(dc.SynchronousMode) && len(v.SyncStandbys()) == 0 {
		return "", fmt.Errorf("/cluster (via %s): synchronous mode, but no synchronous standby yet", v.Via)
	}
	if err := c.NoFailsafeRecord(ctx); err != nil {
		return "", err
	}
	n, rec, err := c.Streaming(ctx, c.T.WriteEndpoint)
	if err != nil {
		return "", fmt.Errorf("through %s: %w", c.T.WriteEndpoint, err)
	}
	if rec {
		return "", fmt.Errorf("through %s: the server is in recovery", c.T.WriteEndpoint)
	}
	if want := len(c.T.Nodes) - 1; n != want {
		return "", fmt.Errorf("through %s: %d replicas streaming, want %d", c.T.WriteEndpoint, n, want)
	}
	return v.Leader(), nil
}

// NoFailsafeRecord checks that no node holds a failsafe record (GET
// /patroni's failsafe_mode_is_active). A primary cut off from Consul posts
// itself to every member it reaches as the leader to keep following; a
// member keeps that record for ttl, and if the leader fails meanwhile it
// follows the record instead of racing. After a healed partition that
// delays the next failover by up to ttl.
func (c *Cluster) NoFailsafeRecord(ctx context.Context) error {
	var active []string
	for _, n := range c.T.Nodes {
		st, err := c.status(ctx, n)
		if err != nil {
			return err
		}
		if st.Failsafe {
			active = append(active, n)
		}
	}
	if len(active) > 0 {
		return fmt.Errorf("%v still hold a failsafe record of a former primary (kept for ttl)", active)
	}
	return nil
}

// PostmasterStart is when node's PostgreSQL last started, as its Patroni
// reports it: a changed value means it was restarted, e.g. demoted.
func (c *Cluster) PostmasterStart(ctx context.Context, node string) (string, error) {
	st, err := c.status(ctx, node)
	if err == nil && st.PostmasterStart == "" {
		err = fmt.Errorf("%s: GET /patroni has no postmaster_start_time", node)
	}
	return st.PostmasterStart, err
}

// nodeStatus is what the suite reads of GET /patroni.
type nodeStatus struct {
	Failsafe        bool   `json:"failsafe_mode_is_active"`
	PostmasterStart string `json:"postmaster_start_time"`
}

func (c *Cluster) status(ctx context.Context, node string) (nodeStatus, error) {
	var st nodeStatus
	code, body, err := c.Patroni(ctx, node, "GET", "/patroni", nil, false)
	if err == nil && code != 200 {
		err = fmt.Errorf("GET /patroni: %d", code)
	}
	if err == nil {
		err = json.Unmarshal(body, &st)
	}
	if err != nil {
		return st, fmt.Errorf("%s: GET /patroni: %w", node, err)
	}
	return st, nil
}

// WaitFull waits for FullStrength, returning the leader and how long the
// wait took.
func (c *Cluster) WaitFull(ctx context.Context, timeout time.Duration) (string, time.Duration, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	last := "no answer yet"
	for {
		l, err := c.FullStrength(ctx)
		if err == nil {
			return l, time.Since(start), nil
		}
		last = err.Error()
		select {
		case <-ctx.Done():
			return "", time.Since(start), fmt.Errorf("cluster not back to full strength (one leader, %d streaming) within %s: %s",
				len(c.T.Nodes)-1, timeout, last)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// DynamicConfig is Patroni's GET /config (the parts the suite reads).
type DynamicConfig struct {
	TTL             int         `json:"ttl"`
	LoopWait        int         `json:"loop_wait"`
	RetryTimeout    int         `json:"retry_timeout"`
	SynchronousMode SyncSetting `json:"synchronous_mode"`
	FailsafeMode    bool        `json:"failsafe_mode"`
}

// SyncSetting is Patroni's synchronous_mode: true when commits wait for a
// standby, whether it is set as a boolean or as "quorum".
type SyncSetting bool

// UnmarshalJSON reads true, false, "on", "off" or "quorum".
func (s *SyncSetting) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch v := v.(type) {
	case bool:
		*s = SyncSetting(v)
	case string:
		*s = SyncSetting(v != "off" && v != "false" && v != "")
	case nil:
		*s = false
	default:
		return fmt.Errorf("synchronous_mode %s is neither a boolean nor a string", b)
	}
	return nil
}

// Config reads Patroni's dynamic configuration from any node.
func (c *Cluster) Config(ctx context.Context, skip ...string) (DynamicConfig, error) {
	var errs []error
	for _, n := range c.T.Nodes {
		if contains(skip, n) {
			continue
		}
		code, body, err := c.Patroni(ctx, n, "GET", "/config", nil, false)
		if err == nil && code != 200 {
			err = fmt.Errorf("GET /config: %d", code)
		}
		if err == nil {
			var dc DynamicConfig
			if err = json.Unmarshal(body, &dc); err == nil {
				return dc, nil
			}
		}
		errs = append(errs, fmt.Errorf("%s: %w", n, err))
	}
	return DynamicConfig{}, errors.Join(errs...)
}

// SetFailsafe switches Patroni's failsafe_mode through PATCH /config
// (authenticated) on the first node that takes it; Patroni applies it on
// its next cycle.
func (c *Cluster) SetFailsafe(ctx context.Context, on bool) error {
	body, _ := json.Marshal(map[string]bool{"failsafe_mode": on})
	var errs []error
	for _, n := range c.T.Nodes {
		code, out, err := c.Patroni(ctx, n, "PATCH", "/config", body, true)
		if err == nil && code != 200 {
			err = fmt.Errorf("PATCH /config: %d %s", code, strings.TrimSpace(string(out)))
		}
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", n, err))
	}
	return errors.Join(errs...)
}

// Switchover asks Patroni (through leader's REST API, authenticated) to
// hand the leadership over; candidate "" lets Patroni choose.
func (c *Cluster) Switchover(ctx context.Context, leader, candidate string) error {
	req := map[string]string{"leader": leader}
	if candidate != "" {
		req["candidate"] = candidate
	}
	body, _ := json.Marshal(req)
	code, out, err := c.Patroni(ctx, leader, "POST", "/switchover", body, true)
	if err != nil {
		return fmt.Errorf("POST /switchover: %w", err)
	}
	if code != 200 {
		return fmt.Errorf("POST /switchover: %d %s", code, strings.TrimSpace(string(out)))
	}
	return nil
}

// consul calls a Consul server's HTTP API from inside it (its own
// certificate, no token: status endpoints need none).
func (c *Cluster) consul(ctx context.Context, server, path string) (int, []byte, error) {
	ca, cert, key := templates.MustPath("consulCA"), templates.MustPath("consulCert"), templates.MustPath("consulKey")
	res, err := c.F.Exec(ctx, server, nil, "curl", "-s", "--connect-timeout", "2", "--max-time", "5",
		"--cacert", ca, "--cert", cert, "--key", key, "-w", "\n%{http_code}", "https://127.0.0.1:8501"+path)
	if err != nil {
		return 0, nil, err
	}
	return parseCurl(res)
}

// ConsulLeader is the Raft leader's container name as the running servers
// report it ("" when there is none).
func (c *Cluster) ConsulLeader(ctx context.Context) (string, error) {
	ips := map[string]string{}
	var errs []error
	for _, s := range c.T.ConsulServers {
		st, err := c.F.Inspect(ctx, s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ip := st.IPs[c.T.Network()]; ip != "" {
			ips[ip] = s
		}
	}
	for _, s := range c.T.ConsulServers {
		code, body, err := c.consul(ctx, s, "/v1/status/leader")
		if err == nil && code != 200 {
			err = fmt.Errorf("GET /v1/status/leader: %d", code)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s, err))
			continue
		}
		return consulLeaderName(body, ips), nil
	}
	return "", errors.Join(errs...)
}

// consulLeaderName maps the "ip:port" of /v1/status/leader to a server.
func consulLeaderName(body []byte, ips map[string]string) string {
	var addr string
	if err := json.Unmarshal(body, &addr); err != nil || addr == "" {
		return ""
	}
	host := addr
	if i := strings.LastIndexByte(addr, ':'); i >= 0 {
		host = addr[:i]
	}
	if n, ok := ips[host]; ok {
		return n
	}
	return addr
}

// ConsulHealthy checks once that every server is running, knows all peers
// and agrees on one leader.
func (c *Cluster) ConsulHealthy(ctx context.Context) error {
	leaders := map[string]bool{}
	for _, s := range c.T.ConsulServers {
		code, body, err := c.consul(ctx, s, "/v1/status/leader")
		if err != nil || code != 200 {
			return fmt.Errorf("%s: leader: %d %v", s, code, err)
		}
		var l string
		if err := json.Unmarshal(body, &l); err != nil || l == "" {
			return fmt.Errorf("%s: no leader", s)
		}
		leaders[l] = true
		code, body, err = c.consul(ctx, s, "/v1/status/peers")
		if err != nil || code != 200 {
			return fmt.Errorf("%s: peers: %d %v", s, code, err)
		}
		var peers []string
		if err := json.Unmarshal(body, &peers); err != nil {
			return fmt.Errorf("%s: peers: %w", s, err)
		}
		if len(peers) != len(c.T.ConsulServers) {
			sort.Strings(peers)
			return fmt.Errorf("%s: peers %v, want %d", s, peers, len(c.T.ConsulServers))
		}
	}
	if len(leaders) != 1 {
		return fmt.Errorf("servers disagree on the leader: %v", leaders)
	}
	return nil
}

// WaitConsulHealthy waits for ConsulHealthy.
func (c *Cluster) WaitConsulHealthy(ctx context.Context, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		err := c.ConsulHealthy(ctx)
		if err == nil {
			return time.Since(start), nil
		}
		select {
		case <-ctx.Done():
			return time.Since(start), fmt.Errorf("consul not healthy within %s: %w", timeout, err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}
