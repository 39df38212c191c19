package parsers

import (
	"strings"
	"testing"
	"time"

	"github.com/winship/winship/agent/event"
)

func TestInspectToJSON(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{}`, `{}`},
		{`{ a: 1, b: 'x', c: "it's", d: ` + "`both ' and \"`" + ` }`,
			`{"a":1,"b":"x","c":"it's","d":"both ' and \""}`},
		{"{\n  s: 'a\\n' +\n    'b\\t\\'c\\\\',\n  n: -1.5e+21\n}", `{"s":"a\nb\t'c\\","n":-1.5e+21}`},
		{`{ 'a-b': true, $x: false, _y: null, u: undefined }`,
			`{"a-b":true,"$x":false,"_y":null,"u":null}`},
		{`{ nan: NaN, inf: Infinity, ninf: -Infinity, big: 12n, z: -0 }`,
			`{"nan":"NaN","inf":"Infinity","ninf":"-Infinity","big":12,"z":-0}`},
		{`{ self: <ref *1> { id: 4, self: [Circular *1] } }`,
			`{"self":{"id":4,"self":"[Circular]"}}`},
		{`<ref *1> { a: [Circular *1] }`, `{"a":"[Circular]"}`},
		{`{ tags: [ 'a', 'b' ], e: [], n: [ [ 1 ], {} ] }`,
			`{"tags":["a","b"],"e":[],"n":[[1],{}]}`},
		{"{\n  nums: [\n     0,  1,\n     2\n  ]\n}", `{"nums":[0,1,2]}`},
		{`{ sparse: [ 1, <2 empty items>, 3 ] }`, `{"sparse":[1,null,null,3]}`},
		{`{ long: [ 1, ... 100 more items ] }`, `{"long":[1,"... 100 more items"]}`},
		{`{ d: 1970-01-01T00:00:00.000Z, f: [Function: foo], g: [Function (anonymous)] }`,
			`{"d":"1970-01-01T00:00:00.000Z","f":"[Function: foo]","g":"[Function (anonymous)]"}`},
		{`{ m: Map(1) { 'a' => 1 }, s: Set(1) { 1 }, sym: Symbol(x), r: /ab+c/g }`,
			`{"m":"Map(1) { 'a' => 1 }","s":"Set(1) { 1 }","sym":"Symbol(x)","r":"/ab+c/g"}`},
		{`{ buf: <Buffer 68 69>, o: Foo { a: 1 }, p: [Object: null prototype] { b: 2 } }`,
			`{"buf":"<Buffer 68 69>","o":{"a":1},"p":{"b":2}}`},
		{"{\n  e: Error: boom\n      at f (/a.js:1:2)\n      at /b.js:3:4 {\n    code: 'E1'\n  },\n  k: 1\n}",
			`{"e":"Error: boom\n      at f (/a.js:1:2)\n      at /b.js:3:4 {\n    code: 'E1'\n  }","k":1}`},
		{`{ ctrl: '\x1B[31m\x00', u: '\u00e9\uD83D\uDE80\uD800', cp: '\u{1F680}' }`,
			`{"ctrl":"\u001b[31m\u0000","u":"é🚀` + "\uFFFD" + `","cp":"🚀"}`},
		{`{ [Symbol(foo)]: 'bar', s: 'x'... 10 more characters }`,
			`{"[Symbol(foo)]":"bar","s":"'x'... 10 more characters"}`},
		{`{ emoji: '🎉👍🏽', ru: 'Платёж' }`, `{"emoji":"🎉👍🏽","ru":"Платёж"}`},
	}
	for _, tt := range tests {
		got, err := inspectToJSON(nil, []byte(tt.in))
		if err != nil || string(got) != tt.want {
			t.Errorf("%s:\n got %s (%v)\nwant %s", tt.in, got, err, tt.want)
		}
	}
}

func TestInspectToJSONErrors(t *testing.T) {
	for _, in := range []string{``, `[1]`, `{`, `{ a: 1`, `{ a: 'x }`, `{ a 1 }`, `{ a: 1 } x`,
		`{ a: , b: 1 }`, "{ a: 'x\ny' }",
		`{` + strings.Repeat(" a: {", maxDepth+1)} {
		if got, err := inspectToJSON(nil, []byte(in)); err == nil {
			t.Errorf("%q: converted to %s, want an error", in, got)
		}
	}
}

func TestPrettyEntries(t *testing.T) {
	text := "{\n  level: 'warn',\n  message: 'two lines',\n  timestamp: '2026-12-03T15:34:35.047Z'\n}\n" +
		"{ level: 'info', message: 'one line' }\n" +
		"stray text\n" +
		"{\n  level: 'error',\n  message: 'bad', oops\n  timestamp: '2026-12-03T15:34:35.047Z'\n}\n" +
		"{\n  level: 'error',\n  message: 'never closed'\n" +
		"{\n  message: 'last'\n"
	p := New("pretty")
	evs := readBytes(t, p, []byte(text))
	want := []struct {
		level      event.Level
		msg, error string
		noTime     bool
	}{
		{event.Warn, "two lines", "", false},
		{event.Info, "one line", "", true},
		{event.Info, "stray text", errPrettyStray, true},
		{event.Error, "{\n  level: 'error',\n  message: 'bad', oops\n  timestamp: '2026-12-03T15:34:35.047Z'\n}",
			"not util.inspect syntax: want ':' at offset 45", false},
		{event.Error, "{\n  level: 'error',\n  message: 'never closed'", errPrettyUnterminated, true},
		{event.Info, "{\n  message: 'last'", errPrettyUnterminated, true},
	}
	if len(evs) != len(want) {
		t.Fatalf("%d events, want %d: %+v", len(evs), len(want), evs)
	}
	for i, w := range want {
		ev := evs[i]
		if ev.Level != w.level || ev.Message != w.msg || ev.ParseError != w.error ||
			(ev.Flags&event.FlagNoTimestamp != 0) != w.noTime {
			t.Errorf("event %d: %v %q %q flags %b, want %v %q %q", i, ev.Level, ev.Message,
				ev.ParseError, ev.Flags, w.level, w.msg, w.error)
		}
	}
	if !evs[3].Time.Equal(time.Date(2026, 12, 3, 15, 34, 35, 47e6, time.UTC)) {
		t.Errorf("salvaged time %v", evs[3].Time)
	}
}

func TestPrettyPendingAndFlush(t *testing.T) {
	p := New("pretty")
	out := p.Feed(nil, []byte("{"), 100, testNow)
	out = p.Feed(out, []byte("  message: 'a',"), 102, testNow)
	if len(out) != 0 || p.Pending() != 100 {
		t.Fatalf("holding: %d events, Pending %d; want 0, 100", len(out), p.Pending())
	}
	out = p.Feed(out, []byte("  level: 'info'"), 118, testNow)
	out = p.Feed(out, []byte("}"), 134, testNow)
	if len(out) != 1 || p.Pending() != -1 || out[0].Message != "a" {
		t.Fatalf("closed: %+v, Pending %d", out, p.Pending())
	}
	out = p.Feed(out[:0], []byte("{"), 136, testNow)
	out = p.Flush(out)
	if len(out) != 1 || out[0].ParseError != errPrettyUnterminated || p.Pending() != -1 {
		t.Fatalf("flushed: %+v, Pending %d", out, p.Pending())
	}
}

func TestPrettyColours(t *testing.T) {
	text := "{\n  level: \x1b[32m'info'\x1b[39m,\n  message: \x1b[32m'hi'\x1b[39m,\n  n: \x1b[33m1\x1b[39m\n}"
	evs := readBytes(t, New("pretty"), []byte(text))
	if len(evs) != 1 || evs[0].Message != "hi" || string(evs[0].Fields) != `{"n":1}` {
		t.Fatalf("%+v", evs)
	}
}

func TestMultiLineSplitAtLimit(t *testing.T) {
	for _, format := range []string{"pretty", "text"} {
		t.Run(format, func(t *testing.T) {
			head := map[string]string{"pretty": "{", "text": "error: big"}[format]
			p := New(format)
			out := p.Feed(nil, []byte(head), 0, testNow)
			line := []byte("  x")
			for i := 1; i < maxHeldLines+5; i++ {
				out = p.Feed(out, line, int64(i*4), testNow)
			}
			if len(out) != 1 || out[0].ParseError == "" || p.Pending() != maxHeldLines*4 {
				t.Fatalf("%d events, Pending %d", len(out), p.Pending())
			}
			out = p.Flush(out)
			if len(out) != 2 || out[1].ParseError != errTooLong ||
				strings.Count(out[1].Message, "x") != 5 {
				t.Fatalf("split piece: %d events %+v", len(out), out[len(out)-1])
			}
			if format == "text" && (out[0].Level != event.Error || out[1].Level != event.Error) {
				t.Errorf("levels %v %v", out[0].Level, out[1].Level)
			}
		})
	}
}
