package event

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// codecVersion is the first byte of every encoded event. Decode rejects other versions, so a
// future format change can be recognised in a buffer written by an older winship.
const codecVersion = 1

// ErrCorrupt is returned by Decode for bytes that are not an encoded event.
var ErrCorrupt = errors.New("event: corrupt encoding")

// AppendBinary appends the buffer encoding of e to dst and returns the extended slice.
// The encoding is a version byte, the time as a zig-zag varint of Unix nanoseconds, the
// level and flags bytes, then seven length-prefixed byte strings.
func AppendBinary(dst []byte, e *Event) []byte {
	dst = append(dst, codecVersion)
	dst = binary.AppendVarint(dst, e.Time.UnixNano())
	dst = append(dst, byte(e.Level), byte(e.Flags))
	dst = appendString(dst, e.RawLevel)
	dst = appendString(dst, e.Message)
	dst = appendString(dst, e.Stack)
	dst = binary.AppendUvarint(dst, uint64(len(e.Fields)))
	dst = append(dst, e.Fields...)
	dst = appendString(dst, e.Source)
	dst = appendString(dst, e.Path)
	dst = appendString(dst, e.ParseError)
	return dst
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// Decode parses b, as written by AppendBinary, into e. It copies what it keeps, so b may be
// reused afterwards.
func Decode(b []byte, e *Event) error {
	d := decoder{b: b}
	if v := d.byte(); v != codecVersion {
		return fmt.Errorf("%w: version %d", ErrCorrupt, v)
	}
	e.Time = timeFromNanos(d.varint())
	e.Level = Level(d.byte())
	e.Flags = Flags(d.byte())
	e.RawLevel = string(d.bytes())
	e.Message = string(d.bytes())
	e.Stack = string(d.bytes())
	if f := d.bytes(); len(f) > 0 {
		e.Fields = append([]byte(nil), f...)
	} else {
		e.Fields = nil
	}
	e.Source = string(d.bytes())
	e.Path = string(d.bytes())
	e.ParseError = string(d.bytes())
	if d.err || len(d.b) != 0 {
		return ErrCorrupt
	}
	if e.Level > Silly {
		return fmt.Errorf("%w: level %d", ErrCorrupt, e.Level)
	}
	return nil
}

func timeFromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

type decoder struct {
	b   []byte
	err bool
}

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.err = true
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n, k := binary.Uvarint(d.b)
	if k <= 0 || n > uint64(len(d.b)-k) {
		d.err = true
		d.b = nil
		return nil
	}
	s := d.b[k : k+int(n)]
	d.b = d.b[k+int(n):]
	return s
}
