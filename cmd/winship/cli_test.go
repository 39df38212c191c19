package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/winship/winship/sinks/betterstack/bsfake"
	"github.com/winship/winship/sinks/http/httpfake"
	"github.com/winship/winship/sinks/sentry/sentryfake"
)

func run(t *testing.T, dir string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

// TestEmbeddedDefault is the README's first command on a fresh machine: no config file,
// ./logs/*.log into ./out/events.jsonl, and a line appended shows up within a second.
func TestEmbeddedDefault(t *testing.T) {
	if _, err := os.Stat("/etc/winship/config.yaml"); err == nil {
		t.Skip("/etc/winship/config.yaml exists: the embedded default is not used here")
	}
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "logs"), 0o755)
	cmd := exec.Command(binPath, "run")
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	out := filepath.Join(dir, "out/events.jsonl")
	waitFor := func(n int) time.Duration {
		start := time.Now()
		for len(readEvents(t, out)) < n {
			if time.Since(start) > 10*time.Second {
				t.Fatalf("no event after 10s\n%s", stderr.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
		return time.Since(start)
	}
	// The agent starts asynchronously: the first line also proves it is watching.
	appendLines(t, filepath.Join(dir, "logs/combined.log"), 0, 1)
	waitFor(1)
	appendLines(t, filepath.Join(dir, "logs/combined.log"), 1, 2)
	if took := waitFor(2); took > time.Second {
		t.Errorf("a line appended took %s to arrive", took)
	}
	stopAgent(t, cmd, &stderr)
	if !strings.Contains(stderr.String(), "embedded default") {
		t.Errorf("no word about the embedded default:\n%s", stderr.String())
	}
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	good := writeConfig(t, dir, "")
	stdout, stderr, code := run(t, dir, nil, "validate", "-c", good)
	if code != 0 || !strings.HasPrefix(stdout, "config OK: 1 source(s): backend (json, 1 path(s)); 1 sink(s): archive (file)") {
		t.Fatalf("validate good: %d %q %q", code, stdout, stderr)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte(`sources: [{name: a, paths: [a.log]}]
sinks:
  - name: logs
    type: betterstack
    source_token: ${WINSHIP_TEST_TOKEN}
  - name: errors
    type: sentry
    dsn: https://abcdef0123456789abcdef0123456789@o1.ingest.sentry.io/
`), 0o644)
	_, stderr, code = run(t, dir, nil, "validate", "-c", bad)
	if code == 0 || !strings.Contains(stderr, "bad.yaml:5: sinks[0].source_token: environment variable WINSHIP_TEST_TOKEN is not set") {
		t.Fatalf("unset token: %d %q", code, stderr)
	}
	_, stderr, code = run(t, dir, []string{"WINSHIP_TEST_TOKEN=supersecrettoken"}, "validate", "-c", bad)
	if code == 0 || !strings.Contains(stderr, "sinks[1].dsn") || strings.Contains(stderr, "abcdef0123456789") {
		t.Fatalf("DSN without a project: %d %q", code, stderr)
	}
	if strings.Contains(stderr, "supersecrettoken") || strings.Contains(stderr, "Usage:") {
		t.Fatalf("secret or usage in the error: %q", stderr)
	}
}

// TestTestSink sends one event to each kind of sink through `winship test-sink`.
func TestTestSink(t *testing.T) {
	dir := t.TempDir()
	sf := sentryfake.New(t, sentryfake.Options{})
	bs := bsfake.New(t, "tok-123456", nil)
	cfg := writeConfig(t, dir, `  - name: errors
    type: sentry
    dsn: `+sf.DSN()+`
  - name: logs
    type: betterstack
    source_token: tok-123456
    endpoint: `+bs.URL+`
`)
	stdout, stderr, code := run(t, dir, nil, "test-sink", "errors", "-c", cfg)
	if code != 0 || !strings.Contains(stdout, "status: 200") || len(sf.Events()) != 1 {
		t.Fatalf("sentry: %d %q %q", code, stdout, stderr)
	}
	stdout, stderr, code = run(t, dir, nil, "test-sink", "logs", "-c", cfg)
	if code != 0 || !strings.Contains(stdout, "202") || len(bs.Events()) != 1 || strings.Contains(stdout, "tok-123456") {
		t.Fatalf("betterstack: %d %q %q", code, stdout, stderr)
	}
	stdout, stderr, code = run(t, dir, nil, "test-sink", "archive", "-c", cfg)
	if code != 0 || len(readEvents(t, filepath.Join(dir, "out/events.jsonl"))) != 1 {
		t.Fatalf("file: %d %q %q", code, stdout, stderr)
	}
	_, stderr, code = run(t, dir, nil, "test-sink", "nope", "-c", cfg)
	if code == 0 || !strings.Contains(stderr, `no sink named "nope"`) {
		t.Fatalf("unknown sink: %d %q", code, stderr)
	}
}

// TestOnceTimeoutExitsNonZeroAndKeepsTheRest: --once with a sink that never accepts gives
// up after --timeout with exit 1; the next run with the sink up delivers everything.
func TestOnceTimeoutExitsNonZeroAndKeepsTheRest(t *testing.T) {
	dir := t.TempDir()
	bs := bsfake.New(t, "tok-123456", nil)
	bs.Down(httpfake.Answer{Status: 503})
	cfg := writeConfig(t, dir, `    min_level: error
  - name: logs
    type: betterstack
    source_token: tok-123456
    endpoint: `+bs.URL+`
    retry: { initial_backoff: 20ms, max_backoff: 100ms }
`)
	os.MkdirAll(filepath.Join(dir, "logs"), 0o755)
	appendLines(t, filepath.Join(dir, "logs/combined.log"), 0, 100)
	start := time.Now()
	_, stderr, code := run(t, dir, nil, "run", "--once", "--timeout", "1s", "-c", cfg)
	if code != 1 || !strings.Contains(stderr, "timed out") || time.Since(start) > 15*time.Second {
		t.Fatalf("exit %d after %s: %s", code, time.Since(start), stderr)
	}
	bs.Up()
	_, stderr, code = run(t, dir, nil, "run", "--once", "--timeout", "30s", "-c", cfg)
	if code != 0 || len(bs.Events()) != 100 {
		t.Fatalf("second run: exit %d, %d events: %s", code, len(bs.Events()), stderr)
	}
}

func TestRunFlagsAreChecked(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, "")
	if _, stderr, code := run(t, dir, nil, "run", "--timeout", "5s", "-c", cfg); code == 0 ||
		!strings.Contains(stderr, "--timeout applies only with --once") {
		t.Errorf("--timeout without --once: %d %q", code, stderr)
	}
	if _, stderr, code := run(t, dir, nil, "run", "--once", "--timeout", "-1s", "-c", cfg); code == 0 ||
		!strings.Contains(stderr, "must not be negative") {
		t.Errorf("negative --timeout: %d %q", code, stderr)
	}
}

// TestOnceFailsOnAnUnreadableFile: --once delivers what it can read and exits 1 when a
// matched file could not be opened, so cron notices. As root, the agent runs as nobody.
func TestOnceFailsOnAnUnreadableFile(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, "")
	os.MkdirAll(filepath.Join(dir, "logs"), 0o755)
	appendLines(t, filepath.Join(dir, "logs/a.log"), 0, 5)
	appendLines(t, filepath.Join(dir, "logs/b.log"), 0, 5)
	os.Chmod(filepath.Join(dir, "logs/b.log"), 0)
	cmd := exec.Command(binPath, "run", "--once", "-c", cfg)
	if os.Geteuid() == 0 {
		for _, d := range []string{filepath.Dir(dir), dir, filepath.Join(dir, "logs")} {
			os.Chmod(d, 0o777)
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 ||
		!strings.Contains(stderr.String(), "could not be opened") {
		t.Fatalf("%v: %s", err, stderr.String())
	}
	if n := len(readEvents(t, filepath.Join(dir, "out/events.jsonl"))); n != 5 {
		t.Fatalf("%d events from the readable file, want 5", n)
	}
}
