package engine

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestStackFilesPassTheCLI previews every stack file of the repository and
// a fresh stack with no config at all through the CLI: its validation of
// the stack config against Pulumi.yaml, then the program's. Each must plan
// the whole cluster (nothing is created: a preview).
func TestStackFilesPassTheCLI(t *testing.T) {
	need(t)
	files, _ := filepath.Glob(filepath.Join(shared.root, "Pulumi.*.yaml"))
	stacks := []string{"fresh"}
	for _, f := range files {
		stacks = append(stacks, strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "Pulumi."), ".yaml"))
	}
	if len(stacks) < 3 {
		t.Fatalf("found %d stack files, want at least Pulumi.dev.yaml and Pulumi.lab.yaml", len(files))
	}
	for _, stack := range stacks {
		t.Run(stack, func(t *testing.T) {
			p := newProject(t, stack, "pgha", nil)
			sum, out := p.preview(stack + " (first preview)")
			// 67 resources + 16 per node with PMM on; fewer without.
			if sum["create"] < 50 || len(changes(sum)) != 1 {
				t.Errorf("preview of %s plans %s; want only creates, the whole cluster:\n%s", stack, summaryLine(sum), out)
			}
		})
	}
}

// TestBadConfigFailsBeforeAnyResource: the CLI passes an invalid config
// on to the program, which refuses it naming every problem, and nothing is
// planned.
func TestBadConfigFailsBeforeAnyResource(t *testing.T) {
	need(t)
	p := newProject(t, "bad", "pgha", nil)
	p.set("postgres.nodes", "1")
	p.set("consul.servers", "4")
	_, err := p.stack.Preview(t.Context())
	if err == nil {
		t.Fatal("preview of an invalid config succeeded")
	}
	for _, want := range []string{"postgres-ha:postgres.nodes: 1", "postgres-ha:consul.servers: 4"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not name %q:\n%v", want, err)
		}
	}
}
