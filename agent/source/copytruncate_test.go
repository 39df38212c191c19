package source

import (
	"os"
	"testing"
	"time"
)

// copytruncate: logrotate copies the file, then truncates it in place while the writer keeps
// writing. Lines written after winship's last read and before the truncation exist only in
// the copy (outside the globs); they are read from there. Events are withheld from the
// follower (a busy machine, a slow wake-up) around the rotation to make the window certain.
func TestCopyTruncateReadsUnreadTailFromCopy(t *testing.T) {
	for _, after := range []struct {
		name     string
		from, to int
	}{
		{"shorter after truncation", 40, 45},
		{"longer after truncation (fast appends)", 40, 200},
	} {
		t.Run(after.name, func(t *testing.T) {
			h := newHarness(t)
			h.start()
			w := h.appender("combined.log")
			h.write(w, lines(0, 20))
			h.write(w, `{"level":"info","message":"line 20"`) // half a line, read and held
			h.waitCount(20, 5*time.Second)
			waitHeld(t, h)

			h.hideChanges()
			h.write(w, `,"n":20}`+"\n"+lines(21, 40))
			h.copyTruncate("combined.log", "combined.log.1")
			h.write(w, lines(after.from, after.to))
			h.showChanges()
			h.write(w, lines(after.to, after.to+5))

			total := after.to + 5
			h.waitCount(total, 5*time.Second)
			h.settle(200 * time.Millisecond)
			h.expectNumbered(total)
			if h.metrics.Snapshot()["copy_recovered_bytes"] == 0 {
				t.Error("copy_recovered_bytes is 0")
			}
		})
	}
}

// waitHeld waits until the follower of the only file holds a fragment.
func waitHeld(t *testing.T, h *harness) {
	t.Helper()
	eventually(t, "the fragment to be read", 5*time.Second, func() bool {
		fi, err := os.Stat(h.path("combined.log"))
		return err == nil && h.metrics.Snapshot()["bytes"] == fi.Size()
	})
}

// copytruncate with a writer that does not append (no O_APPEND): it keeps writing at its old
// offset, so the truncated file starts with a hole of NUL bytes, which is jumped over.
func TestCopyTruncateWithoutAppendSkipsTheHole(t *testing.T) {
	h := newHarness(t)
	h.start()
	w, err := os.OpenFile(h.path("combined.log"), os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	h.write(w, lines(0, 5000)) // ~570 KB
	h.waitCount(5000, 10*time.Second)
	before := h.metrics.Snapshot()["bytes"]

	h.copyTruncate("combined.log", "combined.log.1")
	h.write(w, lines(5000, 5010)) // at the writer's old offset
	h.waitCount(5010, 5*time.Second)
	h.settle(200 * time.Millisecond)
	h.expectNumbered(5010)
	m := h.metrics.Snapshot()
	if m["nul_bytes_skipped"] < before-4096 {
		t.Errorf("nul_bytes_skipped %d, want about %d", m["nul_bytes_skipped"], before)
	}
	if read := m["bytes"] - before; read > 64<<10 {
		t.Errorf("read %d bytes after the truncation; the hole should be jumped over", read)
	}
}

// Case 7 / issue: overwrite with ">" followed by fast appends: the file is longer again by the
// time it is looked at, so only its content shows the truncation.
func TestOverwriteThenFastAppends(t *testing.T) {
	modes(t, func(t *testing.T, h *harness) {
		h.start()
		h.appendFile("combined.log", lines(0, 50))
		h.waitCount(50, 5*time.Second)
		h.hideChanges() // the follower looks only once the file is longer again
		h.overwrite("combined.log", lines(50, 60))
		h.appendFile("combined.log", lines(60, 200))
		h.showChanges()
		h.appendFile("combined.log", line(200))
		h.waitCount(201, 5*time.Second)
		h.settle(200 * time.Millisecond)
		h.expectNumbered(201)
	})
}

// Symlinks to the active file (winston-daily-rotate-file's) double nothing, also when the
// link moves to a new file; a link whose target is outside the globs is followed through it.
func TestSymlinkToActiveFileDoublesNothing(t *testing.T) {
	h := newHarness(t)
	link := func(target, name string) {
		tmp := h.path(name + ".tmp")
		if err := os.Symlink(target, tmp); err != nil {
			t.Fatal(err)
		}
		h.rename(name+".tmp", name)
	}
	h.appendFile("app-2026-12-03.log", lines(0, 10))
	link("app-2026-12-03.log", "current.log")
	h.start()
	h.waitCount(10, 5*time.Second)
	h.appendFile("app-2026-12-03.log", lines(10, 20))
	h.appendFile("app-2026-12-04.log", lines(20, 30))
	link("app-2026-12-04.log", "current.log")
	h.appendFile("app-2026-12-04.log", lines(30, 40))
	h.waitCount(40, 5*time.Second)
	h.settle(300 * time.Millisecond)
	h.expectNumbered(40)
	for _, e := range h.snapshot() {
		if e.Path == h.path("current.log") {
			t.Fatalf("event read through the link: %+v", e)
		}
	}

	// Only the link is under the globs: the target is read through it.
	h2 := newHarness(t)
	h2.cfg.Paths = []string{h2.path("current.log")}
	h2.appendFile("app.txt", lines(0, 5))
	if err := os.Symlink(h2.path("app.txt"), h2.path("current.log")); err != nil {
		t.Fatal(err)
	}
	h2.start()
	h2.appendFile("app.txt", lines(5, 10))
	h2.waitCount(10, 5*time.Second)
	h2.settle(200 * time.Millisecond)
	h2.expectNumbered(10)
}
