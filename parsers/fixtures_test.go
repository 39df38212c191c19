package parsers

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/winship/winship/agent/event"
)

// The fixtures under testdata/winston were written by winston 3.19.0 (see
// testdata/winston/README.md): 200 entries in each combined.log, 60 in each error.log, the
// same demo entries in every format. testdata/winston-odd holds the odd cases written by
// testdata/winston-odd/gen.js.

// readFile feeds the lines of path to a parser of format as the follower does (offsets,
// Flush at the end) and checks the Pending bookkeeping on the way.
func readFile(t *testing.T, format, path string) []event.Event {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return readBytes(t, New(format), data)
}

func readBytes(t *testing.T, p Parser, data []byte) []event.Event {
	t.Helper()
	var out []event.Event
	var off int64
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line = data[:i]
		}
		out = p.Feed(out, line, off, testNow)
		if pend := p.Pending(); pend > off {
			t.Fatalf("Pending() = %d after the line at %d", pend, off)
		}
		off += int64(len(line)) + 1
		data = data[min(len(line)+1, len(data)):]
	}
	out = p.Flush(out)
	if pend := p.Pending(); pend != -1 {
		t.Fatalf("Pending() = %d after Flush, want -1", pend)
	}
	for i, ev := range out {
		checkWellFormed(t, i, ev)
	}
	return out
}

// checkWellFormed checks what must hold for every event: valid UTF-8 strings and Fields
// that is nil or a JSON object.
func checkWellFormed(t *testing.T, i int, ev event.Event) {
	t.Helper()
	for name, s := range map[string]string{"Message": ev.Message, "Stack": ev.Stack,
		"RawLevel": ev.RawLevel, "ParseError": ev.ParseError} {
		if !utf8.ValidString(s) {
			t.Errorf("event %d: %s is not valid UTF-8: %q", i, name, s)
		}
	}
	if ev.Fields != nil && (!json.Valid(ev.Fields) || ev.Fields[0] != '{') {
		t.Errorf("event %d: Fields is not a JSON object: %s", i, ev.Fields)
	}
	if ev.Time.IsZero() {
		t.Errorf("event %d: zero Time", i)
	}
}

func fieldsMap(t *testing.T, ev event.Event) map[string]any {
	t.Helper()
	m := map[string]any{}
	if ev.Fields != nil {
		if err := json.Unmarshal(ev.Fields, &m); err != nil {
			t.Fatalf("Fields %s: %v", ev.Fields, err)
		}
	}
	return m
}

func noParseErrors(t *testing.T, name string, evs []event.Event) {
	t.Helper()
	for i, ev := range evs {
		if ev.ParseError != "" {
			t.Errorf("%s event %d: ParseError %q for %q", name, i, ev.ParseError, ev.Message)
		}
		if ev.Flags&event.FlagNoTimestamp != 0 && !strings.Contains(name, "simple") {
			t.Errorf("%s event %d: no timestamp", name, i)
		}
	}
}

var fixtureFiles = []struct {
	name    string
	entries int
}{{"combined.log", 200}, {"error.log", 60}}

// TestFixturesStructuredFormats checks that json, logstash and pretty output of the same
// entries give the same events: count, message, level, stack and fields.
func TestFixturesStructuredFormats(t *testing.T) {
	for _, f := range fixtureFiles {
		t.Run(f.name, func(t *testing.T) {
			basic := readFile(t, "json", filepath.Join("testdata/winston/basic", f.name))
			if len(basic) != f.entries {
				t.Fatalf("basic: %d events, want %d", len(basic), f.entries)
			}
			noParseErrors(t, "basic", basic)
			for _, format := range []string{"logstash", "pretty", "auto"} {
				folders := []string{"logstash", "pretty"}
				if format == "auto" {
					folders = append(folders, "basic")
				}
				for _, folder := range folders {
					if format != "auto" && folder != format {
						continue
					}
					got := readFile(t, format, filepath.Join("testdata/winston", folder, f.name))
					compareStructured(t, format+"/"+folder, basic, got)
				}
			}
		})
	}
}

func compareStructured(t *testing.T, name string, want, got []event.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d events, want %d", name, len(got), len(want))
	}
	noParseErrors(t, name, got)
	for i := range want {
		w, g := want[i], got[i]
		if g.Message != w.Message || g.Level != w.Level || g.Stack != w.Stack ||
			g.RawLevel != w.RawLevel {
			t.Errorf("%s event %d:\n got %v %q %q\nwant %v %q %q", name, i,
				g.Level, g.Message, g.Stack, w.Level, w.Message, w.Stack)
		}
		if gm, wm := fieldsMap(t, g), fieldsMap(t, w); !reflect.DeepEqual(gm, wm) {
			t.Errorf("%s event %d fields:\n got %s\nwant %s", name, i, g.Fields, w.Fields)
		}
	}
}

// TestFixturesRotateTailable reads the rotated json files: every line is one event.
func TestFixturesRotateTailable(t *testing.T) {
	total := 0
	for _, name := range []string{"combined.log", "combined1.log"} {
		evs := readFile(t, "json", filepath.Join("testdata/winston/rotate-tailable", name))
		noParseErrors(t, name, evs)
		total += len(evs)
	}
	if total != 200 {
		t.Errorf("rotate-tailable combined*: %d events, want 200", total)
	}
	if evs := readFile(t, "auto", "testdata/winston/rotate-tailable/error.log"); len(evs) != 0 {
		t.Errorf("empty error.log: %d events", len(evs))
	}
}

// TestFixturesTextFormats checks printf and simple output against the json events of the
// same entries. simple() keeps message and meta (its stack included); the printf format of
// the fixture writes `info.stack || info.message`, so an entry with a stack has the stack's
// first line as message and the stack as Stack.
func TestFixturesTextFormats(t *testing.T) {
	for _, f := range fixtureFiles {
		t.Run(f.name, func(t *testing.T) {
			basic := readFile(t, "json", filepath.Join("testdata/winston/basic", f.name))
			for _, format := range []string{"text", "auto"} {
				simple := readFile(t, format, filepath.Join("testdata/winston/simple", f.name))
				compareSimple(t, format+"/simple", basic, simple)
				printf := readFile(t, format, filepath.Join("testdata/winston/printf", f.name))
				comparePrintf(t, format+"/printf", basic, printf)
			}
		})
	}
}

func compareSimple(t *testing.T, name string, want, got []event.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d events, want %d", name, len(got), len(want))
	}
	noParseErrors(t, name, got)
	for i := range want {
		w, g := want[i], got[i]
		if g.Message != w.Message || g.Level != w.Level || g.Stack != w.Stack {
			t.Errorf("%s event %d:\n got %v %q %q\nwant %v %q %q", name, i,
				g.Level, g.Message, g.Stack, w.Level, w.Message, w.Stack)
		}
		if gm, wm := fieldsMap(t, g), fieldsMap(t, w); !reflect.DeepEqual(gm, wm) {
			t.Errorf("%s event %d fields:\n got %s\nwant %s", name, i, g.Fields, w.Fields)
		}
	}
}

func comparePrintf(t *testing.T, name string, want, got []event.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d events, want %d", name, len(got), len(want))
	}
	noParseErrors(t, name, got)
	for i := range want {
		w, g := want[i], got[i]
		if g.Level != w.Level || g.Stack != w.Stack || g.Fields != nil ||
			g.Flags&event.FlagNoTimestamp != 0 {
			t.Errorf("%s event %d: got %v stack %q fields %s flags %b, want %v stack %q",
				name, i, g.Level, g.Stack, g.Fields, g.Flags, w.Level, w.Stack)
		}
		wantMsg := w.Message
		if w.Stack != "" {
			wantMsg = w.Stack[:strings.Index(w.Stack, "\n    at ")]
		}
		if g.Message != wantMsg {
			t.Errorf("%s event %d: message %q, want %q", name, i, g.Message, wantMsg)
		}
	}
}

// TestFixtureNotableEntries pins a few entries of the shared fixture in every format that
// keeps them: the Frontend Error with its browser context, the circular meta, the message
// with a newline and a tab, an error with its stack.
func TestFixtureNotableEntries(t *testing.T) {
	for _, tc := range []struct{ folder, format string }{{"basic", "json"},
		{"logstash", "logstash"}, {"pretty", "pretty"}, {"simple", "text"}} {
		evs := readFile(t, tc.format, fixture(tc.folder))
		front := evs[1]
		m := fieldsMap(t, front)
		ctx, _ := m["context"].(map[string]any)
		if front.Message != "Frontend Error: TypeError: x is not a function #1" ||
			front.Level != event.Error || m["url"] != "http://localhost:3000/admin/deals/1" ||
			!strings.HasPrefix(m["userAgent"].(string), "Mozilla/5.0 (X11; Linux x86_64)") ||
			m["ip"] != "::ffff:127.0.0.1" || ctx["type"] != "unhandledRejection" ||
			!strings.HasPrefix(front.Stack, "TypeError: x is not a function\n    at onClick (") {
			t.Errorf("%s: frontend entry %+v", tc.folder, front)
		}
		circ := fieldsMap(t, evs[4])["self"].(map[string]any)
		if evs[4].Message != "circular meta" || circ["self"] != "[Circular]" {
			t.Errorf("%s: circular entry %+v", tc.folder, evs[4])
		}
		if evs[5].Message != "multi\nline message with \"quotes\" and \t tab" ||
			evs[5].Level != event.Debug {
			t.Errorf("%s: newline entry %+v", tc.folder, evs[5])
		}
		if !strings.HasPrefix(evs[0].Stack, "Error: Cannot read properties of undefined") ||
			strings.Count(evs[0].Stack, "\n    at ") != 9 {
			t.Errorf("%s: stack %q", tc.folder, evs[0].Stack)
		}
	}
}
