package source

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/winship/winship/agent/event"
)

// reuseInode creates name (outside the globs first, then renamed in) so that it gets the
// inode ino of a deleted file, with content. It skips the test when the file system does
// not hand the inode out again within a few tries.
func (h *harness) reuseInode(ino uint64, name, content string) {
	h.t.Helper()
	for i := range 200 {
		tmp := h.path(fmt.Sprintf("reuse%d.tmp", i))
		if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
			h.t.Fatal(err)
		}
		fi, err := os.Stat(tmp)
		if err != nil {
			h.t.Fatal(err)
		}
		if toDevIno(fi).ino == ino {
			if err := os.Rename(tmp, h.path(name)); err != nil {
				h.t.Fatal(err)
			}
			return
		}
		defer os.Remove(tmp) // keep the other inodes taken until the reuse happened
	}
	h.t.Skipf("the file system did not reuse inode %d", ino)
}

// countByMessage counts events per message.
func countByMessage(events []event.Event) map[string]int {
	n := map[string]int{}
	for _, e := range events {
		n[e.Message]++
	}
	return n
}

// Case 5: a new file that reuses a deleted file's inode does not inherit its offset, even
// when it starts with the very same bytes, while running and across a restart.
func TestInodeReuseDoesNotInheritOffset(t *testing.T) {
	for _, restart := range []bool{false, true} {
		t.Run(fmt.Sprintf("restart=%v", restart), func(t *testing.T) {
			h := newHarness(t)
			h.start()
			h.appendFile("a.log", lines(0, 30))
			h.waitCount(30, 5*time.Second)
			ino := h.inode("a.log")
			recreate := func() {
				h.remove("a.log")
				// Same first 30 lines (same head hash), then more.
				h.reuseInode(ino, "b.log", lines(0, 40))
			}
			if restart {
				h.restart(func() { reload(t, h); recreate() })
			} else {
				eventually(t, "a.log to be closed", 5*time.Second, func() bool {
					return len(deletedFDs(t, h.dir)) == 0
				})
				recreate()
			}
			h.waitCount(70, 5*time.Second)
			h.settle(200 * time.Millisecond)
			n := countByMessage(h.snapshot())
			for k := range 40 {
				want := 1
				if k < 30 {
					want = 2 // once from a.log, once from b.log
				}
				if got := n[fmt.Sprintf("line %d", k)]; got != want {
					t.Fatalf("line %d arrived %d times, want %d", k, got, want)
				}
			}
		})
	}
}

// Case 5: two files whose first bytes are identical (an error logged at the start lands in
// error.log and combined.log alike) are two files.
func TestIdenticalFirstBytesAreTwoFiles(t *testing.T) {
	h := newHarness(t)
	head := lines(0, 40) // well over checkpoint.HeadBytes
	h.appendFile("error.log", head+lines(100, 110))
	h.appendFile("combined.log", head+lines(200, 230))
	h.start()
	h.waitCount(120, 5*time.Second)
	h.restart(func() {
		reload(t, h)
		h.appendFile("error.log", lines(110, 115))
		h.appendFile("combined.log", lines(230, 235))
	})
	h.waitCount(130, 5*time.Second)
	h.settle(200 * time.Millisecond)
	byPath := map[string]map[string]int{}
	for _, e := range h.snapshot() {
		if byPath[e.Path] == nil {
			byPath[e.Path] = map[string]int{}
		}
		byPath[e.Path][e.Message]++
	}
	check := func(name string, want []int) {
		got := byPath[h.path(name)]
		if len(got) != len(want) {
			t.Fatalf("%s: %d distinct lines, want %d", name, len(got), len(want))
		}
		for _, k := range want {
			if c := got[fmt.Sprintf("line %d", k)]; c != 1 {
				t.Fatalf("%s: line %d arrived %d times", name, k, c)
			}
		}
	}
	check("error.log", append(seq(0, 40), seq(100, 115)...))
	check("combined.log", append(seq(0, 40), seq(200, 235)...))
}

func seq(from, to int) []int {
	var s []int
	for k := from; k < to; k++ {
		s = append(s, k)
	}
	return s
}

// Case 5: tiny and empty files are read, and a file that was tiny when first opened gets a
// full identity as it grows (a restart neither resends nor skips it).
func TestTinyAndEmptyFiles(t *testing.T) {
	h := newHarness(t)
	h.appendFile("empty.log", "")
	h.appendFile("tiny.log", `{"message":"line 0"}`+"\n")
	h.appendFile("one.log", "x") // one byte, no newline: held until completed
	h.start()
	h.waitCount(1, 5*time.Second)
	h.appendFile("empty.log", line(1))
	h.appendFile("one.log", "\n")
	h.waitCount(3, 5*time.Second)
	h.appendFile("tiny.log", lines(2, 41)) // now over HeadBytes
	h.waitCount(42, 5*time.Second)
	h.restart(func() { reload(t, h) })
	h.appendFile("tiny.log", line(41))
	h.waitCount(43, 5*time.Second)
	h.settle(200 * time.Millisecond)
	var rest []event.Event
	for _, e := range h.snapshot() {
		if e.Message == "x" {
			continue
		}
		rest = append(rest, e)
	}
	if n := countByMessage(h.snapshot())["x"]; n != 1 {
		t.Fatalf("the one-byte line arrived %d times", n)
	}
	expectNumbered(t, rest, "line", 42)
	for _, e := range h.store.Entries() {
		if strings.HasSuffix(e.Path, "tiny.log") && e.ID.HeadLen < 1024 {
			t.Fatalf("tiny.log's identity still covers %d bytes", e.ID.HeadLen)
		}
	}
}

// A file closed while idle and then rewritten with the same first bytes (so the same head
// hash) but other bytes before the old offset is read again from its start, not from the
// old offset.
func TestIdleFileRewrittenWithSameHead(t *testing.T) {
	h := newHarness(t)
	h.cfg.CloseInactive = 200 * time.Millisecond
	h.start()
	h.appendFile("combined.log", lines(0, 40))
	h.waitCount(40, 5*time.Second)
	eventually(t, "the idle file to be closed", 5*time.Second, func() bool {
		return openFDs(t, h.dir) == 0
	})
	h.overwrite("combined.log", lines(0, 30)+lines(200, 250))
	h.waitCount(120, 5*time.Second)
	h.settle(200 * time.Millisecond)
	n := countByMessage(h.snapshot())
	for _, k := range append(seq(0, 40), seq(200, 250)...) {
		want := 1
		if k < 30 {
			want = 2
		}
		if got := n[fmt.Sprintf("line %d", k)]; got != want {
			t.Fatalf("line %d arrived %d times, want %d: %s", k, got, want, summary(h.snapshot()))
		}
	}
}
