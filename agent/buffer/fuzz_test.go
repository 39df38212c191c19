package buffer

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzDamage overwrites bytes of one segment of a small log with arbitrary data and checks
// that Open succeeds and every record whose bytes were left alone is still delivered, in
// order, and nothing else. Run longer with:
//
//	go test -run='^$' -fuzz=FuzzDamage -fuzztime=2m ./agent/buffer/
func FuzzDamage(f *testing.F) {
	f.Add(uint8(0), uint16(0), []byte("garbage"))
	f.Add(uint8(1), uint16(5), []byte{0, 0, 0, 0, 0, 0, 0, 0})
	f.Add(uint8(2), uint16(700), []byte("WSH1\x10\x00\x00\x00\x00\x00\x00\x00"))
	f.Add(uint8(3), uint16(2000), make([]byte, 300))
	f.Fuzz(func(t *testing.T, segIdx uint8, off uint16, data []byte) {
		if len(data) > 4096 {
			return
		}
		dir := t.TempDir()
		opts := Options{Dir: dir, SegmentBytes: 1024, Logger: slog.New(slog.DiscardHandler)}
		ends := writeFuzzLog(t, opts)
		segs := segFiles(t, dir)
		path := segs[int(segIdx)%len(segs)]
		base, _ := parseSegName(filepath.Base(path))
		damage(t, path, int64(off), data)
		lo, hi := base+Pos(off), base+Pos(off)+Pos(len(data))

		var want []int
		for i, end := range ends {
			start := end - Pos(frameSize(fuzzRecSize(i)))
			if end <= lo || start >= hi {
				want = append(want, i)
			}
		}
		got := readFuzzLog(t, opts)
		j := 0
		for _, i := range got { // got must contain want, in order, and only real records
			if j < len(want) && want[j] == i {
				j++
			}
		}
		if j != len(want) {
			t.Fatalf("damage at %d..%d of %s: read %v, want at least %v", off,
				int(off)+len(data), filepath.Base(path), got, want)
		}
	})
}

func fuzzRecSize(i int) int { return 11 + i*37%200 }

// writeFuzzLog writes 40 records with a cursor at 0 and returns where each one ends.
func writeFuzzLog(t *testing.T, opts Options) []Pos {
	l, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.Cursor("s"); err != nil {
		t.Fatal(err)
	}
	var (
		recs [][]byte
		ends []Pos
		end  Pos
	)
	for i := range 40 {
		recs = append(recs, rec(i, fuzzRecSize(i)))
		end += Pos(frameSize(fuzzRecSize(i)))
		ends = append(ends, end)
	}
	if err := l.Append(recs...); err != nil {
		t.Fatal(err)
	}
	if got, err := l.Sync(); err != nil || got != end {
		t.Fatalf("Sync = %d, %v; want %d", got, err, end)
	}
	return ends
}

func damage(t *testing.T, path string, off int64, data []byte) {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(data, off); err != nil {
		t.Fatal(err)
	}
}

// readFuzzLog reopens the log and returns the numbers of the intact records it delivers.
func readFuzzLog(t *testing.T, opts Options) []int {
	l, err := Open(opts)
	if err != nil {
		t.Fatalf("Open of a damaged log: %v", err)
	}
	defer l.Close()
	c, err := l.Cursor("s")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []int
	for c.Acked() < l.End() {
		recs, err := c.Next(ctx, 100, 1<<20)
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		for _, r := range recs {
			got = append(got, ids(t, []Record{r}, len(r.Data))...)
		}
		if err := c.Ack(recs[len(recs)-1].Next); err != nil {
			t.Fatal(err)
		}
	}
	return got
}
