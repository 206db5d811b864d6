package validate

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/postgres-ha/postgres-ha/templates"
)

// patchFor runs patroni-job.py's patch_for(current, desired) with python3,
// the interpreter of the Patroni image.
func patchFor(t *testing.T, current, desired any) map[string]any {
	t.Helper()
	script, err := templates.PatroniJobScript()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "patroni-job.py")
	mustWrite(t, path, script, 0o644)
	in, _ := json.Marshal([]any{current, desired})
	mustWrite(t, filepath.Join(dir, "in.json"), string(in), 0o644)
	r := patroniImage.run(t, "", nil, "python3", "-c", `import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("job", sys.argv[1])
job = importlib.util.module_from_spec(spec); spec.loader.exec_module(job)
current, desired = json.load(open(sys.argv[2]))
print(json.dumps(job.patch_for(current, desired)))`, path, filepath.Join(dir, "in.json"))
	if r.code != 0 {
		t.Fatalf("patch_for failed:\n%s", r)
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("patch_for printed %q: %v", r.stdout, err)
	}
	return out
}

// The patroni-config job sends the smallest PATCH /config: nothing when
// the cluster is as set (also for values Patroni keeps as numbers or
// booleans), each changed key, and null for a parameter the stack dropped.
func TestPatroniJobPatch(t *testing.T) {
	for _, s := range stacks(t) {
		t.Run(s.name, func(t *testing.T) {
			var job templates.PatroniJob
			if err := json.Unmarshal([]byte(s.file(t, s.cfg.PatroniJobName()+"/settings.json")), &job); err != nil {
				t.Fatal(err)
			}
			desired := *job.Config
			if p := patchFor(t, desired, desired); len(p) != 0 {
				t.Errorf("patch of a cluster already as set: %v, want none", p)
			}

			// A cluster set by an older postgres-ha: numbers and YAML
			// booleans, a parameter since removed, another ttl.
			current := desired
			current.TTL = desired.TTL + 5
			old := map[string]any{}
			for k, v := range desired.PostgreSQL.Parameters {
				old[k] = v
			}
			old["max_connections"] = s.cfg.Postgres.MaxConnections
			old["hot_standby"] = true
			old["dropped_setting"] = "1"
			cur := map[string]any{}
			b, _ := json.Marshal(current)
			json.Unmarshal(b, &cur)
			cur["postgresql"].(map[string]any)["parameters"] = old
			b, _ = json.Marshal(desired)
			want := map[string]any{}
			json.Unmarshal(b, &want)

			p := patchFor(t, cur, want)
			if p["ttl"] != float64(desired.TTL) {
				t.Errorf("patch ttl %v, want %d", p["ttl"], desired.TTL)
			}
			params, _ := p["postgresql"].(map[string]any)["parameters"].(map[string]any)
			if v, ok := params["dropped_setting"]; !ok || v != nil {
				t.Errorf("patch parameters %v; want dropped_setting: null", params)
			}
			delete(params, "dropped_setting")
			if len(params) != 0 {
				t.Errorf("patch parameters %v beyond the dropped one; 200 and \"200\", true and \"on\" are the same setting", params)
			}
			delete(p, "postgresql")
			delete(p, "ttl")
			if len(p) != 0 {
				t.Errorf("patch %v has keys that did not change", p)
			}
			checked.add("patroni-job.py patch", s.name)
		})
	}
}

// The job program compiles under the Patroni image's python3.
func TestPatroniJobCompiles(t *testing.T) {
	script, err := templates.PatroniJobScript()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "patroni-job.py")
	mustWrite(t, path, script, 0o644)
	if r := patroniImage.run(t, "", nil, "python3", "-m", "py_compile", path); r.code != 0 {
		t.Fatalf("py_compile:\n%s", r)
	}
}
