package parsers

import (
	"bytes"
	"unicode/utf8"

	"github.com/winship/winship/agent/event"
)

var bom = []byte("\xef\xbb\xbf")

// cleanLine prepares one line for parsing: it drops a trailing "\r" (the follower removes
// it already; a second one is kept as text) and a leading UTF-8 byte order mark, and
// replaces invalid UTF-8 with U+FFFD, reporting FlagInvalidUTF8. The result aliases line or
// *scratch. A scratch buffer is kept only for lines of up to maxScratch bytes.
func cleanLine(line []byte, scratch *[]byte) ([]byte, event.Flags) {
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	line = bytes.TrimPrefix(line, bom)
	if utf8.Valid(line) {
		return line, 0
	}
	if len(line) > maxScratch {
		return appendValidUTF8(nil, line), event.FlagInvalidUTF8
	}
	*scratch = appendValidUTF8((*scratch)[:0], line)
	return *scratch, event.FlagInvalidUTF8
}

// maxScratch is the largest buffer a parser keeps between lines.
const maxScratch = 64 << 10

// appendValidUTF8 appends b with each invalid byte replaced by U+FFFD. Unlike
// bytes.ToValidUTF8 it replaces byte by byte, so the number of bad bytes stays visible.
func appendValidUTF8(dst, b []byte) []byte {
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n == 1 {
			dst = append(dst, "\uFFFD"...)
		} else {
			dst = append(dst, b[:n]...)
		}
		b = b[n:]
	}
	return dst
}
