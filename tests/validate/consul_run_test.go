package validate

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/postgres-ha/postgres-ha/templates"
)

// TestConsulStartsWithRenderedConfig goes past `consul validate`, which
// does not open the TLS files: the first server and the first node's agent
// of each stack start from their rendered file in a container-like network
// namespace, and a TLS client there reaches https://127.0.0.1:8501 with a
// client certificate (as Patroni does) and is refused without one.
func TestConsulStartsWithRenderedConfig(t *testing.T) {
	needRoot(t)
	for _, s := range stacks(t) {
		files := []struct{ file, cert, client string }{
			{s.cfg.ServerName(1) + "/consul.hcl", "consul-" + s.cfg.ServerName(1), "admin"},
			{s.cfg.AgentContainer(1) + "/consul.hcl", "consul-" + s.cfg.NodeName(1), "node-" + s.cfg.NodeName(1)},
		}
		for _, f := range files {
			t.Run(s.name+"/"+f.file, func(t *testing.T) {
				t.Parallel()
				curl := need(t, "curl", installDeps)
				nsenter := need(t, "nsenter", installDeps)
				_, dir := consulRoot(t, s, f.cert, s.file(t, f.file))
				a := startConsulAgent(t, s, dir)
				if err := a.running(30 * time.Second); err != nil {
					t.Fatal(err)
				}
				client, err := s.pki.Leaf(f.client)
				if err != nil {
					t.Fatal(err)
				}
				tmp := t.TempDir()
				ca, crt, key := filepath.Join(tmp, "ca.crt"), filepath.Join(tmp, "client.crt"), filepath.Join(tmp, "client.key")
				mustWrite(t, ca, string(s.pki.CA.CertPEM), 0o600)
				mustWrite(t, crt, string(client.CertPEM), 0o600)
				mustWrite(t, key, string(client.KeyPEM()), 0o600)
				// Any HTTP answer means the TLS handshake succeeded: with no
				// servers to join, the API itself answers with an error.
				pid := strconv.Itoa(a.cmd.Process.Pid)
				get := func(cert ...string) result {
					args := append([]string{"-t", pid, "-n", curl, "-sS", "-o", "/dev/null", "-w", "%{http_code}",
						"--max-time", "5", "--cacert", ca}, cert...)
					return run(t, nil, nsenter, append(args, "https://127.0.0.1:8501/v1/agent/self")...)
				}
				var r result
				for try := 0; try < 50; try++ {
					if r = get("--cert", crt, "--key", key); r.code == 0 {
						break
					}
					time.Sleep(100 * time.Millisecond)
				}
				if r.code != 0 || r.stdout == "000" {
					t.Fatalf("mutual TLS to the running agent failed:\n%s\n--- consul log\n%s", r, a.log())
				}
				if r = get(); r.code == 0 {
					t.Errorf("the agent answered a client without a certificate:\n%s", r)
				}
				if !t.Failed() {
					checked.add("consul agent (runs)", s.name)
				}
			})
		}
	}
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		msg := "starting Consul in a network namespace needs root"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// consulAgent is a `consul agent` running in a container-like network
// namespace; it is killed when the test ends.
type consulAgent struct {
	cmd     *exec.Cmd
	logFile string
	exited  chan error
}

func startConsulAgent(t *testing.T, s *stack, configDir string) *consulAgent {
	t.Helper()
	name, args := containerNetwork(t, s, consulBin(t), "agent", "-config-dir", configDir)
	a := &consulAgent{logFile: filepath.Join(t.TempDir(), "consul.log"), exited: make(chan error, 1)}
	out, err := os.Create(a.logFile)
	if err != nil {
		t.Fatal(err)
	}
	a.cmd = exec.Command(name, args...)
	a.cmd.Stdout, a.cmd.Stderr = out, out
	// Dies with the test binary, even when it is killed before cleanups run.
	a.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { a.exited <- a.cmd.Wait() }()
	t.Cleanup(func() {
		a.cmd.Process.Kill()
		<-a.exited
		out.Close()
	})
	return a
}

func (a *consulAgent) log() string { b, _ := os.ReadFile(a.logFile); return string(b) }

// running waits for "Consul agent running!", or fails if it exits first.
func (a *consulAgent) running(limit time.Duration) error {
	deadline := time.After(limit)
	for !strings.Contains(a.log(), "Consul agent running!") {
		select {
		case err := <-a.exited:
			a.exited <- err
			return fmt.Errorf("consul agent exited (%v) with the rendered config:\n%s", err, a.log())
		case <-deadline:
			return fmt.Errorf("consul agent not running after %v:\n%s", limit, a.log())
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

func TestConsulRefusesAKeyThatIsNotTheCertificates(t *testing.T) {
	needRoot(t)
	s := stacks(t)[0]
	root, dir := consulRoot(t, s, "consul-"+s.cfg.ServerName(1), s.file(t, s.cfg.ServerName(1)+"/consul.hcl"))
	other, err := s.pki.Leaf("consul-" + s.cfg.ServerName(2))
	if err != nil {
		t.Fatal(err)
	}
	root.write(t, templates.MustPath("consulKey"), other.KeyPEM(), 0o600)
	a := startConsulAgent(t, s, dir)
	err = a.running(30 * time.Second)
	if err == nil || !strings.Contains(err.Error(), "private key does not match public key") {
		t.Errorf("consul started with a key that is not its certificate's, or failed for another reason: %v", err)
	}
}
