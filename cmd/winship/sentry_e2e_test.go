package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/winship/winship/sinks/sentry/sentryfake"
)

func sentryConfig(t *testing.T, dir, typ, dsn string) string {
	t.Helper()
	p := filepath.Join(dir, "winship.yaml")
	body := fmt.Sprintf(`state_dir: ./state
sources:
  - name: backend
    paths: ["./logs/*.log"]
    format: json
sinks:
  - name: errors
    type: %s
    dsn: ${TEST_DSN}
    environment: production
    tag_fields: [service]
    retry: { initial_backoff: 50ms, max_backoff: 1s }
`, typ)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TEST_DSN", dsn)
	return p
}

// errorEntries returns the messages of the distinct error entries in the Winston logs.
func errorEntries(t *testing.T, dir string) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, f := range []string{"error.log", "combined.log"} {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			var e map[string]any
			if err := json.Unmarshal([]byte(line), &e); err != nil {
				t.Fatal(err)
			}
			if e["level"] == "error" {
				out[e["message"].(string)] = e
			}
		}
	}
	return out
}

// TestSentryEndToEnd is issue 4's "done when" through the binary: real Winston output,
// each distinct error once although it is in both files, the right level, exception and
// frames, frontend errors with request and user, a 429 window respected, nothing lost;
// then a YAML edit switches the same errors' successors to a GlitchTip server.
func TestSentryEndToEnd(t *testing.T) {
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	winstonApp(t, logs, 200, 0, "json")
	want := errorEntries(t, logs)

	fake := sentryfake.New(t, sentryfake.Options{})
	// The first envelope is rate limited for 2 s: nothing may be sent in that window (the
	// fake fails the test on a request inside it), and nothing may be lost.
	fake.Script(sentryfake.RateLimited(2, "error"))
	cfg := sentryConfig(t, dir, "sentry", fake.DSN())
	start := time.Now()
	runOnce(t, cfg)
	if took := time.Since(start); took < 2*time.Second {
		t.Fatalf("delivered everything in %s despite a 2 s rate limit", took)
	}
	got := fake.Events()
	if len(got) != len(want) {
		t.Fatalf("%d events for %d distinct error entries", len(got), len(want))
	}
	for _, ev := range got {
		e := ev.Event
		entry, ok := want[e.Message]
		if !ok {
			t.Fatalf("event for unknown message %q", e.Message)
		}
		delete(want, e.Message)
		if e.Level != "error" || e.Environment != "production" || e.Logger != "backend" {
			t.Errorf("%q: level %q env %q logger %q", e.Message, e.Level, e.Environment, e.Logger)
		}
		if e.Tags["service"] != "vegas-crm-backend" {
			t.Errorf("%q: tags %v", e.Message, e.Tags)
		}
		checkException(t, e.Message, entry, ev)
	}
	if len(want) > 0 {
		t.Fatalf("%d error entries never arrived", len(want))
	}
	if d := fake.Duplicates(); d != 0 {
		t.Fatalf("%d duplicate event ids", d)
	}

	// Switch to GlitchTip in YAML only, restart, and log more errors.
	gt := sentryfake.New(t, sentryfake.Options{GlitchTip: true})
	cfg = sentryConfig(t, dir, "glitchtip", gt.DSN())
	winstonApp(t, logs, 10, 5000, "json")
	runOnce(t, cfg)
	if n := len(gt.Events()); n != 3 {
		t.Fatalf("GlitchTip got %d events, want the 3 new errors", n)
	}
	if n := len(fake.Events()); n != len(got) {
		t.Fatalf("Sentry got %d more events after the switch", n-len(got))
	}
}

func checkException(t *testing.T, msg string, entry map[string]any, ev sentryfake.Event) {
	t.Helper()
	e := ev.Event
	stack, _ := entry["stack"].(string)
	if stack == "" {
		return
	}
	if len(e.Exception) != 1 || e.Exception[0].Stacktrace == nil {
		t.Errorf("%q: no exception with frames: %s", msg, ev.Raw)
		return
	}
	ex := e.Exception[0]
	first := strings.SplitN(stack, "\n", 2)[0]
	typ, value, _ := strings.Cut(first, ": ")
	if ex.Type != typ || ex.Value != value {
		t.Errorf("%q: exception %q: %q, want %q: %q", msg, ex.Type, ex.Value, typ, value)
	}
	frames := ex.Stacktrace.Frames
	if len(frames) < 2 {
		t.Errorf("%q: %d frames", msg, len(frames))
		return
	}
	// Oldest first: the throwing frame (the stack's second line) is last.
	top := strings.TrimSpace(strings.SplitN(stack, "\n", 3)[1])
	last := frames[len(frames)-1]
	if !strings.Contains(top, fmt.Sprintf(":%d:%d", last.Lineno, last.Colno)) ||
		!strings.Contains(top, last.Function) {
		t.Errorf("%q: last frame %s %d:%d is not the throwing frame %q", msg, last.Function,
			last.Lineno, last.Colno, top)
	}
	for _, f := range frames {
		internal := strings.HasPrefix(f.Filename, "node:") || strings.Contains(f.AbsPath, "node_modules/")
		if internal && f.InApp {
			t.Errorf("%q: frame %s %s marked in_app", msg, f.Function, f.Filename)
		}
	}
	if strings.HasPrefix(msg, "Frontend Error:") {
		if e.Request == nil || e.Request.URL != entry["url"] ||
			e.Request.Headers["User-Agent"] != entry["userAgent"] {
			t.Errorf("%q: request %+v", msg, e.Request)
		}
		if e.User.IPAddress != entry["ip"] || e.Platform != "javascript" {
			t.Errorf("%q: user %+v platform %q", msg, e.User, e.Platform)
		}
	} else if e.Platform != "node" {
		t.Errorf("%q: platform %q", msg, e.Platform)
	}
}
