package templates

import (
	"fmt"
	"strings"
)

// Container paths, shared by the templates (through the `path` function) and
// the components that upload files there, so the two cannot disagree.
//
// Files are uploaded under UploadRoot, owned by root. The Patroni image's
// entrypoint copies its tree to RuntimeRoot owned by postgres with mode 0600,
// because PostgreSQL refuses keys that other users can read.
const (
	UploadRoot  = "/etc/postgres-ha"
	RuntimeRoot = "/run/postgres-ha"
)

var paths = map[string]string{
	// Patroni node (runtime copies, see RuntimeRoot).
	"patroniConfig": RuntimeRoot + "/patroni.yml",
	"postBootstrap": RuntimeRoot + "/post-bootstrap.sh",
	"pgCA":          RuntimeRoot + "/tls/ca.crt",
	"pgCert":        RuntimeRoot + "/tls/node.crt",
	"pgKey":         RuntimeRoot + "/tls/node.key",
	"pmmDBPassword": RuntimeRoot + "/secrets/pmm-db-password",
	"pgpass":        RuntimeRoot + "/pgpass",
	"pgData":        "/var/lib/postgresql/data/pgdata",
	"pgBin":         "/usr/lib/postgresql/17/bin",
	"pgSocket":      "/run/postgresql",
	// Consul servers, agents and the ACL job.
	"consulConfigDir": UploadRoot + "/consul",
	"consulCA":        UploadRoot + "/tls/ca.crt",
	"consulCert":      UploadRoot + "/tls/consul.crt",
	"consulKey":       UploadRoot + "/tls/consul.key",
	"consulData":      "/var/lib/postgres-ha/consul",
	"aclDir":          UploadRoot + "/acl",
	// The patroni-config and hand-over jobs.
	"patroniJobDir": UploadRoot + "/patroni-config",
	// HAProxy.
	"haproxyConfig": UploadRoot + "/haproxy/haproxy.cfg",
	"haproxyCA":     UploadRoot + "/tls/ca.crt",
	"haproxyPEM":    UploadRoot + "/tls/haproxy.pem",
	// The PMM job, and the clients' token it keeps in the token volume.
	"pmmJobDir":   UploadRoot + "/pmm-token",
	"pmmTokenDir": "/var/lib/postgres-ha/pmm-token",
	"pmmToken":    "/var/lib/postgres-ha/pmm-token/client-token",
	// PMM client sidecar.
	"pmmClientConfig":     UploadRoot + "/pmm/pmm-agent.yaml",
	"pmmClientRegister":   UploadRoot + "/pmm/register.sh",
	"pmmClientCA":         UploadRoot + "/tls/ca.crt",
	"pmmClientDBPassword": UploadRoot + "/secrets/pmm-db-password",
}

// Path returns the container path named key; an unknown key is a bug and
// fails rendering.
func Path(key string) (string, error) {
	p, ok := paths[key]
	if !ok {
		return "", fmt.Errorf("unknown container path %q", key)
	}
	return p, nil
}

// MustPath is Path for Go callers with a constant key.
func MustPath(key string) string {
	p, err := Path(key)
	if err != nil {
		panic(err)
	}
	return p
}

// UploadPath maps a Patroni runtime path to where it must be uploaded.
func UploadPath(runtime string) string {
	if rest, ok := strings.CutPrefix(runtime, RuntimeRoot); ok {
		return UploadRoot + rest
	}
	return runtime
}
