package httpsink

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/klauspost/compress/gzip"
)

// Gzipper compresses request bodies with a pool of gzip writers, so a busy sink does not
// allocate a compressor (about 1 MB of state) per request. It is safe for concurrent use.
type Gzipper struct {
	level int
	pool  sync.Pool
}

// DefaultGzipLevel is the level the sinks use: the fastest. On Winston output it spends
// less than half the CPU of the default level (200 against 450 ns an event) for bodies
// 16% larger (see the package benchmarks); CPU per line matters more to a sidecar than
// bytes.
const DefaultGzipLevel = gzip.BestSpeed

// NewGzipper returns a Gzipper writing at level (gzip.BestSpeed..gzip.BestCompression,
// or gzip.DefaultCompression). It panics on other levels: they are programming errors.
func NewGzipper(level int) *Gzipper {
	if _, err := gzip.NewWriterLevel(nil, level); err != nil {
		panic(fmt.Sprintf("httpsink: gzip level %d: %v", level, err))
	}
	return &Gzipper{level: level}
}

// Compress appends the gzip form of src to dst and returns the extended slice.
func (g *Gzipper) Compress(dst, src []byte) ([]byte, error) {
	buf := bytes.NewBuffer(dst)
	buf.Grow(len(src)/4 + 64)
	w, _ := g.pool.Get().(*gzip.Writer)
	if w == nil {
		w, _ = gzip.NewWriterLevel(buf, g.level)
	} else {
		w.Reset(buf)
	}
	defer g.pool.Put(w)
	if _, err := w.Write(src); err != nil {
		return dst, fmt.Errorf("gzip %d bytes: %w", len(src), err)
	}
	if err := w.Close(); err != nil {
		return dst, fmt.Errorf("gzip %d bytes: %w", len(src), err)
	}
	return buf.Bytes(), nil
}

// bufPool holds encoding buffers. Buffers that grew past maxPooledBuf are left to the
// garbage collector so one huge batch does not pin its memory for good.
var bufPool sync.Pool

const maxPooledBuf = 4 << 20

// GetBuffer returns an empty byte slice from the package's pool of encoding buffers.
func GetBuffer() []byte {
	if p, ok := bufPool.Get().(*[]byte); ok {
		return (*p)[:0]
	}
	return make([]byte, 0, 64<<10)
}

// PutBuffer returns b to the pool. The caller must not use b afterwards, and must not put
// a slice that an HTTP request may still be reading.
func PutBuffer(b []byte) {
	if cap(b) == 0 || cap(b) > maxPooledBuf {
		return
	}
	b = b[:0]
	bufPool.Put(&b)
}
