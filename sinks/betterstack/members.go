package betterstack

import (
	"bytes"
	"encoding/json"
	"errors"
)

// errMalformed says a fields object could not be split into members.
var errMalformed = errors.New("malformed JSON object")

// members walks the top-level members of a JSON object without decoding their values.
// It checks structure (strings, brackets, separators), not every literal: Event.Fields
// comes from the parsers as JSON already.
type members struct {
	b []byte // the object, '{' to '}', as httpsink.TrimObject returns it
	i int    // where to look for the next member
	n int    // members returned so far
}

func newMembers(obj []byte) members { return members{b: obj, i: 1} }

// next returns the next member's key, as written between its quotes (escapes and all),
// and the member's whole text (key, colon and value). ok is false after the last member.
func (m *members) next() (key, member []byte, ok bool, err error) {
	b := m.b
	i := skipSpace(b, m.i)
	if i >= len(b) {
		return nil, nil, false, errMalformed
	}
	if b[i] == '}' {
		return nil, nil, false, trailing(b, i)
	}
	if m.n > 0 {
		if b[i] != ',' {
			return nil, nil, false, errMalformed
		}
		i = skipSpace(b, i+1)
	}
	if i >= len(b) || b[i] != '"' {
		return nil, nil, false, errMalformed
	}
	start := i
	end := skipString(b, i)
	if end < 0 {
		return nil, nil, false, errMalformed
	}
	key = b[start+1 : end-1]
	i = skipSpace(b, end)
	if i >= len(b) || b[i] != ':' {
		return nil, nil, false, errMalformed
	}
	vend := skipValue(b, skipSpace(b, i+1))
	if vend < 0 {
		return nil, nil, false, errMalformed
	}
	m.i, m.n = vend, m.n+1
	return key, b[start:vend], true, nil
}

// trailing checks that the '}' at i ends the object.
func trailing(b []byte, i int) error {
	if i != len(b)-1 {
		return errMalformed
	}
	return nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index just past the string starting at b[i] == '"', or -1.
func skipString(b []byte, i int) int {
	for j := i + 1; j < len(b); {
		q := bytes.IndexByte(b[j:], '"')
		if q < 0 {
			return -1
		}
		j += q
		if !escaped(b, j) {
			return j + 1
		}
		j++
	}
	return -1
}

// escaped reports whether the quote at b[j] is escaped: preceded by an odd number of
// backslashes.
func escaped(b []byte, j int) bool {
	n := 0
	for k := j - 1; k >= 0 && b[k] == '\\'; k-- {
		n++
	}
	return n%2 == 1
}

// skipValue returns the index just past the value starting at b[i], or -1.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		return skipNested(b, i)
	}
	j := i
	for ; j < len(b); j++ {
		if c := b[j]; c == ',' || c == '}' || c == ']' || c == ' ' || c == '\t' ||
			c == '\r' || c == '\n' {
			break
		}
	}
	if j == i {
		return -1
	}
	return j
}

// skipNested returns the index just past the object or array starting at b[i], or -1.
func skipNested(b []byte, i int) int {
	depth := 0
	for j := i; j < len(b); j++ {
		switch b[j] {
		case '"':
			end := skipString(b, j)
			if end < 0 {
				return -1
			}
			j = end - 1
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return j + 1
			}
		}
	}
	return -1
}

// unescapeKey returns a key as its text means it, for keys written with escapes.
func unescapeKey(key []byte) string {
	if bytes.IndexByte(key, '\\') < 0 {
		return string(key)
	}
	var s string
	if json.Unmarshal(append(append([]byte{'"'}, key...), '"'), &s) != nil {
		return string(key)
	}
	return s
}
