package agent

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/winship/winship/agent/config"
	"github.com/winship/winship/sinks"
	"github.com/winship/winship/sinks/file"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var testFactories = map[string]sinks.Factory{"file": file.Factory}

// testConfig writes a config into dir and loads it. extra is appended to the file sink.
func testConfig(t testing.TB, dir, body string, factories map[string]sinks.Factory) *config.Config {
	t.Helper()
	p := filepath.Join(dir, "winship.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(p, factories)
	if err != nil {
		t.Fatalf("load config: %v", err)
	}
	return cfg
}

func fileSinkConfig(t testing.TB, dir string) *config.Config {
	return testConfig(t, dir, `
state_dir: ./state
sources:
  - name: backend
    paths: ["./logs/*.log"]
    format: json
sinks:
  - name: archive
    type: file
    path: ./out/events.jsonl
`, testFactories)
}

func quietLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

type outEvent struct {
	Timestamp string          `json:"timestamp"`
	Level     string          `json:"level"`
	Message   string          `json:"message"`
	Stack     string          `json:"stack"`
	Source    string          `json:"source"`
	Path      string          `json:"path"`
	Fields    json.RawMessage `json:"fields"`
}

func readOut(t *testing.T, path string) []outEvent {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []outEvent
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var e outEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("output line is not JSON: %v: %s", err, sc.Text())
		}
		out = append(out, e)
	}
	return out
}

func countLines(t *testing.T, path string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(data), "\n")
}

func runOnce(t *testing.T, cfg *config.Config) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := Run(ctx, cfg, quietLogger(t), Options{Once: true, Timeout: 50 * time.Second}); err != nil {
		t.Fatalf("run --once: %v", err)
	}
}

func TestOnceShipsEveryEntryExactlyOnce(t *testing.T) {
	dir := t.TempDir()
	copyFile(t, "testdata/combined.log", filepath.Join(dir, "logs/combined.log"))
	copyFile(t, "testdata/error.log", filepath.Join(dir, "logs/error.log"))
	cfg := fileSinkConfig(t, dir)
	want := countLines(t, filepath.Join(dir, "logs/combined.log")) +
		countLines(t, filepath.Join(dir, "logs/error.log"))

	runOnce(t, cfg)
	out := readOut(t, filepath.Join(dir, "out/events.jsonl"))
	if len(out) != want {
		t.Fatalf("first run wrote %d events, want %d", len(out), want)
	}

	runOnce(t, cfg)
	if got := len(readOut(t, filepath.Join(dir, "out/events.jsonl"))); got != want {
		t.Fatalf("second run: %d events, want still %d", got, want)
	}

	f, err := os.OpenFile(filepath.Join(dir, "logs/combined.log"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		fmt.Fprintf(f, `{"level":"info","message":"appended %d","timestamp":"2026-12-03T10:00:00.000Z"}`+"\n", i)
	}
	f.Close()
	runOnce(t, cfg)
	out = readOut(t, filepath.Join(dir, "out/events.jsonl"))
	if len(out) != want+10 {
		t.Fatalf("third run: %d events, want %d", len(out), want+10)
	}
	for i, e := range out[want:] {
		if e.Message != fmt.Sprintf("appended %d", i) {
			t.Errorf("appended event %d: message %q", i, e.Message)
		}
	}
}
