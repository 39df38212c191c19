package betterstack

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/winship/winship/agent/event"
	"github.com/winship/winship/internal/benchkit"
	httpsink "github.com/winship/winship/sinks/http"
)

// BenchmarkEncodeJSON is what Send does to a batch of 1,000 real Winston events before
// posting it: encode the JSON array (fields merged) and gzip it.
func BenchmarkEncodeJSON(b *testing.B) {
	batch := benchkit.RealBatch(b, 1000, "testdata/combined.log", "testdata/combined-unicode.log")
	enc := encoder{host: "web-1", maxEvent: MaxEventBytes}
	gz := httpsink.NewGzipper(httpsink.DefaultGzipLevel)
	offs := make([]int, 0, len(batch)+1)
	var body, wire []byte
	b.ReportAllocs()
	b.ResetTimer()
	cpu := benchkit.StartCPU(b)
	for i := 0; i < b.N; i++ {
		body, offs, _ = enc.appendBatch(httpsink.GetBuffer(), batch, offs[:0])
		wire, _ = gz.Compress(wire[:0], body)
		httpsink.PutBuffer(body)
	}
	cpu.Report(b, len(batch))
	benchkit.Report(b, len(batch), len(body), len(wire))
}

// BenchmarkEncodeMsgpack is the msgpack alternative, same keys and gzip level. Event.Fields
// is JSON, so msgpack must decode it first: "transcode" pays for that, "predecoded"
// measures msgpack's encoding alone, a lower bound no real path reaches.
func BenchmarkEncodeMsgpack(b *testing.B) {
	b.Run("transcode", func(b *testing.B) { benchMsgpack(b, false) })
	b.Run("predecoded", func(b *testing.B) { benchMsgpack(b, true) })
}

func benchMsgpack(b *testing.B, predecoded bool) {
	batch := benchkit.RealBatch(b, 1000, "testdata/combined.log", "testdata/combined-unicode.log")
	decoded := make([][]kv, len(batch))
	for i, e := range batch {
		decoded[i] = decodeFields(e.Fields)
	}
	gz := httpsink.NewGzipper(httpsink.DefaultGzipLevel)
	var buf bytes.Buffer
	var wire []byte
	enc := msgpack.NewEncoder(&buf)
	enc.SetSortMapKeys(true) // nested maps in a stable order, as Winston wrote them
	b.ReportAllocs()
	b.ResetTimer()
	cpu := benchkit.StartCPU(b)
	for i := 0; i < b.N; i++ {
		buf.Reset()
		enc.EncodeArrayLen(len(batch))
		for j, e := range batch {
			fields := decoded[j]
			if !predecoded {
				fields = decodeFields(e.Fields)
			}
			if err := encodeMsgpack(enc, e, fields, "web-1"); err != nil {
				b.Fatal(err)
			}
		}
		wire, _ = gz.Compress(wire[:0], buf.Bytes())
	}
	cpu.Report(b, len(batch))
	benchkit.Report(b, len(batch), buf.Len(), len(wire))
}

type kv struct {
	k string
	v any
}

// decodeFields decodes the fields and sorts them by key, as Winston wrote them (a map's
// random order would also make gzip do worse).
func decodeFields(f []byte) []kv {
	var m map[string]any
	if len(f) > 0 {
		json.Unmarshal(f, &m)
	}
	out := make([]kv, 0, len(m))
	for k, v := range m {
		out = append(out, kv{k, v})
	}
	slices.SortFunc(out, func(a, b kv) int { return strings.Compare(a.k, b.k) })
	return out
}

// encodeMsgpack writes the keys the JSON encoder writes (clash handling left out: it only
// makes msgpack slower).
func encodeMsgpack(enc *msgpack.Encoder, e *event.Event, fields []kv, host string) error {
	n := 6 + len(fields)
	if e.Stack != "" {
		n++
	}
	enc.EncodeMapLen(n)
	var ts [24]byte
	pairs := []string{"dt", string(event.AppendTime(ts[:0], e.Time)), "level", e.Level.String(),
		"message", e.Message, "source", e.Source, "path", e.Path, "host", host}
	if e.Stack != "" {
		pairs = append(pairs, "stack", e.Stack)
	}
	for _, s := range pairs {
		if err := enc.EncodeString(s); err != nil {
			return err
		}
	}
	for _, f := range fields {
		enc.EncodeString(f.k)
		if err := enc.Encode(f.v); err != nil {
			return err
		}
	}
	return nil
}
