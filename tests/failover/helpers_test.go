package failover

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

func contextWithTimeout(t *testing.T, d time.Duration) (context.Context, context.CancelFunc) {
	t.Helper()
	return context.WithTimeout(context.Background(), d)
}

// fakeFaults records calls and answers Exec from a function.
type fakeFaults struct {
	mu    sync.Mutex
	calls []string
	execs []fakeExec
	exec  func(name string, stdin []byte, cmd []string) (ExecResult, error)
	state map[string]ContainerState
}

type fakeExec struct {
	name  string
	stdin []byte
	cmd   []string
}

func (f *fakeFaults) call(s string) {
	f.mu.Lock()
	f.calls = append(f.calls, s)
	f.mu.Unlock()
}

func (f *fakeFaults) Kill(_ context.Context, n string) error { f.call("kill " + n); return nil }
func (f *fakeFaults) Stop(_ context.Context, n string, _ time.Duration) error {
	f.call("stop " + n)
	return nil
}
func (f *fakeFaults) Start(_ context.Context, n string) error   { f.call("start " + n); return nil }
func (f *fakeFaults) Pause(_ context.Context, n string) error   { f.call("pause " + n); return nil }
func (f *fakeFaults) Unpause(_ context.Context, n string) error { f.call("unpause " + n); return nil }
func (f *fakeFaults) Exec(_ context.Context, n string, stdin []byte, cmd ...string) (ExecResult, error) {
	f.mu.Lock()
	f.execs = append(f.execs, fakeExec{n, stdin, cmd})
	f.mu.Unlock()
	f.call("exec " + n + " " + strings.Join(cmd, " "))
	if f.exec == nil {
		return ExecResult{}, nil
	}
	return f.exec(n, stdin, cmd)
}
func (f *fakeFaults) ExecLines(ctx context.Context, n string, _ func(string), cmd ...string) error {
	f.call("execlines " + n)
	<-ctx.Done()
	return nil
}
func (f *fakeFaults) Disconnect(_ context.Context, net, n string) error {
	f.call("disconnect " + net + " " + n)
	return nil
}
func (f *fakeFaults) Reconnect(_ context.Context, net, n string) error {
	f.call("reconnect " + net + " " + n)
	return nil
}
func (f *fakeFaults) Inspect(_ context.Context, n string) (ContainerState, error) {
	return f.state[n], nil
}
func (f *fakeFaults) Logs(context.Context, string, time.Time) (string, error) { return "", nil }

var _ Faults = (*fakeFaults)(nil)
var _ Faults = (*Docker)(nil)
