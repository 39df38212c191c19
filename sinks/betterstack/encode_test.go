package betterstack

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/winship/winship/agent/event"
)

func encodeOne(t *testing.T, enc encoder, e *event.Event) (map[string]any, []byte, bool) {
	t.Helper()
	b, cut := enc.appendEvent(nil, e)
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		t.Fatalf("not JSON: %v\n%.300s", err, b)
	}
	return m, b, cut
}

var testEnc = encoder{host: "web-1", maxEvent: MaxEventBytes}

func TestEventShape(t *testing.T) {
	e := &event.Event{
		Time:    time.Date(2026, 12, 3, 15, 34, 33, 908_999_999, time.FixedZone("UZT", 5*3600)),
		Level:   event.Error,
		Message: "Toʻlov муваффақиятсиз 🚀",
		Stack:   "Error: x\n    at f (/a.js:1:2)",
		Fields:  []byte(`{"service":"crm","ctx":{"id":1,"tags":["a",{"b":null}]},"n":1.5}`),
		Source:  "app", Path: "/logs/combined.log",
	}
	got, _, cut := encodeOne(t, testEnc, e)
	want := map[string]any{
		"dt": "2026-12-03T10:34:33.908Z", "level": "error",
		"message": "Toʻlov муваффақиятсиз 🚀",
		"stack":   "Error: x\n    at f (/a.js:1:2)", "service": "crm",
		"ctx": map[string]any{"id": json.Number("1"), "tags": []any{"a", map[string]any{"b": nil}}},
		"n":   json.Number("1.5"), "source": "app", "path": "/logs/combined.log", "host": "web-1",
	}
	if cut || !reflect.DeepEqual(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
}

func TestClashingKeysGoUnderFields(t *testing.T) {
	e := &event.Event{Level: event.HTTP, Message: "ours",
		Fields: []byte(`{"a":1,"dt":"theirs","level":"x","message":"m2","host":"db-1",` +
			`"path":"/api","source":"nginx","fields":{"k":"v"},"_winship_x":true,"st\u0061ck":"s","z":[]}`)}
	got, _, _ := encodeOne(t, testEnc, e)
	if got["dt"] != "0001-01-01T00:00:00.000Z" || got["level"] != "http" ||
		got["message"] != "ours" || got["host"] != "web-1" || got["a"] != json.Number("1") {
		t.Errorf("ours lost: %v", got)
	}
	if _, ok := got["stack"]; ok {
		t.Errorf("an escaped clashing key reached the top level: %v", got)
	}
	want := map[string]any{"dt": "theirs", "level": "x", "message": "m2", "host": "db-1",
		"path": "/api", "source": "nginx", "fields": map[string]any{"k": "v"},
		"_winship_x": true, "stack": "s"}
	if !reflect.DeepEqual(got["fields"], want) {
		t.Errorf("fields = %v\nwant     %v", got["fields"], want)
	}
	if !reflect.DeepEqual(got["z"], []any{}) {
		t.Errorf("z = %v", got["z"])
	}
}

func TestMalformedFieldsKeptAsText(t *testing.T) {
	for _, f := range []string{`{"a":1`, `{"a" 1}`, `{"a":1,}`, `{"a":"x}`, `[1,2]`, `{"a":1}x}`} {
		e := &event.Event{Message: "m", Fields: []byte(f)}
		got, _, _ := encodeOne(t, testEnc, e)
		if got["_winship_fields_text"] != f {
			t.Errorf("%s: got %v", f, got)
		}
	}
	for _, f := range []string{"", "{}", " {  } "} {
		got, _, _ := encodeOne(t, testEnc, &event.Event{Fields: []byte(f)})
		if len(got) != 4 { // dt, level, message, host
			t.Errorf("%q: got %v", f, got)
		}
	}
}

func TestMetadataKeys(t *testing.T) {
	e := &event.Event{RawLevel: "WARNING", Level: event.Warn, ParseError: "bad json",
		Flags: event.FlagPartial | event.FlagTruncated}
	got, _, _ := encodeOne(t, testEnc, e)
	if got["_winship_raw_level"] != "WARNING" || got["_winship_parse_error"] != "bad json" ||
		!reflect.DeepEqual(got["_winship_flags"], []any{"partial", "truncated"}) {
		t.Errorf("got %v", got)
	}
}

func TestTruncation(t *testing.T) {
	big := strings.Repeat("Toʻlov 🚀 ", 20_000) // 240 KB
	ctl := strings.Repeat("\x01\"", 60_000)    // escapes to 6 and 2 bytes
	bigFields := `{"blob":"` + strings.Repeat("x", 150_000) + `","keep":1}`
	cases := []struct {
		name string
		e    event.Event
	}{
		{"message", event.Event{Message: big, Fields: []byte(`{"user":"ali"}`)}},
		{"stack", event.Event{Message: "short", Stack: big}},
		{"escaping", event.Event{Message: ctl, Stack: ctl}},
		{"fields", event.Event{Message: "short", Fields: []byte(bigFields)}},
		{"all", event.Event{Message: big, Stack: big, Fields: []byte(bigFields)}},
		{"metadata", event.Event{Message: big, Source: big, Path: big, ParseError: big}},
	}
	for _, c := range cases {
		got, raw, cut := encodeOne(t, testEnc, &c.e)
		if !cut || len(raw) > MaxEventBytes {
			t.Errorf("%s: cut %v, %d bytes", c.name, cut, len(raw))
		}
		if got["_winship_truncated"] != true || got["_winship_original_bytes"] == nil {
			t.Errorf("%s: no marker", c.name)
		}
		if n, _ := got["_winship_original_bytes"].(json.Number).Int64(); n <= MaxEventBytes {
			t.Errorf("%s: original size %d", c.name, n)
		}
		msg := got["message"].(string)
		if !utf8.ValidString(msg) || (len(c.e.Message) > 1000 && !strings.HasSuffix(msg, cutMark)) {
			t.Errorf("%s: message %.40q…%q", c.name, msg, msg[max(0, len(msg)-20):])
		}
		if len(raw) < MaxEventBytes*3/4 {
			t.Errorf("%s: cut to %d bytes, far below the limit", c.name, len(raw))
		}
	}
}

func TestTruncationKeepsSmallFieldsWhole(t *testing.T) {
	e := &event.Event{Message: strings.Repeat("m", 300_000), Fields: []byte(`{"user":{"id":7}}`)}
	got, _, _ := encodeOne(t, testEnc, e)
	if !reflect.DeepEqual(got["user"], map[string]any{"id": json.Number("7")}) {
		t.Errorf("small fields not kept whole: %v", got["user"])
	}
}

func TestFairShares(t *testing.T) {
	cases := []struct {
		room        int
		sizes, want [3]int
	}{
		{90, [3]int{10, 100, 100}, [3]int{10, 40, 40}},
		{90, [3]int{100, 5, 1000}, [3]int{42, 5, 43}},
		{300, [3]int{10, 20, 30}, [3]int{10, 20, 30}},
	}
	for _, c := range cases {
		if got := fairShares(c.room, c.sizes); got != c.want {
			t.Errorf("fairShares(%d, %v) = %v, want %v", c.room, c.sizes, got, c.want)
		}
	}
}

// FuzzMembers checks the member scanner against encoding/json: for a valid object it finds
// exactly its members, and the spliced output is always valid JSON.
func FuzzMembers(f *testing.F) {
	f.Add(`{"a":1,"b":{"c":[1,"]}"]},"d":"x\"y"}`)
	f.Add(`{ "dt" : true , "e":null}`)
	f.Add(`{"a":`)
	f.Fuzz(func(t *testing.T, obj string) {
		e := &event.Event{Message: "m", Fields: []byte(obj)}
		b, _ := testEnc.appendEvent(nil, e)
		var m map[string]any
		err := json.Unmarshal(b, &m)
		var want map[string]json.RawMessage
		if json.Unmarshal([]byte(obj), &want) != nil || !utf8.ValidString(obj) {
			return // the scanner checks structure, not literals: only valid input must match
		}
		if err != nil {
			t.Fatalf("%s -> %s: %v", obj, b, err)
		}
		for k, raw := range want {
			var v any
			json.Unmarshal(raw, &v)
			got := m[k]
			if isReserved([]byte(k)) {
				got = m["fields"].(map[string]any)[k]
			}
			if !reflect.DeepEqual(got, v) {
				t.Fatalf("%s -> %s: key %q is %v, want %v", obj, b, k, got, v)
			}
		}
	})
}
