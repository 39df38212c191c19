package event

import (
	"time"
	"unicode/utf8"
)

// TimeLayout is how events render their time: RFC 3339, UTC, milliseconds.
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"

// AppendJSON appends e as one JSON object in winship's own shape, the one the file sink
// writes and the http sink sends:
//
//	{"timestamp":"…","level":"…","message":"…","stack":"…","source":"…","path":"…",
//	 "host":"…","fields":{…},"raw_level":"…","parse_error":"…","flags":["partial"]}
//
// stack, host, fields, raw_level, parse_error and flags appear only when set. Together with
// fields they keep every key of the original entry recoverable.
func AppendJSON(dst []byte, e *Event, host string) []byte {
	dst = append(dst, `{"timestamp":"`...)
	dst = AppendTime(dst, e.Time)
	dst = append(dst, `","level":"`...)
	dst = append(dst, e.Level.String()...)
	dst = append(dst, `","message":`...)
	dst = AppendJSONString(dst, e.Message)
	if e.Stack != "" {
		dst = append(dst, `,"stack":`...)
		dst = AppendJSONString(dst, e.Stack)
	}
	dst = append(dst, `,"source":`...)
	dst = AppendJSONString(dst, e.Source)
	dst = append(dst, `,"path":`...)
	dst = AppendJSONString(dst, e.Path)
	if host != "" {
		dst = append(dst, `,"host":`...)
		dst = AppendJSONString(dst, host)
	}
	if obj, ok := fieldsObject(e.Fields); ok && len(obj) > 0 {
		dst = append(dst, `,"fields":`...)
		dst = append(dst, obj...)
	} else if !ok {
		// Not an object (a parser bug): kept as text so the line stays valid JSON.
		dst = append(dst, `,"fields_text":`...)
		dst = AppendJSONString(dst, string(e.Fields))
	}
	if e.RawLevel != "" {
		dst = append(dst, `,"raw_level":`...)
		dst = AppendJSONString(dst, e.RawLevel)
	}
	if e.ParseError != "" {
		dst = append(dst, `,"parse_error":`...)
		dst = AppendJSONString(dst, e.ParseError)
	}
	if e.Flags != 0 {
		dst = append(dst, `,"flags":`...)
		dst = AppendFlags(dst, e.Flags)
	}
	return append(dst, '}')
}

// fieldsObject trims white space around f and reports whether it looks like a JSON object
// (or is empty). It does not look inside: the parsers produce valid JSON.
func fieldsObject(f []byte) ([]byte, bool) {
	for len(f) > 0 && isSpace(f[0]) {
		f = f[1:]
	}
	for len(f) > 0 && isSpace(f[len(f)-1]) {
		f = f[:len(f)-1]
	}
	return f, len(f) == 0 || len(f) >= 2 && f[0] == '{' && f[len(f)-1] == '}'
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

var flagNames = []struct {
	f    Flags
	name string
}{{FlagPartial, "partial"}, {FlagTruncated, "truncated"}, {FlagInvalidUTF8, "invalid_utf8"},
	{FlagNoTimestamp, "no_timestamp"}}

// FlagNames returns the names of the flags set in f.
func FlagNames(f Flags) []string {
	var out []string
	for _, fn := range flagNames {
		if f&fn.f != 0 {
			out = append(out, fn.name)
		}
	}
	return out
}

// AppendFlags appends the names of the flags set in f as a JSON array.
func AppendFlags(dst []byte, f Flags) []byte {
	dst = append(dst, '[')
	for i, name := range FlagNames(f) {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = append(dst, name...)
		dst = append(dst, '"')
	}
	return append(dst, ']')
}

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD; control
// characters, quotes and backslashes are escaped; everything else is copied as is.
func AppendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		// U+2028 and U+2029 are valid JSON but break JavaScript consumers; escape them.
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\u202`...)
			dst = append(dst, hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// AppendTime appends t in TimeLayout (RFC 3339, UTC, milliseconds). It is the hot path of
// every sink's encoder, so it formats by hand; years outside 0000–9999 fall back to the
// standard library.
func AppendTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(dst, TimeLayout)
	}
	hour, min, sec := t.Clock()
	ms := t.Nanosecond() / 1e6
	var b [24]byte
	put4(b[0:], year)
	b[4] = '-'
	put2(b[5:], int(month))
	b[7] = '-'
	put2(b[8:], day)
	b[10] = 'T'
	put2(b[11:], hour)
	b[13] = ':'
	put2(b[14:], min)
	b[16] = ':'
	put2(b[17:], sec)
	b[19] = '.'
	b[20] = byte('0' + ms/100)
	b[21] = byte('0' + ms/10%10)
	b[22] = byte('0' + ms%10)
	b[23] = 'Z'
	return append(dst, b[:]...)
}

func put2(b []byte, v int) { b[0], b[1] = byte('0'+v/10), byte('0'+v%10) }

func put4(b []byte, v int) {
	put2(b, v/100)
	put2(b[2:], v%100)
}

// Quote is AppendJSONString for callers that want a string.
func Quote(s string) string { return string(AppendJSONString(nil, s)) }
