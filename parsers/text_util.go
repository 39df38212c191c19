package parsers

import (
	"bytes"
	"unicode/utf16"
	"unicode/utf8"
)

// appendUnescaped appends the decoded content of a JSON string (raw excludes the quotes and
// has been validated by the scanner). A \u escape that names a lone UTF-16 surrogate becomes
// U+FFFD, and replaced reports that it happened.
func appendUnescaped(dst, raw []byte) (out []byte, replaced bool) {
	for {
		i := bytes.IndexByte(raw, '\\')
		if i < 0 {
			return append(dst, raw...), replaced
		}
		dst = append(dst, raw[:i]...)
		raw = raw[i:]
		if len(raw) < 2 {
			return dst, replaced // unreachable for validated input
		}
		c := raw[1]
		switch c {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			var r rune
			var n int
			r, n = decodeU(raw)
			if r == utf8.RuneError {
				replaced = true
			}
			dst = utf8.AppendRune(dst, r)
			raw = raw[n:]
			continue
		default: // '"', '\\', '/'
			dst = append(dst, c)
		}
		raw = raw[2:]
	}
}

// decodeU decodes the \uXXXX escape at the start of raw, joining a surrogate pair written as
// two escapes, and returns the rune and the bytes consumed. A lone surrogate is U+FFFD.
func decodeU(raw []byte) (rune, int) {
	r1, ok := hex4(raw, 2)
	if !ok {
		return utf8.RuneError, min(len(raw), 2)
	}
	if !utf16.IsSurrogate(r1) {
		return r1, 6
	}
	if len(raw) >= 12 && raw[6] == '\\' && raw[7] == 'u' {
		if r2, ok := hex4(raw, 8); ok {
			if r := utf16.DecodeRune(r1, r2); r != utf8.RuneError {
				return r, 12
			}
		}
	}
	return utf8.RuneError, 6
}

func hex4(b []byte, at int) (rune, bool) {
	if len(b) < at+4 {
		return 0, false
	}
	var r rune
	for _, c := range b[at : at+4] {
		v := hexVal(c)
		if v < 0 {
			return 0, false
		}
		r = r<<4 | rune(v)
	}
	return r, true
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string literal. Invalid UTF-8 becomes U+FFFD.
func appendJSONString(dst []byte, s []byte) []byte {
	dst = append(dst, '"')
	for len(s) > 0 {
		c := s[0]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRune(s)
			dst = utf8.AppendRune(dst, r) // U+FFFD for an invalid byte
			s = s[n:]
			continue
		}
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			dst = append(dst, c)
		}
		s = s[1:]
	}
	return append(dst, '"')
}

// stripANSI appends b without the ANSI escape sequences that Winston's colorize() and
// util.inspect's colours add (CSI sequences such as "\x1b[31m", and two-byte escapes).
func stripANSI(dst, b []byte) []byte {
	for {
		i := bytes.IndexByte(b, 0x1b)
		if i < 0 {
			return append(dst, b...)
		}
		dst = append(dst, b[:i]...)
		b = b[i+ansiLen(b[i:]):]
	}
}

// ansiLen returns the length of the escape sequence at the start of b (b[0] == ESC).
func ansiLen(b []byte) int {
	if len(b) < 2 {
		return len(b)
	}
	if b[1] != '[' {
		return 2
	}
	for i := 2; i < len(b); i++ {
		if b[i] >= 0x40 && b[i] <= 0x7e {
			return i + 1
		}
		if b[i] < 0x20 || b[i] > 0x7e {
			return i // malformed: drop what was read of it, keep the rest
		}
	}
	return len(b)
}

// isBlank reports whether b holds only spaces and tabs (and stray line-end bytes).
func isBlank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != '\f' && c != '\v' {
			return false
		}
	}
	return true
}
