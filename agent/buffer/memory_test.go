package buffer

import (
	"bytes"
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestDrainKeepsMemoryFlat(t *testing.T) {
	drainFlat(t, 50<<20)
}

// TestStressDrain1GiB is the target: draining a 1 GiB backlog keeps memory flat.
// It runs with `make stress` (WINSHIP_STRESS=1).
func TestStressDrain1GiB(t *testing.T) {
	if os.Getenv("WINSHIP_STRESS") == "" {
		t.Skip("set WINSHIP_STRESS=1 to drain a 1 GiB backlog")
	}
	drainFlat(t, 1<<30)
}

// drainFlat writes a backlog of about total bytes, reopens the log as a restarted agent
// would, drains it, and checks the heap never grows by more than a small fixed bound.
func drainFlat(t *testing.T, total int64) {
	const size, batch, heapBound = 300, 1000, 24 << 20
	dir := t.TempDir()
	l, _ := testLog(t, dir, 0)
	if _, err := l.Cursor("s"); err != nil {
		t.Fatal(err)
	}
	payload := bytes.Repeat([]byte("x"), size)
	recs := make([][]byte, batch)
	for i := range recs {
		recs[i] = payload
	}
	for l.End() < Pos(total) {
		if err := l.Append(recs...); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	l, _ = testLog(t, dir, 0)
	c, _ := l.Cursor("s")
	runtime.GC()
	base, baseRSS := heapInuse(), rss(t)
	peak, peakRSS := base, baseRSS
	n, end := 0, l.End()
	for c.Acked() < end {
		got, err := c.Next(context.Background(), batch, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		n += len(got)
		if err := c.Ack(got[len(got)-1].Next); err != nil {
			t.Fatal(err)
		}
		if n%(50*batch) == 0 {
			peak, peakRSS = max(peak, heapInuse()), max(peakRSS, rss(t))
		}
	}
	peak, peakRSS = max(peak, heapInuse()), max(peakRSS, rss(t))
	t.Logf("drained %d records (%d MiB) in %v: heap in use %d -> peak %d KiB, "+
		"RSS %d -> peak %d KiB, %d segments left", n, end>>20, time.Since(start),
		base>>10, peak>>10, baseRSS>>10, peakRSS>>10, len(segFiles(t, dir)))
	if peak > base+heapBound {
		t.Errorf("heap grew from %d to %d KiB while draining %d MiB", base>>10, peak>>10,
			end>>20)
	}
	if len(segFiles(t, dir)) != 1 {
		t.Errorf("%d segments left after draining", len(segFiles(t, dir)))
	}
}

func heapInuse() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// rss returns the process's resident memory in bytes (0 where /proc is missing).
func rss(t *testing.T) uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(
				strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("parse %q: %v", line, err)
			}
			return kb << 10
		}
	}
	return 0
}
