package parsers

import (
	"strings"
	"testing"

	"github.com/winship/winship/agent/event"
)

func TestDetect(t *testing.T) {
	tests := []struct {
		line, format string
		sure         bool
	}{
		{`{"level":"info","message":"m"}`, "json", true},
		{`{"@fields":{},"@message":"m"}`, "json", true},
		{`{}`, "json", true},
		{`{"level":"info","mess`, "json", true}, // a cut line is still json
		{`{`, "pretty", true},
		{`{ level: 'info', message: 'hi' }`, "pretty", true},
		{`<ref *1> {`, "pretty", true},
		{`2026-12-03T15:34:35.615Z [error]: boom`, "text", true},
		{`info: hi {"a":1}`, "text", true},
		{`plain words`, "text", true},
		{`    at work (/a.js:1:2)`, "text", false},
		{`  level: 'info',`, "text", false},
		{`}`, "text", false},
	}
	for _, tt := range tests {
		if f, sure := detect([]byte(tt.line)); f != tt.format || sure != tt.sure {
			t.Errorf("%q: %s %v, want %s %v", tt.line, f, sure, tt.format, tt.sure)
		}
	}
}

func TestAutoStartsMidEntry(t *testing.T) {
	// A prettyPrint file opened in the middle of an entry: the tail of that entry decides
	// nothing and is shipped line by line; the next '{' picks pretty.
	text := "  level: 'info',\n  message: 'tail'\n}\n{\n  level: 'warn',\n  message: 'whole'\n}\n"
	evs := readBytes(t, New("auto"), []byte(text))
	if len(evs) != 4 {
		t.Fatalf("%d events: %+v", len(evs), evs)
	}
	for i, line := range []string{"  level: 'info',", "  message: 'tail'", "}"} {
		if evs[i].Message != line || evs[i].ParseError != errUndetected {
			t.Errorf("event %d: %q %q", i, evs[i].Message, evs[i].ParseError)
		}
	}
	if evs[3].Message != "whole" || evs[3].Level != event.Warn || evs[3].ParseError != "" {
		t.Errorf("entry: %+v", evs[3])
	}
}

func TestAutoGivesUpOnUndecided(t *testing.T) {
	text := strings.Repeat("  indented\n", maxUndecided+2) + "info: now text\n"
	evs := readBytes(t, New("auto"), []byte(text))
	// 16 undetected lines, then text: the 17th indented line is a stray text line, the 18th
	// too, then the entry.
	if len(evs) != maxUndecided+3 || evs[maxUndecided].ParseError != errTextStray ||
		evs[len(evs)-1].Message != "now text" {
		t.Fatalf("%d events, last %+v", len(evs), evs[len(evs)-1])
	}
}

func TestAutoKeepsItsChoice(t *testing.T) {
	text := `{"level":"info","message":"json first"}` + "\n" +
		"error: a text line later\n" +
		`{"@fields":{"level":"warn"},"@message":"logstash line","@timestamp":"2026-12-03T15:34:34.424Z"}` + "\n"
	evs := readBytes(t, New("auto"), []byte(text))
	if len(evs) != 3 {
		t.Fatalf("%d events", len(evs))
	}
	if evs[0].Message != "json first" || evs[1].Message != "error: a text line later" ||
		!strings.HasPrefix(evs[1].ParseError, errNotJSONPrefix) ||
		evs[2].Message != "logstash line" || evs[2].Level != event.Warn {
		t.Errorf("%+v", evs)
	}
}
