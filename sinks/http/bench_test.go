package httpsink

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/klauspost/compress/gzip"

	"github.com/winship/winship/internal/benchkit"
	"github.com/winship/winship/sinks"
)

// BenchmarkEncode encodes a batch of 1,000 real Winston events (JSON array), no gzip.
func BenchmarkEncode(b *testing.B) {
	batch := benchkit.RealBatch(b, 1000, "testdata/combined.log", "testdata/combined-unicode.log")
	buf := AppendBatch(nil, batch, JSON, "web-1")
	b.ReportAllocs()
	b.ResetTimer()
	cpu := benchkit.StartCPU(b)
	for i := 0; i < b.N; i++ {
		buf = AppendBatch(buf[:0], batch, JSON, "web-1")
	}
	cpu.Report(b, len(batch))
	benchkit.Report(b, len(batch), len(buf), 0)
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
			batch := benchkit.RealBatch(b, 1000, "testdata/combined.log", "testdata/combined-unicode.log")
			gz := NewGzipper(l.level)
			var body, wire []byte
			b.ReportAllocs()
			b.ResetTimer()
			cpu := benchkit.StartCPU(b)
			for i := 0; i < b.N; i++ {
				body = AppendBatch(GetBuffer(), batch, JSON, "web-1")
				wire, _ = gz.Compress(wire[:0], body)
				PutBuffer(body)
			}
			cpu.Report(b, len(batch))
			benchkit.Report(b, len(batch), len(body), len(wire))
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
	batch := benchkit.RealBatch(b, 1000, "testdata/combined.log", "testdata/combined-unicode.log")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.Send(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
	benchkit.Report(b, len(batch), 0, 0)
}
