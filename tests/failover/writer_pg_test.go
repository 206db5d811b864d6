package failover

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// pgBin is the host's PostgreSQL (scripts/install-deps installs its
// release's: 15 on bookworm, 17 on trixie), the newest when several are.
var pgBin = func() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgMajor(dirs[i]) < pgMajor(dirs[j]) })
	if len(dirs) == 0 {
		return "/usr/lib/postgresql/none/bin"
	}
	return dirs[len(dirs)-1]
}()

func pgMajor(bin string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(bin)))
	return n
}

// localPG is a throwaway PostgreSQL on 127.0.0.1 with TLS (a test CA,
// a server certificate for localhost) and SCRAM, standing in for the write
// endpoint so the Writer can be tested against real outages without Docker.
type localPG struct {
	t        *testing.T
	dir      string
	data     string
	port     int
	password string
	caPEM    string
	asUser   []string // setpriv prefix when running as root
}

func startLocalPG(t *testing.T) *localPG {
	t.Helper()
	if testing.Short() {
		t.Skip("local PostgreSQL test skipped under -short")
	}
	for _, b := range []string{"initdb", "pg_ctl", "postgres"} {
		if _, err := os.Stat(filepath.Join(pgBin, b)); err != nil {
			msg := fmt.Sprintf("no PostgreSQL server binaries under /usr/lib/postgresql (%v): run scripts/install-deps", err)
			if os.Getenv("CI") == "true" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
	pg := &localPG{t: t, dir: t.TempDir(), password: "writer-test-" + strconv.Itoa(os.Getpid())}
	pg.data = filepath.Join(pg.dir, "data")
	uid, gid := -1, -1
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skip("running as root without a postgres user")
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
		pg.asUser = []string{"setpriv", "--reuid=" + u.Uid, "--regid=" + u.Gid, "--init-groups", "--"}
		// t.TempDir's parents are 0700: let the postgres user through.
		for p := filepath.Dir(pg.dir); p != os.TempDir() && p != "/" && p != "."; p = filepath.Dir(p) {
			if err := os.Chmod(p, 0o711); err != nil {
				t.Fatal(err)
			}
		}
	}
	caPEM, certPEM, keyPEM := testPKI(t)
	pg.caPEM = string(caPEM)
	write := func(name string, b []byte) string {
		p := filepath.Join(pg.dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cert, key := write("server.crt", certPEM), write("server.key", keyPEM)
	pwfile := write("pwfile", []byte(pg.password+"\n"))
	if uid >= 0 {
		for _, p := range []string{pg.dir, cert, key, pwfile} {
			if err := os.Chown(p, uid, gid); err != nil {
				t.Fatal(err)
			}
		}
	}
	pg.run("initdb", "-D", pg.data, "-U", "postgres", "--pwfile="+pwfile, "--auth=scram-sha-256", "-E", "UTF8")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pg.port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	conf := fmt.Sprintf("listen_addresses = '127.0.0.1'\nport = %d\nunix_socket_directories = '%s'\nssl = on\nssl_cert_file = '%s'\n"+
		"ssl_key_file = '%s'\npassword_encryption = 'scram-sha-256'\nfsync = on\n", pg.port, pg.dir, cert, key)
	appendFile(t, filepath.Join(pg.data, "postgresql.conf"), conf)
	hba := "local all all scram-sha-256\nhostssl all all 127.0.0.1/32 scram-sha-256\nhostnossl all all 0.0.0.0/0 reject\n"
	if err := os.WriteFile(filepath.Join(pg.data, "pg_hba.conf"), []byte(hba), 0o600); err != nil {
		t.Fatal(err)
	}
	pg.start()
	t.Cleanup(func() { pg.ctl("-m", "immediate", "stop") })
	return pg
}

func appendFile(t *testing.T, p, s string) {
	t.Helper()
	f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

func (pg *localPG) run(bin string, args ...string) string {
	pg.t.Helper()
	argv := append(append(append([]string{}, pg.asUser...), filepath.Join(pgBin, bin)), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8", "LANG=C.UTF-8")
	out, err := cmd.CombinedOutput()
	if err != nil {
		pg.t.Fatalf("%s %s: %v\n%s", bin, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (pg *localPG) ctl(args ...string) {
	argv := append(append(append([]string{}, pg.asUser...), filepath.Join(pgBin, "pg_ctl"), "-D", pg.data), args...)
	_ = exec.Command(argv[0], argv[1:]...).Run()
}

func (pg *localPG) start() {
	pg.t.Helper()
	pg.run("pg_ctl", "-D", pg.data, "-l", filepath.Join(pg.dir, "log"), "-w", "-t", "60", "start")
}

// crash stops PostgreSQL the way a kill does: no checkpoint, no goodbye
// to clients; committed transactions survive through WAL replay.
func (pg *localPG) crash() {
	pg.t.Helper()
	pg.run("pg_ctl", "-D", pg.data, "-m", "immediate", "-w", "stop")
}

func (pg *localPG) target(t *testing.T) Target {
	tg := Target{WriteEndpoint: fmt.Sprintf("localhost:%d", pg.port), SuperuserPassword: pg.password, CACert: pg.caPEM}
	if err := tg.WriteCAFile(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	return tg
}

// testPKI is a CA and a server certificate for localhost and 127.0.0.1.
func testPKI(t *testing.T) (caPEM, certPEM, keyPEM []byte) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "failover test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

// TestWriterLocalOutage runs the Writer against a local PostgreSQL (TLS,
// verify-full, SCRAM), crashes the server for ~1.5 s and restarts it: the
// Writer must record one window that spans the outage, resume, and every
// acknowledged row must be there afterwards. The same server, presented
// with another CA, must be refused.
func TestWriterLocalOutage(t *testing.T) {
	pg := startLocalPG(t)
	tg := pg.target(t)
	w, err := NewWriter(tg, WriterConfig{Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := contextWithTimeout(t, time.Minute)
	defer cancel()
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if err := w.WaitAck(ctx, time.Time{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)

	down := time.Now()
	pg.crash()
	time.Sleep(1500 * time.Millisecond)
	pg.start()
	up := time.Now()
	if err := w.WaitRecovered(ctx, down); err != nil {
		t.Fatal(err)
	}
	if err := w.WaitAck(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	w.Stop()

	ws := w.Windows()
	if len(ws) != 1 {
		t.Fatalf("windows %+v, want 1", ws)
	}
	gap, ok := w.Gap()
	outage := up.Sub(down)
	t.Logf("outage %s (stop to started), write gap %s, %d failed attempts, last error %q", outage, gap, ws[0].Failures, ws[0].LastErr)
	if !ok || gap < 1500*time.Millisecond || gap > outage+5*time.Second {
		t.Errorf("gap %s (resumed %v) does not match an outage of %s", gap, ok, outage)
	}
	if ws[0].From.After(down) && ws[0].From.Sub(down) > 100*time.Millisecond {
		t.Errorf("window starts %s after the crash began", ws[0].From.Sub(down))
	}
	acked, failed, warnings := w.Counts()
	if acked < 10 || failed < 1 || warnings != 0 {
		t.Errorf("acked %d, failed %d, sync warnings %d", acked, failed, warnings)
	}
	present, err := Verify(ctx, tg, tg.WriteEndpoint, w.Acked())
	if err != nil {
		t.Fatal(err)
	}
	if present != acked {
		miss, _ := Missing(ctx, tg, tg.WriteEndpoint, w.Acked(), 10)
		t.Errorf("%d of %d acknowledged rows present; missing %v", present, acked, miss)
	}

	// A second writer continues above the first one's ids.
	w2, err := NewWriter(tg, WriterConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w2.WaitAck(ctx, time.Time{}); err != nil {
		t.Fatal(err)
	}
	w2.Stop()
	ids, first := w.Acked(), w2.Acked()
	if first[0] <= ids[len(ids)-1] {
		t.Errorf("second writer started at id %d, first ended at %d", first[0], ids[len(ids)-1])
	}
	if _, failed, _ := w2.Counts(); failed != 0 {
		t.Errorf("second writer failed %d times", failed)
	}

	// verify-full against another CA never writes.
	rejectsWrongCA(t, tg)
}

func rejectsWrongCA(t *testing.T, tg Target) {
	t.Helper()
	other, _, _ := testPKI(t)
	tg.CACert = string(other)
	if err := tg.WriteCAFile(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	w, err := NewWriter(tg, WriterConfig{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := contextWithTimeout(t, 2*time.Second)
	defer cancel()
	err = w.Start(ctx)
	if err == nil {
		w.Stop()
		t.Fatal("writer started against a server signed by another CA")
	}
	if !strings.Contains(err.Error(), "certificate") {
		t.Errorf("error does not name the certificate: %v", err)
	}
}
