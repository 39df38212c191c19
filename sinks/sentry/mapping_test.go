package sentry

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	sentrygo "github.com/getsentry/sentry-go"

	"github.com/winship/winship/agent/event"
)

func testMapper(mutate func(*Options)) *mapper {
	o := defaultOptions(TypeSentry)
	o.Environment, o.Release = "production", "crm@1.4.2"
	o.Tags = map[string]string{"team": "crm"}
	o.TagFields = []string{"service", "requestId", "long", "nested", "missing"}
	if mutate != nil {
		mutate(o)
	}
	return newMapper("web-1", o)
}

func TestLevels(t *testing.T) {
	want := map[event.Level]sentrygo.Level{
		event.Emerg: "fatal", event.Alert: "fatal", event.Crit: "fatal", event.Error: "error",
		event.Warn: "warning", event.Notice: "info", event.Info: "info", event.HTTP: "info",
		event.Verbose: "info", event.Debug: "debug", event.Silly: "debug",
	}
	for l, w := range want {
		if got := sentryLevel(l); got != w {
			t.Errorf("%s -> %s, want %s", l, got, w)
		}
	}
}

func TestMapEventBackendError(t *testing.T) {
	e := errEvent("Cannot save deal", 3)
	e.RawLevel = "ERROR"
	ev := testMapper(nil).mapEvent(e)
	checks := []struct {
		name      string
		got, want any
	}{
		{"level", ev.Level, sentrygo.LevelError},
		{"logger", ev.Logger, "app"},
		{"server_name", ev.ServerName, "web-1"},
		{"platform", ev.Platform, "node"},
		{"environment", ev.Environment, "production"},
		{"release", ev.Release, "crm@1.4.2"},
		{"message", ev.Message, "Cannot save deal"},
		{"timestamp", ev.Timestamp, e.Time},
		{"tag team", ev.Tags["team"], "crm"},
		{"tag service", ev.Tags["service"], "vegas-crm-backend"},
		{"exception type", ev.Exception[0].Type, "TypeError"},
		{"exception value", ev.Exception[0].Value, "x is not a function"},
		{"winston context", string(mustJSON(ev.Contexts[ctxWinston])),
			`{"service":"vegas-crm-backend","userId":7}`},
		{"winship file", ev.Contexts[ctxWinship]["file"], "/opt/app/logs/error.log"},
		{"raw level", ev.Contexts[ctxWinship]["raw_level"], "ERROR"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	fs := ev.Exception[0].Stacktrace.Frames
	if len(fs) != 5 {
		t.Fatalf("%d frames, want 5", len(fs))
	}
	last := fs[len(fs)-1]
	if last.Function != "handler" || last.Lineno != 41 || !last.InApp {
		t.Errorf("throwing frame (last) = %+v", last)
	}
	if fs[0].InApp || fs[1].InApp || fs[2].InApp || fs[3].InApp {
		t.Errorf("node: and node_modules frames must not be in_app: %+v", fs)
	}
	if fs[3].Module != "express.lib.router:layer" {
		t.Errorf("module %q", fs[3].Module)
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func TestMapEventMessageOnly(t *testing.T) {
	e := &event.Event{Time: time.Unix(1, 0), Level: event.Crit, Message: "DB down", Source: "db"}
	ev := testMapper(nil).mapEvent(e)
	if len(ev.Exception) != 0 || ev.Level != sentrygo.LevelFatal || ev.Contexts[ctxWinston] != nil {
		t.Errorf("message-only event %+v", ev)
	}
}

func TestEventIDIsContentDerived(t *testing.T) {
	a := errEvent("same", 1)
	b := *a
	b.Path, b.Source = "/opt/app/logs/combined.log", "combined"
	id := eventID(a)
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(id) {
		t.Fatalf("event id %q is not 32 lowercase hex", id)
	}
	if eventID(&b) != id {
		t.Error("the same entry read from another file has another id")
	}
	for name, mutate := range map[string]func(*event.Event){
		"time":    func(e *event.Event) { e.Time = e.Time.Add(time.Millisecond) },
		"level":   func(e *event.Event) { e.Level = event.Warn },
		"message": func(e *event.Event) { e.Message += "!" },
		"stack":   func(e *event.Event) { e.Stack += "\n    at x (/a.js:1:1)" },
		"fields":  func(e *event.Event) { e.Fields = []byte(`{"userId":8}`) },
		"boundary": func(e *event.Event) {
			e.Message, e.Stack = e.Message+e.Stack[:4], e.Stack[4:]
		},
	} {
		c := *a
		mutate(&c)
		if eventID(&c) == id {
			t.Errorf("changing %s kept the id", name)
		}
	}
}

func TestTagsAreCapped(t *testing.T) {
	e := errEvent("x", 1)
	e.Fields = []byte(`{"service":"a\nb","requestId":123,"long":"` + strings.Repeat("é", 300) +
		`","nested":{"a":1},"missing":null}`)
	m := testMapper(nil)
	ev := m.mapEvent(e)
	if ev.Tags["service"] != "a b" || ev.Tags["requestId"] != "123" || ev.Tags["nested"] != `{"a":1}` {
		t.Errorf("tags %v", ev.Tags)
	}
	if _, ok := ev.Tags["missing"]; ok {
		t.Error("a null field became a tag")
	}
	if n := utf8.RuneCountInString(ev.Tags["long"]); n != 200 {
		t.Errorf("long tag has %d characters, want 200", n)
	}
	for k := range ev.Tags {
		if len(k) > maxTagKey {
			t.Errorf("tag key of %d characters", len(k))
		}
	}
}

func TestContextsAreBounded(t *testing.T) {
	e := errEvent("x", 1)
	var b strings.Builder
	b.WriteString(`{`)
	for i := 0; i < 400; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"k` + itoa(1000+i) + `":"` + strings.Repeat("v", 40) + `"`)
	}
	b.WriteString(`,"huge":"` + strings.Repeat("h", 20000) + `"}`)
	e.Fields = []byte(b.String())
	ev := testMapper(nil).mapEvent(e)
	w := mustJSON(ev.Contexts[ctxWinston])
	if len(w) > maxContext {
		t.Errorf("winston context of %d bytes, limit %d", len(w), maxContext)
	}
	if ev.Contexts[ctxWinston]["_winship_dropped_keys"] == nil {
		t.Error("dropped keys not counted")
	}
	if ev.Contexts[ctxWinston]["k1000"] == nil {
		t.Error("first key dropped")
	}
}

func TestFrontendError(t *testing.T) {
	e := &event.Event{
		Time:    time.Unix(1700000000, 0),
		Level:   event.Error,
		Message: "Frontend Error: TypeError: x is not a function #1",
		Stack: "TypeError: x is not a function\n" +
			"    at onClick (http://localhost:3000/_next/static/chunks/app/page-abc.js:1:2345)\n" +
			"    at HTMLUnknownElement.callCallback (http://localhost:3000/_next/static/chunks/framework.js:10:100)",
		Fields: []byte(`{"context":{"type":"unhandledRejection","userId":1},"ip":"::ffff:127.0.0.1",` +
			`"service":"vegas-crm-backend","url":"http://localhost:3000/admin/deals/1",` +
			`"userAgent":"Mozilla/5.0 Chrome/120.0","userAgentHeader":"Mozilla/5.0"}`),
		Source: "app",
	}
	ev := testMapper(nil).mapEvent(e)
	if ev.Platform != "javascript" || ev.Tags["origin"] != "browser" {
		t.Errorf("platform %q, origin tag %q", ev.Platform, ev.Tags["origin"])
	}
	if ev.Request == nil || ev.Request.URL != "http://localhost:3000/admin/deals/1" ||
		ev.Request.Headers["User-Agent"] != "Mozilla/5.0 Chrome/120.0" {
		t.Errorf("request %+v", ev.Request)
	}
	if ev.User.IPAddress != "::ffff:127.0.0.1" {
		t.Errorf("user %+v", ev.User)
	}
	if got := string(mustJSON(ev.Contexts[ctxFrontend])); got != `{"type":"unhandledRejection","userId":1}` {
		t.Errorf("frontend context %s", got)
	}
	w := ev.Contexts[ctxWinston]
	for _, k := range frontendKeys {
		if _, ok := w[k]; ok {
			t.Errorf("winston context still has %q", k)
		}
	}
	fs := ev.Exception[0].Stacktrace.Frames
	if len(fs) != 2 || fs[1].Function != "onClick" || fs[1].Colno != 2345 || !fs[1].InApp {
		t.Errorf("browser frames %+v", fs)
	}
}

func TestFlagsAndParseErrorsReachTheEvent(t *testing.T) {
	e := &event.Event{Time: time.Unix(1, 0), Level: event.Error, Message: "{broken",
		ParseError: "unexpected end of JSON", Flags: event.FlagPartial | event.FlagNoTimestamp,
		Fields: []byte(`not json`)}
	w := testMapper(nil).mapEvent(e).Contexts[ctxWinship]
	if w["parse_error"] != "unexpected end of JSON" || w["flags"] != "partial,no_timestamp" ||
		w["fields_error"] == nil {
		t.Errorf("winship context %v", w)
	}
}

func TestMappedEventIsValidJSON(t *testing.T) {
	ev := testMapper(nil).mapEvent(errEvent("x", 1))
	b := mustJSON(ev)
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"event_id", "timestamp", "level", "platform", "exception", "sdk"} {
		if back[k] == nil {
			t.Errorf("payload lacks %q: %s", k, b)
		}
	}
}
