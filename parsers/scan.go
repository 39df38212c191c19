package parsers

import (
	"encoding/binary"
	"fmt"
	"unicode/utf8"
)

// This file holds a validating JSON scanner that records the members of the top-level object
// as byte ranges of the line instead of building a map: nothing is decoded or copied until an
// event is built, and nothing is allocated for a valid line.

// maxDepth bounds the nesting of JSON and util.inspect values, as encoding/json does, so that
// a line of ten thousand brackets cannot exhaust the stack.
const maxDepth = 10000

// kind is the type of a JSON value.
type kind uint8

const (
	kString kind = iota + 1
	kNumber
	kObject
	kArray
	kTrue
	kFalse
	kNull
)

// span is the half-open byte range [from, to) of the text being scanned.
type span struct{ from, to int }

// member is one key and value of a scanned JSON object. key excludes the quotes; val is the
// raw value, quotes included for a string.
type member struct {
	key, val span
	kind     kind
	keyEsc   bool // the key contains a backslash escape
	valEsc   bool // the string value contains a backslash escape
	used     bool // taken into an Event field, so left out of Fields
}

// syntaxError says where a line stops being JSON.
type syntaxError struct {
	off  int
	what string
}

func (e *syntaxError) Error() string {
	return fmt.Sprintf("%s at offset %d", e.what, e.off)
}

// scanner validates JSON text b.
type scanner struct {
	b     []byte
	depth int
	// inner, when set, receives the members of the first top-level "@fields" object (a
	// logstash() line) in the same pass, so that they need no second scan; innerAt is the
	// index of that member, or -1.
	inner   *[]member
	innerAt int
}

func (s *scanner) fail(i int, what string) error {
	if i >= len(s.b) {
		return &syntaxError{off: i, what: "unexpected end of " + what}
	}
	c := s.b[i]
	if c < utf8.RuneSelf && c >= 0x20 {
		return &syntaxError{off: i, what: fmt.Sprintf("invalid character %q in %s", c, what)}
	}
	return &syntaxError{off: i, what: fmt.Sprintf("invalid byte 0x%02x in %s", c, what)}
}

func (s *scanner) skipWS(i int) int {
	for i < len(s.b) {
		switch s.b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// members scans the object that starts at b[i] == '{', appending its members to ms. It
// returns the index after the closing brace. On error, ms holds the members that were
// complete before it.
func (s *scanner) members(i int, ms []member) ([]member, int, error) {
	i = s.skipWS(i + 1)
	if i < len(s.b) && s.b[i] == '}' {
		return ms, i + 1, nil
	}
	for {
		if i >= len(s.b) || s.b[i] != '"' {
			return ms, i, s.fail(i, "object key")
		}
		var m member
		end, esc, err := s.str(i)
		if err != nil {
			return ms, end, err
		}
		m.key, m.keyEsc = span{i + 1, end - 1}, esc
		i = s.skipWS(end)
		if i >= len(s.b) || s.b[i] != ':' {
			return ms, i, s.fail(i, "object after key")
		}
		i = s.skipWS(i + 1)
		start := i
		if s.isInner(m, i) {
			s.innerAt, m.kind = len(ms), kObject
			i, err = s.innerMembers(i)
		} else {
			i, m.kind, m.valEsc, err = s.value(i)
		}
		if err != nil {
			return ms, i, err
		}
		m.val = span{start, i}
		ms = append(ms, m)
		var done bool
		if i, done, err = s.next(i, '}'); err != nil || done {
			return ms, i, err
		}
	}
}

// isInner reports whether member m, whose value starts at b[i], is the "@fields" object
// whose members are wanted.
func (s *scanner) isInner(m member, i int) bool {
	return s.inner != nil && s.innerAt < 0 && !m.keyEsc && i < len(s.b) && s.b[i] == '{' &&
		string(s.b[m.key.from:m.key.to]) == "@fields"
}

// innerMembers scans the object at b[i] into *s.inner.
func (s *scanner) innerMembers(i int) (int, error) {
	if s.depth++; s.depth > maxDepth {
		return i, &syntaxError{off: i, what: "nesting too deep"}
	}
	inner := s.inner
	s.inner = nil // only the top level's @fields
	var err error
	*inner, i, err = s.members(i, (*inner)[:0])
	s.inner = inner
	s.depth--
	return i, err
}

// next skips the separator after a member or element: a comma (returning the index of the
// next value) or the closing byte (returning the index after it, and done).
func (s *scanner) next(i int, closing byte) (next int, done bool, err error) {
	i = s.skipWS(i)
	if i < len(s.b) {
		switch s.b[i] {
		case ',':
			return s.skipWS(i + 1), false, nil
		case closing:
			return i + 1, true, nil
		}
	}
	if closing == '}' {
		return i, false, s.fail(i, "object")
	}
	return i, false, s.fail(i, "array")
}

// value validates the value at b[i] and returns the index after it.
func (s *scanner) value(i int) (end int, k kind, esc bool, err error) {
	if i >= len(s.b) {
		return i, 0, false, s.fail(i, "value")
	}
	switch c := s.b[i]; {
	case c == '"':
		end, esc, err = s.str(i)
		return end, kString, esc, err
	case c == '{':
		end, err = s.nested(i, '}')
		return end, kObject, false, err
	case c == '[':
		end, err = s.nested(i, ']')
		return end, kArray, false, err
	case c == '-' || (c >= '0' && c <= '9'):
		end, err = s.number(i)
		return end, kNumber, false, err
	case c == 't':
		end, err = s.literal(i, "true")
		return end, kTrue, false, err
	case c == 'f':
		end, err = s.literal(i, "false")
		return end, kFalse, false, err
	case c == 'n':
		end, err = s.literal(i, "null")
		return end, kNull, false, err
	}
	return i, 0, false, s.fail(i, "value")
}

// nested validates an object or array that starts at b[i].
func (s *scanner) nested(i int, closing byte) (int, error) {
	if s.depth++; s.depth > maxDepth {
		return i, &syntaxError{off: i, what: "nesting too deep"}
	}
	defer func() { s.depth-- }()
	i = s.skipWS(i + 1)
	if i < len(s.b) && s.b[i] == closing {
		return i + 1, nil
	}
	for {
		var err error
		if closing == '}' {
			if i >= len(s.b) || s.b[i] != '"' {
				return i, s.fail(i, "object key")
			}
			if i, _, err = s.str(i); err != nil {
				return i, err
			}
			if i = s.skipWS(i); i >= len(s.b) || s.b[i] != ':' {
				return i, s.fail(i, "object after key")
			}
			i = s.skipWS(i + 1)
		}
		if i, _, _, err = s.value(i); err != nil {
			return i, err
		}
		var done bool
		if i, done, err = s.next(i, closing); err != nil || done {
			return i, err
		}
	}
}

// strPlain marks the bytes that need no attention inside a JSON string.
var strPlain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// str validates the string whose opening quote is at b[i] and returns the index after its
// closing quote, and whether it holds any escape.
func (s *scanner) str(i int) (end int, esc bool, err error) {
	b := s.b
	i++
	for {
		i = skipPlain(b, i)
		if i >= len(b) {
			return i, esc, s.fail(i, "string")
		}
		switch b[i] {
		case '"':
			return i + 1, esc, nil
		case '\\':
			esc = true
			if i, err = s.escape(i); err != nil {
				return i, esc, err
			}
		default:
			return i, esc, s.fail(i, "string")
		}
	}
}

const (
	ones   = 0x0101010101010101
	highs  = 0x8080808080808080
	quotes = '"' * ones
	bslash = '\\' * ones
	below  = 0x20 * ones
)

// skipPlain returns the index of the first byte at or after i that is a quote, a backslash
// or a control character, or len(b). It tests eight bytes at a time: a word has none of
// them when no byte is zero after XOR with '"' or '\\', and none is below 0x20. The
// tests can report a byte that is not there (a borrow), never miss one; the byte loop
// then decides.
func skipPlain(b []byte, i int) int {
	for i+8 <= len(b) {
		w := binary.LittleEndian.Uint64(b[i:])
		q, k := w^quotes, w^bslash
		if ((q-ones)&^q|(k-ones)&^k|(w-below)&^w)&highs != 0 {
			break
		}
		i += 8
	}
	for i < len(b) && strPlain[b[i]] {
		i++
	}
	return i
}

// escape validates the escape sequence at b[i] == '\\' and returns the index after it.
func (s *scanner) escape(i int) (int, error) {
	if i+1 >= len(s.b) {
		return i + 1, s.fail(i+1, "string escape")
	}
	switch s.b[i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return i + 2, nil
	case 'u':
		for j := i + 2; j < i+6; j++ {
			if j >= len(s.b) || hexVal(s.b[j]) < 0 {
				return j, s.fail(j, "string escape")
			}
		}
		return i + 6, nil
	}
	return i + 1, s.fail(i+1, "string escape")
}

func (s *scanner) number(i int) (int, error) {
	b := s.b
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(b, i)
	default:
		return i, s.fail(i, "number")
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return j, s.fail(j, "number")
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return j, s.fail(j, "number")
		}
		i = j
	}
	return i, nil
}

func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

func (s *scanner) literal(i int, lit string) (int, error) {
	for j := 0; j < len(lit); j++ {
		if i+j >= len(s.b) || s.b[i+j] != lit[j] {
			return i + j, s.fail(i+j, "literal")
		}
	}
	return i + len(lit), nil
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// validJSON reports whether b is one complete JSON value, surrounded by optional whitespace.
func validJSON(b []byte) bool {
	s := scanner{b: b}
	i, _, _, err := s.value(s.skipWS(0))
	return err == nil && s.skipWS(i) == len(b)
}
