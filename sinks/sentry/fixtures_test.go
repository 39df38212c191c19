package sentry

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/winship/winship/agent/event"
	"github.com/winship/winship/sinks/sentry/sentryfake"
)

// readWinston reads a Winston json() file into events the way the json parser fills them:
// level, message, stack and timestamp lifted out, every other key left in Fields.
func readWinston(t *testing.T, path, source string) []*event.Event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []*event.Event
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		e := &event.Event{Source: source, Path: path}
		var lvl, ts string
		json.Unmarshal(m["level"], &lvl)
		json.Unmarshal(m["message"], &e.Message)
		json.Unmarshal(m["stack"], &e.Stack)
		json.Unmarshal(m["timestamp"], &ts)
		e.Level, _ = event.ParseLevel(lvl)
		if e.Time, err = time.Parse(time.RFC3339Nano, ts); err != nil {
			t.Fatalf("%s: timestamp %q: %v", path, ts, err)
		}
		for _, k := range []string{"level", "message", "stack", "timestamp"} {
			delete(m, k)
		}
		if len(m) > 0 {
			e.Fields = mustJSON(m)
		}
		out = append(out, e)
	}
	return out
}

func fixture(name string) string { return filepath.Join("testdata", "winston-basic", name) }

// TestWinstonFixturesBecomeGoodEvents maps every error entry of real Winston output.
func TestWinstonFixturesBecomeGoodEvents(t *testing.T) {
	errs := readWinston(t, fixture("error.log"), "app")
	m := testMapper(nil)
	frontend, withStack := 0, 0
	for _, e := range errs {
		ev := m.mapEvent(e)
		if ev.Level != "error" || ev.Message != e.Message || !ev.Timestamp.Equal(e.Time) {
			t.Errorf("%q: level %s message %q time %s", e.Message, ev.Level, ev.Message, ev.Timestamp)
		}
		if ev.Tags["service"] != "vegas-crm-backend" {
			t.Errorf("%q: service tag %q", e.Message, ev.Tags["service"])
		}
		if strings.HasPrefix(e.Message, "Frontend Error:") {
			frontend++
			checkFrontendFixture(t, e, ev.Request.URL, ev.Request.Headers["User-Agent"],
				ev.User.IPAddress, ev.Platform)
		}
		if e.Stack == "" {
			if len(ev.Exception) != 0 {
				t.Errorf("%q: exception without a stack", e.Message)
			}
			continue
		}
		withStack++
		ex := ev.Exception[0]
		first, _, _ := strings.Cut(e.Stack, "\n")
		if ex.Type+": "+ex.Value != first {
			t.Errorf("exception %q: %q, want the stack's first line %q", ex.Type, ex.Value, first)
		}
		fs := ex.Stacktrace.Frames
		top := fs[len(fs)-1]
		if !top.InApp || top.Lineno == 0 || top.Colno == 0 {
			t.Errorf("%q: throwing frame %+v should be last and in_app", e.Message, top)
		}
		for _, f := range fs {
			if strings.HasPrefix(f.Filename, "node:") && f.InApp {
				t.Errorf("%q: %s is in_app", e.Message, f.Filename)
			}
		}
	}
	if frontend != 20 || withStack != 40 {
		t.Errorf("saw %d frontend errors and %d stacks, want 20 and 40", frontend, withStack)
	}
}

func checkFrontendFixture(t *testing.T, e *event.Event, url, ua, ip, platform string) {
	t.Helper()
	var f struct{ URL, UserAgent, IP string }
	json.Unmarshal(e.Fields, &f)
	if url == "" || url != f.URL || ua == "" || ua != f.UserAgent || ip == "" || ip != f.IP ||
		platform != "javascript" {
		t.Errorf("%q: url %q ua %q ip %q platform %q", e.Message, url, ua, ip, platform)
	}
}

// TestWinstonBothFilesSendEachErrorOnce sends the errors of error.log and of combined.log
// without the pipeline's dedupe: the content-derived ids make the server keep one of each.
func TestWinstonBothFilesSendEachErrorOnce(t *testing.T) {
	srv := sentryfake.New(t, sentryfake.Options{})
	s := newTestSink(t, srv, sinkSetup{})
	errs := readWinston(t, fixture("error.log"), "app")
	var fromCombined []*event.Event
	for _, e := range readWinston(t, fixture("combined.log"), "app") {
		if e.Level.AtLeast(event.Error) {
			fromCombined = append(fromCombined, e)
		} else {
			s.Observe(e)
		}
	}
	ctx := context.Background()
	for _, b := range [][]*event.Event{errs, fromCombined} {
		for i := 0; i < len(b); i += 8 {
			if err := s.Send(ctx, b[i:min(i+8, len(b))]); err != nil {
				t.Fatalf("Send: %v", err)
			}
		}
	}
	evs := srv.Events()
	if len(evs) != len(errs) || srv.Duplicates() != len(fromCombined) {
		t.Fatalf("%d events, %d duplicates; want %d and %d", len(evs), srv.Duplicates(),
			len(errs), len(fromCombined))
	}
	crumbs := 0
	for _, ev := range evs {
		crumbs += len(ev.Event.Breadcrumbs)
	}
	if crumbs == 0 {
		t.Error("no breadcrumbs from the info, warn, http and debug entries of combined.log")
	}
}

// TestLiveWinstonRunMatchesSentry runs Winston 3 from the repository's node_modules over
// the stack corpus, sends what it wrote to both files through the sink, and requires one
// event per error whose frames equal what @sentry/core makes of the same stack.
func TestLiveWinstonRunMatchesSentry(t *testing.T) {
	dir := t.TempDir()
	out := runNode(t, "winston.js", nil, dir)
	var logged []struct {
		Key    string    `json:"key"`
		Frames []jsFrame `json:"frames"`
	}
	if err := json.Unmarshal(out, &logged); err != nil {
		t.Fatalf("decode winston.js output: %v", err)
	}
	srv := sentryfake.New(t, sentryfake.Options{})
	s := newTestSink(t, srv, sinkSetup{mutate: func(o *Options) { o.TagFields = []string{"requestId"} }})
	var batch []*event.Event
	for _, name := range []string{"error.log", "combined.log"} {
		for _, e := range readWinston(t, filepath.Join(dir, name), "backend") {
			if e.Level.AtLeast(event.Error) {
				batch = append(batch, e)
			} else if name == "combined.log" {
				s.Observe(e)
			}
		}
	}
	if err := s.Send(context.Background(), batch); err != nil {
		t.Fatalf("Send: %v", err)
	}
	evs := srv.Events()
	if len(evs) != len(logged)+1 || srv.Duplicates() != len(evs) {
		t.Fatalf("%d events, %d duplicates; want %d distinct errors each sent twice",
			len(evs), srv.Duplicates(), len(logged)+1)
	}
	byKey := map[string][]jsFrame{}
	for _, l := range logged {
		byKey[l.Key] = l.Frames
	}
	for _, ev := range evs {
		key := ev.Event.Tags["requestId"]
		if ev.Event.Tags["origin"] == "browser" {
			key = "frontend"
		}
		want, ok := byKey[key]
		if !ok {
			if len(ev.Event.Exception) > 0 {
				t.Errorf("%q: exception from no logged stack", ev.Event.Message)
			}
			continue // the error without a stack
		}
		delete(byKey, key)
		got := ev.Event.Exception[0].Stacktrace.Frames
		if len(got) != len(want) {
			t.Errorf("%q: %d frames, Sentry has %d", ev.Event.Message, len(got), len(want))
			continue
		}
		for i := range want {
			if g := toJSFrame(got[i]); g != want[i] {
				t.Errorf("%q frame %d:\n got  %+v\n want %+v", ev.Event.Message, i, g, want[i])
			}
		}
		if len(ev.Event.Breadcrumbs) == 0 {
			t.Errorf("%q: no breadcrumbs", ev.Event.Message)
		}
	}
	if len(byKey) != 0 {
		t.Errorf("logged stacks that reached no event: %v", byKey)
	}
}
