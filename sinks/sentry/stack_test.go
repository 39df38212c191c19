package sentry

import (
	"encoding/json"
	"strings"
	"testing"

	sentrygo "github.com/getsentry/sentry-go"
)

// jsFrame is a frame as @sentry/core's stack parser returns it.
type jsFrame struct {
	Filename string `json:"filename"`
	Function string `json:"function"`
	Lineno   int    `json:"lineno"`
	Colno    int    `json:"colno"`
	InApp    bool   `json:"in_app"`
}

// TestStackParserMatchesSentry parses a corpus of real Node 20 stacks with @sentry/core's
// own Node stack parser and with ours, and requires the same frames.
func TestStackParserMatchesSentry(t *testing.T) {
	out := runNode(t, "stacks.js", nil)
	var cases []struct {
		Name   string    `json:"name"`
		Stack  string    `json:"stack"`
		Frames []jsFrame `json:"frames"`
	}
	if err := json.Unmarshal(out, &cases); err != nil {
		t.Fatalf("decode stacks.js output: %v", err)
	}
	if len(cases) < 30 {
		t.Fatalf("corpus has %d stacks, want at least 30", len(cases))
	}
	total := 0
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			got := parseStack(c.Stack).Frames
			total += len(got)
			if len(got) != len(c.Frames) {
				t.Fatalf("%d frames, Sentry has %d\nstack:\n%s", len(got), len(c.Frames), c.Stack)
			}
			for i, want := range c.Frames {
				if g := toJSFrame(got[i]); g != want {
					t.Errorf("frame %d:\n got  %+v\n want %+v", i, g, want)
				}
			}
		})
	}
	if total < 150 {
		t.Errorf("compared %d frames in all, want at least 150", total)
	}
}

func toJSFrame(f sentrygo.Frame) jsFrame {
	return jsFrame{Filename: f.Filename, Function: f.Function, Lineno: f.Lineno,
		Colno: f.Colno, InApp: f.InApp}
}

func TestParseStackHeader(t *testing.T) {
	tests := []struct {
		stack, typ, value, code string
	}{
		{"TypeError: x is not a function\n    at f (/a.js:1:2)", "TypeError", "x is not a function", ""},
		{"Error\n    at f (/a.js:1:2)", "Error", "", ""},
		{"Error: line one\nline two\n    at f (/a.js:1:2)", "Error", "line one\nline two", ""},
		{"TypeError [ERR_INVALID_ARG_TYPE]: bad path\n    at f (/a.js:1:2)",
			"TypeError", "bad path", "ERR_INVALID_ARG_TYPE"},
		{"/srv/a.js:1\nnull.x;\n    ^\n\nTypeError: null has no x\n    at /srv/a.js:1:6",
			"TypeError", "null has no x", ""},
		{"something odd happened", "Error", "something odd happened", ""},
		{"", "Error", "", ""},
	}
	for _, tt := range tests {
		ps := parseStack(tt.stack)
		if ps.Type != tt.typ || ps.Value != tt.value || ps.Code != tt.code {
			t.Errorf("parseStack(%q) = %q, %q, %q; want %q, %q, %q", tt.stack,
				ps.Type, ps.Value, ps.Code, tt.typ, tt.value, tt.code)
		}
	}
}

func TestParseStackModuleAndAbsPath(t *testing.T) {
	ps := parseStack("Error: x\n" +
		"    at handle (/app/node_modules/express/lib/router/layer.js:95:5)\n" +
		"    at fn (/app/node_modules/@scope/pkg/index.mjs:1:1)\n" +
		"    at main (/app/src/main.js:3:4)\n" +
		"    at node:internal/main/run_main_module:28:49")
	want := []struct{ module, abs string }{
		{"", ""},
		{"", "/app/src/main.js"},
		{"@scope.pkg:index", "/app/node_modules/@scope/pkg/index.mjs"},
		{"express.lib.router:layer", "/app/node_modules/express/lib/router/layer.js"},
	}
	for i, w := range want {
		f := ps.Frames[i]
		if f.Module != w.module || f.AbsPath != w.abs {
			t.Errorf("frame %d (%s): module %q abs %q, want %q %q", i, f.Filename,
				f.Module, f.AbsPath, w.module, w.abs)
		}
	}
}

func TestTrimFramesKeepsBothEnds(t *testing.T) {
	var b strings.Builder
	b.WriteString("Error: deep")
	for i := 120; i >= 1; i-- {
		b.WriteString("\n    at f" + itoa(i) + " (/a.js:" + itoa(i) + ":1)")
	}
	ps := parseStack(b.String())
	if len(ps.Frames) != 120 {
		t.Fatalf("parsed %d frames, want 120", len(ps.Frames))
	}
	fs, omitted := trimFrames(ps.Frames, maxFrames)
	if len(fs) != maxFrames {
		t.Fatalf("kept %d frames, want %d", len(fs), maxFrames)
	}
	if fs[0].Function != "f1" || fs[len(fs)-1].Function != "f120" {
		t.Errorf("ends are %s..%s, want f1..f120 (oldest first, throwing frame last)",
			fs[0].Function, fs[len(fs)-1].Function)
	}
	if fs[24].Function != "f25" || fs[25].Function != "f96" {
		t.Errorf("around the cut: %s, %s; want f25, f96", fs[24].Function, fs[25].Function)
	}
	if len(omitted) != 2 || omitted[0] != 25 || omitted[1] != 95 {
		t.Errorf("frames_omitted = %v, want [25 95]", omitted)
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

// FuzzParseStack checks that no input makes the parser panic and that frames keep their
// invariants.
func FuzzParseStack(f *testing.F) {
	f.Add("TypeError: x\n    at f (/a.js:1:2)\n    at async Promise.all (index 0)")
	f.Add("Error\n    at eval (eval at <anonymous> (/a.js:9:9), <anonymous>:1:25)")
	f.Add("E: x\n    at fn (file:///C:/a%20b.mjs:1:23)\n    at Array.forEach (native)")
	f.Add("    at x (data:text/javascript,export)\n at  (\n at )")
	f.Fuzz(func(t *testing.T, stack string) {
		ps := parseStack(stack)
		for _, fr := range ps.Frames {
			if fr.Function == "" {
				t.Fatalf("frame without function in %q", stack)
			}
			if fr.InApp && strings.Contains(fr.Filename, "node_modules/") {
				t.Fatalf("node_modules frame in app: %q", fr.Filename)
			}
		}
	})
}
