package validate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/postgres-ha/postgres-ha/templates"
)

// consulDev is a Consul v1.16.1 dev agent on 127.0.0.1 with ACLs on and
// default deny, as the cluster runs them: the ACL job's policies and token
// bodies are fed to it exactly as bootstrap.sh does.
type consulDev struct {
	bin, addr, token string
}

func startConsulDev(t *testing.T, s *stack) *consulDev {
	t.Helper()
	// A port taken by something outside this test binary between freePort
	// and Consul's bind makes the agent exit at once: take new ports.
	for attempt := 1; ; attempt++ {
		d, log, err := tryConsulDev(t, s)
		if err == nil {
			return d
		}
		if attempt == 3 || !strings.Contains(log, "address already in use") {
			t.Fatalf("%v:\n%s", err, log)
		}
		t.Logf("attempt %d: a port was taken, starting again on new ports", attempt)
	}
}

// tryConsulDev starts one dev agent and waits until it has a leader and
// accepts the management token; on failure it returns the agent's log.
func tryConsulDev(t *testing.T, s *stack) (*consulDev, string, error) {
	t.Helper()
	bin := consulBin(t)
	mgmt := templates.Placeholders(s.cfg).ManagementToken
	http := freePort(t)
	args := []string{"agent", "-dev", "-bind", "127.0.0.1", "-client", "127.0.0.1",
		"-node", s.cfg.ServerName(1), "-datacenter", s.cfg.Consul.Datacenter,
		"-http-port", fmt.Sprint(http), "-dns-port", "-1", "-grpc-port", "-1",
		"-server-port", fmt.Sprint(freePort(t)), "-serf-lan-port", fmt.Sprint(freePort(t)),
		"-serf-wan-port", fmt.Sprint(freePort(t)),
		"-hcl", `ports { grpc_tls = -1 }`, "-hcl", `disable_update_check = true`,
		"-hcl", fmt.Sprintf(`acl { enabled = true
		  default_policy = "deny"
		  tokens { initial_management = %q } }`, mgmt)}
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	logFile := filepath.Join(t.TempDir(), "consul.log")
	out, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	stop := func() {
		cmd.Process.Kill()
		<-exited
		out.Close()
	}
	t.Cleanup(stop)
	fail := func(msg string) (*consulDev, string, error) {
		stop()
		b, _ := os.ReadFile(logFile)
		return nil, string(b), errors.New(msg)
	}
	d := &consulDev{bin: bin, addr: fmt.Sprintf("http://127.0.0.1:%d", http), token: mgmt}
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body := d.api(t, "GET", "/v1/status/leader", nil)
		if code == 200 && len(body) > 2 && body != `""` {
			break
		}
		select {
		case <-exited:
			return fail("Consul dev agent exited before it had a leader")
		default:
		}
		if time.Now().After(deadline) {
			return fail("Consul dev agent has no leader after 30 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The management token works once ACLs are bootstrapped from it.
	for {
		if code, _ := d.api(t, "GET", "/v1/acl/token/self", nil); code == 200 {
			return d, "", nil
		}
		if time.Now().After(deadline) {
			return fail("Consul dev agent does not accept the management token")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// api calls the HTTP API with the management token.
func (d *consulDev) api(t *testing.T, method, path string, body []byte) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, d.addr+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Consul-Token", d.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// createPolicy runs the command bootstrap.sh runs for a new policy.
func (d *consulDev) createPolicy(t *testing.T, name, description, rules string) result {
	t.Helper()
	p := filepath.Join(t.TempDir(), name+".hcl")
	mustWrite(t, p, rules, 0o600)
	return run(t, []string{"CONSUL_HTTP_ADDR=" + d.addr, "CONSUL_HTTP_TOKEN=" + d.token},
		d.bin, "acl", "policy", "create", "-name", name, "-description", description, "-rules", "@"+p)
}

func TestConsulAcceptsACLPoliciesAndTokens(t *testing.T) {
	for _, s := range stacks(t) {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			d := startConsulDev(t, s)
			acl := s.cfg.ACLJobName()
			for _, p := range templates.Policies(s.cfg) {
				r := d.createPolicy(t, p.Name, p.Description, s.file(t, acl+"/policies/"+p.Name+".hcl"))
				accept(t, r)
				if r.code == 0 {
					checked.add("consul acl policy", s.name)
				}
			}
			for _, spec := range templates.Tokens(s.cfg) {
				body := s.file(t, acl+"/tokens/"+spec.Name+".json")
				var tok struct{ AccessorID string }
				if err := json.Unmarshal([]byte(body), &tok); err != nil {
					t.Fatalf("%s.json: %v", spec.Name, err)
				}
				// Created, then updated in place as a rerun of the job does.
				code, resp := d.api(t, "PUT", "/v1/acl/token", []byte(body))
				if code != 200 {
					t.Errorf("Consul refused token %s: %d %s", spec.Name, code, resp)
					continue
				}
				code, resp = d.api(t, "PUT", "/v1/acl/token/"+tok.AccessorID, []byte(body))
				if code != 200 {
					t.Errorf("Consul refused to update token %s: %d %s", spec.Name, code, resp)
					continue
				}
				var got struct {
					Policies       []struct{ Name string }
					NodeIdentities []struct{ NodeName string }
				}
				if err := json.Unmarshal([]byte(resp), &got); err != nil {
					t.Fatal(err)
				}
				if len(got.Policies) != len(spec.Policies) || len(got.NodeIdentities) != len(spec.NodeIdentities) {
					t.Errorf("token %s: Consul stored %s", spec.Name, resp)
					continue
				}
				checked.add("consul acl token", s.name)
			}
		})
	}
}

func TestConsulRejectsBrokenACLFiles(t *testing.T) {
	s := stacks(t)[0]
	d := startConsulDev(t, s)
	acl := s.cfg.ACLJobName()
	p := templates.Policies(s.cfg)[0]
	rules := s.file(t, acl+"/policies/"+p.Name+".hcl")
	t.Run("HCL syntax error", func(t *testing.T) {
		reject(t, d.createPolicy(t, "broken-syntax", "", strings.TrimRight(rules, "}\n")+"\n"), "Failed to parse")
	})
	t.Run("unknown policy disposition", func(t *testing.T) {
		reject(t, d.createPolicy(t, "broken-disposition", "", replaceFirst(t, rules, `policy = "write"`, `policy = "everything"`)), "everything")
	})
	t.Run("token with an unknown policy", func(t *testing.T) {
		spec := templates.Tokens(s.cfg)[len(templates.Tokens(s.cfg))-1]
		body := s.file(t, acl+"/tokens/"+spec.Name+".json")
		if len(spec.Policies) == 0 {
			t.Fatalf("token %s has no policy to break", spec.Name)
		}
		body = replaceOnce(t, body, fmt.Sprintf(`{"Name": %q}`, spec.Policies[0]), `{"Name": "no-such-policy"}`)
		if code, resp := d.api(t, "PUT", "/v1/acl/token", []byte(body)); code == 200 || !strings.Contains(resp, "no-such-policy") {
			t.Errorf("Consul accepted a token with an unknown policy, or did not name it: %d %s", code, resp)
		}
	})
}
