package source

import (
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/winship/winship/agent/event"
)

func longLine(n int) string {
	return `{"level":"info","message":"long ` + strings.Repeat("x", n) + `"}` + "\n"
}

// Case 6: an over-long line is shipped cut to max_line_bytes and flagged, counted, and the
// offset moves past it: a restart sends neither it nor the lines before it again.
func TestOverLongLineIsCutFlaggedAndPassed(t *testing.T) {
	for _, pieces := range []bool{false, true} {
		name := "whole"
		if pieces {
			name = "in pieces across a restart"
		}
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			h.cfg.MaxLineBytes = 1000
			h.start()
			long := longLine(5000)
			h.appendFile("combined.log", line(0))
			if pieces {
				// The head arrives, is cut and shipped; the agent stops mid-line; the rest
				// of the line arrives while it is stopped.
				h.appendFile("combined.log", long[:3000])
				h.waitCount(2, 5*time.Second)
				h.restart(func() {
					reload(t, h)
					h.appendFile("combined.log", long[3000:]+line(1))
				})
			} else {
				h.appendFile("combined.log", long+line(1))
			}
			h.waitCount(3, 5*time.Second)
			h.restart(func() { reload(t, h) })
			h.appendFile("combined.log", line(2))
			h.waitCount(4, 5*time.Second)
			h.settle(200 * time.Millisecond)

			var rest []event.Event
			cut := 0
			for _, e := range h.snapshot() {
				if e.Flags&event.FlagTruncated == 0 {
					rest = append(rest, e)
					continue
				}
				cut++
				if len(e.Message) > 1000 || !strings.Contains(e.Message, "long xxx") {
					t.Errorf("cut line: %d bytes, message %.60q", len(e.Message), e.Message)
				}
			}
			if cut != 1 {
				t.Fatalf("%d cut events, want 1: %s", cut, summary(h.snapshot()))
			}
			if got := h.metrics.Snapshot()["truncated"]; got != 1 {
				t.Errorf("truncated counter %d, want 1", got)
			}
			expectNumbered(t, rest, "line", 3)
		})
	}
}

// Case 7: invalid UTF-8 becomes U+FFFD in an event delivered with its neighbours; CRLF
// line ends and a UTF-8 byte order mark are read as if they were not there.
func TestOddBytes(t *testing.T) {
	h := newHarness(t)
	h.start()
	h.appendFile("bom.log", "\xef\xbb\xbf"+line(0)+line(1))
	h.appendFile("crlf.log", strings.ReplaceAll(lines(2, 5), "\n", "\r\n"))
	h.appendFile("utf8.log", line(5)+`{"level":"info","message":"line 6 `+"\xff\xfe"+`"}`+"\n"+line(7))
	h.waitCount(8, 5*time.Second)
	h.settle(200 * time.Millisecond)
	expectNumbered(t, h.snapshot(), "line", 8)
	for _, e := range h.snapshot() {
		if e.ParseError != "" {
			t.Errorf("%q: parse error %q", e.Message, e.ParseError)
		}
		if strings.HasPrefix(e.Message, "line 6") {
			if e.Flags&event.FlagInvalidUTF8 == 0 || !strings.ContainsRune(e.Message, utf8.RuneError) {
				t.Errorf("invalid UTF-8 line: message %q, flags %b", e.Message, e.Flags)
			}
		} else if e.Flags != 0 || !utf8.ValidString(e.Message) ||
			strings.ContainsAny(e.Message, "\r\ufeff") {
			t.Errorf("message %q, flags %b", e.Message, e.Flags)
		}
	}
}

// Case 7: runs of NUL bytes are skipped: written zeros between lines, and a sparse hole
// (what copytruncate leaves when the writer keeps its offset) that is jumped over rather than
// read.
func TestNULRunsAreSkipped(t *testing.T) {
	h := newHarness(t)
	h.start()
	h.appendFile("combined.log", lines(0, 10))
	h.waitCount(10, 5*time.Second)
	h.writeNULs("combined.log", 300<<10)
	h.appendFile("combined.log", lines(10, 20))
	h.waitCount(20, 5*time.Second)

	// A 256 MiB hole, then lines.
	const hole = 256 << 20
	fi, err := os.Stat(h.path("combined.log"))
	if err != nil {
		t.Fatal(err)
	}
	before := h.metrics.Snapshot()["bytes"]
	h.truncate("combined.log", fi.Size()+hole)
	h.appendFile("combined.log", lines(20, 30))
	h.waitCount(30, 10*time.Second)
	h.settle(200 * time.Millisecond)
	expectNumbered(t, h.snapshot(), "line", 30)

	m := h.metrics.Snapshot()
	if m["nul_bytes_skipped"] < 300<<10+hole {
		t.Errorf("nul_bytes_skipped %d, want at least %d", m["nul_bytes_skipped"], 300<<10+hole)
	}
	if read := m["bytes"] - before; read > 8<<20 {
		t.Errorf("read %d bytes to pass a %d-byte hole; it should be jumped over", read, hole)
	}
}
