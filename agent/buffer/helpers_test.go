package buffer

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// logSink collects log output so tests can check what was warned about.
type logSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *logSink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// testLog opens a log in dir with segBytes and returns it with its captured warnings. It
// is closed when the test ends (closing twice is harmless).
func testLog(t testing.TB, dir string, segBytes int64) (*Log, *logSink) {
	t.Helper()
	sink := &logSink{}
	l, err := Open(Options{
		Dir:          dir,
		SegmentBytes: segBytes,
		Logger:       slog.New(slog.NewTextHandler(sink, nil)),
	})
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l, sink
}

// rec is the payload of test record i, size bytes long (at least its number).
func rec(i, size int) []byte {
	b := []byte(fmt.Sprintf("rec-%06d|", i))
	for len(b) < size {
		b = append(b, byte('a'+(i+len(b))%26))
	}
	return b[:max(size, 11)]
}

// appendSync appends records first..first+n-1 in batches of batch, syncing each batch.
func appendSync(t testing.TB, l *Log, first, n, size, batch int) {
	t.Helper()
	for i := first; i < first+n; i += batch {
		var recs [][]byte
		for j := i; j < min(i+batch, first+n); j++ {
			recs = append(recs, rec(j, size))
		}
		if err := l.Append(recs...); err != nil {
			t.Fatalf("Append: %v", err)
		}
		if _, err := l.Sync(); err != nil {
			t.Fatalf("Sync: %v", err)
		}
	}
}

// readAll reads from c until it reaches the log's durable end, acking every batch when
// ack is set, and returns the records read.
func readAll(t testing.TB, l *Log, c *Cursor, maxRecs, maxBytes int, ack bool) []Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	end := l.End()
	var out []Record
	if c.Acked() >= end {
		return nil
	}
	for {
		recs, err := c.Next(ctx, maxRecs, maxBytes)
		if err != nil {
			t.Fatalf("Next after %d records: %v", len(out), err)
		}
		out = append(out, recs...)
		last := recs[len(recs)-1].Next
		if ack {
			if err := c.Ack(last); err != nil {
				t.Fatalf("Ack(%d): %v", last, err)
			}
		}
		if last >= end {
			return out
		}
	}
}

// ids returns the record numbers of recs, checking each payload is intact.
func ids(t testing.TB, recs []Record, size int) []int {
	t.Helper()
	var out []int
	for _, r := range recs {
		var i int
		if _, err := fmt.Sscanf(string(r.Data), "rec-%06d|", &i); err != nil {
			t.Fatalf("record %q: %v", r.Data, err)
		}
		if !bytes.Equal(r.Data, rec(i, size)) {
			t.Fatalf("record %d damaged: %q", i, r.Data)
		}
		out = append(out, i)
	}
	return out
}

// seq returns the numbers from..to-1 except the skipped ones.
func seq(from, to int, skip ...int) []int {
	skipped := make(map[int]bool)
	for _, s := range skip {
		skipped[s] = true
	}
	var out []int
	for i := from; i < to; i++ {
		if !skipped[i] {
			out = append(out, i)
		}
	}
	return out
}

// segFiles returns the segment files of dir, sorted.
func segFiles(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(m)
	return m
}

func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// waitClosed fails the test if ch is not closed within a generous bound (a guard against
// hanging forever, not a synchronisation).
func waitClosed(t testing.TB, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: not signalled", what)
	}
}
