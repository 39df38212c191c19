package buffer

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Benchmarks use groups of benchBatch records of benchSize bytes, one fsync a group, the
// agent's shape. Run them with `make bench`, or:
//
//	go test -run='^$' -bench=. -benchmem ./agent/buffer/
const (
	benchBatch = 1000
	benchSize  = 300
)

func benchRecords() [][]byte {
	payload := bytes.Repeat([]byte("y"), benchSize)
	recs := make([][]byte, benchBatch)
	for i := range recs {
		recs[i] = payload
	}
	return recs
}

// measure reports events/s, payload MB/s, and CPU time (user and system, the whole
// process) per event over the timed part of a benchmark.
type measure struct {
	b   *testing.B
	cpu time.Duration
}

// startMeasure resets the benchmark timer and starts measuring.
func startMeasure(b *testing.B) *measure {
	b.ResetTimer()
	return &measure{b: b, cpu: cpuTime()}
}

// pause runs f with the timer stopped and its CPU time left out.
func (m *measure) pause(f func()) {
	m.b.StopTimer()
	start := cpuTime()
	f()
	m.cpu += cpuTime() - start
	m.b.StartTimer()
}

func (m *measure) report(groups int) {
	cpu := cpuTime() - m.cpu
	events := float64(groups * benchBatch)
	secs := m.b.Elapsed().Seconds()
	m.b.ReportMetric(events/secs, "events/s")
	m.b.ReportMetric(events*benchSize/secs/1e6, "MB/s")
	m.b.ReportMetric(float64(cpu.Nanoseconds())/events, "cpu-ns/event")
}

// cpuTime returns the CPU time the process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkAppend appends a group and fsyncs it, per iteration.
func BenchmarkAppend(b *testing.B) {
	l, _ := testLog(b, b.TempDir(), 0)
	recs := benchRecords()
	m := startMeasure(b)
	for range b.N {
		if err := l.Append(recs...); err != nil {
			b.Fatal(err)
		}
		if _, err := l.Sync(); err != nil {
			b.Fatal(err)
		}
	}
	m.report(b.N)
}

// BenchmarkRead reads a durable backlog a group at a time, acknowledging each group (one
// cursor save, as a sink worker does) or not. The backlog is refilled 200 groups (60 MB)
// at a time with the timer stopped, so the disk used stays bounded whatever b.N is.
func BenchmarkRead(b *testing.B) {
	for _, ack := range []bool{true, false} {
		b.Run(fmt.Sprintf("ack=%v", ack), func(b *testing.B) {
			l, _ := testLog(b, b.TempDir(), 0)
			c, _ := l.Cursor("s")
			recs := benchRecords()
			ctx := context.Background()
			m := startMeasure(b)
			for i := range b.N {
				if i%200 == 0 {
					m.pause(func() { refill(b, l, c, recs) })
				}
				got, err := c.Next(ctx, benchBatch, 1<<20)
				if err != nil || len(got) != benchBatch {
					b.Fatalf("Next = %d records, %v", len(got), err)
				}
				if ack {
					if err := c.Ack(got[len(got)-1].Next); err != nil {
						b.Fatal(err)
					}
				}
			}
			m.report(b.N)
		})
	}
}

// refill acknowledges what was read and appends 200 more groups.
func refill(b *testing.B, l *Log, c *Cursor, recs [][]byte) {
	if err := c.Ack(l.End()); err != nil {
		b.Fatal(err)
	}
	for range 200 {
		if err := l.Append(recs...); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := l.Sync(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkFanout measures the design choice: each group is written for three sinks,
// either once to one shared log (a cursor per sink), or to three logs (a queue per sink),
// fsyncing them one after another or from three goroutines at once.
func BenchmarkFanout(b *testing.B) {
	for _, tc := range []struct {
		name     string
		logs     int
		parallel bool
	}{
		{"shared-log", 1, false},
		{"3-logs-serial", 3, false},
		{"3-logs-parallel", 3, true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			logs := make([]*Log, tc.logs)
			for i := range logs {
				logs[i], _ = testLog(b, b.TempDir(), 0)
			}
			recs := benchRecords()
			m := startMeasure(b)
			for range b.N {
				if err := appendAll(logs, recs, tc.parallel); err != nil {
					b.Fatal(err)
				}
			}
			m.report(b.N)
		})
	}
}

// appendAll appends recs to every log and syncs each.
func appendAll(logs []*Log, recs [][]byte, parallel bool) error {
	write := func(l *Log) error {
		if err := l.Append(recs...); err != nil {
			return err
		}
		_, err := l.Sync()
		return err
	}
	if !parallel {
		for _, l := range logs {
			if err := write(l); err != nil {
				return err
			}
		}
		return nil
	}
	var wg sync.WaitGroup
	errs := make([]error, len(logs))
	for i, l := range logs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = write(l)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// BenchmarkOpen measures recovery's scan of a full 64 MiB last segment (from the page
// cache), the work Open does after every restart.
func BenchmarkOpen(b *testing.B) {
	dir := b.TempDir()
	l, _ := testLog(b, dir, 0)
	recs := benchRecords()
	for i := 0; i < 200; i++ { // 62.4 MB
		if err := l.Append(recs...); err != nil {
			b.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(l.End()))
	b.ResetTimer()
	for range b.N {
		l, err := Open(Options{Dir: dir})
		if err != nil {
			b.Fatal(err)
		}
		if err := l.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCursorSave compares the two ways to save a cursor: overwriting the older of two
// slots in place plus one fsync (what Ack does), and a new file (temp file, fsync, rename,
// fsync of the folder).
func BenchmarkCursorSave(b *testing.B) {
	l, _ := testLog(b, b.TempDir(), 0)
	c, _ := l.Cursor("s")
	b.Run("slot-overwrite", func(b *testing.B) {
		start := cpuTime()
		for i := range b.N {
			if err := c.persist(Pos(i)); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64((cpuTime()-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
	})
	b.Run("temp-rename", func(b *testing.B) {
		start := cpuTime()
		for i := range b.N {
			c.closeFile()
			if err := c.create(Pos(i)); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64((cpuTime()-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
	})
}
