package parsers

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/winship/winship/agent/event"
)

// The entries gen.js writes through every format, in order (see writeNpm there).
const (
	oddRussian = iota
	oddEmoji
	oddErrorNewline
	oddQuotes
	oddMetaShapes
	oddObjectMessage
	oddNoMessage
	oddHTTP
	oddWrapped
	oddCircular
	oddBraces
	oddSilly
	oddFrontend
	oddControl
	oddEntries
)

var oddMessages = [oddEntries]string{
	oddRussian:       "Платёж не прошёл: клиент 5",
	oddEmoji:         "Тўлов амалга ошмади 🚀 — retry",
	oddErrorNewline:  "boom with\nnewline",
	oddQuotes:        "tab\tand \"double\" and 'single' and `back` quotes",
	oddMetaShapes:    "meta shapes",
	oddHTTP:          "GET /api/health 200 1ms",
	oddWrapped:       "wrapped inner",
	oddCircular:      "circular meta",
	oddBraces:        "payload:\n{\n  \"a\": 1\n}\nend",
	oddSilly:         "silly one",
	oddFrontend:      "Frontend Error: TypeError: y is undefined",
	oddControl:       "back\\slash and \x01 control and \u2028 separator",
	oddObjectMessage: "[object Object]", // what the text formats print
	oddNoMessage:     "undefined",
}

var oddLevels = [oddEntries]event.Level{event.Info, event.Warn, event.Error, event.Info,
	event.Info, event.Info, event.Info, event.HTTP, event.Error, event.Debug, event.Verbose,
	event.Silly, event.Error, event.Info}

// TestOddEntries checks the odd entries in every format Winston wrote them in.
func TestOddEntries(t *testing.T) {
	testOddDir(t, "testdata/winston-odd")
}

// testOddDir checks the folders gen.js wrote into dir.
func testOddDir(t *testing.T, dir string) {
	formats := map[string]string{"basic": "json", "logstash": "logstash", "pretty": "pretty",
		"printf": "text", "simple": "text", "json-color": "json", "simple-color": "text",
		"printf-color": "text", "json-localtime": "json"}
	for folder, format := range formats {
		for _, f := range []string{format, "auto"} {
			t.Run(folder+"/"+f, func(t *testing.T) {
				evs := readFile(t, f, filepath.Join(dir, folder, "combined.log"))
				if len(evs) != oddEntries {
					t.Fatalf("%d events, want %d", len(evs), oddEntries)
				}
				for i, ev := range evs {
					checkOdd(t, folder, i, ev)
				}
			})
		}
	}
	t.Run("syslog", func(t *testing.T) {
		evs := readFile(t, "auto", filepath.Join(dir, "syslog/combined.log"))
		want := []event.Level{event.Emerg, event.Alert, event.Crit, event.Error, event.Warn,
			event.Notice, event.Info, event.Debug}
		if len(evs) != len(want) {
			t.Fatalf("%d events, want %d", len(evs), len(want))
		}
		for i, ev := range evs {
			raw := strings.TrimPrefix(ev.Message, "syslog ")
			if ev.Level != want[i] || (raw == "warning") != (ev.RawLevel == "warning") {
				t.Errorf("%q: level %v raw %q, want %v", ev.Message, ev.Level, ev.RawLevel, want[i])
			}
		}
	})
}

func checkOdd(t *testing.T, folder string, i int, ev event.Event) {
	t.Helper()
	text := strings.HasPrefix(folder, "printf") || strings.HasPrefix(folder, "simple")
	printf := strings.HasPrefix(folder, "printf")
	if ev.Level != oddLevels[i] {
		t.Errorf("entry %d: level %v, want %v", i, ev.Level, oddLevels[i])
	}
	if strings.HasSuffix(folder, "-color") != (ev.RawLevel != "") ||
		ev.RawLevel != "" && !strings.Contains(ev.RawLevel, "\x1b[") {
		t.Errorf("entry %d: RawLevel %q", i, ev.RawLevel)
	}
	checkOddMessage(t, folder, i, ev, text, printf)
	if !printf && !strings.HasPrefix(folder, "simple") && ev.Flags&event.FlagNoTimestamp != 0 {
		t.Errorf("entry %d: no timestamp", i)
	}
	m := fieldsMap(t, ev)
	if !printf && m["service"] != "odd-demo" {
		t.Errorf("entry %d: fields %s lack the service", i, ev.Fields)
	}
	if folder == "json-localtime" {
		ts, _ := m["timestamp"].(string)
		want, err := time.ParseInLocation(time.DateTime, ts, time.Local)
		if err != nil || !ev.Time.Equal(want) {
			t.Errorf("entry %d: time %v from %q", i, ev.Time, ts)
		}
	} else if _, ok := m["timestamp"]; ok {
		t.Errorf("entry %d: canonical timestamp kept in fields %s", i, ev.Fields)
	}
	if printf {
		return
	}
	switch i {
	case oddErrorNewline:
		if m["code"] != "E_BOOM" {
			t.Errorf("error entry fields %s", ev.Fields)
		}
	case oddCircular:
		circ, _ := m["circ"].(map[string]any)
		if circ["self"] != "[Circular]" {
			t.Errorf("circular entry fields %s", ev.Fields)
		}
	case oddFrontend:
		ctx, _ := m["context"].(map[string]any)
		if m["url"] != "http://x/a?q=1" || m["userAgent"] != "Mozilla/5.0" || m["ip"] != "::1" ||
			ctx["route"] != "/a" {
			t.Errorf("frontend entry fields %s", ev.Fields)
		}
	case oddMetaShapes:
		b, _ := json.Marshal(m["nested"])
		if string(b) != `{"a":[1,2,{"b":null}]}` || len(m["long"].(string)) != 300 ||
			len(m["nums"].([]any)) != 30 || m["date"] != "1970-01-01T00:00:00.000Z" {
			t.Errorf("meta shapes fields %s", ev.Fields)
		}
	}
}

func checkOddMessage(t *testing.T, folder string, i int, ev event.Event, text, printf bool) {
	t.Helper()
	wantMsg, wantErr := oddMessages[i], ""
	if !text {
		switch i {
		case oddObjectMessage:
			wantMsg, wantErr = "", errMessageType
		case oddNoMessage:
			wantMsg, wantErr = "", errMessageMissing
		}
	}
	hasStack := i == oddErrorNewline || i == oddWrapped
	if printf && hasStack {
		wantMsg = map[int]string{oddErrorNewline: "Error: boom with\nnewline",
			oddWrapped: "Error: inner"}[i]
	}
	if ev.ParseError != wantErr || wantMsg != "" && ev.Message != wantMsg {
		t.Errorf("entry %d: message %q (%q), want %q (%q)", i, ev.Message, ev.ParseError,
			wantMsg, wantErr)
	}
	if wantErr != "" && !strings.Contains(ev.Message, "object message") &&
		!strings.Contains(ev.Message, "no message") {
		t.Errorf("entry %d: raw message %q does not hold the entry", i, ev.Message)
	}
	if hasStack != strings.Contains(ev.Stack, "\n    at writeNpm (") ||
		hasStack && !strings.HasPrefix(ev.Stack, "Error: ") {
		t.Errorf("entry %d: stack %q", i, ev.Stack)
	}
}

// TestOddEntriesFromLiveWinston runs gen.js with the repository's winston and checks what it
// writes now, so that a winston upgrade that changes the output shows up here.
func TestOddEntriesFromLiveWinston(t *testing.T) {
	requireNode(t)
	dir := t.TempDir()
	runNode(t, "testdata/winston-odd/gen.js", dir)
	testOddDir(t, dir)
}
