package validate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The Patroni image's entrypoint refuses a data directory of another
// PostgreSQL major version (a volume from an older image) before Patroni
// can start, naming both versions, and leaves the directory as it was.
func TestEntrypointRefusesAnotherMajorVersion(t *testing.T) {
	patroniImage.need(t)
	data := t.TempDir()
	pgdata := filepath.Join(data, "pgdata")
	if err := os.MkdirAll(pgdata, 0o700); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, filepath.Join(pgdata, "PG_VERSION"), "15\n", 0o600)
	r := run(t, nil, "docker", "run", "--rm", "-v", data+":/var/lib/postgresql/data", string(patroniImage), "true")
	if r.code != 78 || !strings.Contains(r.stderr, "PostgreSQL 15, this image runs PostgreSQL 17") {
		t.Errorf("want exit 78 naming both versions:\n%s", r)
	}
	if b, err := os.ReadFile(filepath.Join(pgdata, "PG_VERSION")); err != nil || string(b) != "15\n" {
		t.Errorf("PG_VERSION changed: %q %v", b, err)
	}
	mustWrite(t, filepath.Join(pgdata, "PG_VERSION"), "17\n", 0o600)
	if r := run(t, nil, "docker", "run", "--rm", "-v", data+":/var/lib/postgresql/data", string(patroniImage), "true"); r.code != 0 {
		t.Errorf("the image's own major version was refused:\n%s", r)
	}
}

// A node container killed and started again keeps its socket lock file; the
// entrypoint drops it before PostgreSQL starts (the PID in it may belong to
// another process of the new container, and PostgreSQL would refuse to start:
// seen on the lab, the old leader never rejoined after a node loss).
func TestEntrypointDropsStaleSocketLock(t *testing.T) {
	patroniImage.need(t)
	r := run(t, nil, "docker", "run", "--rm", "--entrypoint", "sh", string(patroniImage), "-c",
		`mkdir -p /run/postgresql && echo 58 > /run/postgresql/.s.PGSQL.5432.lock && touch /run/postgresql/.s.PGSQL.5432 &&
		 exec /usr/local/bin/postgres-ha-entrypoint ls -A /run/postgresql`)
	if r.code != 0 || strings.Contains(r.stdout, ".s.PGSQL") {
		t.Errorf("want the socket and its lock file gone before the command runs:\n%s", r)
	}
}
