package httpsink

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/winship/winship/agent/event"
	"github.com/winship/winship/sinks"
	"github.com/winship/winship/sinks/http/httpfake"
)

// realBatch returns n events cycled from the real Winston output in testdata (320 lines).
func realBatch(b *testing.B, n int) []*event.Event {
	var all []*event.Event
	for _, f := range []string{"testdata/combined.log", "testdata/combined-unicode.log"} {
		evs, err := httpfake.ReadWinston(f, "app")
		if err != nil {
			b.Fatal(err)
		}
		all = append(all, evs...)
	}
	// Cycled lines get distinct times, as a real stream's would have.
	out := make([]*event.Event, n)
	for i := range out {
		e := *all[i%len(all)]
		e.Time = e.Time.Add(time.Duration(i) * time.Millisecond)
		out[i] = &e
	}
	return out
}

func report(b *testing.B, events, raw, zipped int) {
	perEvent := float64(b.Elapsed().Nanoseconds()) / float64(b.N*events)
	b.ReportMetric(perEvent, "ns/event")
	b.ReportMetric(1e9/perEvent, "events/s")
	b.ReportMetric(float64(raw)/float64(events), "B/event")
	if zipped > 0 {
		b.ReportMetric(float64(zipped)/float64(events), "gzB/event")
	}
}

// BenchmarkEncode encodes a batch of 1,000 real Winston events (JSON array), no gzip.
func BenchmarkEncode(b *testing.B) {
	batch := realBatch(b, 1000)
	buf := AppendBatch(nil, batch, JSON, "web-1")
	b.ReportAllocs()
	b.ResetTimer()
	cpu := startCPU(b)
	for i := 0; i < b.N; i++ {
		buf = AppendBatch(buf[:0], batch, JSON, "web-1")
	}
	cpu.report(b, len(batch))
	report(b, len(batch), len(buf), 0)
}

// BenchmarkEncodeGzip encodes and compresses a batch of 1,000 real Winston events, at the
// level the sinks use and at gzip's default, for comparison.
func BenchmarkEncodeGzip(b *testing.B) {
	levels := []struct {
		name  string
		level int
	}{{"fastest", gzip.BestSpeed}, {"default", gzip.DefaultCompression}}
	for _, l := range levels {
		b.Run(l.name, func(b *testing.B) {
			batch := realBatch(b, 1000)
			gz := NewGzipper(l.level)
			var body, wire []byte
			b.ReportAllocs()
			b.ResetTimer()
			cpu := startCPU(b)
			for i := 0; i < b.N; i++ {
				body = AppendBatch(GetBuffer(), batch, JSON, "web-1")
				wire, _ = gz.Compress(wire[:0], body)
				PutBuffer(body)
			}
			cpu.report(b, len(batch))
			report(b, len(batch), len(body), len(wire))
		})
	}
}

// BenchmarkSend is the whole Send path for 1,000 real events: encode, gzip, POST to a
// local server that reads and discards the body.
func BenchmarkSend(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
	}))
	defer srv.Close()
	o := NewOptions()
	o.URL = srv.URL
	s, err := New(sinks.Spec{Name: "bench", Host: "web-1"}, o)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	batch := realBatch(b, 1000)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.Send(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
	report(b, len(batch), 0, 0)
}
