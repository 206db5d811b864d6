package testprovider

import (
	"reflect"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

const tokContainer = "docker:index/container:Container"

func pm(m map[string]any) resource.PropertyMap { return resource.NewPropertyMapFromMap(m) }

func logOptsValue(m map[string]string) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

var daemonDefaults = map[string]string{"max-size": "10m", "max-file": "3"}

// The bug a real `up` showed: a container whose program leaves logOpts
// unset reads back the daemon's defaults, and the next preview replaces it.
func TestUnsetLogOptsReplaceOnADaemonWithDefaults(t *testing.T) {
	state := pm(map[string]any{"name": "c", "logOpts": logOptsValue(LogOptsReadBack("json-file", nil, daemonDefaults))})
	changes, err := Diff(tokContainer, pm(map[string]any{"name": "c"}), state, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []Change{{Key: "logOpts", Kind: "delete", Replace: true}}
	if !reflect.DeepEqual(changes, want) {
		t.Errorf("changes = %+v, want %+v", changes, want)
	}
}

// The fix: explicit options equal to the daemon's are read back unchanged,
// on a daemon with defaults and on one without.
func TestExplicitLogOptsAreStable(t *testing.T) {
	own := map[string]string{"max-size": "10m", "max-file": "3"}
	for name, defaults := range map[string]map[string]string{"with defaults": daemonDefaults, "without": nil} {
		news := pm(map[string]any{"name": "c", "logDriver": "json-file", "logOpts": logOptsValue(own)})
		state := pm(map[string]any{"name": "c", "logDriver": "json-file",
			"logOpts": logOptsValue(LogOptsReadBack("json-file", own, defaults))})
		changes, err := Diff(tokContainer, news, state, nil)
		if err != nil || len(changes) > 0 {
			t.Errorf("daemon %s: changes %+v, err %v; want none", name, changes, err)
		}
	}
	// Another driver takes none of the daemon's json-file defaults.
	if got := LogOptsReadBack("local", nil, daemonDefaults); len(got) != 0 {
		t.Errorf("local driver read back %v; want no json-file defaults", got)
	}
}

// start, mustRun, wait and restart update in place: flipping start stops
// nothing, which is why the program replaces on a change of start.
func TestStartUpdatesInPlace(t *testing.T) {
	olds := pm(map[string]any{"name": "c", "start": true, "mustRun": true, "restart": "unless-stopped"})
	news := pm(map[string]any{"name": "c", "start": false, "mustRun": false, "restart": "no"})
	changes, err := Diff(tokContainer, news, olds, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 3 {
		t.Fatalf("changes = %+v, want start, mustRun and restart", changes)
	}
	for _, c := range changes {
		if c.Replace {
			t.Errorf("%s replaces; the real provider updates it in place", c.Key)
		}
	}
}

// A container created stopped never published its ports: they read back
// empty and the declared ports replace it, unless ignored.
func TestPortsOfAContainerThatNeverStarted(t *testing.T) {
	if got := flattenPorts(nil); len(got) != 0 {
		t.Fatalf("flattenPorts(nil) = %v", got)
	}
	ports := []any{map[string]any{"internal": 5000.0, "external": 5000.0, "ip": "127.0.0.1", "protocol": "tcp"}}
	news := WithDefaults(tokContainer, pm(map[string]any{"name": "c", "ports": ports}))
	olds := WithDefaults(tokContainer, pm(map[string]any{"name": "c", "ports": flattenPorts(nil)}))
	changes, err := Diff(tokContainer, news, olds, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 1 || changes[0].Key != "ports" || !changes[0].Replace {
		t.Errorf("changes = %+v, want ports replacing", changes)
	}
	if changes, _ := Diff(tokContainer, news, olds, []string{"ports"}); len(changes) != 0 {
		t.Errorf("with ignoreChanges ports: changes = %+v, want none", changes)
	}
}

// Check fills the nested port defaults the real provider's Check fills, so
// a port declared without protocol equals the read-back one.
func TestCheckFillsPortDefaults(t *testing.T) {
	news := WithDefaults(tokContainer, pm(map[string]any{"ports": []any{map[string]any{"internal": 1.0, "external": 2.0}}}))
	got := news["ports"].ArrayValue()[0].ObjectValue()
	if got["protocol"].StringValue() != "tcp" || got["ip"].StringValue() != "0.0.0.0" {
		t.Errorf("port after Check = %v, want protocol tcp and ip 0.0.0.0", got)
	}
	if news["start"].BoolValue() != true || news["restart"].StringValue() != "no" {
		t.Errorf("Check did not fill start/restart defaults: %v", news)
	}
}

// An input the table has no row for fails, naming it: the table must model
// everything the program sets.
func TestUnmodelledInputFails(t *testing.T) {
	_, err := Diff(tokContainer, pm(map[string]any{"name": "c", "frobnicate": true}), pm(map[string]any{"name": "c"}), nil)
	if err == nil || !strings.Contains(err.Error(), "frobnicate") {
		t.Errorf("err = %v, want one naming frobnicate", err)
	}
}

// Every resource type the program registers has a table.
func TestTableCoversTheProgramsTypes(t *testing.T) {
	for _, tok := range []string{
		"docker:index/container:Container", "docker:index/network:Network", "docker:index/volume:Volume",
		"docker:index/remoteImage:RemoteImage", "docker:index/image:Image",
		"tls:index/privateKey:PrivateKey", "tls:index/selfSignedCert:SelfSignedCert",
		"tls:index/certRequest:CertRequest", "tls:index/locallySignedCert:LocallySignedCert",
		"random:index/randomPassword:RandomPassword", "random:index/randomUuid:RandomUuid",
		"random:index/randomBytes:RandomBytes",
	} {
		r, ok := Table[tok]
		if !ok || len(r.Props) == 0 {
			t.Errorf("no table for %s", tok)
		}
		for k, p := range r.Props {
			if p.Source == "" {
				t.Errorf("%s.%s has no source", tok, k)
			}
		}
	}
}
