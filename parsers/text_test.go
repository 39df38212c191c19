package parsers

import (
	"testing"
	"time"

	"github.com/winship/winship/agent/event"
)

func TestParseHead(t *testing.T) {
	tests := []struct {
		line      string
		ok        bool
		ts, level string
		lv        event.Level
		msg       string
	}{
		{"2026-12-03T15:34:35.615Z [error]: Error: boom", true,
			"2026-12-03T15:34:35.615Z", "error", event.Error, "Error: boom"},
		{"2026-12-03 16:37:41 [info]: hi", true, "2026-12-03 16:37:41", "info", event.Info, "hi"},
		{"[2026-12-03T15:34:35+05:00] warn: hi", true, "2026-12-03T15:34:35+05:00", "warn",
			event.Warn, "hi"},
		{"2026-12-03T15:34:35.615Z INFO hi", true, "2026-12-03T15:34:35.615Z", "INFO",
			event.Info, "hi"},
		{"2026-12-03T15:34:35.615Z [audit]: custom", true, "2026-12-03T15:34:35.615Z", "audit",
			event.Info, "custom"},
		{"info: hi {\"a\":1}", true, "", "info", event.Info, "hi {\"a\":1}"},
		{"warning: syslog", true, "", "warning", event.Warn, "syslog"},
		{"\x1b[31merror\x1b[39m: red", true, "", "\x1b[31merror\x1b[39m", event.Error, "red"},
		{"2026-12-03T15:34:35.615Z [\x1b[32minfo\x1b[39m]: green", true,
			"2026-12-03T15:34:35.615Z", "\x1b[32minfo\x1b[39m", event.Info, "green"},
		{"debug:", true, "", "debug", event.Debug, ""},
		{"[error] no colon", true, "", "error", event.Error, "no colon"},
		// Not headers: a stack header, prose, frames, an unknown level without a timestamp.
		{"Error: boom", false, "", "", 0, ""},
		{"TypeError: x is not a function", false, "", "", 0, ""},
		{"    at work (/a.js:1:2)", false, "", "", 0, ""},
		{"audit: x", false, "", "", 0, ""},
		{"info:x", false, "", "", 0, ""},
		{"line message with \"quotes\"", false, "", "", 0, ""},
		{"2026-12-03T15:34:35.615Z something", false, "", "", 0, ""},
		{"", false, "", "", 0, ""},
	}
	for _, tt := range tests {
		h, ok := parseHead([]byte(tt.line))
		if ok != tt.ok {
			t.Errorf("%q: ok = %v", tt.line, ok)
			continue
		}
		if !ok {
			continue
		}
		b := []byte(tt.line)
		ts, level := string(b[h.ts.from:h.ts.to]), string(b[h.level.from:h.level.to])
		if ts != tt.ts || level != tt.level || h.lv != tt.lv || string(b[h.msg:]) != tt.msg {
			t.Errorf("%q: ts %q level %q %v msg %q", tt.line, ts, level, h.lv, b[h.msg:])
		}
	}
}

func TestTextEntries(t *testing.T) {
	text := "    at orphan (/x.js:1:1)\n" +
		"\n" +
		"2026-12-03T15:34:35.615Z [error]: Error [ERR_X]: boom\n" +
		"second line of the message\n" +
		"    at work (/a.js:30:15)\n" +
		"    at async Promise.all (index 0)\n" +
		"\n" +
		"2026-12-03 16:37:41 [warn]: local time\n" +
		"\n" +
		"line after a blank\n" +
		"\n" +
		"\n" +
		"info: simple {\"service\":\"s\",\"timestamp\":\"2026-12-03T15:34:36.287Z\",\"n\":1}\n" +
		"error: with stack meta {\"stack\":\"Error: m\\n    at f (/b.js:1:1)\",\"k\":[1]}\n" +
		"verbose: braces {x} not meta\n" +
		"http: cut meta {\"a\":\n" +
		"2026-12-03T15:34:35.615Z [AUDIT]: custom level\n" +
		"Error: not a stack, no frames"
	evs := readBytes(t, New("text"), []byte(text))
	local := time.Date(2026, 12, 3, 16, 37, 41, 0, time.Local)
	want := []event.Event{
		{Time: testNow, Level: event.Info, Message: "    at orphan (/x.js:1:1)",
			ParseError: errTextStray, Flags: event.FlagNoTimestamp},
		{Time: time.Date(2026, 12, 3, 15, 34, 35, 615e6, time.UTC), Level: event.Error,
			Message: "Error [ERR_X]: boom\nsecond line of the message",
			Stack: "Error [ERR_X]: boom\nsecond line of the message\n" +
				"    at work (/a.js:30:15)\n    at async Promise.all (index 0)"},
		{Time: local, Level: event.Warn, Message: "local time\n\nline after a blank",
			Fields: []byte(`{"timestamp":"2026-12-03 16:37:41"}`)},
		{Time: time.Date(2026, 12, 3, 15, 34, 36, 287e6, time.UTC), Level: event.Info,
			Message: "simple", Fields: []byte(`{"service":"s","n":1}`)},
		{Time: testNow, Level: event.Error, Message: "with stack meta",
			Stack: "Error: m\n    at f (/b.js:1:1)", Fields: []byte(`{"k":[1]}`),
			Flags: event.FlagNoTimestamp},
		{Time: testNow, Level: event.Verbose, Message: "braces {x} not meta",
			Flags: event.FlagNoTimestamp},
		{Time: testNow, Level: event.HTTP, Message: "cut meta {\"a\":",
			Flags: event.FlagNoTimestamp},
		{Time: time.Date(2026, 12, 3, 15, 34, 35, 615e6, time.UTC), Level: event.Info,
			RawLevel: "AUDIT", Message: "custom level\nError: not a stack, no frames"},
	}
	if len(evs) != len(want) {
		t.Fatalf("%d events, want %d: %+v", len(evs), len(want), evs)
	}
	for i := range want {
		assertEvent(t, evs[i], want[i])
	}
}

func TestTextPending(t *testing.T) {
	p := New("text")
	out := p.Feed(nil, []byte("stray"), 0, testNow)
	if len(out) != 1 || p.Pending() != -1 {
		t.Fatalf("stray: %d events, Pending %d", len(out), p.Pending())
	}
	out = p.Feed(out[:0], []byte("error: a"), 6, testNow)
	out = p.Feed(out, []byte("    at f (x.js:1:1)"), 15, testNow)
	if len(out) != 0 || p.Pending() != 6 {
		t.Fatalf("held: %d events, Pending %d", len(out), p.Pending())
	}
	out = p.Feed(out, []byte("info: b"), 35, testNow)
	if len(out) != 1 || p.Pending() != 35 || out[0].Message != "a" {
		t.Fatalf("next entry: %+v, Pending %d", out, p.Pending())
	}
	out = p.Flush(out[:0])
	if len(out) != 1 || p.Pending() != -1 || out[0].Message != "b" {
		t.Fatalf("flush: %+v, Pending %d", out, p.Pending())
	}
	if out = p.Flush(out[:0]); len(out) != 0 {
		t.Fatalf("second flush: %+v", out)
	}
}

func TestTextInvalidUTF8(t *testing.T) {
	evs := readBytes(t, New("text"), []byte("info: a\xff\nb\xfe\xef\xbb\xbf"))
	if len(evs) != 1 || evs[0].Message != "a\uFFFD\nb\uFFFD\uFEFF" ||
		evs[0].Flags&event.FlagInvalidUTF8 == 0 {
		t.Fatalf("%+v", evs)
	}
}

func TestTextAndPrettyLevels(t *testing.T) {
	names := map[string]event.Level{"error": event.Error, "warn": event.Warn,
		"info": event.Info, "http": event.HTTP, "verbose": event.Verbose, "debug": event.Debug,
		"silly": event.Silly, "emerg": event.Emerg, "alert": event.Alert, "crit": event.Crit,
		"warning": event.Warn, "notice": event.Notice}
	for name, lv := range names {
		raw := ""
		if name == "warning" {
			raw = "warning"
		}
		for _, tt := range []struct{ format, text string }{
			{"text", name + ": m"},
			{"text", "2026-12-03T15:34:35.615Z [" + name + "]: m"},
			{"pretty", "{ level: '" + name + "', message: 'm' }"},
			{"auto", "{\n  level: '" + name + "',\n  message: 'm'\n}"},
		} {
			evs := readBytes(t, New(tt.format), []byte(tt.text))
			if len(evs) != 1 || evs[0].Level != lv || evs[0].RawLevel != raw ||
				evs[0].Message != "m" {
				t.Errorf("%s %q: %+v", tt.format, tt.text, evs)
			}
		}
	}
}
