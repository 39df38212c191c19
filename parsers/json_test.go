package parsers

import (
	"strings"
	"testing"
	"time"

	"github.com/winship/winship/agent/event"
)

var testNow = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

// feedOne feeds one line to a fresh parser of format and returns the events after Flush.
func feedOne(t *testing.T, format, line string) []event.Event {
	t.Helper()
	p := New(format)
	out := p.Feed(nil, []byte(line), 0, testNow)
	return p.Flush(out)
}

func one(t *testing.T, format, line string) event.Event {
	t.Helper()
	evs := feedOne(t, format, line)
	if len(evs) != 1 {
		t.Fatalf("%s %q: got %d events, want 1: %+v", format, line, len(evs), evs)
	}
	return evs[0]
}

func TestJSONBasicLine(t *testing.T) {
	line := `{"context":{"type":"unhandledRejection","userId":1},"ip":"::ffff:127.0.0.1",` +
		`"level":"error","message":"Frontend Error: TypeError: x is not a function #1",` +
		`"service":"vegas-crm-backend","stack":"TypeError: x\n    at onClick (a.js:1:2)",` +
		`"timestamp":"2026-12-03T15:34:33.914Z","url":"http://localhost:3000/admin/deals/1"}`
	ev := one(t, "json", line)
	want := event.Event{
		Time:    time.Date(2026, 12, 3, 15, 34, 33, 914e6, time.UTC),
		Level:   event.Error,
		Message: "Frontend Error: TypeError: x is not a function #1",
		Stack:   "TypeError: x\n    at onClick (a.js:1:2)",
		Fields: []byte(`{"context":{"type":"unhandledRejection","userId":1},` +
			`"ip":"::ffff:127.0.0.1","service":"vegas-crm-backend",` +
			`"url":"http://localhost:3000/admin/deals/1"}`),
	}
	assertEvent(t, ev, want)
}

func assertEvent(t *testing.T, got, want event.Event) {
	t.Helper()
	if !got.Time.Equal(want.Time) {
		t.Errorf("Time = %v, want %v", got.Time, want.Time)
	}
	if got.Level != want.Level || got.RawLevel != want.RawLevel {
		t.Errorf("Level = %v/%q, want %v/%q", got.Level, got.RawLevel, want.Level, want.RawLevel)
	}
	if got.Message != want.Message {
		t.Errorf("Message = %q, want %q", got.Message, want.Message)
	}
	if got.Stack != want.Stack {
		t.Errorf("Stack = %q, want %q", got.Stack, want.Stack)
	}
	if string(got.Fields) != string(want.Fields) {
		t.Errorf("Fields = %s, want %s", got.Fields, want.Fields)
	}
	if got.ParseError != want.ParseError {
		t.Errorf("ParseError = %q, want %q", got.ParseError, want.ParseError)
	}
	if got.Flags != want.Flags {
		t.Errorf("Flags = %b, want %b", got.Flags, want.Flags)
	}
}

func TestJSONParseErrors(t *testing.T) {
	ts := time.Date(2026, 12, 3, 15, 34, 33, 908e6, time.UTC)
	tests := []struct {
		name, line string
		want       event.Event
	}{
		{"not JSON", `hello world`, event.Event{Time: testNow, Level: event.Info,
			Message: "hello world", Flags: event.FlagNoTimestamp,
			ParseError: `not JSON: invalid character 'h' in value at offset 0`}},
		{"truncated object keeps level and time",
			`{"level":"error","timestamp":"2026-12-03T15:34:33.908Z","message":"cut`,
			event.Event{Time: ts, Level: event.Error,
				Message:    `{"level":"error","timestamp":"2026-12-03T15:34:33.908Z","message":"cut`,
				ParseError: "not JSON: unexpected end of string at offset 70"}},
		{"trailing garbage", `{"message":"a"} x`, event.Event{Time: testNow, Level: event.Info,
			Message: `{"message":"a"} x`, Flags: event.FlagNoTimestamp,
			ParseError: `not JSON: invalid character 'x' in text after the object at offset 16`}},
		{"array", ` [1, "a"] `, event.Event{Time: testNow, Level: event.Info,
			Message: `[1, "a"]`, Flags: event.FlagNoTimestamp, ParseError: "not an object"}},
		{"string", `"just text"`, event.Event{Time: testNow, Level: event.Info,
			Message: `"just text"`, Flags: event.FlagNoTimestamp, ParseError: "not an object"}},
		{"number", `42`, event.Event{Time: testNow, Level: event.Info,
			Message: `42`, Flags: event.FlagNoTimestamp, ParseError: "not an object"}},
		{"message missing", `{"level":"warn","timestamp":"2026-12-03T15:34:33.908Z","k":1}`,
			event.Event{Time: ts, Level: event.Warn,
				Message:    `{"level":"warn","timestamp":"2026-12-03T15:34:33.908Z","k":1}`,
				Fields:     []byte(`{"k":1}`),
				ParseError: "message missing"}},
		{"message not a string", `{"level":"info","message":{"obj":1}}`,
			event.Event{Time: testNow, Level: event.Info, Flags: event.FlagNoTimestamp,
				Message:    `{"level":"info","message":{"obj":1}}`,
				Fields:     []byte(`{"message":{"obj":1}}`),
				ParseError: "message is not a string"}},
		{"message null", `{"message":null}`,
			event.Event{Time: testNow, Level: event.Info, Flags: event.FlagNoTimestamp,
				Message: `{"message":null}`, Fields: []byte(`{"message":null}`),
				ParseError: "message is not a string"}},
		{"bad escape", `{"message":"a\q"}`, event.Event{Time: testNow, Level: event.Info,
			Message: `{"message":"a\q"}`, Flags: event.FlagNoTimestamp,
			ParseError: `not JSON: invalid character 'q' in string escape at offset 14`}},
		{"control character in string", "{\"message\":\"a\x01\"}", event.Event{Time: testNow,
			Level: event.Info, Message: "{\"message\":\"a\x01\"}", Flags: event.FlagNoTimestamp,
			ParseError: `not JSON: invalid byte 0x01 in string at offset 13`}},
		{"trailing comma", `{"message":"a",}`, event.Event{Time: testNow, Level: event.Info,
			Message: `{"message":"a",}`, Flags: event.FlagNoTimestamp,
			ParseError: `not JSON: invalid character '}' in object key at offset 15`}},
		{"bad number", `{"message":"a","n":01}`, event.Event{Time: testNow, Level: event.Info,
			Message: `{"message":"a","n":01}`, Flags: event.FlagNoTimestamp,
			ParseError: `not JSON: invalid character '1' in object at offset 20`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertEvent(t, one(t, "json", tt.line), tt.want)
		})
	}
}

func TestJSONLevels(t *testing.T) {
	tests := []struct {
		raw      string
		level    event.Level
		rawLevel string
	}{
		{"error", event.Error, ""}, {"warn", event.Warn, ""}, {"info", event.Info, ""},
		{"http", event.HTTP, ""}, {"verbose", event.Verbose, ""}, {"debug", event.Debug, ""},
		{"silly", event.Silly, ""},
		{"emerg", event.Emerg, ""}, {"alert", event.Alert, ""}, {"crit", event.Crit, ""},
		{"warning", event.Warn, "warning"}, {"notice", event.Notice, ""},
		{"ERROR", event.Error, "ERROR"}, {"fatal", event.Crit, "fatal"},
		{`\u001b[31merror\u001b[39m`, event.Error, "\x1b[31merror\x1b[39m"},
		{`\u001b[33mwarn\u001b[39m`, event.Warn, "\x1b[33mwarn\x1b[39m"},
		{"audit", event.Info, "audit"}, {"", event.Info, ""},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			ev := one(t, "json", `{"level":"`+tt.raw+`","message":"m"}`)
			if ev.Level != tt.level || ev.RawLevel != tt.rawLevel {
				t.Errorf("got %v/%q, want %v/%q", ev.Level, ev.RawLevel, tt.level, tt.rawLevel)
			}
			if ev.Fields != nil {
				t.Errorf("Fields = %s, want nil", ev.Fields)
			}
		})
	}
	ev := one(t, "json", `{"level":3,"message":"m"}`)
	if ev.Level != event.Info || string(ev.Fields) != `{"level":3}` {
		t.Errorf("numeric level: got %v, fields %s", ev.Level, ev.Fields)
	}
}

func TestJSONTimestamps(t *testing.T) {
	local := time.Date(2026, 12, 3, 16, 37, 41, 0, time.Local)
	tests := []struct {
		name, ts  string
		want      time.Time
		keep      bool // the timestamp stays in Fields
		noTimeSet bool
	}{
		{"winston", `"2026-12-03T15:34:33.908Z"`,
			time.Date(2026, 12, 3, 15, 34, 33, 908e6, time.UTC), false, false},
		{"no fraction", `"2026-12-03T15:34:33Z"`,
			time.Date(2026, 12, 3, 15, 34, 33, 0, time.UTC), true, false},
		{"microseconds", `"2026-12-03T15:34:33.908123Z"`,
			time.Date(2026, 12, 3, 15, 34, 33, 908123e3, time.UTC), true, false},
		{"offset", `"2026-12-03T20:34:33.908+05:00"`,
			time.Date(2026, 12, 3, 15, 34, 33, 908e6, time.UTC), true, false},
		{"local", `"2026-12-03 16:37:41"`, local, true, false},
		{"local ms", `"2026-12-03 16:37:41.250"`, local.Add(250 * time.Millisecond), true, false},
		{"unix ms", `1796312073908`, time.UnixMilli(1796312073908), true, false},
		{"unix ms text", `"1796312073908"`, time.UnixMilli(1796312073908), true, false},
		// The decoded text is canonical: the escape is JSON spelling, not content.
		{"escaped", `"2026-12-03T15:34:33.908\u005a"`,
			time.Date(2026, 12, 3, 15, 34, 33, 908e6, time.UTC), false, false},
		{"bad day", `"2026-02-30T15:34:33.908Z"`, testNow, true, true},
		{"garbage", `"yesterday"`, testNow, true, true},
		{"year 9999", `"9999-12-03T15:34:33.908Z"`, testNow, true, true},
		{"bool", `true`, testNow, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := one(t, "json", `{"message":"m","timestamp":`+tt.ts+`}`)
			if !ev.Time.Equal(tt.want) {
				t.Errorf("Time = %v, want %v", ev.Time, tt.want)
			}
			if got := ev.Flags&event.FlagNoTimestamp != 0; got != tt.noTimeSet {
				t.Errorf("FlagNoTimestamp = %v, want %v", got, tt.noTimeSet)
			}
			wantFields := ""
			if tt.keep {
				wantFields = `{"timestamp":` + tt.ts + `}`
			}
			if string(ev.Fields) != wantFields {
				t.Errorf("Fields = %s, want %s", ev.Fields, wantFields)
			}
		})
	}
}

func TestJSONStringsAndBytes(t *testing.T) {
	tests := []struct {
		name, line, msg string
		flags           event.Flags
	}{
		{"escapes", `{"message":"a\nb\tc\"d\\e\/f\b\f\r"}`, "a\nb\tc\"d\\e/f\b\f\r", 0},
		{"unicode", `{"message":"\u041f\u043b\u0430\u0442\u0451\u0436 \u00e9"}`, "Платёж é", 0},
		{"surrogate pair", `{"message":"\ud83d\ude80!"}`, "🚀!", 0},
		{"lone high surrogate", `{"message":"x\ud83dy"}`, "x\uFFFDy", event.FlagInvalidUTF8},
		{"lone low surrogate", `{"message":"\ude80"}`, "\uFFFD", event.FlagInvalidUTF8},
		{"raw utf8", `{"message":"Тўлов 🚀 — To'lov"}`, "Тўлов 🚀 — To'lov", 0},
		{"invalid utf8", "{\"message\":\"a\xffb\xc3\"}", "a\uFFFDb\uFFFD", event.FlagInvalidUTF8},
		{"BOM", "\xef\xbb\xbf{\"message\":\"bom\"}", "bom", 0},
		{"CR", "{\"message\":\"cr\"}\r", "cr", 0},
		{"whitespace", " { \"message\" : \"ws\" } ", "ws", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := one(t, "json", tt.line)
			if ev.Message != tt.msg || ev.ParseError != "" {
				t.Errorf("Message = %q (%s), want %q", ev.Message, ev.ParseError, tt.msg)
			}
			if got := ev.Flags &^ event.FlagNoTimestamp; got != tt.flags {
				t.Errorf("Flags = %b, want %b", got, tt.flags)
			}
		})
	}
}

func TestJSONBlankLinesYieldNothing(t *testing.T) {
	for _, line := range []string{"", " ", "\t \r", "\xef\xbb\xbf", "\r"} {
		if evs := feedOne(t, "json", line); len(evs) != 0 {
			t.Errorf("%q: got %d events, want none", line, len(evs))
		}
	}
}

func TestJSONFieldsExact(t *testing.T) {
	tests := []struct{ line, fields string }{
		{`{"id":4,"level":"info","message":"circular meta","self":{"id":4,"self":"[Circular]"},` +
			`"service":"vegas-crm-backend","timestamp":"2026-12-03T15:34:33.915Z"}`,
			`{"id":4,"self":{"id":4,"self":"[Circular]"},"service":"vegas-crm-backend"}`},
		{`{"customerId":2,"level":"warn","message":"To'lov muvaffaqiyatsiz 2",` +
			`"service":"vegas-crm-backend","tags":["a","b"],"timestamp":"2026-12-03T15:34:33.915Z"}`,
			`{"customerId":2,"service":"vegas-crm-backend","tags":["a","b"]}`},
		// Values are kept byte for byte, whitespace and escapes included.
		{`{ "message" : "m", "n" : 1.50E+3 , "o" : { "a" : [ 1 , 2 ] }, "s":"\u00e9\n" }`,
			`{"n":1.50E+3,"o":{ "a" : [ 1 , 2 ] },"s":"\u00e9\n"}`},
		// A non-string stack stays; a duplicate key stays; the first one is used.
		{`{"message":"m","stack":["a"],"message":"second","level":"info","level":"x"}`,
			`{"stack":["a"],"message":"second","level":"x"}`},
		// An escaped key still names a known field.
		{`{"mess\u0061ge":"m","k\"q":1}`, `{"k\"q":1}`},
		{`{"message":"m"}`, ``},
	}
	for _, tt := range tests {
		ev := one(t, "json", tt.line)
		if string(ev.Fields) != tt.fields || ev.ParseError != "" {
			t.Errorf("%s:\nFields = %s (%s)\nwant     %s", tt.line, ev.Fields, ev.ParseError,
				tt.fields)
		}
	}
}

func TestJSONDeepNesting(t *testing.T) {
	deep := `{"message":"m","d":` + strings.Repeat("[", maxDepth+1) +
		strings.Repeat("]", maxDepth+1) + `}`
	ev := one(t, "json", deep)
	if !strings.HasPrefix(ev.ParseError, "not JSON: nesting too deep") || ev.Message != deep {
		t.Errorf("ParseError = %q", ev.ParseError)
	}
	ok := `{"message":"m","d":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`
	if ev := one(t, "json", ok); ev.ParseError != "" || ev.Message != "m" {
		t.Errorf("depth 100: %q %q", ev.Message, ev.ParseError)
	}
}

func TestJSONStringsSurviveNextLine(t *testing.T) {
	p := New("json")
	line := []byte(`{"level":"warning","message":"first","stack":"s1","k":"v"}`)
	evs := p.Feed(nil, line, 0, testNow)
	copy(line, `{"level":"error","message":"XXXXX","stack":"XX","k":"X"}`+"         ")
	evs = p.Feed(evs, line, 0, testNow)
	if evs[0].Message != "first" || evs[0].Stack != "s1" || evs[0].RawLevel != "warning" ||
		string(evs[0].Fields) != `{"k":"v"}` {
		t.Errorf("first event changed after the line buffer was reused: %+v", evs[0])
	}
}

func TestLogstashLines(t *testing.T) {
	tests := []struct {
		line string
		want event.Event
	}{
		{`{"@fields":{"level":"error","service":"s","stack":"E: x\n    at f"},"@message":"x",` +
			`"@timestamp":"2026-12-03T15:34:34.419Z"}`,
			event.Event{Time: time.Date(2026, 12, 3, 15, 34, 34, 419e6, time.UTC),
				Level: event.Error, Message: "x", Stack: "E: x\n    at f",
				Fields: []byte(`{"service":"s"}`)}},
		{`{"@fields":{"kind":"no message","level":"info"},"@timestamp":"2026-12-03T15:34:34.419Z"}`,
			event.Event{Time: time.Date(2026, 12, 3, 15, 34, 34, 419e6, time.UTC),
				Level: event.Info,
				Message: `{"@fields":{"kind":"no message","level":"info"},` +
					`"@timestamp":"2026-12-03T15:34:34.419Z"}`,
				Fields: []byte(`{"kind":"no message"}`), ParseError: errMessageMissing}},
		{`{"@fields":{"level":"warning"},"@message":{"obj":1},"@version":"1"}`,
			event.Event{Time: testNow, Level: event.Warn, RawLevel: "warning",
				Message:    `{"@fields":{"level":"warning"},"@message":{"obj":1},"@version":"1"}`,
				Fields:     []byte(`{"@message":{"obj":1},"@version":"1"}`),
				ParseError: errMessageType, Flags: event.FlagNoTimestamp}},
		{`{"@fields":"not an object","@message":"m"}`,
			event.Event{Time: testNow, Level: event.Info, Message: "m",
				Fields: []byte(`{"@fields":"not an object"}`), Flags: event.FlagNoTimestamp}},
	}
	for _, tt := range tests {
		for _, format := range []string{"logstash", "json"} {
			assertEvent(t, one(t, format, tt.line), tt.want)
		}
	}
}

// A level decoded from escapes must survive the timestamp decoded after it (a fuzz find).
func TestJSONEscapedLevelAndTimestamp(t *testing.T) {
	ev := one(t, "json", `{"level":"\u0077arning","timestamp":"\u0080","message":"m"}`)
	if ev.Level != event.Warn || ev.RawLevel != "warning" ||
		string(ev.Fields) != `{"timestamp":"\u0080"}` {
		t.Errorf("%+v", ev)
	}
}
