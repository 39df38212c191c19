package source

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nxadm/tail"

	"github.com/winship/winship/agent/event"
)

// The owners list nxadm/tail as the library to tail files with. The follower reads with its
// own reader instead (exact byte offsets for checkpoints; nxadm/tail's follow mode splits a
// partial last line, stops without draining a renamed file when ReOpen is off, exits the
// process through util.Fatal on some stat errors, and seeks once per line to report an
// offset). These benchmarks put a number on the reading itself: both read the same file of
// Winston lines to its end and count the lines, without parsing.
//
//	go test -run '^$' -bench 'Lines' -benchmem ./agent/source

const benchLines = 200_000

var (
	benchOnce sync.Once
	benchPath string
	benchSize int64
)

// benchFile writes benchLines Winston JSON lines once per test binary run.
func benchFile(b *testing.B) string {
	benchOnce.Do(func() {
		dir, err := os.MkdirTemp("", "winship-bench")
		if err != nil {
			b.Fatal(err)
		}
		benchPath = filepath.Join(dir, "combined.log")
		f, err := os.Create(benchPath)
		if err != nil {
			b.Fatal(err)
		}
		w := bufio.NewWriter(f)
		for k := range benchLines {
			w.WriteString(line(k))
		}
		if err := w.Flush(); err != nil {
			b.Fatal(err)
		}
		fi, _ := f.Stat()
		benchSize = fi.Size()
		f.Close()
	})
	if benchPath == "" {
		b.Fatal("no benchmark file")
	}
	return benchPath
}

// nxadmUsed tells TestMain to tolerate the goroutines nxadm/tail leaves behind.
var nxadmUsed atomic.Bool

func BenchmarkNxadmTailLines(b *testing.B) {
	nxadmUsed.Store(true)
	path := benchFile(b)
	b.SetBytes(benchSize)
	b.ResetTimer()
	for range b.N {
		t, err := tail.TailFile(path, tail.Config{Follow: false, MustExist: true,
			Logger: tail.DiscardingLogger})
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for range t.Lines {
			n++
		}
		if err := t.Wait(); err != nil {
			b.Fatal(err)
		}
		t.Cleanup()
		if n != benchLines {
			b.Fatalf("%d lines, want %d", n, benchLines)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchLines), "ns/line")
}

// countingParser counts lines and produces no events, so that only reading and splitting
// are measured.
type countingParser struct{ n int }

func (p *countingParser) Feed(out []event.Event, _ []byte, _ int64, _ time.Time) []event.Event {
	p.n++
	return out
}
func (p *countingParser) Flush(out []event.Event) []event.Event { return out }
func (p *countingParser) Pending() int64                        { return -1 }

func BenchmarkFollowerLines(b *testing.B) {
	path := benchFile(b)
	cfg := testSource(filepath.Dir(path))
	src := &Source{cfg: cfg, metrics: &Metrics{}, logger: testLogger(nil)}
	file, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer file.Close()
	b.SetBytes(benchSize)
	b.ResetTimer()
	for range b.N {
		p := &countingParser{}
		f := &follower{src: src, path: path, file: file, parser: p, target: -1, logger: src.logger}
		if _, err := f.readAvailable(context.Background()); err != nil {
			b.Fatal(err)
		}
		if p.n != benchLines || f.readOff != benchSize {
			b.Fatalf("%d lines to offset %d, want %d to %d", p.n, f.readOff, benchLines, benchSize)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchLines), "ns/line")
}
