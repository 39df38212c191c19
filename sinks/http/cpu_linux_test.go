package httpsink

import (
	"runtime"
	"syscall"
	"testing"
	"time"
)

// cpuTimer measures the CPU time of the benchmark's own OS thread, which other processes
// on a busy machine do not inflate the way they inflate wall time.
type cpuTimer struct{ start time.Duration }

func startCPU(b *testing.B) *cpuTimer {
	runtime.LockOSThread()
	b.Cleanup(runtime.UnlockOSThread)
	return &cpuTimer{start: threadCPU()}
}

// report adds cpu-ns/event to b's metrics.
func (c *cpuTimer) report(b *testing.B, events int) {
	used := threadCPU() - c.start
	b.ReportMetric(float64(used.Nanoseconds())/float64(b.N*events), "cpu-ns/event")
}

func threadCPU() time.Duration {
	const rusageThread = 1 // RUSAGE_THREAD
	var ru syscall.Rusage
	if syscall.Getrusage(rusageThread, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
