package buffer

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRoundTripAcrossRolls(t *testing.T) {
	tests := []struct {
		name              string
		segBytes          int64
		recSize, n, batch int
		maxRecs, maxBytes int
		wantSegsAtLeast   int
	}{
		{"one segment", 0, 300, 500, 100, 1000, 1 << 20, 1},
		{"small segments", 4096, 300, 500, 37, 50, 1 << 20, 30},
		{"record per segment", 256, 300, 40, 7, 10, 1 << 20, 40},
		{"tiny records", 1024, 11, 2000, 250, 1000, 1 << 20, 20},
		{"byte-limited batches", 8192, 300, 400, 50, 1000, 1000, 10},
		{"one record per Next", 4096, 100, 100, 10, 1, 1 << 20, 2},
		{"maxBytes below a record", 4096, 300, 60, 10, 1000, 1, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			l, _ := testLog(t, dir, tt.segBytes)
			c, err := l.Cursor("sink")
			if err != nil {
				t.Fatal(err)
			}
			appendSync(t, l, 0, tt.n, tt.recSize, tt.batch)
			if got := len(segFiles(t, dir)); got < tt.wantSegsAtLeast {
				t.Errorf("segments = %d, want at least %d", got, tt.wantSegsAtLeast)
			}
			recs := readAll(t, l, c, tt.maxRecs, tt.maxBytes, true)
			if got := ids(t, recs, tt.recSize); !equalInts(got, seq(0, tt.n)) {
				t.Fatalf("read %d records, want 0..%d in order", len(got), tt.n-1)
			}
			checkBatchLimits(t, c, l, tt.maxRecs, tt.maxBytes)
			if got := len(segFiles(t, dir)); got != 1 {
				t.Errorf("after acking everything %d segments remain, want 1", got)
			}
			st := l.Stats()
			if st.AppendedRecords != uint64(tt.n+20) || st.CorruptBytes != 0 {
				t.Errorf("stats = %+v", st)
			}
		})
	}
}

// checkBatchLimits appends a few records and checks one Next honours its limits.
func checkBatchLimits(t *testing.T, c *Cursor, l *Log, maxRecs, maxBytes int) {
	t.Helper()
	appendSync(t, l, 0, 20, 300, 20)
	recs, err := c.Next(context.Background(), maxRecs, maxBytes)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, r := range recs {
		total += len(r.Data)
	}
	if len(recs) > maxRecs || (len(recs) > 1 && total > maxBytes) || len(recs) == 0 {
		t.Errorf("Next(%d, %d) gave %d records, %d bytes", maxRecs, maxBytes, len(recs), total)
	}
	if err := c.Ack(l.End()); err != nil {
		t.Fatal(err)
	}
}

func TestSegmentNamesAreFirstPositions(t *testing.T) {
	dir := t.TempDir()
	l, _ := testLog(t, dir, 1000)
	appendSync(t, l, 0, 30, 300, 5)
	want := Pos(0)
	for _, path := range segFiles(t, dir) {
		base, ok := parseSegName(filepath.Base(path))
		if !ok || base != want {
			t.Fatalf("segment %s: base %d, want %d", path, base, want)
		}
		size := fileSize(t, path)
		if size > 1000 {
			t.Errorf("segment %s has %d bytes, over the 1000 limit", path, size)
		}
		want += Pos(size)
	}
	if want != l.End() {
		t.Errorf("segments end at %d, log end %d", want, l.End())
	}
}

func TestRestartResumesAtAck(t *testing.T) {
	dir := t.TempDir()
	l, _ := testLog(t, dir, 2048)
	a, _ := l.Cursor("a")
	if _, err := l.Cursor("b"); err != nil {
		t.Fatal(err)
	}
	appendSync(t, l, 0, 100, 100, 10)

	recs := readAll(t, l, a, 1000, 1<<20, false)
	if err := a.Ack(recs[39].Next); err != nil { // delivered 0..39; 40..99 were in flight
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	l2, _ := testLog(t, dir, 2048)
	a2, _ := l2.Cursor("a")
	b2, _ := l2.Cursor("b")
	late, _ := l2.Cursor("late")
	appendSync(t, l2, 100, 10, 100, 10)
	if got := ids(t, readAll(t, l2, a2, 1000, 1<<20, true), 100); !equalInts(got, seq(40, 110)) {
		t.Errorf("a after restart read %v, want 40..109", got)
	}
	if got := ids(t, readAll(t, l2, b2, 7, 1<<20, true), 100); !equalInts(got, seq(0, 110)) {
		t.Errorf("b after restart read %d records, want 0..109", len(got))
	}
	if got := ids(t, readAll(t, l2, late, 1000, 1<<20, true), 100); !equalInts(got, seq(100, 110)) {
		t.Errorf("a new cursor read %v, want only what was appended after it opened", got)
	}
}

func TestNewCursorPositionSurvivesRestartBeforeAck(t *testing.T) {
	dir := t.TempDir()
	l, _ := testLog(t, dir, 0)
	appendSync(t, l, 0, 5, 50, 5)
	if _, err := l.Cursor("s"); err != nil {
		t.Fatal(err)
	}
	appendSync(t, l, 5, 5, 50, 5)
	_ = l.Close()

	l2, _ := testLog(t, dir, 0)
	c, _ := l2.Cursor("s")
	if got := ids(t, readAll(t, l2, c, 100, 1<<20, true), 50); !equalInts(got, seq(5, 10)) {
		t.Errorf("read %v, want 5..9 (appended after the cursor first opened)", got)
	}
}

func TestOnlyDurableRecordsAreVisible(t *testing.T) {
	l, _ := testLog(t, t.TempDir(), 0)
	c, _ := l.Cursor("s")
	if err := l.Append(rec(0, 50)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if recs, err := c.Next(ctx, 10, 1<<20); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next before Sync = %d records, %v; want a timeout", len(recs), err)
	}
	if l.End() != 0 || c.Backlog() != 0 {
		t.Fatalf("End %d, Backlog %d before Sync; want 0", l.End(), c.Backlog())
	}

	got := make(chan []Record, 1)
	go func() {
		recs, _ := c.Next(context.Background(), 10, 1<<20)
		got <- recs
	}()
	end, err := l.Sync()
	if err != nil {
		t.Fatal(err)
	}
	select {
	case recs := <-got:
		if len(recs) != 1 || recs[0].Next != end {
			t.Fatalf("Next woke with %d records ending %v, want 1 ending %d", len(recs), recs, end)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Next not woken by Sync")
	}
}

func TestAckRules(t *testing.T) {
	l, _ := testLog(t, t.TempDir(), 0)
	c, _ := l.Cursor("s")
	appendSync(t, l, 0, 10, 50, 10)
	end := l.End()
	if err := c.Ack(end + 1); !errors.Is(err, ErrPastEnd) {
		t.Errorf("Ack past the end: %v, want ErrPastEnd", err)
	}
	recs := readAll(t, l, c, 3, 1<<20, false)
	if err := c.Ack(recs[5].Next); err != nil {
		t.Fatal(err)
	}
	if err := c.Ack(recs[2].Next); err != nil || c.Acked() != recs[5].Next {
		t.Errorf("an older Ack moved the cursor: %v, acked %d", err, c.Acked())
	}
	if c.Backlog() != int64(end-recs[5].Next) {
		t.Errorf("Backlog = %d, want %d", c.Backlog(), end-recs[5].Next)
	}

	// An Ack ahead of the read position moves reading on.
	appendSync(t, l, 10, 10, 50, 10)
	mid := l.End()
	appendSync(t, l, 20, 5, 50, 5)
	if err := c.Ack(mid); err != nil {
		t.Fatal(err)
	}
	if got := ids(t, readAll(t, l, c, 100, 1<<20, true), 50); !equalInts(got, seq(20, 25)) {
		t.Errorf("after Ack ahead read %v, want 20..24", got)
	}
}

func TestAckedWakes(t *testing.T) {
	tests := []struct {
		name string
		act  func(c *Cursor, end Pos) error
	}{
		{"ack", func(c *Cursor, end Pos) error { return c.Ack(end) }},
		{"drop oldest", func(c *Cursor, end Pos) error { _, _, err := c.DropOldest(0); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, _ := testLog(t, t.TempDir(), 0)
			c, _ := l.Cursor("s")
			appendSync(t, l, 0, 10, 50, 10)
			ch := l.Acked()
			select {
			case <-ch:
				t.Fatal("Acked closed before any ack")
			default:
			}
			errc := make(chan error, 1)
			go func() { errc <- tt.act(c, l.End()) }()
			waitClosed(t, ch, "Acked")
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			if c.Backlog() != 0 {
				t.Errorf("Backlog = %d after %s, want 0", c.Backlog(), tt.name)
			}
		})
	}
}

func TestDropOldestCountsExactly(t *testing.T) {
	tests := []struct {
		name   string
		target func(ends []Pos, end Pos) int64
		want   int // records dropped
	}{
		{"nothing to drop", func(_ []Pos, end Pos) int64 { return int64(end) }, 0},
		{"all", func(_ []Pos, _ Pos) int64 { return 0 }, 200},
		{"exactly to a boundary", func(e []Pos, end Pos) int64 { return int64(end - e[49]) }, 50},
		{"one byte short of a boundary", func(e []Pos, end Pos) int64 {
			return int64(end-e[49]) - 1
		}, 51},
		{"negative target", func(_ []Pos, _ Pos) int64 { return -5 }, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			l, _ := testLog(t, dir, 3000)
			c, _ := l.Cursor("s")
			probe, _ := l.Cursor("probe")
			for i := 0; i < 200; i++ { // varied sizes so counting bytes would be wrong
				if err := l.Append(rec(i, 20+i%7*40)); err != nil {
					t.Fatal(err)
				}
			}
			end, _ := l.Sync()
			var ends []Pos
			for _, r := range readAll(t, l, probe, 1000, 1<<20, false) {
				ends = append(ends, r.Next)
			}
			target := tt.target(ends, end)
			n, bytes, err := c.DropOldest(target)
			if err != nil {
				t.Fatal(err)
			}
			if n != tt.want {
				t.Errorf("dropped %d records, want %d", n, tt.want)
			}
			if c.Backlog() > max(target, 0) || bytes != int64(c.Acked()) {
				t.Errorf("Backlog %d (target %d), bytes %d, acked %d",
					c.Backlog(), target, bytes, c.Acked())
			}
			if tt.want < 200 {
				recs, err := c.Next(context.Background(), 1, 1<<20)
				if err != nil || len(recs) != 1 || recs[0].Next != ends[tt.want] {
					t.Fatalf("Next after the drop: %v %v, want record %d", recs, err, tt.want)
				}
			}
			_ = l.Close()
			l2, _ := testLog(t, dir, 3000)
			c2, _ := l2.Cursor("s")
			if c2.Acked() != c.Acked() {
				t.Errorf("after restart acked %d, want %d (drop not persisted)", c2.Acked(), c.Acked())
			}
		})
	}
}

func TestDropOldestMovesReadPosition(t *testing.T) {
	l, _ := testLog(t, t.TempDir(), 0)
	c, _ := l.Cursor("s")
	appendSync(t, l, 0, 100, 50, 100)
	if _, err := c.Next(context.Background(), 10, 1<<20); err != nil { // read 0..9, unacked
		t.Fatal(err)
	}
	n, _, err := c.DropOldest(c.Backlog() / 2)
	if err != nil || n != 50 {
		t.Fatalf("DropOldest = %d, %v; want 50", n, err)
	}
	if got := ids(t, readAll(t, l, c, 1000, 1<<20, true), 50); !equalInts(got, seq(50, 100)) {
		t.Errorf("after drop read %v, want 50..99", got)
	}
}

func TestConcurrentWriterAndReaders(t *testing.T) {
	const n, batch, size = 8000, 200, 120
	dir := t.TempDir()
	l, _ := testLog(t, dir, 64<<10)
	names := []string{"fast", "slow"}
	cursors := make([]*Cursor, len(names))
	for i, name := range names {
		cursors[i], _ = l.Cursor(name)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		appendSync(t, l, 0, n, size, batch)
	}()
	results := make([][]int, len(names))
	for i, c := range cursors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = readUntil(t, c, n, size, 50*(i+1))
		}()
	}
	wg.Wait()
	for i, got := range results {
		if !equalInts(got, seq(0, n)) {
			t.Errorf("cursor %s read %d records, want %d in order", names[i], len(got), n)
		}
	}
	if got := len(segFiles(t, dir)); got > 2 {
		t.Errorf("%d segments left after both cursors acked everything", got)
	}
}

// readUntil reads and acks n records from c, whatever the writer's pace.
func readUntil(t *testing.T, c *Cursor, n, size, maxRecs int) []int {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got []int
	for len(got) < n {
		recs, err := c.Next(ctx, maxRecs, 1<<20)
		if err != nil {
			t.Errorf("Next: %v", err)
			return got
		}
		got = append(got, ids(t, recs, size)...)
		if err := c.Ack(recs[len(recs)-1].Next); err != nil {
			t.Errorf("Ack: %v", err)
			return got
		}
	}
	return got
}

func TestSegmentsRemovedOnlyWhenAllCursorsPassed(t *testing.T) {
	dir := t.TempDir()
	l, _ := testLog(t, dir, 1000)
	a, _ := l.Cursor("a")
	b, _ := l.Cursor("b")
	gone, _ := l.Cursor("removed-sink")
	_ = gone.Close()
	appendSync(t, l, 0, 100, 100, 10) // ~9 records a segment, 12 segments
	total := len(segFiles(t, dir))

	readAll(t, l, a, 1000, 1<<20, true)
	if got := len(segFiles(t, dir)); got != total {
		t.Fatalf("%d of %d segments left after only a acked, want all kept", got, total)
	}
	recs := readAll(t, l, b, 1000, 1<<20, false)
	if err := b.Ack(recs[49].Next); err != nil {
		t.Fatal(err)
	}
	for _, path := range segFiles(t, dir) {
		base, _ := parseSegName(filepath.Base(path))
		if base+Pos(fileSize(t, path)) <= recs[49].Next {
			t.Errorf("segment %s, wholly before b's ack, was kept", path)
		}
	}
	first, _ := parseSegName(filepath.Base(segFiles(t, dir)[0]))
	if first > recs[49].Next {
		t.Errorf("segment holding b's ack %d removed; oldest left starts at %d", recs[49].Next, first)
	}
	if err := b.Ack(recs[99].Next); err != nil {
		t.Fatal(err)
	}
	if got := len(segFiles(t, dir)); got != 1 {
		t.Errorf("%d segments left after every open cursor acked all, want 1", got)
	}
	if st := l.Stats(); st.SegmentsRemoved != uint64(total-1) {
		t.Errorf("SegmentsRemoved = %d, want %d", st.SegmentsRemoved, total-1)
	}
}

func TestUnopenedCursorDoesNotPinSegments(t *testing.T) {
	dir := t.TempDir()
	l, _ := testLog(t, dir, 1000)
	if _, err := l.Cursor("old-sink"); err != nil {
		t.Fatal(err)
	}
	a, _ := l.Cursor("a")
	_ = l.Close()

	l2, logs := testLog(t, dir, 1000)
	a2, _ := l2.Cursor("a")
	appendSync(t, l2, 0, 50, 100, 10)
	readAll(t, l2, a2, 1000, 1<<20, true)
	if got := len(segFiles(t, dir)); got != 1 {
		t.Fatalf("%d segments left; the unopened cursor pinned them", got)
	}
	old, err := l2.Cursor("old-sink")
	if err != nil {
		t.Fatal(err)
	}
	if old.Acked() != l2.oldest() || !strings.Contains(logs.String(), "behind the oldest") {
		t.Errorf("old cursor at %d, oldest %d; log:\n%s", old.Acked(), l2.oldest(), logs)
	}
	_ = a
}

func TestCursorNames(t *testing.T) {
	dir := t.TempDir()
	l, _ := testLog(t, dir, 0)
	names := []string{"sentry", "a/b", "a_b", "../../etc/passwd", "", ".hidden", "ünï côdé",
		strings.Repeat("x", 300)}
	cursors := make(map[string]*Cursor)
	for i, name := range names {
		c, err := l.Cursor(name)
		if err != nil {
			t.Fatalf("Cursor(%q): %v", name, err)
		}
		appendSync(t, l, i, 1, 20, 1)
		cursors[name] = c
		if err := c.Ack(l.End()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Cursor("sentry"); err == nil {
		t.Error("opening an open cursor twice succeeded")
	}
	entries, _ := os.ReadDir(filepath.Join(dir, cursorDir))
	if len(entries) != len(names) {
		t.Errorf("%d cursor files for %d names: %v", len(entries), len(names), entries)
	}
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(dir), "etc*"))
	if len(matches) > 0 {
		t.Errorf("a cursor escaped its folder: %v", matches)
	}
	want := make(map[string]Pos)
	for name, c := range cursors {
		want[name] = c.Acked()
	}
	_ = l.Close()
	l2, _ := testLog(t, dir, 0)
	for _, name := range names {
		c, err := l2.Cursor(name)
		if err != nil || c.Acked() != want[name] {
			t.Errorf("Cursor(%q) after restart at %d (%v), want %d", name, c.Acked(), err, want[name])
		}
	}
}

func TestCloseWakesNext(t *testing.T) {
	l, _ := testLog(t, t.TempDir(), 0)
	a, _ := l.Cursor("a")
	b, _ := l.Cursor("b")
	errs := make(chan error, 2)
	for _, c := range []*Cursor{a, b} {
		go func() {
			_, err := c.Next(context.Background(), 10, 100)
			errs <- err
		}()
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errs; !errors.Is(err, ErrClosed) {
		t.Errorf("Next after cursor Close: %v, want ErrClosed", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errs; !errors.Is(err, ErrClosed) {
		t.Errorf("Next after log Close: %v, want ErrClosed", err)
	}
	if err := l.Append(rec(1, 20)); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close: %v, want ErrClosed", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestRecordSizeLimit(t *testing.T) {
	dir := t.TempDir()
	l, _ := testLog(t, dir, 0)
	c, _ := l.Cursor("s")
	big := make([]byte, MaxRecordBytes+1)
	if err := l.Append(rec(0, 10), big); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Append of %d bytes: %v, want ErrTooLarge", len(big), err)
	}
	maxRec := big[:MaxRecordBytes]
	if err := l.Append(maxRec, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	recs := readAll(t, l, c, 10, 1, true)
	if len(recs) != 2 || len(recs[0].Data) != MaxRecordBytes || len(recs[1].Data) != 0 {
		t.Errorf("read %d records", len(recs))
	}
}

func TestCursorSaveSurvivesATornSlot(t *testing.T) {
	dir := t.TempDir()
	l, _ := testLog(t, dir, 0)
	c, _ := l.Cursor("s")
	appendSync(t, l, 0, 10, 50, 10)
	recs := readAll(t, l, c, 100, 1<<20, false)
	for _, r := range recs[:6] { // saves 2..7: the last lands in slot 7%2
		if err := c.Ack(r.Next); err != nil {
			t.Fatal(err)
		}
	}
	_ = l.Close()
	// A crash tore the last save: the slot it wrote is garbage.
	patchFile(t, filepath.Join(dir, cursorDir, "s"), slotOffset(7)+10, []byte("torn"))

	l2, _ := testLog(t, dir, 0)
	c2, _ := l2.Cursor("s")
	if c2.Acked() != recs[4].Next {
		t.Fatalf("after a torn save at %d, want the previous save %d", c2.Acked(), recs[4].Next)
	}
	if err := c2.Ack(recs[8].Next); err != nil { // and saving goes on from there
		t.Fatal(err)
	}
	_ = l2.Close()
	l3, _ := testLog(t, dir, 0)
	if c3, _ := l3.Cursor("s"); c3.Acked() != recs[8].Next {
		t.Errorf("after another save at %d, want %d", c3.Acked(), recs[8].Next)
	}
}

// TestReclaimFreesAnAcknowledgedActiveSegment: once every cursor has acknowledged the
// active segment, Reclaim removes it from disk (a full disk must not stay full).
func TestReclaimFreesAnAcknowledgedActiveSegment(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := l.Cursor("s")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Append([]byte("one"), []byte("two")); err != nil {
		t.Fatal(err)
	}
	end, err := l.Sync()
	if err != nil {
		t.Fatal(err)
	}
	segs := func() []string { m, _ := filepath.Glob(filepath.Join(dir, "*.seg")); return m }
	before := segs()
	if err := l.Reclaim(); err != nil || !equalStrings(segs(), before) {
		t.Fatalf("reclaimed a segment a cursor still needs: %v %v", err, segs())
	}
	if err := c.Ack(end); err != nil {
		t.Fatal(err)
	}
	if err := l.Reclaim(); err != nil {
		t.Fatal(err)
	}
	after := segs()
	if len(after) != 1 || after[0] == before[0] {
		t.Fatalf("segments before %v, after %v", before, after)
	}
	if err := l.Append([]byte("three")); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	recs, err := c.Next(context.Background(), 10, 1<<20)
	if err != nil || len(recs) != 1 || string(recs[0].Data) != "three" {
		t.Fatalf("after reclaim: %v %v", recs, err)
	}
}

func equalStrings(a, b []string) bool {
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
