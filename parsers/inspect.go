package parsers

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// This file converts the text Node's util.inspect writes (Winston's prettyPrint()) into
// JSON. What has a JSON equivalent keeps it: objects (keys in the order written), arrays,
// strings (single, double or backtick quoted, joined across `+` continuations), numbers,
// booleans, null. undefined becomes null, NaN and Infinity strings, a BigInt its digits,
// `[Circular *1]` the string "[Circular]" (what json() writes), and `<ref *1>` is dropped.
// Anything else (Dates, functions, Symbols, Maps, Errors printed with their stack, class
// names before an object) becomes a JSON string of its text as printed.

var errInspectEnd = errors.New("unexpected end")

// inspectConv is one conversion. out collects the JSON; str is scratch for one string.
type inspectConv struct {
	b     []byte
	i     int
	depth int
	out   []byte
	str   []byte
}

func (c *inspectConv) failf(format string, args ...any) error {
	return fmt.Errorf(format+" at offset %d", append(args, c.i)...)
}

// inspectToJSON appends the JSON form of the util.inspect object text to dst.
func inspectToJSON(dst, text []byte) ([]byte, error) {
	c := inspectConv{b: text, out: dst}
	c.ws()
	c.skipRef()
	if c.peek() != '{' {
		return dst, c.failf("want '{'")
	}
	if err := c.object(); err != nil {
		return dst, err
	}
	if c.ws(); c.i < len(c.b) {
		return dst, c.failf("text after the object")
	}
	return c.out, nil
}

func (c *inspectConv) peek() byte {
	if c.i < len(c.b) {
		return c.b[c.i]
	}
	return 0
}

func (c *inspectConv) ws() {
	for c.i < len(c.b) {
		switch c.b[c.i] {
		case ' ', '\t', '\n', '\r':
			c.i++
		default:
			return
		}
	}
}

// skipRef skips the `<ref *1> ` that marks a value other values point back to.
func (c *inspectConv) skipRef() {
	if bytes.HasPrefix(c.b[c.i:], []byte("<ref *")) {
		if j := bytes.IndexByte(c.b[c.i:], '>'); j > 0 {
			c.i += j + 1
			c.ws()
		}
	}
}

// delimited reports whether the next byte ends a value: a separator, a closing bracket, or
// the end of the text.
func (c *inspectConv) delimited() bool {
	c.ws()
	switch c.peek() {
	case ',', '}', ']', 0:
		return true
	}
	return false
}

// value converts one value. A value that does not convert, or is followed by anything but
// a delimiter, is taken as printed text instead.
func (c *inspectConv) value() error {
	if c.depth++; c.depth > maxDepth {
		return c.failf("nesting too deep")
	}
	defer func() { c.depth-- }()
	c.ws()
	c.skipRef()
	start, outLen := c.i, len(c.out)
	if err := c.typed(); err == nil && c.delimited() {
		return nil
	} else if errors.Is(err, errInspectEnd) {
		return err
	}
	c.i, c.out = start, c.out[:outLen]
	return c.raw()
}

// typed converts the value at c.i by its first byte.
func (c *inspectConv) typed() error {
	switch ch := c.peek(); {
	case ch == 0:
		return errInspectEnd
	case ch == '{':
		return c.object()
	case ch == '[':
		return c.bracket()
	case ch == '\'' || ch == '"' || ch == '`':
		return c.strings()
	case ch == '-' || ch >= '0' && ch <= '9':
		return c.number()
	case isIdentStart(ch):
		return c.word()
	}
	return c.failf("unexpected %q", c.peek())
}

func (c *inspectConv) object() error {
	c.i++ // '{'
	c.out = append(c.out, '{')
	for n := 0; ; n++ {
		c.ws()
		if c.peek() == '}' {
			c.i++
			c.out = append(c.out, '}')
			return nil
		}
		if n > 0 {
			if c.peek() != ',' {
				return c.endOr("want ',' or '}'")
			}
			c.i++
			c.ws()
			c.out = append(c.out, ',')
		}
		if err := c.key(); err != nil {
			return err
		}
		if c.ws(); c.peek() != ':' {
			return c.endOr("want ':'")
		}
		c.i++
		c.out = append(c.out, ':')
		if err := c.value(); err != nil {
			return err
		}
	}
}

// endOr returns errInspectEnd at the end of the text, else the error what.
func (c *inspectConv) endOr(what string) error {
	if c.i >= len(c.b) {
		return errInspectEnd
	}
	return c.failf("%s", what)
}

// key converts an object key: an identifier, a quoted string, or a bracketed symbol.
func (c *inspectConv) key() error {
	switch ch := c.peek(); {
	case ch == '\'' || ch == '"' || ch == '`':
		return c.strings()
	case ch == '[':
		j := bytes.IndexByte(c.b[c.i:], ']')
		if j < 0 {
			return c.endOr("unclosed key")
		}
		c.out = appendJSONString(c.out, c.b[c.i:c.i+j+1])
		c.i += j + 1
		return nil
	case isIdentStart(ch):
		j := c.i
		for j < len(c.b) && isIdent(c.b[j]) {
			j++
		}
		c.out = appendJSONString(c.out, c.b[c.i:j])
		c.i = j
		return nil
	}
	return c.endOr("want a key")
}

// bracket converts an array, or a bracketed tag such as [Circular *1], [Function: f] or
// [Object: null prototype] (the latter two may be followed by an object).
func (c *inspectConv) bracket() error {
	if c.i+1 < len(c.b) {
		switch c.b[c.i+1] {
		case ' ', '\n', ']':
			return c.array()
		}
	}
	j := bytes.IndexByte(c.b[c.i:], ']')
	if j < 0 {
		return c.endOr("unclosed tag")
	}
	tag := c.b[c.i : c.i+j+1]
	c.i += j + 1
	if bytes.HasPrefix(tag, []byte("[Circular")) {
		c.out = append(c.out, `"[Circular]"`...)
		return nil
	}
	return c.prefixed(tag)
}

// prefixed converts what follows a class name or tag: an object or array when one
// follows, else the tag as a string.
func (c *inspectConv) prefixed(tag []byte) error {
	save := c.i
	c.ws()
	switch c.peek() {
	case '{':
		return c.object()
	case '[':
		return c.array()
	}
	c.i = save
	c.out = appendJSONString(c.out, tag)
	return nil
}

func (c *inspectConv) array() error {
	c.i++ // '['
	c.out = append(c.out, '[')
	for n := 0; ; n++ {
		c.ws()
		if c.peek() == ']' {
			c.i++
			c.out = append(c.out, ']')
			return nil
		}
		if n > 0 {
			if c.peek() != ',' {
				return c.endOr("want ',' or ']'")
			}
			c.i++
			c.ws()
			c.out = append(c.out, ',')
		}
		if err := c.element(); err != nil {
			return err
		}
	}
}

// element converts an array element, including `<2 empty items>` (nulls) and
// `... 5 more items` (kept as a string).
func (c *inspectConv) element() error {
	rest := c.b[c.i:]
	if bytes.HasPrefix(rest, []byte("... ")) {
		return c.raw()
	}
	if !bytes.HasPrefix(rest, []byte("<")) || bytes.HasPrefix(rest, []byte("<ref *")) {
		return c.value()
	}
	j := bytes.IndexByte(rest, '>')
	if j < 0 || !bytes.Contains(rest[:j], []byte(" empty item")) {
		return c.value()
	}
	n, err := strconv.Atoi(string(rest[1:bytes.IndexByte(rest, ' ')]))
	if err != nil || n < 1 || n > 1<<20 {
		return c.value()
	}
	c.i += j + 1
	for k := 0; k < n; k++ {
		if k > 0 {
			c.out = append(c.out, ',')
		}
		c.out = append(c.out, "null"...)
	}
	return nil
}

// strings converts one string literal or several joined with `+`.
func (c *inspectConv) strings() error {
	c.str = c.str[:0]
	for {
		if err := c.literal(); err != nil {
			return err
		}
		save := c.i
		c.ws()
		if c.peek() != '+' {
			c.i = save
			break
		}
		c.i++
		c.ws()
		if q := c.peek(); q != '\'' && q != '"' && q != '`' {
			return c.endOr("want a string after '+'")
		}
	}
	c.out = appendJSONString(c.out, c.str)
	return nil
}

// literal decodes one quoted string into c.str.
func (c *inspectConv) literal() error {
	q := c.b[c.i]
	c.i++
	for c.i < len(c.b) {
		ch := c.b[c.i]
		switch {
		case ch == q:
			c.i++
			return nil
		case ch == '\\':
			if err := c.escape(); err != nil {
				return err
			}
		case ch == '\n':
			return c.failf("newline in string")
		default:
			c.str = append(c.str, ch)
			c.i++
		}
	}
	return errInspectEnd
}

// escape decodes the JavaScript escape at c.i into c.str.
func (c *inspectConv) escape() error {
	if c.i+1 >= len(c.b) {
		return errInspectEnd
	}
	e := c.b[c.i+1]
	c.i += 2
	switch e {
	case 'n':
		c.str = append(c.str, '\n')
	case 't':
		c.str = append(c.str, '\t')
	case 'r':
		c.str = append(c.str, '\r')
	case 'b':
		c.str = append(c.str, '\b')
	case 'f':
		c.str = append(c.str, '\f')
	case 'v':
		c.str = append(c.str, '\v')
	case '0':
		c.str = append(c.str, 0)
	case 'x':
		v, ok := c.hex(2)
		if !ok {
			return c.failf("bad \\x escape")
		}
		c.str = utf8.AppendRune(c.str, v)
	case 'u':
		return c.unicode()
	default:
		c.str = append(c.str, e)
	}
	return nil
}

// unicode decodes \uXXXX (joining a surrogate pair) or \u{X...}; a lone surrogate is
// U+FFFD.
func (c *inspectConv) unicode() error {
	if c.peek() == '{' {
		j := bytes.IndexByte(c.b[c.i:], '}')
		if j < 2 || j > 7 {
			return c.failf("bad \\u{} escape")
		}
		v, err := strconv.ParseUint(string(c.b[c.i+1:c.i+j]), 16, 32)
		if err != nil {
			return c.failf("bad \\u{} escape")
		}
		c.i += j + 1
		c.str = utf8.AppendRune(c.str, rune(v))
		return nil
	}
	r, ok := c.hex(4)
	if !ok {
		return c.failf("bad \\u escape")
	}
	if utf16.IsSurrogate(r) && bytes.HasPrefix(c.b[c.i:], []byte(`\u`)) {
		save := c.i
		c.i += 2
		if r2, ok := c.hex(4); ok && utf16.DecodeRune(r, r2) != utf8.RuneError {
			r = utf16.DecodeRune(r, r2)
		} else {
			c.i = save
		}
	}
	c.str = utf8.AppendRune(c.str, r) // a lone surrogate becomes U+FFFD
	return nil
}

func (c *inspectConv) hex(n int) (rune, bool) {
	if c.i+n > len(c.b) {
		return 0, false
	}
	var r rune
	for _, ch := range c.b[c.i : c.i+n] {
		v := hexVal(ch)
		if v < 0 {
			return 0, false
		}
		r = r<<4 | rune(v)
	}
	c.i += n
	return r, true
}

// number converts a JavaScript number as printed; a BigInt (`12n`) becomes its digits.
func (c *inspectConv) number() error {
	s := scanner{b: c.b}
	if bytes.HasPrefix(c.b[c.i:], []byte("-Infinity")) {
		c.i += len("-Infinity")
		c.out = append(c.out, `"-Infinity"`...)
		return nil
	}
	end, err := s.number(c.i)
	if err != nil {
		return c.failf("bad number")
	}
	c.out = append(c.out, c.b[c.i:end]...)
	c.i = end
	if c.peek() == 'n' {
		c.i++
	}
	return nil
}

// word converts an unquoted word: a literal, or a class name before an object.
func (c *inspectConv) word() error {
	j := c.i
	for j < len(c.b) && (isIdent(c.b[j]) || c.b[j] == '.') {
		j++
	}
	w := c.b[c.i:j]
	c.i = j
	switch string(w) {
	case "true", "false", "null":
		c.out = append(c.out, w...)
		return nil
	case "undefined":
		c.out = append(c.out, "null"...)
		return nil
	case "NaN", "Infinity":
		c.out = appendJSONString(c.out, w)
		return nil
	}
	// A class name, possibly with a size: Foo {…}, Map(2) {…}, Set(1) […].
	if c.peek() == '(' {
		k := bytes.IndexByte(c.b[c.i:], ')')
		if k < 0 {
			return c.endOr("unclosed '('")
		}
		c.i += k + 1
	}
	if c.ws(); c.peek() == '{' || c.peek() == '[' {
		return c.prefixed(w)
	}
	return c.failf("unknown word %q", w)
}

// raw takes the value at c.i as printed text, up to the next delimiter outside brackets and
// quotes, and writes it as a JSON string.
func (c *inspectConv) raw() error {
	start := c.i
	depth := 0
	for c.i < len(c.b) {
		switch ch := c.b[c.i]; ch {
		case '\'', '"', '`':
			c.skipQuoted(ch)
			continue
		case '{', '[', '(':
			depth++
		case '}', ']', ')':
			if depth == 0 {
				return c.rawDone(start)
			}
			depth--
		case ',':
			if depth == 0 {
				return c.rawDone(start)
			}
		}
		c.i++
	}
	if depth > 0 {
		return errInspectEnd
	}
	return c.rawDone(start)
}

func (c *inspectConv) rawDone(start int) error {
	text := bytes.TrimSpace(c.b[start:c.i])
	if len(text) == 0 {
		return c.failf("empty value")
	}
	c.out = appendJSONString(c.out, text)
	return nil
}

// skipQuoted skips a quoted string in raw text; an unclosed quote (an apostrophe in a
// stack frame) ends at the line's end.
func (c *inspectConv) skipQuoted(q byte) {
	for j := c.i + 1; j < len(c.b); j++ {
		switch c.b[j] {
		case '\\':
			j++
		case q:
			c.i = j + 1
			return
		case '\n':
			c.i = j
			return
		}
	}
	c.i = len(c.b)
}

func isIdentStart(c byte) bool {
	return c == '_' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isIdent(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }
