package httpsink

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/winship/winship/agent/event"
)

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	cases := []string{
		"", "plain", `quote " and \ backslash`, "nl\n cr\r tab\t", "\x00\x01\x1f\x7f",
		"Toʻlov муваффақиятсиз 🚀 👨‍👩‍👧 日本語", "<html> & 'apos'", "\u2028\u2029",
	}
	for _, s := range cases {
		got := event.AppendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("event.AppendJSONString(%q) = %s: not JSON: %v", s, got, err)
		}
		if back != s {
			t.Errorf("event.AppendJSONString(%q) decodes to %q", s, back)
		}
	}
}

func TestAppendStringReplacesInvalidUTF8(t *testing.T) {
	got := event.AppendJSONString(nil, "ok\xffbad\xc3")
	if !json.Valid(got) {
		t.Fatalf("not valid JSON: %s", got)
	}
	var back string
	json.Unmarshal(got, &back)
	if back != "ok\ufffdbad\ufffd" {
		t.Errorf("got %q", back)
	}
}

func FuzzAppendString(f *testing.F) {
	f.Add("Toʻlov 🚀 \x00 \"")
	f.Add("\xff\xfe")
	f.Fuzz(func(t *testing.T, s string) {
		got := event.AppendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("%q -> %s: %v", s, got, err)
		}
		if want := strings.ToValidUTF8(s, "\ufffd"); back != want && !invalidRuns(s) {
			t.Fatalf("%q -> %q, want %q", s, back, want)
		}
	})
}

// invalidRuns reports whether s has adjacent invalid bytes, which AppendString replaces
// one by one and strings.ToValidUTF8 as one run.
func invalidRuns(s string) bool {
	return strings.ToValidUTF8(s, "\ufffd") != strings.ToValidUTF8(s, "\ufffd\ufffd")
}

func TestAppendTime(t *testing.T) {
	cases := map[time.Time]string{
		time.Date(2026, 12, 3, 15, 34, 33, 908_765_432, time.UTC):        "2026-12-03T15:34:33.908Z",
		time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("UZT", 5*3600)): "2026-01-01T22:04:05.000Z",
		time.Date(99, 1, 1, 0, 0, 0, 1_000_000, time.UTC):                "0099-01-01T00:00:00.001Z",
	}
	for in, want := range cases {
		if got := string(event.AppendTime(nil, in)); got != want {
			t.Errorf("event.AppendTime(%v) = %s, want %s", in, got, want)
		}
	}
}

func TestAppendEventShape(t *testing.T) {
	e := &event.Event{
		Time:       time.Date(2026, 12, 3, 15, 34, 33, 908_000_000, time.UTC),
		Level:      event.Warn,
		RawLevel:   "WARNING",
		Message:    "Toʻlov 🚀",
		Stack:      "Error: x\n    at f (/a.js:1:2)",
		Fields:     []byte(` {"service":"crm","ctx":{"id":1,"tags":["a"]}} `),
		Source:     "app",
		Path:       "/logs/combined.log",
		ParseError: "bad json",
		Flags:      event.FlagPartial | event.FlagNoTimestamp,
	}
	got := decode(t, event.AppendJSON(nil, e, "web-1"))
	want := map[string]any{
		"timestamp": "2026-12-03T15:34:33.908Z", "level": "warn", "message": "Toʻlov 🚀",
		"stack":  "Error: x\n    at f (/a.js:1:2)",
		"fields": map[string]any{"service": "crm", "ctx": map[string]any{"id": 1.0, "tags": []any{"a"}}},
		"source": "app", "path": "/logs/combined.log", "host": "web-1", "raw_level": "WARNING",
		"parse_error": "bad json", "flags": []any{"partial", "no_timestamp"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
}

func TestAppendEventOmitsEmpty(t *testing.T) {
	e := &event.Event{Time: time.Unix(0, 0), Level: event.Info, Message: "m"}
	got := string(event.AppendJSON(nil, e, ""))
	want := `{"timestamp":"1970-01-01T00:00:00.000Z","level":"info","message":"m",` +
		`"source":"","path":""}`
	if got != want {
		t.Errorf("got %s", got)
	}
}

func TestAppendEventKeepsBadFieldsAsText(t *testing.T) {
	e := &event.Event{Level: event.Info, Fields: []byte(`not an object "x"`)}
	got := decode(t, event.AppendJSON(nil, e, ""))
	if got["fields_text"] != `not an object "x"` {
		t.Errorf("fields_text = %v", got["fields_text"])
	}
}

func TestAppendBatchFraming(t *testing.T) {
	batch := []*event.Event{{Message: "a"}, {Message: "b"}}
	arr := AppendBatch(nil, batch, JSON, "")
	var list []map[string]any
	if err := json.Unmarshal(arr, &list); err != nil || len(list) != 2 {
		t.Fatalf("json: %s (%v)", arr, err)
	}
	nd := AppendBatch(nil, batch, NDJSON, "")
	lines := bytes.Split(bytes.TrimSuffix(nd, []byte("\n")), []byte("\n"))
	if len(lines) != 2 || !bytes.HasSuffix(nd, []byte("\n")) {
		t.Fatalf("ndjson: %q", nd)
	}
	for _, l := range lines {
		if !json.Valid(l) {
			t.Errorf("line %s is not JSON", l)
		}
	}
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return m
}
