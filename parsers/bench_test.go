package parsers

import (
	"bytes"
	"os"
	"testing"
	"time"

	"github.com/winship/winship/agent/event"
)

// BenchmarkJSON measures the json parser on the lines of the real Winston fixture
// (testdata/winston/basic/combined.log, 200 lines). One op is one line.
func BenchmarkJSON(b *testing.B) {
	data, err := os.ReadFile("testdata/winston/basic/combined.log")
	if err != nil {
		b.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	p := New("json")
	now := time.Now()
	out := make([]event.Event, 0, 1)
	b.SetBytes(int64(len(data)) / int64(len(lines)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out = p.Feed(out[:0], lines[i%len(lines)], 0, now)
	}
}

// BenchmarkFormats measures every parser on its fixture, per line (multi-line formats
// complete an entry every few lines).
func BenchmarkFormats(b *testing.B) {
	for _, bc := range []struct{ folder, format string }{{"basic", "json"},
		{"logstash", "logstash"}, {"pretty", "pretty"}, {"printf", "text"},
		{"simple", "text"}, {"basic", "auto"}} {
		b.Run(bc.folder+"/"+bc.format, func(b *testing.B) {
			data, err := os.ReadFile("testdata/winston/" + bc.folder + "/combined.log")
			if err != nil {
				b.Fatal(err)
			}
			lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
			p := New(bc.format)
			now := time.Now()
			out := make([]event.Event, 0, 16)
			b.SetBytes(int64(len(data)) / int64(len(lines)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				out = p.Feed(out[:0], lines[i%len(lines)], 0, now)
			}
		})
	}
}
