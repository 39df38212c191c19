package buffer

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// layout describes a log written by writeLayout: where each record ends.
type layout struct {
	dir  string
	segs []string // segment files, in order
	ends []Pos    // ends[i]: the position after record i
	end  Pos
}

// start returns the position of record i.
func (ly layout) start(i int) Pos { return ly.ends[i] - Pos(frameSize(corruptRecSize)) }

// segOf returns the segment file holding record i and the record's offset in it.
func (ly layout) segOf(t *testing.T, i int) (string, int64) {
	t.Helper()
	for j := len(ly.segs) - 1; j >= 0; j-- {
		base, _ := parseSegName(filepath.Base(ly.segs[j]))
		if base <= ly.start(i) {
			return ly.segs[j], int64(ly.start(i) - base)
		}
	}
	t.Fatalf("no segment holds record %d", i)
	return "", 0
}

// recordsIn returns the records whose bytes lie in segment file path.
func (ly layout) recordsIn(path string) []int {
	base, _ := parseSegName(filepath.Base(path))
	end := ly.end
	for j, s := range ly.segs {
		if s == path && j+1 < len(ly.segs) {
			end, _ = parseSegName(filepath.Base(ly.segs[j+1]))
		}
	}
	var out []int
	for i := range ly.ends {
		if ly.start(i) >= base && ly.ends[i] <= end {
			out = append(out, i)
		}
	}
	return out
}

const (
	corruptRecSize  = 100
	corruptRecs     = 100
	corruptSegBytes = 2048 // 18 records a segment, 6 segments
)

// writeLayout writes corruptRecs records with a cursor "s" opened first, and closes.
func writeLayout(t *testing.T) layout {
	t.Helper()
	dir := t.TempDir()
	l, _ := testLog(t, dir, corruptSegBytes)
	c, _ := l.Cursor("s")
	probe, _ := l.Cursor("probe")
	appendSync(t, l, 0, corruptRecs, corruptRecSize, 7)
	ly := layout{dir: dir, end: l.End()}
	for _, r := range readAll(t, l, probe, 1000, 1<<20, true) {
		ly.ends = append(ly.ends, r.Next)
	}
	_ = c
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	ly.segs = segFiles(t, dir)
	if len(ly.segs) < 4 {
		t.Fatalf("only %d segments", len(ly.segs))
	}
	return ly
}

func appendFile(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func patchFile(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func garbage(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.IntN(256))
	}
	return b
}

func TestCorruption(t *testing.T) {
	frame := frameSize(corruptRecSize)
	tests := []struct {
		name string
		// damage breaks the log and returns the records that can no longer be delivered.
		damage func(t *testing.T, ly layout) []int
		want   Stats // only the corruption counters are compared
		warn   string
	}{
		{
			name: "garbage appended to the last segment",
			damage: func(t *testing.T, ly layout) []int {
				appendFile(t, ly.segs[len(ly.segs)-1], garbage(777))
				return nil
			},
			want: Stats{CorruptSegments: 1, CorruptBytes: 777, CorruptRecords: 1},
			warn: "damaged",
		},
		{
			name: "a record cut in half",
			damage: func(t *testing.T, ly layout) []int {
				last := ly.segs[len(ly.segs)-1]
				if err := os.Truncate(last, fileSize(t, last)-frame/2); err != nil {
					t.Fatal(err)
				}
				return []int{corruptRecs - 1}
			},
			want: Stats{CorruptSegments: 1, CorruptBytes: uint64(frame - frame/2), CorruptRecords: 1},
			warn: "damaged",
		},
		{
			name: "a zero-filled tail",
			damage: func(t *testing.T, ly layout) []int {
				appendFile(t, ly.segs[len(ly.segs)-1], make([]byte, 4096))
				return nil
			},
			want: Stats{CorruptSegments: 1, CorruptBytes: 4096, CorruptRecords: 1},
			warn: "damaged",
		},
		{
			name: "a corrupt CRC in the middle of a sealed segment",
			damage: func(t *testing.T, ly layout) []int {
				path, off := ly.segOf(t, 25)
				patchFile(t, path, off+headerBytes+50, []byte("X"))
				return []int{25}
			},
			want: Stats{CorruptSegments: 1, CorruptBytes: uint64(frame), CorruptRecords: 1},
			warn: "damaged",
		},
		{
			name: "a corrupt length in the middle of a sealed segment",
			damage: func(t *testing.T, ly layout) []int {
				path, off := ly.segOf(t, 40)
				patchFile(t, path, off+4, []byte{0xff, 0xff, 0xff, 0x7f})
				return []int{40}
			},
			want: Stats{CorruptSegments: 1, CorruptBytes: uint64(frame), CorruptRecords: 1},
			warn: "damaged",
		},
		{
			name: "zeroed records in the middle of the last segment",
			damage: func(t *testing.T, ly layout) []int {
				path, off := ly.segOf(t, corruptRecs-5)
				patchFile(t, path, off, make([]byte, 2*frame))
				return []int{corruptRecs - 5, corruptRecs - 4}
			},
			want: Stats{CorruptSegments: 1, CorruptBytes: uint64(2 * frame), CorruptRecords: 1},
			warn: "damaged",
		},
		{
			name: "the rest of a sealed segment overwritten",
			damage: func(t *testing.T, ly layout) []int {
				path, off := ly.segOf(t, 20)
				size := fileSize(t, path)
				patchFile(t, path, off, garbage(int(size-off)))
				var lost []int
				for _, i := range ly.recordsIn(path) {
					if i >= 20 {
						lost = append(lost, i)
					}
				}
				return lost
			},
			want: Stats{CorruptSegments: 1, CorruptRecords: 1},
			warn: "damaged",
		},
		{
			name: "a missing segment",
			damage: func(t *testing.T, ly layout) []int {
				if err := os.Remove(ly.segs[2]); err != nil {
					t.Fatal(err)
				}
				return ly.recordsIn(ly.segs[2])
			},
			want: Stats{MissingSegments: 1},
			warn: "segment deleted?",
		},
		{
			name: "the first segment missing",
			damage: func(t *testing.T, ly layout) []int {
				if err := os.Remove(ly.segs[0]); err != nil {
					t.Fatal(err)
				}
				return ly.recordsIn(ly.segs[0])
			},
			warn: "behind the oldest segment",
		},
		{
			name: "the last segment missing",
			damage: func(t *testing.T, ly layout) []int {
				last := ly.segs[len(ly.segs)-1]
				if err := os.Remove(last); err != nil {
					t.Fatal(err)
				}
				return ly.recordsIn(last)
			},
			warn: "past the end of the log",
		},
		{
			name: "garbage files in the folder",
			damage: func(t *testing.T, ly layout) []int {
				for name, content := range map[string]string{
					"notes.txt": "hello", "123.seg": "short name", "x.seg.tmp": "tmp",
					"99999999999999999999999.seg": "long", "cursors/.s.tmp": "half-written",
				} {
					if err := os.WriteFile(filepath.Join(ly.dir, name), []byte(content), 0o600); err != nil {
						t.Fatal(err)
					}
				}
				if err := os.Mkdir(filepath.Join(ly.dir, segName(1<<40)), 0o700); err != nil {
					t.Fatal(err)
				}
				return nil
			},
		},
		{
			name: "a damaged cursor file",
			damage: func(t *testing.T, ly layout) []int {
				path := filepath.Join(ly.dir, cursorDir, "s")
				patchFile(t, path, 5, []byte{0x42})
				patchFile(t, path, cursorStride+5, []byte{0x42})
				return nil
			},
			warn: "cursor file damaged",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ly := writeLayout(t)
			lost := tt.damage(t, ly)

			start := time.Now()
			l, logs := testLog(t, ly.dir, corruptSegBytes)
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("Open took %v", took)
			}
			c, err := l.Cursor("s")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := l.Cursor("probe"); err != nil { // it acked up to the old end
				t.Fatal(err)
			}
			got := ids(t, readAll(t, l, c, 13, 1<<20, true), corruptRecSize)
			if want := seq(0, corruptRecs, lost...); !equalInts(got, want) {
				t.Errorf("delivered %d records %v,\nwant %d %v", len(got), got, len(want), want)
			}
			checkCounters(t, l.Stats(), tt.want)
			if tt.warn != "" && !strings.Contains(logs.String(), tt.warn) {
				t.Errorf("no warning %q in log:\n%s", tt.warn, logs)
			}
			checkUsable(t, ly.dir, l, c)
		})
	}
}

// checkCounters compares the corruption counters; CorruptBytes 0 in want means "any".
func checkCounters(t *testing.T, got, want Stats) {
	t.Helper()
	if want.CorruptBytes == 0 && want.CorruptSegments > 0 {
		want.CorruptBytes = got.CorruptBytes
		if got.CorruptBytes == 0 {
			t.Error("CorruptBytes = 0, want some")
		}
	}
	if got.CorruptSegments != want.CorruptSegments || got.CorruptBytes != want.CorruptBytes ||
		got.CorruptRecords != want.CorruptRecords || got.MissingSegments != want.MissingSegments {
		t.Errorf("corruption counters: segments %d bytes %d records %d missing %d; "+
			"want %d %d %d %d", got.CorruptSegments, got.CorruptBytes, got.CorruptRecords,
			got.MissingSegments, want.CorruptSegments, want.CorruptBytes, want.CorruptRecords,
			want.MissingSegments)
	}
}

// checkUsable appends after recovery, reads it back, and reopens without new damage.
func checkUsable(t *testing.T, dir string, l *Log, c *Cursor) {
	t.Helper()
	appendSync(t, l, 1000, 30, corruptRecSize, 10)
	got := ids(t, readAll(t, l, c, 100, 1<<20, true), corruptRecSize)
	if !equalInts(got, seq(1000, 1030)) {
		t.Errorf("after recovery appended and read %v", got)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2, _ := testLog(t, dir, corruptSegBytes)
	if st := l2.Stats(); st.CorruptBytes != 0 || st.End != l.Stats().End {
		t.Errorf("second reopen: %+v, want a clean log ending at %d", st, l.Stats().End)
	}
}

func TestRecoveryTruncatesTornTail(t *testing.T) {
	ly := writeLayout(t)
	last := ly.segs[len(ly.segs)-1]
	size := fileSize(t, last)
	appendFile(t, last, garbage(100))
	testLog(t, ly.dir, corruptSegBytes)
	if got := fileSize(t, last); got != size {
		t.Errorf("last segment is %d bytes after recovery, want %d (torn tail cut)", got, size)
	}
}

func TestResyncFindsFrameAcrossChunks(t *testing.T) {
	// Damage of more than one resync chunk followed by an intact frame.
	dir := t.TempDir()
	l, _ := testLog(t, dir, 0)
	c, _ := l.Cursor("s")
	appendSync(t, l, 0, 1, 100, 1)
	bad := l.End()
	if err := l.Append(bytes.Repeat([]byte("WSH"), 50000)); err != nil { // ~150 KB record
		t.Fatal(err)
	}
	appendSync(t, l, 1, 3, 100, 3)
	_ = l.Close()
	seg := segFiles(t, dir)[0]
	patchFile(t, seg, int64(bad)+headerBytes+70000, []byte("1"))

	l2, _ := testLog(t, dir, 0)
	c, _ = l2.Cursor("s")
	recs := readAll(t, l2, c, 100, 1<<20, true)
	if got := ids(t, recs, 100); !equalInts(got, seq(0, 4)) {
		t.Errorf("read %v, want 0..3 around the damaged record", got)
	}
	if st := l2.Stats(); st.CorruptRecords != 1 || st.CorruptBytes != uint64(frameSize(150000)) {
		t.Errorf("stats %+v", st)
	}
}

func TestDamageFoundWhileRunning(t *testing.T) {
	dir := t.TempDir()
	l, logs := testLog(t, dir, corruptSegBytes)
	a, _ := l.Cursor("a")
	b, _ := l.Cursor("b")
	probe, _ := l.Cursor("probe")
	appendSync(t, l, 0, corruptRecs, corruptRecSize, 7)
	ly := layout{dir: dir, end: l.End(), segs: segFiles(t, dir)}
	for _, r := range readAll(t, l, probe, 1000, 1<<20, true) {
		ly.ends = append(ly.ends, r.Next)
	}
	if err := os.Remove(ly.segs[1]); err != nil {
		t.Fatal(err)
	}
	path, off := ly.segOf(t, 50)
	patchFile(t, path, off+headerBytes+3, []byte("!"))
	lost := append(ly.recordsIn(ly.segs[1]), 50)

	want := seq(0, corruptRecs, lost...)
	for _, c := range []*Cursor{a, b} {
		got := ids(t, readAll(t, l, c, 9, 1<<20, true), corruptRecSize)
		if !equalInts(got, want) {
			t.Errorf("cursor %s read %v,\nwant %v", c.Name(), got, want)
		}
	}
	// Two cursors met the same damage: it is counted and warned about once.
	checkCounters(t, l.Stats(), Stats{CorruptSegments: 1, CorruptBytes: uint64(
		frameSize(corruptRecSize)), CorruptRecords: 1, MissingSegments: 1})
	if n := strings.Count(logs.String(), "skipped damaged"); n != 1 {
		t.Errorf("%d damage warnings, want 1:\n%s", n, logs)
	}
	if !strings.Contains(logs.String(), "segment missing") {
		t.Errorf("no warning about the missing segment:\n%s", logs)
	}
}
