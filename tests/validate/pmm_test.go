package validate

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/postgres-ha/postgres-ha/templates"
)

// fakePMMState is tests/validate/testdata/fake_pmm.py's state file.
type fakePMMState struct {
	Password string         `json:"password"`
	Accounts map[string]int `json:"accounts"`
	Tokens   map[string]int `json:"tokens"`
	NotReady int            `json:"notReady"`
	Log      []string       `json:"log"`
}

// pmmJob is the PMM job's directory with the dev stack's rendered settings,
// pointed at a fake PMM server on a free port of 127.0.0.1 (its name
// resolves there), and the fake's state.
type pmmJob struct {
	dir, state, token, password string
	port                        int
	s                           *stack
}

func newPMMJob(t *testing.T) *pmmJob {
	t.Helper()
	s := stacks(t)[0]
	if !s.cfg.PMM.On() {
		t.Fatal("the dev stack has PMM off")
	}
	j := &pmmJob{dir: t.TempDir(), port: freePort(t), s: s, password: templates.Placeholders(s.cfg).PMMAdminPassword}
	j.state = filepath.Join(j.dir, "state.json")
	j.token = filepath.Join(j.dir, "token", "client-token")
	var settings templates.PMMToken
	if err := json.Unmarshal([]byte(s.file(t, s.cfg.PMMTokenJobName()+"/settings.json")), &settings); err != nil {
		t.Fatal(err)
	}
	if settings.Server != s.cfg.PMMName() || settings.Port != templates.PMMServerPort || settings.TokenFile != templates.MustPath("pmmToken") {
		t.Fatalf("rendered settings %+v", settings)
	}
	settings.Port, settings.TokenFile, settings.TimeoutSeconds = j.port, j.token, 30
	b, _ := json.Marshal(settings)
	script, err := templates.PMMTokenScript()
	if err != nil {
		t.Fatal(err)
	}
	fake, err := os.ReadFile(filepath.Join("testdata", "fake_pmm.py"))
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := s.pki.Leaf("pmm")
	if err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]struct {
		content []byte
		mode    os.FileMode
	}{
		"pmm-token.py": {[]byte(script), 0o644}, "settings.json": {b, 0o644}, "ca.crt": {s.pki.CA.CertPEM, 0o644},
		"admin.password": {[]byte(j.password + "\n"), 0o600}, "fake_pmm.py": {fake, 0o644},
		"server.crt": {leaf.CertPEM, 0o644}, "server.key": {leaf.KeyPEM(), 0o600},
	} {
		mustWrite(t, filepath.Join(j.dir, name), string(f.content), f.mode)
	}
	if err := os.MkdirAll(filepath.Dir(j.token), 0o755); err != nil {
		t.Fatal(err)
	}
	return j
}

func (j *pmmJob) setState(t *testing.T, st fakePMMState) {
	t.Helper()
	if st.Accounts == nil {
		st.Accounts = map[string]int{}
	}
	if st.Tokens == nil {
		st.Tokens = map[string]int{}
	}
	st.Log = []string{}
	b, _ := json.Marshal(st)
	mustWrite(t, j.state, string(b), 0o600)
}

func (j *pmmJob) getState(t *testing.T) fakePMMState {
	t.Helper()
	b, err := os.ReadFile(j.state)
	if err != nil {
		t.Fatal(err)
	}
	var st fakePMMState
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// run starts the fake server and the job in one container of the Patroni
// image (the job's python3), the PMM server's name resolving to 127.0.0.1.
func (j *pmmJob) run(t *testing.T) result {
	t.Helper()
	sh := strings.Join([]string{
		"python3 " + j.dir + "/fake_pmm.py " + strconv.Itoa(j.port) + " " + j.dir + "/server.crt " + j.dir + "/server.key " + j.state + " &",
		"python3 " + j.dir + "/pmm-token.py",
	}, "\n")
	a := patroniImage.args("", nil, "sh", "-c", sh)
	a = slices.Insert(a, 1, "--add-host", j.s.cfg.PMMName()+":127.0.0.1")
	patroniImage.need(t)
	return run(t, nil, "docker", a...)
}

func (j *pmmJob) tokenFile(t *testing.T) (string, os.FileMode) {
	t.Helper()
	fi, err := os.Stat(j.token)
	if err != nil {
		t.Fatalf("no token file: %v", err)
	}
	b, _ := os.ReadFile(j.token)
	return string(b), fi.Mode().Perm()
}

// The PMM job against a stand-in for PMM 3's API: it waits for the server,
// moves a fresh server off Grafana's default password, creates the clients'
// service account once and writes one token owner-only; a rerun keeps a
// token the server accepts, replaces a revoked one, and a server that takes
// neither password fails the job. Neither secret is ever printed.
func TestPMMJob(t *testing.T) {
	j := newPMMJob(t)
	account := j.s.cfg.Cluster.Name + "-pmm-clients"
	quiet := func(r result, token string) {
		t.Helper()
		for _, secret := range []string{j.password, token} {
			if secret != "" && strings.Contains(r.output(), secret) {
				t.Errorf("the job printed a secret:\n%s", r)
			}
		}
	}

	j.setState(t, fakePMMState{Password: "admin", NotReady: 2})
	r := j.run(t)
	if r.code != 0 {
		t.Fatalf("first run:\n%s", r)
	}
	st := j.getState(t)
	token, mode := j.tokenFile(t)
	quiet(r, token)
	if st.Password != j.password || !strings.Contains(r.stdout, "changed from Grafana's default") {
		t.Errorf("admin password not moved off the default:\n%s", r)
	}
	if len(st.Accounts) != 1 || st.Accounts[account] == 0 || len(st.Tokens) != 1 || st.Tokens[token] == 0 {
		t.Errorf("accounts %v tokens %v, want one account %s and the token written", st.Accounts, st.Tokens, account)
	}
	if mode != 0o400 {
		t.Errorf("token file mode %o, want 0400", mode)
	}
	if n := slices.Index(st.Log, "GET /v1/server/readyz"); n != 0 || strings.Count(strings.Join(st.Log, "\n"), "readyz") < 3 {
		t.Errorf("the job did not wait for readyz: %v", st.Log)
	}
	checked.add("pmm-token.py (fake PMM 3)", j.s.name)

	t.Run("a rerun keeps a valid token", func(t *testing.T) {
		j.setState(t, fakePMMState{Password: j.password, Accounts: st.Accounts, Tokens: st.Tokens})
		r := j.run(t)
		quiet(r, token)
		again, _ := j.tokenFile(t)
		if after := j.getState(t); r.code != 0 || again != token || len(after.Tokens) != 1 || !strings.Contains(r.stdout, "kept") {
			t.Errorf("rerun: token changed %v, tokens %v:\n%s", again != token, after.Tokens, r)
		}
	})
	t.Run("a revoked token is replaced, the account reused", func(t *testing.T) {
		j.setState(t, fakePMMState{Password: j.password, Accounts: st.Accounts})
		r := j.run(t)
		fresh, _ := j.tokenFile(t)
		quiet(r, fresh)
		after := j.getState(t)
		if r.code != 0 || fresh == token || after.Tokens[fresh] != st.Accounts[account] || len(after.Accounts) != 1 {
			t.Errorf("revoked: new token %v, accounts %v, tokens %v:\n%s", fresh != token, after.Accounts, after.Tokens, r)
		}
	})
	t.Run("an unknown admin password fails the job", func(t *testing.T) {
		j.setState(t, fakePMMState{Password: "somebody-changed-it"})
		r := j.run(t)
		quiet(r, "")
		if r.code == 0 || !strings.Contains(r.output(), "neither the stack's admin password nor Grafana's default") {
			t.Errorf("want a failure naming the password problem:\n%s", r)
		}
	})
}
