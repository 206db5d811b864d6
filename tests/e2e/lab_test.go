package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// labOutputs is where TestLab writes the deployment's outputs, in the shape
// of `pulumi stack output --json --show-secrets`, for tests/failover's
// TestFailoverLive and for a person poking at the lab.
const labOutputs = ".cache/lab-outputs.json"

// TestLab (E2E_LAB=1, `make lab`) deploys the lab stack on the local Docker
// engine exactly as the other tests do, writes its outputs to
// .cache/lab-outputs.json (0600: it holds the secrets) and leaves it
// running. It is the stand-in for `make up` where the Pulumi provider
// plugins cannot be had. E2E_LAB=down (`make lab-down`) removes it.
func TestLab(t *testing.T) {
	mode := os.Getenv("E2E_LAB")
	switch mode {
	case "":
		t.Skip("E2E_LAB unset: `make lab` deploys the lab and leaves it running")
	case "down":
		// TestMain removes every labelled leftover, the lab included, before
		// any test runs; here only check that nothing is left.
		if skipReason != "" {
			t.Fatal(skipReason)
		}
		if left := env.r.docker.RemoveLabelled(context.Background(), LabelE2E); len(left) > 0 {
			t.Errorf("still there after the removal: %v", left)
		}
		_ = os.Remove(filepath.Join(env.root, labOutputs))
		t.Log("lab removed")
		return
	}
	h := deployment(t)
	h.keep = true
	b, err := json.MarshalIndent(h.exports, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(h.root, labOutputs)
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, append(b, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Logf("the lab is up and stays up; its outputs (secrets included) are in %s", labOutputs)
	t.Logf("writes: %v, reads: %v, HAProxy stats: %v", h.exports["writeEndpoint"], h.exports["readEndpoint"], h.exports["haproxyStatsUrl"])
	t.Logf("failover suite against it: make test-failover OUTPUTS=%s; remove it: make lab-down", labOutputs)
}
