package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/winship/winship/sinks/http/httpfake"
)

// binPath is the winship binary built once for the end-to-end tests.
var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "winship-e2e")
	if err != nil {
		panic(err)
	}
	os.Chmod(dir, 0o755) // tests may run the binary as another user
	binPath = filepath.Join(dir, "winship")
	args := []string{"build", "-o", binPath}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, ".")...)
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build winship:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// repoRoot is the repository's top folder (where node_modules lives).
func repoRoot(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// requireNode skips the test when node or the npm packages are missing, except in CI.
func requireNode(t *testing.T) {
	t.Helper()
	_, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(repoRoot(t), "node_modules", "winston"))
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("node and npm packages are required in CI (run npm ci): %v", err)
		}
		t.Skipf("node or node_modules missing (run npm ci): %v", err)
	}
}

// winstonApp runs testdata/node/winston-app.js: count entries numbered from start.
func winstonApp(t *testing.T, out string, count, start int, format string) {
	t.Helper()
	requireNode(t)
	cmd := exec.Command("node", filepath.Join(repoRoot(t), "testdata/node/winston-app.js"),
		out, fmt.Sprint(count), format, fmt.Sprint(start))
	cmd.Dir = repoRoot(t)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("winston-app: %v\n%s", err, b)
	}
}

func writeConfig(t *testing.T, dir, extra string) string {
	t.Helper()
	p := filepath.Join(dir, "winship.yaml")
	body := `state_dir: ./state
sources:
  - name: backend
    paths: ["./logs/*.log"]
    format: json
sinks:
  - name: archive
    type: file
    path: ./out/events.jsonl
` + extra
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func runOnce(t *testing.T, cfg string) string {
	t.Helper()
	cmd := exec.Command(binPath, "run", "--once", "--timeout", "60s", "-c", cfg)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("winship run --once: %v\n%s", err, stderr.String())
	}
	return stderr.String()
}

type outEvent struct {
	Level   string          `json:"level"`
	Message string          `json:"message"`
	Path    string          `json:"path"`
	Fields  json.RawMessage `json:"fields"`
	Flags   []string        `json:"flags"`
}

func readEvents(t *testing.T, path string) []outEvent {
	t.Helper()
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []outEvent
	for _, line := range bytes.Split(data, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var e outEvent
		if err := json.Unmarshal(line, &e); err != nil {
			t.Fatalf("bad output line %q: %v", line, err)
		}
		out = append(out, e)
	}
	return out
}

// entryKey identifies an entry: the file it came from and its message.
func entryKey(path, msg string) string { return filepath.Base(path) + "\x00" + msg }

// winstonEntries reads every entry's message from the JSON log files in dir.
func winstonEntries(t *testing.T, dir string) map[string]int {
	t.Helper()
	want := map[string]int{}
	files, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var e struct{ Message string }
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			want[entryKey(f, e.Message)]++
		}
		fh.Close()
	}
	return want
}

// checkExactlyOnce compares the output with the entries: each once, message intact.
func checkExactlyOnce(t *testing.T, got []outEvent, want map[string]int) {
	t.Helper()
	seen := map[string]int{}
	for _, e := range got {
		seen[entryKey(e.Path, e.Message)]++
	}
	missing, dup := 0, 0
	for k, n := range want {
		if seen[k] < n {
			missing++
			if missing <= 5 {
				t.Errorf("missing: %q", strings.ReplaceAll(k, "\x00", " | "))
			}
		}
		if seen[k] > n {
			dup++
		}
	}
	for k := range seen {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected event %q", k)
		}
	}
	if missing > 0 || dup > 0 || len(got) != sum(want) {
		t.Fatalf("%d events for %d entries: %d missing, %d duplicated", len(got), sum(want),
			missing, dup)
	}
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// TestEndToEndRealWinston is issue 2's "done when": real Winston output, --once, exactly one
// event per entry with its message; a second run adds nothing; appended entries add exactly
// themselves.
func TestEndToEndRealWinston(t *testing.T) {
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	winstonApp(t, logs, 300, 0, "json")
	cfg := writeConfig(t, dir, "")
	out := filepath.Join(dir, "out/events.jsonl")

	runOnce(t, cfg)
	checkExactlyOnce(t, readEvents(t, out), winstonEntries(t, logs))

	runOnce(t, cfg)
	checkExactlyOnce(t, readEvents(t, out), winstonEntries(t, logs))

	winstonApp(t, logs, 10, 1000, "json")
	before := len(readEvents(t, out))
	runOnce(t, cfg)
	got := readEvents(t, out)
	checkExactlyOnce(t, got, winstonEntries(t, logs))
	// 10 entries, 3 of them errors (n % 10 in 0..2), which Winston writes to both files.
	if added := len(got) - before; added != 13 {
		t.Fatalf("third run added %d events, want 13", added)
	}
}

// startAgent runs the binary in follow mode.
func startAgent(t *testing.T, cfg string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(binPath, "run", "-c", cfg)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd, &stderr
}

func stopAgent(t *testing.T, cmd *exec.Cmd, stderr *bytes.Buffer) {
	t.Helper()
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("agent exited with %v after SIGTERM\n%s", err, stderr)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("agent did not stop after SIGTERM\n%s", stderr)
	}
}

func waitEvents(t *testing.T, out string, n int, timeout time.Duration) []outEvent {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := readEvents(t, out)
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("have %d events, want %d after %s", len(got), n, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func appendLines(t *testing.T, path string, from, to int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	for i := from; i < to; i++ {
		fmt.Fprintf(w, `{"level":"info","message":"line %d","n":%d,"service":"crm","timestamp":"2026-12-03T10:00:00.000Z"}`+"\n", i, i)
	}
	w.Flush()
}

// TestRestartAfterCleanStopShipsOnlyNewLines: stop with SIGTERM, append, start → only the
// new lines.
func TestRestartAfterCleanStopShipsOnlyNewLines(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "logs/combined.log")
	os.MkdirAll(filepath.Dir(log), 0o755)
	appendLines(t, log, 0, 1000)
	cfg := writeConfig(t, dir, "")
	out := filepath.Join(dir, "out/events.jsonl")

	cmd, stderr := startAgent(t, cfg)
	waitEvents(t, out, 1000, 30*time.Second)
	stopAgent(t, cmd, stderr)

	appendLines(t, log, 1000, 1500)
	cmd, stderr = startAgent(t, cfg)
	got := waitEvents(t, out, 1500, 30*time.Second)
	stopAgent(t, cmd, stderr)
	got = readEvents(t, out)
	if len(got) != 1500 {
		t.Fatalf("%d events after restart, want exactly 1500", len(got))
	}
	for i, e := range got {
		if e.Message != fmt.Sprintf("line %d", i) {
			t.Fatalf("event %d is %q", i, e.Message)
		}
	}
}

// TestKill9LosesNothing kills the agent with SIGKILL several times while it ships a large
// file that keeps growing; after a final --once, every line is present at least once.
func TestKill9LosesNothing(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "logs/combined.log")
	os.MkdirAll(filepath.Dir(log), 0o755)
	total := 200_000
	if testing.Short() {
		total = 20_000
	}
	appendLines(t, log, 0, total/2)
	cfg := writeConfig(t, dir, "")
	out := filepath.Join(dir, "out/events.jsonl")

	next := total / 2
	for round := 0; round < 5; round++ {
		cmd, _ := startAgent(t, cfg)
		// Kill at a different moment each round, while lines are being read and shipped.
		time.Sleep(time.Duration(50+round*70) * time.Millisecond)
		appendLines(t, log, next, next+total/10)
		next += total / 10
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
	}
	runOnce(t, cfg)
	got := readEvents(t, out)
	seen := make([]int, next)
	for _, e := range got {
		var n int
		if _, err := fmt.Sscanf(e.Message, "line %d", &n); err != nil || n >= next {
			t.Fatalf("bad event %q", e.Message)
		}
		seen[n]++
	}
	dups := 0
	for n, c := range seen {
		if c == 0 {
			t.Fatalf("line %d lost after kill -9 (%d events for %d lines)", n, len(got), next)
		}
		dups += c - 1
	}
	t.Logf("%d lines, %d events, %d duplicates after 5 kill -9", next, len(got), dups)
}

// TestKill9WithFlakySinkLosesNothing: a writer appends while the agent is killed with
// SIGKILL at random moments, and the HTTP sink fails at random; at the end every line
// arrived at least once. The number of duplicates is printed.
func TestKill9WithFlakySinkLosesNothing(t *testing.T) {
	rounds := 8
	if os.Getenv("WINSHIP_STRESS") != "" {
		rounds = 60
	}
	fake := httpfake.New(t, httpfake.Config{RequireGzip: true})
	rng := rand.New(rand.NewPCG(1, 2))
	var rngMu sync.Mutex
	fake.Script(func(n int) *httpfake.Answer {
		rngMu.Lock()
		defer rngMu.Unlock()
		switch rng.IntN(10) {
		case 0:
			return &httpfake.Answer{Status: 503}
		case 1:
			return &httpfake.Answer{Reset: true}
		case 2:
			return &httpfake.Answer{LoseAnswer: true}
		}
		return nil
	})
	dir := t.TempDir()
	log := filepath.Join(dir, "logs/combined.log")
	os.MkdirAll(filepath.Dir(log), 0o755)
	cfg := httpConfig(t, dir, fake.URL, `    batch: { max_events: 300, max_wait: 20ms }
    retry: { initial_backoff: 10ms, max_backoff: 100ms }
`)

	next := 0
	for round := 0; round < rounds; round++ {
		cmd, _ := startAgent(t, cfg)
		for k := 0; k < 5; k++ {
			appendLines(t, log, next, next+2000)
			next += 2000
			time.Sleep(time.Duration(rand.IntN(40)) * time.Millisecond) // a random kill moment
		}
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
	}
	fake.Script(nil)
	runOnce(t, cfg)
	seen := make([]int, next)
	for _, e := range fake.Events() {
		var n int
		if _, err := fmt.Sscanf(e.Str("message"), "line %d", &n); err != nil || n >= next {
			t.Fatalf("unexpected event %s", e.Raw)
		}
		seen[n]++
	}
	dups := 0
	for n, c := range seen {
		if c == 0 {
			t.Fatalf("line %d lost (%d lines written, %d rounds of kill -9)", n, next, rounds)
		}
		dups += c - 1
	}
	t.Logf("%d lines, %d kill -9, random 503/reset/lost answers: %d duplicates (%.2f%%)",
		next, rounds, dups, 100*float64(dups)/float64(next))
}

// TestCopytruncateWhileStoppedReadsTheCopy: logrotate's copytruncate runs while winship is
// stopped; the lines written after winship's last read are only in the copy
// (combined.log.1, outside the glob). The next start reads them from the copy, then the
// truncated file from its start; nothing lost, nothing doubled, and a later run adds nothing.
func TestCopytruncateWhileStoppedReadsTheCopy(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "logs/combined.log")
	os.MkdirAll(filepath.Dir(log), 0o755)
	cfg := writeConfig(t, dir, "")
	out := filepath.Join(dir, "out/events.jsonl")
	appendLines(t, log, 0, 20)
	runOnce(t, cfg)
	appendLines(t, log, 20, 30)
	data, _ := os.ReadFile(log)
	os.WriteFile(log+".1", data, 0o644)
	os.Truncate(log, 0)
	appendLines(t, log, 30, 31)
	stderr := runOnce(t, cfg)
	got := readEvents(t, out)
	if len(got) != 31 {
		t.Fatalf("%d events, want 31\n%s", len(got), stderr)
	}
	for i, e := range got {
		if e.Message != fmt.Sprintf("line %d", i) {
			t.Fatalf("event %d is %q\n%s", i, e.Message, stderr)
		}
	}
	stderr = runOnce(t, cfg)
	if n := len(readEvents(t, out)); n != 31 || strings.Contains(stderr, "level=WARN") {
		t.Fatalf("a later run: %d events\n%s", n, stderr)
	}
}

// httpConfig writes a config with one JSON source over ./logs and one http sink at url;
// extra is appended to the sink's keys.
func httpConfig(t *testing.T, dir, url, extra string) string {
	t.Helper()
	p := filepath.Join(dir, "winship.yaml")
	body := `state_dir: ./state
sources:
  - name: backend
    paths: ["./logs/*.log"]
    format: json
sinks:
  - name: api
    type: http
    url: ` + url + "\n" + extra
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
