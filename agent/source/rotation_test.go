package source

import (
	"strings"
	"testing"
	"time"

	"github.com/winship/winship/agent/event"
)

// Case 1: rename rotation while the writer is still appending to the old file. The old file
// is read to its end, the new one from its start, nothing lost or doubled; with inotify and
// with polling, and with the rotated name outside the globs (logrotate's combined.log.1) or
// inside them (Winston tailable's combined1.log).
func TestRenameRotationWhileWriterAppends(t *testing.T) {
	for _, rotated := range []string{"combined.log.1", "combined1.log"} {
		t.Run(rotated, func(t *testing.T) {
			modes(t, func(t *testing.T, h *harness) {
				h.start()
				old := h.appender("combined.log")
				h.write(old, lines(0, 100))
				h.waitCount(100, 10*time.Second)

				h.rename("combined.log", rotated)
				h.write(old, lines(100, 200)) // the writer has not reopened yet
				cur := h.appender("combined.log")
				h.write(cur, lines(200, 300))
				h.write(old, lines(300, 350)) // a last buffered write to the old file
				old.Close()
				h.write(cur, lines(350, 400))

				h.waitCount(400, 10*time.Second)
				h.settle(300 * time.Millisecond)
				h.expectNumbered(400)
				checkOrder(t, h.snapshot(), func(k int) bool { return k < 200 || k >= 300 && k < 350 })
			})
		})
	}
}

// checkOrder checks that the lines of each file arrived in file order; inOld tells the
// lines of the old file from those of the new one.
func checkOrder(t *testing.T, events []event.Event, inOld func(int) bool) {
	t.Helper()
	last := map[bool]int{true: -1, false: -1}
	for _, e := range events {
		var k int
		if _, err := sscanLine(e.Message, &k); err != nil {
			continue
		}
		if prev := last[inOld(k)]; k < prev {
			t.Fatalf("line %d arrived after line %d of the same file", k, prev)
		}
		last[inOld(k)] = k
	}
}

// Case 2: a rotated file deleted while it is still being read is read to its end and then
// closed, so no descriptor of a deleted file stays open.
func TestDeletedFileIsReadToItsEndThenClosed(t *testing.T) {
	for _, how := range []string{"rotated then deleted", "deleted in place"} {
		t.Run(how, func(t *testing.T) {
			modes(t, func(t *testing.T, h *harness) {
				h.start()
				w := h.appender("combined.log")
				h.write(w, lines(0, 100))
				h.waitCount(100, 10*time.Second)

				name := "combined.log"
				if how == "rotated then deleted" {
					h.rename("combined.log", "combined.log.1")
					name = "combined.log.1"
				}
				h.write(w, lines(100, 5000))
				h.remove(name)
				h.write(w, lines(5000, 5010)) // into the deleted file, still open here
				w.Close()

				h.waitCount(5010, 10*time.Second)
				h.expectNumbered(5010)
				eventually(t, "the deleted file to be closed", 5*time.Second, func() bool {
					return len(deletedFDs(t, h.dir)) == 0
				})
			})
		})
	}
}

// Case 3: a line written in two pieces 500 ms apart is one event.
func TestLineWrittenInTwoPiecesIsOneEvent(t *testing.T) {
	modes(t, func(t *testing.T, h *harness) {
		h.start()
		w := h.appender("combined.log")
		l := line(0)
		h.write(w, l[:30])
		time.Sleep(500 * time.Millisecond) // the gap between the pieces is the point
		h.write(w, l[30:])
		h.write(w, line(1))
		h.waitCount(2, 5*time.Second)
		h.settle(200 * time.Millisecond)
		h.expectNumbered(2)
		for _, e := range h.snapshot() {
			if e.Flags != 0 || e.ParseError != "" {
				t.Fatalf("event %q: flags %b, parse error %q", e.Message, e.Flags, e.ParseError)
			}
		}
	})
}

// Case 3: a partial line across a rename is completed in the renamed file and is one event.
func TestPartialLineAcrossRenameIsOneEvent(t *testing.T) {
	modes(t, func(t *testing.T, h *harness) {
		h.start()
		w := h.appender("combined.log")
		h.write(w, lines(0, 10))
		l := line(10)
		h.write(w, l[:40])
		h.waitCount(10, 5*time.Second)
		h.rename("combined.log", "combined.log.1")
		h.write(w, l[40:])
		h.write(w, line(11))
		h.appendFile("combined.log", lines(12, 20))
		h.waitCount(20, 5*time.Second)
		h.settle(500 * time.Millisecond)
		h.expectNumbered(20)
	})
}

// Case 3: a fragment that can never be completed (its file was truncated, rotated away
// and idle, or deleted) is shipped flagged as partial, never dropped; what follows the
// truncation is read too.
func TestUncompletableFragmentIsShippedAsPartial(t *testing.T) {
	for _, end := range []string{"truncated", "rotated away", "deleted"} {
		t.Run(end, func(t *testing.T) {
			modes(t, func(t *testing.T, h *harness) {
				h.start()
				w := h.appender("combined.log")
				h.write(w, lines(0, 5))
				h.write(w, `{"level":"info","message":"frag`)
				h.waitCount(5, 5*time.Second)
				waitHeld(t, h) // a fragment never read is gone with the truncation
				want := 5
				switch end {
				case "truncated":
					h.truncate("combined.log", 0)
					h.write(w, lines(5, 10))
					want = 10
				case "rotated away":
					h.rename("combined.log", "combined.log.1")
				case "deleted":
					h.remove("combined.log")
				}
				h.waitCount(want+1, 5*time.Second)
				h.settle(500 * time.Millisecond)
				checkOnePartial(t, h, `{"level":"info","message":"frag`, want)
			})
		})
	}
}

// checkOnePartial checks for exactly one partial event holding frag, and lines 0..n-1.
func checkOnePartial(t *testing.T, h *harness, frag string, n int) {
	t.Helper()
	var rest []event.Event
	partial := 0
	for _, e := range h.snapshot() {
		if e.Flags&event.FlagPartial != 0 {
			partial++
			if !strings.Contains(e.Message, strings.TrimPrefix(frag, `{"level":"info","message":"`)) {
				t.Errorf("partial event %q does not hold the fragment %q", e.Message, frag)
			}
			continue
		}
		rest = append(rest, e)
	}
	if partial != 1 {
		t.Fatalf("%d partial events, want 1: %s", partial, summary(h.snapshot()))
	}
	if got := h.metrics.Snapshot()["partial"]; got != 1 {
		t.Errorf("partial counter %d, want 1", got)
	}
	expectNumbered(t, rest, "line", n)
}
