package source

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Case 8: a thousand files under the glob, half present at the start and half created while
// running, are all read; descriptors stay bounded by the files (and drop when they are
// idle), and one folder costs one watch.
func TestThousandFiles(t *testing.T) {
	modes(t, func(t *testing.T, h *harness) {
		h.cfg.CloseInactive = 500 * time.Millisecond
		const files, per = 1000, 3
		write := func(from, to int) {
			for i := from; i < to; i++ {
				h.appendFile(fmt.Sprintf("app%04d.log", i), lines(i*per, i*per+per))
			}
		}
		write(0, files/2)
		h.start()
		write(files/2, files)
		h.waitCount(files*per, 30*time.Second)
		if n := openFDs(t, h.dir); n > files {
			t.Errorf("%d descriptors open in the folder for %d files", n, files)
		}
		eventually(t, "idle files to be closed", 10*time.Second, func() bool {
			return openFDs(t, h.dir) == 0
		})
		// Closed while idle, reopened when they change.
		h.appendFile("app0007.log", line(files*per))
		h.waitCount(files*per+1, 5*time.Second)
		h.settle(200 * time.Millisecond)
		h.expectNumbered(files*per + 1)
		h.stop()
		if !h.cfg.Poll && len(h.src.dirs) != 1 {
			t.Errorf("%d folders watched, want 1", len(h.src.dirs))
		}
	})
}

// Case 8: a burst of a thousand rotations. Each active file gets lines and is renamed to a
// numbered name while a new active file starts, as Winston's and winston-daily-rotate-file's
// size rotation do; every line arrives once and descriptors return to one.
func TestBurstOfThousandRotations(t *testing.T) {
	modes(t, func(t *testing.T, h *harness) {
		h.cfg.RotateWait = 200 * time.Millisecond
		h.cfg.CloseInactive = 500 * time.Millisecond
		h.start()
		const rotations, per = 1000, 2
		w := h.appender("combined.log")
		for i := range rotations {
			h.write(w, lines(i*per, i*per+per))
			h.rename("combined.log", fmt.Sprintf("combined.%04d.log", i))
			w.Close()
			w = h.appender("combined.log")
		}
		h.write(w, line(rotations*per))
		total := rotations*per + 1
		h.waitCount(total, 60*time.Second)
		h.settle(300 * time.Millisecond)
		h.expectNumbered(total)
		eventually(t, "descriptors to be released", 10*time.Second, func() bool {
			return openFDs(t, h.dir) <= 2 // the writer's and the active file's follower
		})
	})
}

// Case 8: an inotify queue overflow. Events are lost (the seam drops them all, as a full
// kernel queue does), files appear, grow and are renamed unseen; the overflow error makes
// the source rescan and wake every follower, and every line arrives. (combined.log is not
// rotated while hidden: its follower, if it happened to be reading, would ask for a rescan
// itself on noticing the rename.)
func TestQueueOverflowRescansEverything(t *testing.T) {
	h := newHarness(t)
	inject := make(chan error, 1)
	h.start(func(s *Source) { s.injectErr = inject })
	h.appendFile("combined.log", lines(0, 10))
	h.waitCount(10, 5*time.Second)

	h.hideChanges()
	h.appendFile("combined.log", lines(10, 30))
	for i := range 50 {
		h.appendFile(fmt.Sprintf("new%02d.tmp", i), lines(30+i*2, 32+i*2))
		h.rename(fmt.Sprintf("new%02d.tmp", i), fmt.Sprintf("new%02d.log", i))
	}
	time.Sleep(100 * time.Millisecond) // the lost events would have arrived by now
	for _, e := range h.snapshot() {
		// combined.log's follower may have been reading when the events stopped; new
		// files can only be found by a scan.
		if strings.Contains(e.Path, "new") {
			t.Fatalf("%s found before the overflow; the seam should have hidden it", e.Path)
		}
	}
	inject <- fsnotify.ErrEventOverflow
	h.waitCount(130, 5*time.Second)
	h.settle(200 * time.Millisecond)
	h.expectNumbered(130)
	if got := h.metrics.Snapshot()["watch_overflows"]; got != 1 {
		t.Errorf("watch_overflows %d, want 1", got)
	}
}

// Case 8: when no inotify watcher can be had, the source polls instead of exiting, and says
// so once.
func TestNoInotifyFallsBackToPolling(t *testing.T) {
	h := newHarness(t)
	h.start(func(s *Source) {
		s.newWatcher = func() (*fsnotify.Watcher, error) {
			return nil, errors.New("too many open files")
		}
	})
	h.appendFile("combined.log", lines(0, 10))
	h.waitCount(10, 5*time.Second)
	h.rename("combined.log", "combined.log.1")
	h.appendFile("combined.log", lines(10, 20))
	h.waitCount(20, 5*time.Second)
	h.settle(200 * time.Millisecond)
	h.expectNumbered(20)
}

// A folder of the globs created after the start is watched once it exists.
func TestFolderCreatedLater(t *testing.T) {
	h := newHarness(t)
	h.cfg.Paths = []string{h.path("later/*.log")}
	h.cfg.RescanInterval = 100 * time.Millisecond // the folder itself is found by a rescan
	h.start()
	if err := os.Mkdir(h.path("later"), 0o755); err != nil {
		t.Fatal(err)
	}
	h.appendFile("later/combined.log", lines(0, 5))
	h.waitCount(5, 5*time.Second)
	h.appendFile("later/combined.log", lines(5, 10))
	h.waitCount(10, 5*time.Second)
	h.expectNumbered(10)
}
