package agent

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/winship/winship/sinks/http/httpfake"
)

// mountTmpfs mounts a small tmpfs at dir for the test, or skips when mounting is not
// allowed (not root, no privileges).
func mountTmpfs(t *testing.T, dir, size string) {
	t.Helper()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
}

// TestFullDiskPausesReadingAndRecovers: state_dir on a 3 MiB file system that fills up while
// a sink is down. Reading pauses (nothing is lost, the buffer is not corrupted); once the
// sink is back and every sink has taken the full segment, the disk is reclaimed and every
// line arrives at both sinks.
func TestFullDiskPausesReadingAndRecovers(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	os.MkdirAll(state, 0o755)
	mountTmpfs(t, state, "3m")
	fake := httpfake.New(t, httpfake.Config{})
	fake.Down(httpfake.Answer{Status: 503})
	os.MkdirAll(filepath.Join(dir, "logs"), 0o755)
	cfg := testConfig(t, dir, fmt.Sprintf(`
state_dir: ./state
sources: [{name: backend, paths: ["./logs/*.log"], format: json}]
sinks:
  - name: api
    type: http
    url: %s
    retry: { initial_backoff: 20ms, max_backoff: 200ms }
  - name: archive
    type: file
    path: ./out/events.jsonl
`, fake.URL), httpFactories)
	const total = 40000
	appendNumbered(t, filepath.Join(dir, "logs/combined.log"), 0, total, 0)
	a, stop := startInProcess(t, cfg)
	waitFor(t, "a buffer write error (disk full)", 60*time.Second, func() bool {
		return counterValue(t, a.m.bufferErrors) > 0
	})
	fake.Up()
	waitAccepted(t, fake, total)
	waitFor(t, "every line in the file sink", 60*time.Second, func() bool {
		return len(readOut(t, filepath.Join(dir, "out/events.jsonl"))) >= total
	})
	stop()
	checkEachOnce(t, fake, total)
	if n := len(readOut(t, filepath.Join(dir, "out/events.jsonl"))); n != total {
		t.Fatalf("file sink has %d events, want %d", n, total)
	}
}
