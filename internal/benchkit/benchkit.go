// Package benchkit holds what the sinks' encoding benchmarks share: a batch of real Winston
// events, per-event reporting, and the CPU time of the benchmark's own thread (which other
// processes on a busy machine do not inflate the way they inflate wall time).
package benchkit

import (
	"runtime"
	"testing"
	"time"

	"github.com/winship/winship/agent/event"
	"github.com/winship/winship/sinks/http/httpfake"
)

// RealBatch returns n events cycled from the Winston output in files, each with a distinct
// time, as a real stream's would have.
func RealBatch(b *testing.B, n int, files ...string) []*event.Event {
	var all []*event.Event
	for _, f := range files {
		evs, err := httpfake.ReadWinston(f, "app")
		if err != nil {
			b.Fatal(err)
		}
		all = append(all, evs...)
	}
	out := make([]*event.Event, n)
	for i := range out {
		e := *all[i%len(all)]
		e.Time = e.Time.Add(time.Duration(i) * time.Millisecond)
		out[i] = &e
	}
	return out
}

// Report adds ns/event, events/s, B/event and, when zipped > 0, gzB/event to b's metrics.
func Report(b *testing.B, events, raw, zipped int) {
	perEvent := float64(b.Elapsed().Nanoseconds()) / float64(b.N*events)
	b.ReportMetric(perEvent, "ns/event")
	b.ReportMetric(1e9/perEvent, "events/s")
	b.ReportMetric(float64(raw)/float64(events), "B/event")
	if zipped > 0 {
		b.ReportMetric(float64(zipped)/float64(events), "gzB/event")
	}
}

// CPUTimer measures the CPU time of the benchmark's own OS thread.
type CPUTimer struct{ start time.Duration }

// StartCPU locks the benchmark to its thread and starts measuring.
func StartCPU(b *testing.B) *CPUTimer {
	runtime.LockOSThread()
	b.Cleanup(runtime.UnlockOSThread)
	return &CPUTimer{start: threadCPU()}
}

// Report adds cpu-ns/event to b's metrics (0 where the platform cannot tell).
func (c *CPUTimer) Report(b *testing.B, events int) {
	used := threadCPU() - c.start
	b.ReportMetric(float64(used.Nanoseconds())/float64(b.N*events), "cpu-ns/event")
}
