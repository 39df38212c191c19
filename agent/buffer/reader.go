package buffer

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
)

// readBufBytes is the read-ahead buffer of one reader.
const readBufBytes = 256 << 10

// boundedFile reads a file sequentially through ReadAt, never past limit. Readers set the
// limit to the durable end so they never buffer bytes a failed Append may still rewrite.
type boundedFile struct {
	f     *os.File
	off   int64
	limit int64
}

func (b *boundedFile) Read(p []byte) (int, error) {
	if b.off >= b.limit {
		return 0, io.EOF
	}
	if rem := b.limit - b.off; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := b.f.ReadAt(p, b.off)
	b.off += int64(n)
	if n > 0 && err == io.EOF {
		err = nil
	}
	return n, err
}

// frameSource reads frames sequentially from one segment file.
type frameSource struct {
	src boundedFile
	br  *bufio.Reader
}

func newFrameSource(f *os.File, off, limit int64, bufSize int) *frameSource {
	s := &frameSource{src: boundedFile{f: f, off: off, limit: limit}}
	s.br = bufio.NewReaderSize(&s.src, bufSize)
	return s
}

// seek moves the next read to off.
func (s *frameSource) seek(off int64) {
	s.src.off = off
	s.br.Reset(&s.src)
}

// frame results.
const (
	frameOK     = iota // a record was read
	frameBad           // the bytes at the offset are not an intact frame
	frameNoRoom        // the next record is larger than the room given; nothing consumed
)

// read reads the frame at the current offset, room bytes before limit, appending its
// payload to dst if it is no larger than maxLen. Errors are I/O errors other than a short
// file (which reads as a bad frame).
func (s *frameSource) read(room int64, maxLen int, dst []byte) ([]byte, int, error) {
	if room < headerBytes {
		return dst, frameBad, nil
	}
	hb, err := s.br.Peek(headerBytes)
	if err != nil {
		return dst, frameBad, shortOK(err)
	}
	h, ok := parseHeader(hb, room)
	if !ok {
		return dst, frameBad, nil
	}
	if int(h.length) > maxLen {
		return dst, frameNoRoom, nil
	}
	_, _ = s.br.Discard(headerBytes) // peeked above, cannot fail
	n := len(dst)
	dst = slices.Grow(dst, int(h.length))[:n+int(h.length)]
	if _, err := io.ReadFull(s.br, dst[n:]); err != nil {
		return dst[:n], frameBad, shortOK(err)
	}
	if !h.valid(dst[n:]) {
		return dst[:n], frameBad, nil
	}
	return dst, frameOK, nil
}

// shortOK drops the errors of a file shorter than expected, which is damage, not failure.
func shortOK(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return nil
	}
	return err
}

// resync finds the first intact frame after the damaged one at bad, before limit. It
// returns its offset (limit when there is none) and how many records the damaged bytes
// held: the frame headers seen in them, at least 1.
func resync(f *os.File, bad, limit int64) (int64, int, error) {
	var magic [4]byte
	binary.LittleEndian.PutUint32(magic[:], frameMagic)
	buf := make([]byte, 64<<10)
	seen := 0
	for start := bad; start < limit; {
		n := int(min(int64(len(buf)), limit-start))
		m, err := f.ReadAt(buf[:n], start)
		if err = shortOK(err); err != nil {
			return 0, 0, fmt.Errorf("read segment %s at %d: %w", f.Name(), start, err)
		}
		last := start+int64(m) >= limit || m < n
		scan := m
		if !last {
			scan = m - (len(magic) - 1) // a magic split across chunks is seen in the next one
		}
		for i := 0; i < scan; {
			j := bytes.Index(buf[i:m], magic[:])
			if j < 0 || i+j >= scan {
				break
			}
			at := start + int64(i+j)
			if at != bad && frameAt(f, at, limit) {
				return at, max(seen, 1), nil
			}
			seen++
			i += j + 1
		}
		if last {
			break
		}
		start += int64(scan)
	}
	return limit, max(seen, 1), nil
}

// frameAt reports whether an intact frame starts at off and ends by limit.
func frameAt(f *os.File, off, limit int64) bool {
	var hb [headerBytes]byte
	if _, err := f.ReadAt(hb[:], off); err != nil {
		return false
	}
	h, ok := parseHeader(hb[:], limit-off)
	if !ok {
		return false
	}
	payload := make([]byte, h.length)
	if _, err := f.ReadAt(payload, off+headerBytes); err != nil && len(payload) > 0 {
		return false
	}
	return h.valid(payload)
}

// reader reads records in log order across segments from a position, skipping damaged
// bytes, gaps and missing segments with a warning. It is used by one goroutine at a time.
type reader struct {
	l       *Log
	who     string // the cursor name, for warnings
	pos     Pos    // the next record's position
	bufSize int

	f    *os.File // the segment holding pos, or nil
	seg  segment  // its base and the size known when it was located
	frms *frameSource
}

// seek moves the reader to p.
func (r *reader) seek(p Pos) {
	r.pos = p
	if r.f != nil && p >= r.seg.base && p < r.seg.end() {
		r.frms.seek(int64(p - r.seg.base))
		return
	}
	r.close()
}

func (r *reader) close() {
	if r.f != nil {
		_ = r.f.Close() // read-only
		r.f, r.frms = nil, nil
	}
}

// next appends the payload of the next record before end to dst. ok is false at end, and
// when the next record is larger than maxLen (then nothing is consumed).
func (r *reader) next(end Pos, maxLen int, dst []byte) (out []byte, ok bool, err error) {
	for r.pos < end {
		limit, err := r.ensure(end)
		if err != nil {
			return dst, false, err
		}
		if limit < 0 {
			continue // moved to another segment
		}
		off := int64(r.pos - r.seg.base)
		r.frms.src.limit = limit
		out, res, err := r.frms.read(limit-off, maxLen, dst)
		switch {
		case err != nil:
			return dst, false, fmt.Errorf("read segment %s at %d: %w", r.f.Name(), off, err)
		case res == frameOK:
			r.pos += Pos(frameSize(len(out) - len(dst)))
			return out, true, nil
		case res == frameNoRoom:
			return dst, false, nil
		}
		if err := r.skipDamage(off, limit); err != nil {
			return dst, false, err
		}
	}
	return dst, false, nil
}

// ensure opens the segment holding pos and returns the segment-local offset readers may
// read to; -1 when pos moved over a gap or a missing segment and the caller should retry.
func (r *reader) ensure(end Pos) (int64, error) {
	if r.f == nil || r.pos >= r.seg.end() {
		s, ok := r.l.locate(r.pos)
		if !ok {
			r.pos = end // nothing on disk before end: never spin
			return -1, nil
		}
		if r.f == nil || s.base != r.seg.base {
			if err := r.open(s, end); err != nil {
				return -1, err
			}
			if r.f == nil {
				return -1, nil
			}
		}
		r.seg = s
		if r.pos < s.base {
			r.pos = s.base // a gap: damage or a missing segment, reported when found
			r.frms.seek(0)
		}
	}
	return min(r.seg.size, int64(end-r.seg.base)), nil
}

// open opens segment s for reading at pos; a missing file is skipped with a warning.
func (r *reader) open(s segment, end Pos) error {
	r.close()
	f, err := os.Open(r.l.segPath(s.base))
	if errors.Is(err, fs.ErrNotExist) {
		r.l.dropMissing(s, r.who)
		r.pos = max(r.pos, minPos(s.end(), end))
		return nil
	}
	if err != nil {
		return fmt.Errorf("open segment: %w", err)
	}
	off := int64(0)
	if r.pos > s.base {
		off = int64(r.pos - s.base)
	}
	r.f, r.seg = f, s
	r.frms = newFrameSource(f, off, off, r.bufSize)
	return nil
}

// skipDamage moves past the damaged bytes at off, to the next intact frame or limit.
func (r *reader) skipDamage(off, limit int64) error {
	next, records, err := resync(r.f, off, limit)
	if err != nil {
		return err
	}
	r.l.reportDamage("skipped damaged bytes in a segment", r.seg.base, off, next-off, records,
		r.who)
	r.pos = r.seg.base + Pos(next)
	r.frms.seek(next)
	return nil
}
