package agent

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// writeFixtureLines writes n lines cycled from the real Winston fixture into path.
func writeFixtureLines(b testing.TB, path string, n int) int64 {
	data, err := os.ReadFile("testdata/combined.log")
	if err != nil {
		b.Fatal(err)
	}
	src := strings.SplitAfter(strings.TrimSpace(string(data)), "\n")
	os.MkdirAll(filepath.Dir(path), 0o755)
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var size int64
	for i := 0; i < n; i++ {
		line := src[i%len(src)]
		if !strings.HasSuffix(line, "\n") {
			line += "\n"
		}
		w.WriteString(line)
		size += int64(len(line))
	}
	w.Flush()
	f.Close()
	return size
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPipeline ships real Winston lines end to end (follow → parse → disk buffer with
// fsync → file sink with fsync) with --once, and reports lines/s, CPU µs per line (user +
// system, all goroutines) and the peak heap.
//
//	go test -run='^$' -bench=Pipeline -benchtime=1x ./agent
func BenchmarkPipeline(b *testing.B) {
	const lines = 500_000
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := b.TempDir()
		size := writeFixtureLines(b, filepath.Join(dir, "logs/combined.log"), lines)
		cfg := fileSinkConfig(b, dir)
		runtime.GC()
		b.StartTimer()
		cpu0, t0 := cpuTime(), time.Now()
		stop := make(chan struct{})
		peak := make(chan uint64)
		go func() {
			var max uint64
			var ms runtime.MemStats
			for {
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > max {
					max = ms.HeapInuse
				}
				select {
				case <-stop:
					peak <- max
					return
				case <-time.After(50 * time.Millisecond):
				}
			}
		}()
		if err := Run(context.Background(), cfg, quietLogger(b), Options{Once: true}); err != nil {
			b.Fatal(err)
		}
		wall, cpu := time.Since(t0), cpuTime()-cpu0
		close(stop)
		b.ReportMetric(float64(lines)/wall.Seconds(), "lines/s")
		b.ReportMetric(float64(cpu.Microseconds())/lines, "cpu-µs/line")
		b.ReportMetric(float64(size)/wall.Seconds()/1e6, "MB/s")
		b.ReportMetric(float64(<-peak)/(1<<20), "peak-heap-MiB")
	}
}
