package parsers

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/winship/winship/agent/event"
)

// The fuzzers check, for any input: no panic, no hang, no lost line, valid UTF-8 strings,
// Fields nil or a JSON object. Seeds come from the fixtures; findings are kept in
// testdata/fuzz/<FuzzName>/. `go test -run=Fuzz` runs the seeds only.

// seedLines adds each of the first n lines of the fixture files as one seed.
func seedLines(f *testing.F, n int, files ...string) {
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		for i, line := range bytes.Split(data, []byte("\n")) {
			if i >= n {
				break
			}
			f.Add(line)
		}
	}
}

// seedFiles adds the first n bytes (cut at a line end) of each fixture file as one seed.
func seedFiles(f *testing.F, n int, files ...string) {
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		if len(data) > n {
			data = data[:bytes.LastIndexByte(data[:n], '\n')+1]
		}
		f.Add(data)
	}
}

func fixture(folder string) string {
	return filepath.Join("testdata/winston", folder, "combined.log")
}

func odd(folder string) string {
	return filepath.Join("testdata/winston-odd", folder, "combined.log")
}

func FuzzJSON(f *testing.F) {
	seedLines(f, 10, fixture("basic"), odd("basic"), odd("json-color"), odd("json-localtime"))
	for _, s := range []string{``, ` `, `{}`, `[]`, `"x"`, `{"message":"\ud83d\ude80"}`,
		`{"message":"\ud800"}`, "{\"message\":\"\xff\"}", `{"message":1}`, `{"a":`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) { fuzzSingleLine(t, "json", line) })
}

func FuzzLogstash(f *testing.F) {
	seedLines(f, 10, fixture("logstash"), odd("logstash"))
	for _, s := range []string{`{"@fields":{},"@message":"m"}`, `{"@fields":[],"@message":1}`,
		`{"@fields":{"level":"warning","stack":"s"},"@timestamp":5}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) { fuzzSingleLine(t, "logstash", line) })
}

// fuzzSingleLine feeds line to a parser of a single-line format and checks it against
// encoding/json: exactly one event for a non-blank line; "not JSON" exactly when
// encoding/json rejects the line; for an object, the message encoding/json decodes.
func fuzzSingleLine(t *testing.T, format string, line []byte) {
	p := New(format)
	evs := p.Flush(p.Feed(nil, line, 0, testNow))
	clean, _ := cleanLine(line, new([]byte))
	if isBlank(clean) {
		if len(evs) != 0 {
			t.Fatalf("blank line gave %d events", len(evs))
		}
		return
	}
	if len(evs) != 1 || p.Pending() != -1 {
		t.Fatalf("%d events, Pending %d; want 1, -1", len(evs), p.Pending())
	}
	ev := evs[0]
	checkWellFormed(t, 0, ev)
	notJSON := strings.HasPrefix(ev.ParseError, errNotJSONPrefix)
	if valid := json.Valid(clean); valid == notJSON {
		t.Fatalf("json.Valid = %v but ParseError = %q", valid, ev.ParseError)
	}
	if notJSON && ev.Message != string(clean) {
		t.Fatalf("not JSON: message %q is not the line", ev.Message)
	}
	if notJSON || ev.ParseError == errNotObject {
		return
	}
	key := "message"
	_, jsonShape := firstMember(t, clean, "message")
	if !jsonShape {
		if _, ok := firstMember(t, clean, "@message"); ok {
			key = "@message"
		}
	}
	raw, ok := firstMember(t, clean, key)
	var want string
	if ok && json.Unmarshal(raw, &want) == nil {
		if ev.Message != want || ev.ParseError != "" {
			t.Fatalf("message %q (%q), encoding/json says %q", ev.Message, ev.ParseError, want)
		}
	} else if ev.ParseError == "" || ev.Message != string(clean) {
		t.Fatalf("no string %s, yet message %q, ParseError %q", key, ev.Message, ev.ParseError)
	}
	if jsonShape {
		checkFieldsKept(t, clean, ev.Fields)
	}
}

// checkFieldsKept checks that every top-level key of a json() line other than the four
// that become Event fields is in Fields with its value byte for byte.
func checkFieldsKept(t *testing.T, line, fields []byte) {
	d := json.NewDecoder(bytes.NewReader(line))
	d.Token() // '{'
	seen := map[any]bool{}
	for d.More() {
		k, _ := d.Token()
		var v json.RawMessage
		d.Decode(&v)
		switch k {
		case "level", "message", "stack", "timestamp":
			continue
		}
		if seen[k] {
			continue // Fields holds every duplicate; firstMember finds the first
		}
		seen[k] = true
		got, ok := json.RawMessage(nil), false
		if fields != nil {
			got, ok = firstMember(t, fields, k.(string))
		}
		if !ok || !bytes.Equal(got, v) {
			t.Fatalf("key %q: Fields %s has %s, line has %s", k, fields, got, v)
		}
	}
}

// firstMember returns the raw value of the first top-level member named key of the valid
// JSON object b.
func firstMember(t *testing.T, b []byte, key string) (json.RawMessage, bool) {
	d := json.NewDecoder(bytes.NewReader(b))
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %v %v", tok, err)
	}
	for d.More() {
		k, err := d.Token()
		if err != nil {
			t.Fatal(err)
		}
		var v json.RawMessage
		if err := d.Decode(&v); err != nil && !errors.Is(err, io.EOF) {
			t.Fatal(err)
		}
		if k == key {
			return v, true
		}
	}
	return nil, false
}

func FuzzPretty(f *testing.F) {
	seedFiles(f, 1500, fixture("pretty"), odd("pretty"))
	for _, s := range []string{"{\n", "{ a: 1 }\n", "{\n  a: [\n", "}\n{\n}\n", "<ref *1> {\n}\n",
		"{\n  a: 'x' +\n    'y',\n  b: Map(1) { 'k' => 1 },\n  c: [Circular *1]\n}\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzMultiLine(t, "pretty", data) })
}

func FuzzText(f *testing.F) {
	seedFiles(f, 1500, fixture("printf"), fixture("simple"), odd("printf"), odd("simple"),
		odd("printf-color"), odd("simple-color"))
	for _, s := range []string{"info: a {\"b\":1}\n", "\n\n    at x\n",
		"2026-12-03 16:37:41 [AUDIT]: x\nError: y\n    at z\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzMultiLine(t, "text", data) })
}

func FuzzAuto(f *testing.F) {
	for _, folder := range []string{"basic", "logstash", "pretty", "printf", "simple"} {
		seedFiles(f, 1500, fixture(folder))
	}
	f.Add([]byte("    at x\n}\n{\n  a: 1\n}\n"))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzMultiLine(t, "auto", data) })
}

// fuzzMultiLine feeds the lines of data and checks that no line is lost: each non-blank
// line either completes an event or is held (Pending points at or before it); nothing is
// held after Flush; an entry start always gives its own event; the text of every line that
// became an event on its own (a ParseError event) is its message.
func fuzzMultiLine(t *testing.T, format string, data []byte) {
	p := New(format)
	var out []event.Event
	var off int64
	var cores [][]byte
	nonBlank, starts := 0, 0
	for _, line := range bytes.Split(data, []byte("\n")) {
		before := len(out)
		out = p.Feed(out, line, off, testNow)
		clean, _ := cleanLine(line, new([]byte))
		pend := p.Pending()
		if pend > off {
			t.Fatalf("Pending %d past the line at %d", pend, off)
		}
		if !isBlank(clean) {
			nonBlank++
			if len(out) == before && pend == -1 {
				t.Fatalf("line %q neither made an event nor is held", line)
			}
		}
		if startsEntry(format, clean) {
			starts++
		}
		if format == "text" && !isBlank(clean) {
			cores = append(cores, textCore(clean))
		}
		off += int64(len(line)) + 1
	}
	out = p.Flush(out)
	if p.Pending() != -1 {
		t.Fatalf("Pending %d after Flush", p.Pending())
	}
	if nonBlank > 0 && len(out) == 0 || len(out) > nonBlank || len(out) < starts {
		t.Fatalf("%d events from %d non-blank lines and %d entry starts", len(out), nonBlank,
			starts)
	}
	var all strings.Builder
	for i, ev := range out {
		checkWellFormed(t, i, ev)
		all.WriteString(ev.Message + "\n" + ev.Stack + "\n")
	}
	for _, core := range cores {
		if !strings.Contains(all.String(), string(core)) {
			t.Fatalf("the text %q of a line is in no event", core)
		}
	}
}

// textCore is the part of a text line that must reach an event's message or stack
// verbatim: the line after its entry header, up to a possible simple() meta object.
func textCore(line []byte) []byte {
	if h, ok := parseHead(line); ok {
		line = line[h.msg:]
	}
	if i := bytes.Index(line, []byte(" {")); i >= 0 {
		line = line[:i]
	}
	return line
}

// startsEntry reports whether a line surely starts an entry of its own in format.
func startsEntry(format string, line []byte) bool {
	switch format {
	case "pretty":
		return opensPretty(line)
	case "text":
		_, ok := parseHead(line)
		return ok
	}
	return false
}
