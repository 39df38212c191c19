package sentry

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	sentrygo "github.com/getsentry/sentry-go"
)

// A reference reading of one frame line with regular expressions shaped like
// @sentry/core's node line parser. Go's regexp has no look-ahead, so the "line ends with
// )" condition picks one of two expressions; leftmost-first matching gives the same
// submatches a backtracking engine would. The hand-written parser must agree with it.
const jsSpace = `[\t\n\v\f\r ]`

var (
	refData  = regexp.MustCompile(`^at (?:async )?(.+?) \(data:(.*?),`)
	refWithF = regexp.MustCompile(`^at (?:async )?(?:(.+?)` + jsSpace + `+\()?(?:(.+):(\d+):(\d+)?|([^)]+))\)?`)
	refNoF   = regexp.MustCompile(`^at (?:async )?(?:(.+):(\d+):(\d+)?|([^)]+))\)?`)
	refEnds  = regexp.MustCompile(`\)` + jsSpace + `*$`)
)

func refParseFrameLine(line string) (sentrygo.Frame, bool) {
	t := strings.TrimLeft(line, " \t")
	if m := refData.FindStringSubmatch(t); m != nil {
		return sentrygo.Frame{Function: m[1], Filename: "<data:" + m[2] + ">"}, true
	}
	var m []string
	if refEnds.MatchString(t) {
		m = refWithF.FindStringSubmatch(t)
	} else {
		m = refNoF.FindStringSubmatch(t)
		if m != nil {
			m = append([]string{m[0], ""}, m[1:]...)
		}
	}
	if m == nil {
		return sentrygo.Frame{}, false
	}
	lineno, _ := strconv.Atoi(m[3])
	colno, _ := strconv.Atoi(m[4])
	return buildFrame(m[1], m[2], lineno, colno, m[5]), true
}

func checkAgainstReference(t *testing.T, line string) {
	got, gok := parseFrameLine(line)
	want, wok := refParseFrameLine(line)
	if gok != wok || got.Function != want.Function || got.Filename != want.Filename ||
		got.Lineno != want.Lineno || got.Colno != want.Colno || got.InApp != want.InApp {
		t.Fatalf("line %q:\n got  %v %+v\n want %v %+v", line, gok, toJSFrame(got), wok, toJSFrame(want))
	}
}

var refSeeds = []string{
	"at fn (/abs/file.js:10:5)", "at /abs/file.js:3:14", "at new Foo (/a.js:1:2)",
	"at Object.<anonymous> (/a.js:1:1)", "at Function.executeUserEntryPoint [as runMain] (node:internal/modules/run_main:164:12)",
	"at async fn (/a.js:1:1)", "at async Promise.all (index 0)", "at JSON.parse (<anonymous>)",
	"at fn (eval at <anonymous> (/abs/a.js:9:9), <anonymous>:1:25)", "at fn (file:///abs/b.mjs:1:23)",
	"at Array.forEach (native)", "at x (data:text/javascript,export)", "at fn (/a.js:7)",
	"at a b  c ( d:1:2 ) ", "at ()", "at )", "at fn ((x:1:2)", "at a (b) (c:1:2)",
	"at f (C:\\x\\y.js:1:2)", "at f (/p/%E2%82%AC.js:1:2)", "at x.y..z (q:1:)", "at  (a:1:2)",
}

func TestStackParserMatchesReference(t *testing.T) {
	for _, s := range refSeeds {
		checkAgainstReference(t, "    "+s)
	}
}

// FuzzStackParserMatchesReference compares the hand-written frame parser with the
// regular-expression reference on arbitrary frame lines:
//
//	go test -run XXX -fuzz FuzzStackParserMatchesReference ./sinks/sentry/
func FuzzStackParserMatchesReference(f *testing.F) {
	for _, s := range refSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) || strings.ContainsAny(s, "\r\n\u2028\u2029") || len(s) > 1000 {
			t.Skip()
		}
		checkAgainstReference(t, "    at "+strings.TrimPrefix(s, "at "))
	})
}
