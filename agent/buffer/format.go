package buffer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"
)

// On-disk framing of one record (all integers little-endian):
//
//	magic  uint32  frameMagic, lets a reader resynchronise after damaged bytes
//	length uint32  payload length, at most MaxRecordBytes
//	crc    uint32  CRC-32C (Castagnoli) of the 4 length bytes followed by the payload
//	payload
const (
	frameMagic  uint32 = 0x31485357 // "WSH1" read as little-endian bytes
	headerBytes        = 12

	segSuffix  = ".seg"
	segNameLen = 20 // digits in a segment name: enough for any uint64
	cursorDir  = "cursors"
)

// FrameOverhead is how many bytes the log adds to each record on disk (its header);
// Backlog and DropOldest count them.
const FrameOverhead = headerBytes

const (
	// MaxRecordBytes is the largest payload Append accepts and a reader trusts. A header
	// claiming more is treated as corruption.
	MaxRecordBytes = 16 << 20

	// DefaultSegmentBytes is the segment size at which the log rolls to a new file.
	DefaultSegmentBytes = 64 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrTooLarge is returned by Append for a record over MaxRecordBytes; nothing was written.
var ErrTooLarge = errors.New("record larger than the buffer's maximum")

// ErrClosed is returned by calls on a Log (or its cursors) after Close.
var ErrClosed = errors.New("buffer closed")

// frameSize is the number of log bytes a record of n payload bytes takes.
func frameSize(n int) int64 { return headerBytes + int64(n) }

// appendFrame appends the framed record to dst.
func appendFrame(dst, payload []byte) []byte {
	n := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, frameMagic)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(payload)))
	dst = binary.LittleEndian.AppendUint32(dst, 0) // the CRC, set below
	dst = append(dst, payload...)
	crc := crc32.Update(0, castagnoli, dst[n+4:n+8])
	crc = crc32.Update(crc, castagnoli, payload)
	binary.LittleEndian.PutUint32(dst[n+8:n+12], crc)
	return dst
}

// header is a decoded frame header.
type header struct {
	length uint32
	crc    uint32 // the CRC the frame claims
	lenSum uint32 // the CRC of the length bytes, to continue over the payload
}

// parseHeader decodes h and checks what it can without the payload: the magic and the
// length bound. room is how many bytes the frame may span (header included).
func parseHeader(h []byte, room int64) (header, bool) {
	if binary.LittleEndian.Uint32(h[0:4]) != frameMagic {
		return header{}, false
	}
	n := binary.LittleEndian.Uint32(h[4:8])
	if n > MaxRecordBytes || frameSize(int(n)) > room {
		return header{}, false
	}
	return header{
		length: n,
		crc:    binary.LittleEndian.Uint32(h[8:12]),
		lenSum: crc32.Update(0, castagnoli, h[4:8]),
	}, true
}

// valid reports whether payload matches the header's checksum.
func (h header) valid(payload []byte) bool {
	return crc32.Update(h.lenSum, castagnoli, payload) == h.crc
}

// segName is the file name of the segment whose first record is at base.
func segName(base Pos) string {
	return fmt.Sprintf("%0*d%s", segNameLen, uint64(base), segSuffix)
}

// parseSegName returns the base position named by a segment file name; ok is false for
// any other file.
func parseSegName(name string) (Pos, bool) {
	digits, found := strings.CutSuffix(name, segSuffix)
	if !found || len(digits) != segNameLen {
		return 0, false
	}
	v, err := strconv.ParseUint(digits, 10, 64)
	if err != nil {
		return 0, false
	}
	return Pos(v), true
}

// A cursor file has two slots, at offsets 0 and cursorStride (separate disk sectors, so a
// torn write can damage only the slot being written). Each save overwrites the older slot
// in place and fsyncs; a reader takes the valid slot with the higher sequence number. A
// slot is:
//
//	magic uint32 | seq uint64 | pos uint64 | CRC-32C of the 20 bytes before it (uint32)
const (
	cursorSlotBytes = 24
	cursorStride    = 512
	cursorFileBytes = 2 * cursorStride
)

// encodeSlot returns the slot recording position p as save number seq.
func encodeSlot(seq uint64, p Pos) []byte {
	b := make([]byte, cursorSlotBytes)
	binary.LittleEndian.PutUint32(b[0:4], frameMagic)
	binary.LittleEndian.PutUint64(b[4:12], seq)
	binary.LittleEndian.PutUint64(b[12:20], uint64(p))
	binary.LittleEndian.PutUint32(b[20:24], crc32.Checksum(b[:20], castagnoli))
	return b
}

// slotOffset is where save number seq is written.
func slotOffset(seq uint64) int64 { return int64(seq%2) * cursorStride }

// decodeCursor returns the newest valid slot of a cursor file's content.
func decodeCursor(b []byte) (seq uint64, p Pos, err error) {
	found := false
	for off := 0; off+cursorSlotBytes <= len(b) && off < cursorFileBytes; off += cursorStride {
		s := b[off : off+cursorSlotBytes]
		if binary.LittleEndian.Uint32(s[0:4]) != frameMagic ||
			crc32.Checksum(s[:20], castagnoli) != binary.LittleEndian.Uint32(s[20:24]) {
			continue
		}
		if n := binary.LittleEndian.Uint64(s[4:12]); !found || n > seq {
			seq, p, found = n, Pos(binary.LittleEndian.Uint64(s[12:20])), true
		}
	}
	if !found {
		return 0, 0, fmt.Errorf("no valid slot in %d bytes", len(b))
	}
	return seq, p, nil
}

// cursorFileName maps a cursor name to a safe file name. Names made only of letters,
// digits, '-', '_' and '.' (not starting with '.') are kept; any other name is cleaned
// and suffixed with a hash of the original so two names never share a file.
func cursorFileName(name string) string {
	if safeName(name) {
		return name
	}
	var b strings.Builder
	for _, r := range name {
		if b.Len() >= 64 {
			break
		}
		if r < 128 && (isAlnum(byte(r)) || r == '-' || r == '_') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return fmt.Sprintf("%s~%08x", b.String(), crc32.Checksum([]byte(name), castagnoli))
}

func safeName(name string) bool {
	if name == "" || len(name) > 100 || name[0] == '.' {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !isAlnum(c) && c != '-' && c != '_' && c != '.' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
