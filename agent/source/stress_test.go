package source

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"
)

// TestStressRotationChaos mixes thousands of rotations of every kind with a writer that
// never stops, and requires every line exactly once. It runs only with WINSHIP_STRESS=1
// (make stress). Operations stay within what the package guarantees (see the package doc):
// a file is renamed out of the globs or copy-truncated only after it was opened, and two
// copytruncates always have a read between them.
func TestStressRotationChaos(t *testing.T) {
	if os.Getenv("WINSHIP_STRESS") == "" {
		t.Skip("set WINSHIP_STRESS=1 to run (make stress)")
	}
	modes(t, func(t *testing.T, h *harness) {
		h.cfg.RotateWait = 2 * time.Second
		h.cfg.CloseInactive = time.Second
		h.start()
		rng := rand.New(rand.NewPCG(6, uint64(time.Now().UnixNano())))
		// opened: the first line written to the current combined.log since it was created
		// or last truncated. A line from there on that has been read proves the follower
		// opened the file and noticed the last truncation.
		k, opened := 0, 0
		w := h.appender("combined.log")
		reopen := func() {
			w.Close()
			w = h.appender("combined.log")
			opened = k
		}
		for round := range 3000 {
			n := 1 + rng.IntN(40)
			h.write(w, lines(k, k+n))
			k += n
			op := rng.IntN(6)
			if os.Getenv("WINSHIP_DEBUG") != "" {
				t.Logf("round %d: lines to %d, op %d", round, k, op)
			}
			switch op {
			case 0: // Winston tailable / daily-rotate: renamed within the globs
				h.rename("combined.log", fmt.Sprintf("combined.%05d.log", round))
				h.write(w, line(k)) // a late write to the renamed file
				k++
				reopen()
			case 1: // logrotate create: renamed out of the globs once it was read
				h.waitCount(k, time.Minute)
				h.rename("combined.log", fmt.Sprintf("combined.log.%05d", round))
				h.write(w, line(k))
				k++
				reopen()
			case 2: // logrotate copytruncate, the writer keeps appending
				if k-n <= opened {
					break // maybe not opened yet: its copy would be the only place of its lines
				}
				h.waitCount(k-n, time.Minute)
				h.copyTruncate("combined.log", fmt.Sprintf("combined.log.%05d", round))
				opened = k
			case 3: // a line in two pieces
				l := line(k)
				h.write(w, l[:20])
				h.write(w, l[20:])
				k++
			}
		}
		h.waitCount(k, 2*time.Minute)
		h.settle(2500 * time.Millisecond) // past rotate_wait
		h.expectNumbered(k)
	})
}
