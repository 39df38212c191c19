package agent

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/winship/winship/agent/config"
	"github.com/winship/winship/sinks"
	"github.com/winship/winship/sinks/betterstack"
	"github.com/winship/winship/sinks/betterstack/bsfake"
	"github.com/winship/winship/sinks/file"
	"github.com/winship/winship/sinks/http/httpfake"
)

const bsToken = "bs-test-token-1234567890"

// winstonLogs runs the repository's Winston stand-in (testdata/node/winston-app.js).
func winstonLogs(t *testing.T, out string, count int) {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..")
	if _, err := exec.LookPath("node"); err != nil || !exists(filepath.Join(root, "node_modules/winston")) {
		if os.Getenv("CI") == "true" {
			t.Fatal("node and node_modules are required in CI (npm ci)")
		}
		t.Skip("node or node_modules missing (npm ci)")
	}
	cmd := exec.Command("node", filepath.Join(root, "testdata/node/winston-app.js"), out, fmt.Sprint(count))
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("winston-app: %v\n%s", err, b)
	}
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

func bsConfig(t *testing.T, dir, endpoint, paths string) *config.Config {
	t.Helper()
	t.Setenv("BS_TOKEN", bsToken)
	return testConfig(t, dir, fmt.Sprintf(`
state_dir: ./state
sources:
  - name: backend
    paths: [%s]
    format: json
sinks:
  - name: logs
    type: betterstack
    source_token: ${BS_TOKEN}
    endpoint: %s
    quota_probe: 50ms
    retry: { initial_backoff: 20ms, max_backoff: 200ms }
`, paths, endpoint), map[string]sinks.Factory{"betterstack": betterstack.Factory,
		"file": file.Factory})
}

// TestBetterStackRealWinston: every combined.log entry arrives once with dt, level, message
// and every field intact (Uzbek, Russian, emoji, nested objects, [Circular]).
func TestBetterStackRealWinston(t *testing.T) {
	dir := t.TempDir()
	winstonLogs(t, filepath.Join(dir, "logs"), 300)
	fake := bsfake.New(t, bsToken, nil)
	cfg := bsConfig(t, dir, fake.URL, `"./logs/combined.log"`)
	runOnce(t, cfg)

	data, err := os.ReadFile(filepath.Join(dir, "logs/combined.log"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	got := map[string]httpfake.Event{}
	for _, e := range fake.Events() {
		if _, dup := got[e.Str("message")]; dup {
			t.Fatalf("delivered twice: %s", e.Raw)
		}
		got[e.Str("message")] = e
	}
	if len(got) != len(lines) {
		t.Fatalf("%d events for %d lines", len(got), len(lines))
	}
	for _, line := range lines {
		var entry map[string]any
		dec := json.NewDecoder(strings.NewReader(line))
		dec.UseNumber()
		if err := dec.Decode(&entry); err != nil {
			t.Fatal(err)
		}
		e, ok := got[entry["message"].(string)]
		if !ok {
			t.Fatalf("entry %q missing", entry["message"])
		}
		if e.Str("level") != entry["level"] || e.Str("dt") != entry["timestamp"] {
			t.Errorf("%q: level %q dt %q", entry["message"], e.Str("level"), e.Str("dt"))
		}
		for k, v := range entry {
			switch k {
			case "timestamp", "level", "message":
				continue
			}
			if !reflect.DeepEqual(e.Map[k], v) {
				t.Errorf("%q: field %s = %v, want %v", entry["message"], k, e.Map[k], v)
			}
		}
	}
	if p := fake.Problems(); len(p) > 0 {
		t.Fatalf("problems: %v", p)
	}
}

// TestBetterStackScriptedAnswers: 500, 500 then 202; 413 above a size; a poison event
// answered 406 forever; 402 for a while. Nothing is lost, the poison event is
// dead-lettered, every other event arrives once, and every request stays within limits.
func TestBetterStackScriptedAnswers(t *testing.T) {
	dir := t.TempDir()
	fake := bsfake.New(t, bsToken, func(c *httpfake.Config) { c.MaxBodyBytes = 16 << 10 })
	fake.Queue(httpfake.Answer{Status: 500}, httpfake.Answer{Status: 500})
	fake.Quota(3)
	fake.Poison(406, func(e httpfake.Event) bool { return e.Str("message") == "line 1234" })
	os.MkdirAll(filepath.Join(dir, "logs"), 0o755)
	appendNumbered(t, filepath.Join(dir, "logs/combined.log"), 0, 3000, 30)
	cfg := bsConfig(t, dir, fake.URL, `"./logs/*.log"`)
	runOnce(t, cfg)

	seen := map[string]int{}
	for _, e := range fake.Events() {
		seen[e.Str("message")]++
	}
	for i := 0; i < 3000; i++ {
		m := fmt.Sprintf("line %d", i)
		want := 1
		if i == 1234 {
			want = 0
		}
		if seen[m] != want {
			t.Fatalf("%s delivered %d times", m, seen[m])
		}
	}
	for _, r := range fake.Requests() {
		if r.Status == 202 && r.WireBytes > 16<<10 {
			t.Fatalf("accepted a request of %d bytes over the limit", r.WireBytes)
		}
	}
	dl, err := os.ReadFile(filepath.Join(cfg.StateDir, "deadletter/logs.jsonl"))
	if err != nil || strings.Count(string(dl), "\n") != 1 || !strings.Contains(string(dl), `"line 1234"`) ||
		!strings.Contains(string(dl), `"status":406`) {
		t.Fatalf("dead letters: %v %s", err, dl)
	}
	if strings.Contains(string(dl), bsToken) {
		t.Fatal("the token is in the dead-letter file")
	}
	if p := fake.Problems(); len(p) > 0 {
		t.Fatalf("problems: %v", p)
	}
}
