package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/winship/winship/agent/event"
	"github.com/winship/winship/sinks"
)

// arrivalSink records, for each event, how long ago its line was written (the message
// carries the write time in Unix nanoseconds).
type arrivalSink struct {
	mu   sync.Mutex
	lags []time.Duration
	got  chan struct{}
}

func (s *arrivalSink) Send(_ context.Context, batch []*event.Event) error {
	now := time.Now()
	s.mu.Lock()
	for _, e := range batch {
		ns, err := strconv.ParseInt(strings.TrimPrefix(e.Message, "t="), 10, 64)
		if err == nil {
			s.lags = append(s.lags, now.Sub(time.Unix(0, ns)))
		}
	}
	s.mu.Unlock()
	select {
	case s.got <- struct{}{}:
	default:
	}
	return nil
}

func (s *arrivalSink) Close() error { return nil }

type noOptions struct{}

func (*noOptions) Validate() error { return nil }
func (*noOptions) Resolve(string)  {}

// BenchmarkLatency writes lines at a steady rate (2,000 a second) into a followed file and
// reports the 50th and 99th percentile and the worst delay from the write to the sink's
// Send, through the disk buffer with every fsync.
//
//	go test -run='^$' -bench=Latency -benchtime=1x ./agent
func BenchmarkLatency(b *testing.B) {
	for i := 0; i < b.N; i++ {
		sink := &arrivalSink{got: make(chan struct{}, 1)}
		factories := map[string]sinks.Factory{"arrival": {
			NewOptions: func() sinks.Options { return &noOptions{} },
			Defaults:   sinks.Defaults{MaxEvents: 1000, MaxBytes: 1 << 20, MaxWait: 20 * time.Millisecond, Concurrency: 1},
			New:        func(sinks.Spec, sinks.Options) (sinks.Sink, error) { return sink, nil },
		}}
		dir := b.TempDir()
		os.MkdirAll(filepath.Join(dir, "logs"), 0o755)
		cfg := testConfig(b, dir, `
state_dir: ./state
sources: [{name: app, paths: ["./logs/*.log"], format: json}]
sinks: [{name: s, type: arrival}]
`, factories)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- Run(ctx, cfg, quietLogger(b), Options{}) }()
		f, err := os.Create(filepath.Join(dir, "logs/app.log"))
		if err != nil {
			b.Fatal(err)
		}
		lines := 4000
		if testing.Short() {
			lines = 200
		}
		tick := time.NewTicker(500 * time.Microsecond)
		for n := 0; n < lines; n++ {
			<-tick.C
			fmt.Fprintf(f, `{"level":"info","message":"t=%d"}`+"\n", time.Now().UnixNano())
		}
		tick.Stop()
		f.Close()
		for {
			sink.mu.Lock()
			have := len(sink.lags)
			sink.mu.Unlock()
			if have >= lines {
				break
			}
			<-sink.got
		}
		cancel()
		<-done
		lags := slices.Clone(sink.lags)
		slices.Sort(lags)
		b.ReportMetric(float64(lags[len(lags)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lags[len(lags)*99/100].Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(lags[len(lags)-1].Microseconds())/1000, "max-ms")
	}
}
