package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/winship/winship/agent/config"
	"github.com/winship/winship/agent/event"
	"github.com/winship/winship/sinks"
	"github.com/winship/winship/sinks/file"
)

// downSink is a sink whose destination is down: every Send fails with a retryable error.
type downSink struct{}

type downOptions struct{}

func (*downOptions) Validate() error { return nil }
func (*downOptions) Resolve(string)  {}
func (downSink) Close() error        { return nil }
func (downSink) Send(ctx context.Context, _ []*event.Event) error {
	return &sinks.Error{Kind: sinks.Retry, Err: errors.New("destination down (test)")}
}

var rotFactories = map[string]sinks.Factory{
	"file": file.Factory,
	"down": {
		NewOptions: func() sinks.Options { return &downOptions{} },
		Defaults: sinks.Defaults{MaxEvents: 100, MaxBytes: 1 << 20,
			MaxWait: 10 * time.Millisecond, Concurrency: 1},
		New: func(sinks.Spec, sinks.Options) (sinks.Sink, error) { return downSink{}, nil },
	},
}

// rotConfig is the agent config of these tests: one source over logs/<glob>, one sink.
func rotConfig(t *testing.T, dir, glob, sourceExtra, sink string) *config.Config {
	return testConfig(t, dir, fmt.Sprintf(`
state_dir: ./state
shutdown_timeout: 1s
sources:
  - name: backend
    paths: ["./logs/%s"]
    format: json
%s
sinks:
%s
`, glob, sourceExtra, sink), rotFactories)
}

const archiveSink = `  - name: archive
    type: file
    path: ./out/events.jsonl
`

// rotRun is an agent running in follow mode.
type rotRun struct {
	a      *agent
	cancel context.CancelFunc
	done   chan error
}

func rotStart(t *testing.T, cfg *config.Config) *rotRun {
	t.Helper()
	a, err := start(cfg, quietLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &rotRun{a: a, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- a.run(ctx, Options{}) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (r *rotRun) stop(t *testing.T) {
	t.Helper()
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("agent did not stop")
	}
}

func rotLine(k int) string {
	return fmt.Sprintf(`{"level":"info","message":"line %d",`+
		`"timestamp":"2026-12-03T10:00:%02d.%03dZ"}`+"\n", k, k/1000%60, k%1000)
}

func rotLines(from, to int) string {
	var b strings.Builder
	for k := from; k < to; k++ {
		b.WriteString(rotLine(k))
	}
	return b.String()
}

func rotAppend(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

var numbered = regexp.MustCompile(`^(?:line|entry) (\d+)$`)

// rotCounts counts the events of the file sink by number; other events are errors.
func rotCounts(t *testing.T, out string) map[int]int {
	t.Helper()
	n := map[int]int{}
	for _, e := range readOut(t, out) {
		m := numbered.FindStringSubmatch(e.Message)
		if m == nil {
			t.Errorf("unexpected event %q from %s", e.Message, e.Path)
			continue
		}
		k, _ := strconv.Atoi(m[1])
		n[k]++
	}
	return n
}

// rotExpectEach checks that lines 0..n-1 arrived exactly once each, and nothing else.
func rotExpectEach(t *testing.T, out string, n int) {
	t.Helper()
	got := rotCounts(t, out)
	var bad []string
	for k := range n {
		if got[k] != 1 {
			bad = append(bad, fmt.Sprintf("%d×%d", k, got[k]))
		}
	}
	if len(bad) > 0 || len(got) != n {
		if len(bad) > 20 {
			bad = append(bad[:20], "...")
		}
		t.Fatalf("%d distinct lines for %d written; wrong counts (line×count): %s", len(got), n,
			strings.Join(bad, " "))
	}
}

func deletedInDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	var open []string
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err == nil && strings.HasPrefix(target, dir) && strings.HasSuffix(target, "(deleted)") {
			open = append(open, target)
		}
	}
	return open
}

// Case 2 through the agent: with the sink down (every send fails and is retried), a rotated
// file that is deleted is still read to its end into the disk buffer and then closed, so
// its space is freed; nothing is lost once the sink is back (here: the next run with a
// working sink delivers the buffered events).
func TestDeletedFileClosedWhileSinkDown(t *testing.T) {
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	os.MkdirAll(logs, 0o755)
	down := `  - name: archive
    type: down
`
	r := rotStart(t, rotConfig(t, dir, "*.log", "", down))
	active := filepath.Join(logs, "combined.log")
	w, err := os.OpenFile(active, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.WriteString(rotLines(0, 100))
	waitFor(t, "100 events buffered", 10*time.Second, func() bool {
		return counterValue(t, r.a.m.buffered) >= 100
	})
	if err := os.Rename(active, active+".1"); err != nil {
		t.Fatal(err)
	}
	w.WriteString(rotLines(100, 3000))
	if err := os.Remove(active + ".1"); err != nil {
		t.Fatal(err)
	}
	w.WriteString(rotLines(3000, 3010))
	w.Close()
	waitFor(t, "every event buffered", 10*time.Second, func() bool {
		return counterValue(t, r.a.m.buffered) >= 3010
	})
	waitFor(t, "the deleted file to be closed", 10*time.Second, func() bool {
		return len(deletedInDir(t, logs)) == 0
	})
	if got := counterValue(t, r.a.m.buffered); got != 3010 {
		t.Fatalf("%v events buffered, want 3010", got)
	}
	r.stop(t)
}

// Case 4 through the agent: run, stop, change the files, run again.
func TestRestartAcrossChangesThroughAgent(t *testing.T) {
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	os.MkdirAll(logs, 0o755)
	cfg := rotConfig(t, dir, "*.log", "", archiveSink)
	out := filepath.Join(dir, "out/events.jsonl")
	path := func(name string) string { return filepath.Join(logs, name) }

	rotAppend(t, path("combined.log"), rotLines(0, 100))
	rotAppend(t, path("error.log"), rotLines(100, 150))
	rotAppend(t, path("access.log"), rotLines(150, 200))
	r := rotStart(t, cfg)
	waitFor(t, "the first 200 lines", 10*time.Second, func() bool {
		return len(readOut(t, out)) >= 200
	})
	r.stop(t)

	// While stopped: combined.log gets lines, is rotated out of the glob, a new one starts;
	// error.log is truncated and refilled beyond its old size; access.log gets lines.
	rotAppend(t, path("combined.log"), rotLines(200, 250))
	if err := os.Rename(path("combined.log"), path("combined.log.1")); err != nil {
		t.Fatal(err)
	}
	rotAppend(t, path("combined.log"), rotLines(250, 300))
	if err := os.WriteFile(path("error.log"), []byte(rotLines(300, 400)), 0o644); err != nil {
		t.Fatal(err)
	}
	rotAppend(t, path("access.log"), rotLines(400, 450))

	r = rotStart(t, cfg)
	waitFor(t, "450 lines", 10*time.Second, func() bool { return len(readOut(t, out)) >= 450 })
	rotAppend(t, path("combined.log"), rotLines(450, 460))
	waitFor(t, "460 lines", 10*time.Second, func() bool { return len(readOut(t, out)) >= 460 })
	r.stop(t)
	rotExpectEach(t, out, 460)
}

// Case 6 through the agent: an over-long line is cut, flagged and counted, and after a
// restart neither it nor what followed it is sent again.
func TestOverLongLineAcrossRestartThroughAgent(t *testing.T) {
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	os.MkdirAll(logs, 0o755)
	cfg := rotConfig(t, dir, "*.log", "    max_line_bytes: 2KiB", archiveSink)
	out := filepath.Join(dir, "out/events.jsonl")
	active := filepath.Join(logs, "combined.log")
	long := `{"level":"info","message":"long ` + strings.Repeat("y", 10000) + `"}` + "\n"
	rotAppend(t, active, rotLine(0)+long+rotLine(1))

	r := rotStart(t, cfg)
	waitFor(t, "3 events", 10*time.Second, func() bool { return len(readOut(t, out)) >= 3 })
	if got := r.a.srcM.Snapshot()["truncated"]; got != 1 {
		t.Errorf("truncated lines counter %d, want 1", got)
	}
	r.stop(t)
	rotAppend(t, active, rotLine(2))
	r = rotStart(t, cfg)
	waitFor(t, "4 events", 10*time.Second, func() bool { return len(readOut(t, out)) >= 4 })
	r.stop(t)

	events := readOut(t, out)
	if len(events) != 4 {
		t.Fatalf("%d events, want 4", len(events))
	}
	if m := events[1].Message; len(m) > 2048 || !strings.Contains(m, "long yyy") {
		t.Fatalf("cut event: %d bytes: %.60q", len(m), m)
	}
	for i, want := range []string{"line 0", "", "line 1", "line 2"} {
		if want != "" && events[i].Message != want {
			t.Fatalf("event %d: %q, want %q", i, events[i].Message, want)
		}
	}
}
