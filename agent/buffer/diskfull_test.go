package buffer

import (
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// faults scripts failures of segment operations.
type faults struct {
	mu    sync.Mutex
	op    string // the operation to fail
	after int    // succeed this many times first
	n     int    // bytes a failing write still writes
	err   error
	calls int
}

func (f *faults) hook(op string, size int) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if op != f.op || f.err == nil {
		return size, nil
	}
	f.calls++
	if f.calls <= f.after {
		return size, nil
	}
	return min(f.n, size), f.err
}

func (f *faults) clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = nil
}

func TestWriteErrorsLeaveAValidLog(t *testing.T) {
	tests := []struct {
		name  string
		fault *faults
		batch int // records a batch; a batch of 30 rolls a segment
		fails string
	}{
		{"disk full mid-write", &faults{op: "write", after: 2, n: 700, err: syscall.ENOSPC},
			10, "append"},
		{"disk full, nothing written", &faults{op: "write", after: 2, err: syscall.ENOSPC},
			10, "append"},
		{"fsync fails", &faults{op: "sync", after: 2, err: syscall.EIO}, 10, "sync"},
		{"fsync of a sealed segment fails", &faults{op: "sync", after: 1, err: syscall.EIO},
			30, "append"},
		{"cannot create a segment", &faults{op: "create", err: syscall.ENOSPC}, 30, "append"},
		{"disk full after a roll", &faults{op: "write", after: 3, n: 5, err: syscall.ENOSPC},
			30, "append"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			f := tt.fault
			l, err := Open(Options{Dir: dir, SegmentBytes: 4096, Fault: f.hook,
				Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			c, _ := l.Cursor("s")

			next, failed := 0, 0
			for next < 200 {
				err := appendBatch(l, next, tt.batch)
				if err != nil {
					failed++
					checkFailure(t, l, dir, err, tt.fault.err, tt.fails)
					f.clear() // the disk has room again: retry the same batch
					continue
				}
				next += tt.batch
			}
			if failed != 1 {
				t.Fatalf("%d batches failed, want 1", failed)
			}
			got := ids(t, readAll(t, l, c, 1000, 1<<20, true), 300)
			if !equalInts(got, seq(0, next)) {
				t.Errorf("read %d records, want 0..%d once each, in order", len(got), next-1)
			}
			if st := l.Stats(); st.WriteErrors != 1 || st.AppendedRecords != uint64(next) {
				t.Errorf("stats %+v", st)
			}
			_ = l.Close()
			l2, _ := testLog(t, dir, 4096)
			if st := l2.Stats(); st.CorruptBytes != 0 || st.End != l.Stats().End {
				t.Errorf("reopen: %+v, want a clean log ending at %d", st, l.Stats().End)
			}
		})
	}
}

// appendBatch appends and syncs records first..first+n-1, as the agent's writer does.
func appendBatch(l *Log, first, n int) error {
	var recs [][]byte
	for i := first; i < first+n; i++ {
		recs = append(recs, rec(i, 300))
	}
	if err := l.Append(recs...); err != nil {
		return err
	}
	_, err := l.Sync()
	return err
}

// checkFailure checks a failed write: the cause is wrapped, from the expected call, and
// the files hold exactly the durable bytes.
func checkFailure(t *testing.T, l *Log, dir string, err, cause error, call string) {
	t.Helper()
	if !errors.Is(err, cause) {
		t.Errorf("error %v does not wrap %v", err, cause)
	}
	if (call == "sync") != strings.HasPrefix(err.Error(), "buffer: fsync") {
		t.Errorf("error %q, want it from %s", err, call)
	}
	var onDisk int64
	segs := segFiles(t, dir)
	for _, s := range segs {
		onDisk += fileSize(t, s)
	}
	base, _ := parseSegName(filepath.Base(segs[0]))
	if Pos(onDisk)+base != l.End() {
		t.Errorf("segments hold %d bytes from %d after the failure, durable end %d",
			onDisk, base, l.End())
	}
}

func TestFailedAppendDropsEverythingSinceSync(t *testing.T) {
	dir := t.TempDir()
	f := &faults{op: "write", after: 1, n: 10, err: syscall.ENOSPC}
	l, err := Open(Options{Dir: dir, Fault: f.hook})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, _ := l.Cursor("s")
	if err := l.Append(rec(0, 50)); err != nil {
		t.Fatal(err)
	}
	if err := l.Append(rec(1, 50)); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("second Append: %v, want ENOSPC", err)
	}
	f.clear()
	end, err := l.Sync()
	if err != nil || end != 0 {
		t.Fatalf("Sync after the failure = %d, %v; want 0: the first record was discarded too",
			end, err)
	}
	if err := appendBatch(l, 0, 2); err != nil {
		t.Fatal(err)
	}
	if got := ids(t, readAll(t, l, c, 10, 1<<20, true), 300); !equalInts(got, seq(0, 2)) {
		t.Errorf("read %v, want 0 1", got)
	}
}

func TestFailedRollbackIsRetried(t *testing.T) {
	dir := t.TempDir()
	fsync := &faults{op: "sync", err: syscall.EIO}
	trunc := &faults{op: "truncate", err: syscall.EIO}
	hook := func(op string, size int) (int, error) {
		if n, err := fsync.hook(op, size); err != nil {
			return n, err
		}
		return trunc.hook(op, size)
	}
	l, err := Open(Options{Dir: dir, SegmentBytes: 4096, Fault: hook})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, _ := l.Cursor("s")
	err = appendBatch(l, 0, 5)
	if !errors.Is(err, syscall.EIO) || !strings.Contains(err.Error(), "roll back") {
		t.Fatalf("Sync with a failing rollback: %v", err)
	}
	fsync.clear()
	if err := appendBatch(l, 0, 5); err == nil || !strings.Contains(err.Error(), "unwritable") {
		t.Fatalf("append while the rollback still fails: %v", err)
	}
	trunc.clear()
	if err := appendBatch(l, 0, 5); err != nil {
		t.Fatalf("append once the rollback works: %v", err)
	}
	if got := ids(t, readAll(t, l, c, 10, 1<<20, true), 300); !equalInts(got, seq(0, 5)) {
		t.Errorf("read %v, want 0..4 once each", got)
	}
}

func TestAckWhenCursorCannotBeSaved(t *testing.T) {
	dir := t.TempDir()
	f := &faults{op: "cursor", err: syscall.ENOSPC}
	l, err := Open(Options{Dir: dir, SegmentBytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, _ := l.Cursor("s")
	appendSync(t, l, 0, 100, 300, 10)
	l.fault = f.hook // the disk fills up now

	recs := readAll(t, l, c, 1000, 1<<20, false)
	acked := l.Acked()
	err = c.Ack(recs[len(recs)-1].Next)
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Ack with a full disk: %v, want ENOSPC", err)
	}
	waitClosed(t, acked, "Acked after a failed save")
	if c.Backlog() != 0 || len(segFiles(t, dir)) != 1 {
		t.Errorf("backlog %d, %d segments: a failed save must still free the disk",
			c.Backlog(), len(segFiles(t, dir)))
	}
	f.clear()
	appendSync(t, l, 100, 5, 300, 5)
	if got := ids(t, readAll(t, l, c, 1000, 1<<20, true), 300); !equalInts(got, seq(100, 105)) {
		t.Errorf("read %v, want 100..104", got)
	}
	_ = l.Close()
	l2, _ := testLog(t, dir, 4096)
	c2, _ := l2.Cursor("s")
	if c2.Acked() != l.End() {
		t.Errorf("after restart at %d, want %d", c2.Acked(), l.End())
	}
}
