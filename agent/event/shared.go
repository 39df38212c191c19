package event

import "unsafe"

// DecodeShared is Decode without copying: the strings and Fields of e point into b, which
// must then stay unchanged for as long as e is used. The pipeline's workers use it on the
// buffer slabs they own, which saves every per-event allocation on the read side.
func DecodeShared(b []byte, e *Event) error {
	d := decoder{b: b}
	if v := d.byte(); v != codecVersion {
		return ErrCorrupt
	}
	e.Time = timeFromNanos(d.varint())
	e.Level = Level(d.byte())
	e.Flags = Flags(d.byte())
	e.RawLevel = view(d.bytes())
	e.Message = view(d.bytes())
	e.Stack = view(d.bytes())
	if f := d.bytes(); len(f) > 0 {
		e.Fields = f[:len(f):len(f)]
	} else {
		e.Fields = nil
	}
	e.Source = view(d.bytes())
	e.Path = view(d.bytes())
	e.ParseError = view(d.bytes())
	if d.err || len(d.b) != 0 || e.Level > Silly {
		return ErrCorrupt
	}
	return nil
}

func view(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
