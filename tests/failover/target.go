package failover

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Target is a deployed cluster, as the program's stack outputs describe it.
type Target struct {
	// WriteEndpoint and ReadEndpoint are HAProxy's "host:port" (:5000 and
	// :5001 of the dev stack).
	WriteEndpoint string
	ReadEndpoint  string
	// WriteURI and ReadURI are postgresql:// URIs with the superuser's
	// password (secrets).
	WriteURI string
	ReadURI  string
	// CACert is the cluster CA (PEM).
	CACert string
	// AdminClientCert and AdminClientKey are a client certificate for
	// Patroni's REST API and Consul (PEM).
	AdminClientCert string
	AdminClientKey  string
	// Nodes are the Patroni/PostgreSQL containers (also host and member
	// names); each node's Consul agent sidecar is Agent(node).
	Nodes []string
	// ConsulServers are the Consul server containers.
	ConsulServers []string
	// HAProxy is the router's container.
	HAProxy string
	// ClusterName is the cluster's name (and Patroni scope).
	ClusterName string

	PatroniRestPassword   string
	SuperuserPassword     string
	ConsulManagementToken string

	// CAFile is a file holding CACert, for pgx's sslrootcert; WriteCAFile
	// sets it. The scenarios write one themselves when it is empty.
	CAFile string
}

// Agent is the Consul agent sidecar of node.
func (t Target) Agent(node string) string { return node + "-consul" }

// Network is the cluster's bridge network.
func (t Target) Network() string { return t.ClusterName + "-net" }

// LoadOutputs reads a stack's outputs from the JSON of
// `pulumi stack output --json --show-secrets`.
func LoadOutputs(path string) (Target, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Target{}, fmt.Errorf("reading stack outputs: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return Target{}, fmt.Errorf("parsing stack outputs %s: %w", path, err)
	}
	t, err := FromExports(m)
	if err != nil {
		return Target{}, fmt.Errorf("stack outputs %s: %w", path, err)
	}
	return t, nil
}

// FromExports builds a Target from the program's exports as plain values
// (strings, []any of strings), as JSON decodes them and as the e2e harness
// captures them. Every missing or mistyped export is reported at once; a
// secret shown as "[secret]" (outputs taken without --show-secrets) is an
// error.
func FromExports(m map[string]any) (Target, error) {
	var errs []error
	str := func(key string) string {
		v, ok := m[key]
		if !ok {
			errs = append(errs, fmt.Errorf("export %s is missing", key))
			return ""
		}
		s, ok := v.(string)
		if !ok {
			errs = append(errs, fmt.Errorf("export %s is %T, want a string", key, v))
			return ""
		}
		if s == "[secret]" {
			errs = append(errs, fmt.Errorf("export %s is hidden: take the outputs with --show-secrets", key))
		}
		return s
	}
	list := func(key string) []string {
		v, ok := m[key]
		if !ok {
			errs = append(errs, fmt.Errorf("export %s is missing", key))
			return nil
		}
		var out []string
		switch x := v.(type) {
		case []string:
			out = append(out, x...)
		case []any:
			for i, e := range x {
				s, ok := e.(string)
				if !ok {
					errs = append(errs, fmt.Errorf("export %s[%d] is %T, want a string", key, i, e))
					continue
				}
				out = append(out, s)
			}
		default:
			errs = append(errs, fmt.Errorf("export %s is %T, want a list of strings", key, v))
		}
		return out
	}
	t := Target{
		WriteEndpoint:         str("writeEndpoint"),
		ReadEndpoint:          str("readEndpoint"),
		WriteURI:              str("writeUri"),
		ReadURI:               str("readUri"),
		CACert:                str("caCert"),
		AdminClientCert:       str("adminClientCert"),
		AdminClientKey:        str("adminClientKey"),
		Nodes:                 list("nodes"),
		ConsulServers:         list("consulServers"),
		HAProxy:               str("haproxy"),
		ClusterName:           str("clusterName"),
		PatroniRestPassword:   str("patroniRestPassword"),
		SuperuserPassword:     str("superuserPassword"),
		ConsulManagementToken: str("consulManagementToken"),
	}
	if err := t.Validate(); err != nil {
		errs = append(errs, err)
	}
	return t, errors.Join(errs...)
}

// Validate checks what the suite relies on: endpoints are host:port, the
// CA is PEM, there are at least two nodes and one Consul server.
func (t Target) Validate() error {
	var errs []error
	for _, e := range []struct{ key, v string }{{"writeEndpoint", t.WriteEndpoint}, {"readEndpoint", t.ReadEndpoint}} {
		if e.v == "" {
			continue
		}
		if _, _, err := splitEndpoint(e.v); err != nil {
			errs = append(errs, fmt.Errorf("export %s: %w", e.key, err))
		}
	}
	if t.CACert != "" && !strings.Contains(t.CACert, "-----BEGIN CERTIFICATE-----") {
		errs = append(errs, errors.New("export caCert is not a PEM certificate"))
	}
	if t.Nodes != nil && len(t.Nodes) < 2 {
		errs = append(errs, fmt.Errorf("export nodes lists %d node(s); failover needs at least 2", len(t.Nodes)))
	}
	if t.ConsulServers != nil && len(t.ConsulServers) < 1 {
		errs = append(errs, errors.New("export consulServers is empty"))
	}
	return errors.Join(errs...)
}

// splitEndpoint splits "host:port".
func splitEndpoint(ep string) (string, int, error) {
	host, p, err := net.SplitHostPort(ep)
	if err != nil {
		return "", 0, fmt.Errorf("%q is not host:port: %w", ep, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, fmt.Errorf("%q has no valid port", ep)
	}
	if host == "" {
		return "", 0, fmt.Errorf("%q has no host", ep)
	}
	return host, port, nil
}

// WriteCAFile writes CACert to dir/ca.crt and sets CAFile.
func (t *Target) WriteCAFile(dir string) error {
	if t.CACert == "" {
		return errors.New("target has no CA certificate")
	}
	p := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(p, []byte(t.CACert), 0o600); err != nil {
		return fmt.Errorf("writing the CA file: %w", err)
	}
	t.CAFile = p
	return nil
}

// ensureCAFile writes the CA to a temporary directory when CAFile is unset;
// the returned function removes it.
func (t *Target) ensureCAFile() (func(), error) {
	if t.CAFile != "" {
		return func() {}, nil
	}
	dir, err := os.MkdirTemp("", "postgres-ha-failover-")
	if err != nil {
		return nil, err
	}
	if err := t.WriteCAFile(dir); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return func() { os.RemoveAll(dir) }, nil
}

// PGConfig is a pgx connection config for endpoint ("host:port"): the
// superuser (user, password and database from WriteURI when it has them),
// sslmode=verify-full against CAFile, 2 s connect timeout. A "localhost"
// endpoint is dialled on 127.0.0.1 only (the ports are published there),
// while the certificate is still checked against "localhost".
func (t Target) PGConfig(endpoint string) (*pgx.ConnConfig, error) {
	if t.CAFile == "" {
		return nil, errors.New("target has no CA file: call WriteCAFile first")
	}
	host, port, err := splitEndpoint(endpoint)
	if err != nil {
		return nil, err
	}
	user, password, db := "postgres", t.SuperuserPassword, "postgres"
	if t.WriteURI != "" {
		if u, err := url.Parse(t.WriteURI); err == nil && u.User != nil {
			user = u.User.Username()
			if pw, ok := u.User.Password(); ok {
				password = pw
			}
			if p := strings.TrimPrefix(u.Path, "/"); p != "" {
				db = p
			}
		}
	}
	dsn := fmt.Sprintf("host=%s port=%d dbname=%s sslmode=verify-full sslrootcert=%s connect_timeout=2 application_name=failover-suite",
		quoteDSN(host), port, quoteDSN(db), quoteDSN(t.CAFile))
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("connection config for %s: %w", endpoint, err)
	}
	cfg.User = user
	cfg.Password = password
	if host == "localhost" {
		cfg.LookupFunc = func(context.Context, string) ([]string, error) { return []string{"127.0.0.1"}, nil }
	}
	return cfg, nil
}

// quoteDSN quotes a keyword/value connection string value.
func quoteDSN(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
