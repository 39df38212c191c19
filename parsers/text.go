package parsers

import (
	"bytes"
	"time"

	"github.com/winship/winship/agent/event"
)

// errTextStray is the ParseError of a text line that neither starts an entry nor follows one.
const errTextStray = "no level prefix: not the start of an entry"

// textParser reads Winston's text formats: printf lines such as `<ts> [<level>]: <message>`
// and simple() lines `<level>: <message> {json meta}`. A line that starts with a level (after
// an optional timestamp) starts an entry; any other line continues the entry above it (a
// stack frame, the rest of a message with a newline). The entry is complete when the next
// one starts, or on Flush.
type textParser struct {
	held    held
	head    textHead // of the held entry; spans index held.text
	entry   entryParser
	scratch []byte
}

// textHead is what the first line of an entry says.
type textHead struct {
	ts    span        // timestamp text; empty when there is none
	level span        // level as written, colour codes included
	lv    event.Level // normalised level
	known bool        // the level name is one event.ParseLevel knows
	msg   int         // where the message starts
}

// Feed implements Parser.
func (p *textParser) Feed(out []event.Event, line []byte, off int64, now time.Time,
) []event.Event {
	line, flags := cleanLine(line, &p.scratch)
	if h, ok := parseHead(line); ok {
		if p.held.active() {
			out = p.complete(out)
		}
		p.held.start(line, off, now, flags)
		p.head = h
		return out
	}
	if p.held.active() {
		if p.held.full(len(line)) {
			out = p.complete(out)
			p.held.start(line, off, now, flags)
			p.held.split = true
			return out
		}
		p.held.add(line, flags)
		return out
	}
	if isBlank(line) {
		return out
	}
	return append(out, rawEvent(line, now, flags, errTextStray))
}

// Flush implements Parser.
func (p *textParser) Flush(out []event.Event) []event.Event {
	if p.held.active() {
		out = p.complete(out)
	}
	return out
}

// Pending implements Parser.
func (p *textParser) Pending() int64 { return p.held.pending() }

// parseHead recognises the start of an entry: an optional timestamp (RFC 3339 or
// "YYYY-MM-DD HH:mm:ss", optionally in brackets), then a level as `[level]`, `[level]:` or
// `level:` (or a bare `level` after a timestamp), then a space or the end of the line.
// Colour codes around the level are allowed. The level must be all lower or all upper case,
// so that a continuation line such as "Error: boom" does not start an entry; without a
// timestamp it must also be a name event.ParseLevel knows.
func parseHead(line []byte) (h textHead, ok bool) {
	i := 0
	if ts, next, ok := leadingTime(line); ok {
		h.ts, i = ts, next
	}
	hasTS := h.ts.to > 0
	bracket := i < len(line) && line[i] == '['
	if bracket {
		i++
	}
	from := i
	i = skipANSI(line, i)
	ws := i
	for i < len(line) && (line[i] >= 'a' && line[i] <= 'z' || line[i] >= 'A' && line[i] <= 'Z') {
		i++
	}
	word := line[ws:i]
	i = skipANSI(line, i)
	h.level = span{from, i}
	if len(word) == 0 || len(word) > 16 || !oneCase(word) {
		return h, false
	}
	h.lv, h.known = parseLevel(word)
	if !h.known && !(hasTS && bracket) {
		return h, false
	}
	switch {
	case bracket:
		if i >= len(line) || line[i] != ']' {
			return h, false
		}
		i = skipANSI(line, i+1)
		if i < len(line) && line[i] == ':' {
			i++
		}
	case i < len(line) && line[i] == ':':
		i++
	case !hasTS:
		return h, false
	}
	if i < len(line) && line[i] != ' ' {
		return h, false
	}
	h.msg = min(i+1, len(line))
	return h, true
}

func oneCase(w []byte) bool {
	lower, upper := true, true
	for _, c := range w {
		lower = lower && c >= 'a' && c <= 'z'
		upper = upper && c >= 'A' && c <= 'Z'
	}
	return lower || upper
}

func skipANSI(b []byte, i int) int {
	for i < len(b) && b[i] == 0x1b {
		i += ansiLen(b[i:])
	}
	return i
}

// leadingTime recognises a timestamp at the start of line and returns its span (brackets
// excluded) and the index after it and the spaces that follow.
func leadingTime(line []byte) (span, int, bool) {
	i := 0
	bracket := len(line) > 0 && line[0] == '['
	if bracket {
		i++
	}
	start := i
	if !digitsAt(line, i, 4) || !at(line, i+4, '-') || !digitsAt(line, i+5, 2) ||
		!at(line, i+7, '-') || !digitsAt(line, i+8, 2) {
		return span{}, 0, false
	}
	i += 10
	if (at(line, i, 'T') || at(line, i, ' ')) && digitsAt(line, i+1, 2) && at(line, i+3, ':') {
		i++
		for i < len(line) && (line[i] >= '0' && line[i] <= '9' || line[i] == ':' ||
			line[i] == '.' || line[i] == ',') {
			i++
		}
		if at(line, i, 'Z') {
			i++
		} else if (at(line, i, '+') || at(line, i, '-')) && digitsAt(line, i+1, 2) {
			i += 3
			for i < len(line) && (line[i] >= '0' && line[i] <= '9' || line[i] == ':') {
				i++
			}
		}
	}
	ts := span{start, i}
	if bracket {
		if !at(line, i, ']') {
			return span{}, 0, false
		}
		i++
	}
	if !at(line, i, ' ') {
		return span{}, 0, false
	}
	for at(line, i, ' ') {
		i++
	}
	return ts, i, true
}

func at(b []byte, i int, c byte) bool { return i < len(b) && b[i] == c }

func digitsAt(b []byte, i, n int) bool {
	if i+n > len(b) {
		return false
	}
	for _, c := range b[i : i+n] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// complete turns the held entry into an event. Its strings and Fields share one
// allocation, as in the json parser.
func (p *textParser) complete(out []event.Event) []event.Event {
	h := &p.held
	defer h.reset()
	text := h.text
	if h.split {
		ev := rawEvent(text, h.now, h.flags, errTooLong)
		ev.Level = p.head.lv // the piece belongs to the entry above: same severity
		return append(out, ev)
	}
	ev := event.Event{Time: h.now, Level: p.head.lv, Flags: h.flags | event.FlagNoTimestamp}
	tsText := text[p.head.ts.from:p.head.ts.to]
	a := make([]byte, 0, len(text)+len(tsText)+16)

	lv := text[p.head.level.from:p.head.level.to]
	if !p.head.known || string(lv) != ev.Level.String() {
		a, ev.RawLevel, _ = appendView(a, lv, false)
	}
	keepTS := p.headerTime(&ev, tsText)
	body := trimBlankTail(text[p.head.msg:])
	msg, meta, hasMeta := splitMeta(body)
	pk := picks{stack: -1, ts: -1}
	if hasMeta {
		pk = p.metaPicks(&ev, meta)
	} else if msg = body; isStack(body) {
		a, ev.Stack, _ = appendView(a, body, false)
		msg = body[:stackHeaderLen(body)]
	}
	a, ev.Message, _ = appendView(a, msg, false)
	if pk.stack >= 0 {
		var bad bool
		m := p.entry.ms[pk.stack]
		if a, ev.Stack, bad = appendView(a, content(meta, m), m.valEsc); bad {
			ev.Flags |= event.FlagInvalidUTF8
		}
	}

	fields := len(a)
	if keepTS {
		a = append(openField(a, fields), `"timestamp":`...)
		a = appendJSONString(a, tsText)
	}
	if hasMeta {
		a = p.appendMeta(a, fields, meta, pk)
	}
	if len(a) > fields {
		a = append(a, '}')
		ev.Fields = a[fields:len(a):len(a)]
	}
	if h.cut {
		ev.ParseError = errTooLong
	}
	return append(out, ev)
}

// appendMeta appends the meta members not taken by pk to the Fields object at a[fields].
func (p *textParser) appendMeta(a []byte, fields int, meta []byte, pk picks) []byte {
	for i, m := range p.entry.ms {
		if i != pk.stack && i != pk.ts {
			a = append(append(openField(a, fields), '"'), meta[m.key.from:m.key.to]...)
			a = append(append(a, '"', ':'), meta[m.val.from:m.val.to]...)
		}
	}
	return a
}

// openField starts the next member of the Fields object that starts at a[start].
func openField(a []byte, start int) []byte {
	if len(a) == start {
		return append(a, '{')
	}
	return append(a, ',')
}

// headerTime sets ev.Time from the header's timestamp and reports whether its text must
// stay in Fields (it did not parse, or is not canonical).
func (p *textParser) headerTime(ev *event.Event, ts []byte) (keep bool) {
	if len(ts) == 0 {
		return false
	}
	t, canonical, ok := parseTime(ts)
	if ok {
		ev.Time = t
		ev.Flags &^= event.FlagNoTimestamp
	}
	return !canonical
}

// metaPicks scans simple()'s JSON meta into p.entry.ms and returns which members are taken:
// a string stack, and a timestamp when the header had none and it renders back exactly
// (otherwise it stays in Fields). -1 means none.
func (p *textParser) metaPicks(ev *event.Event, meta []byte) picks {
	s := scanner{b: meta}
	p.entry.ms, _, _ = s.members(0, p.entry.ms[:0]) // validated by splitMeta
	ms := p.entry.ms
	pk := findKeys(meta, ms, keyNames{stack: "stack", ts: "timestamp"})
	if pk.stack >= 0 && ms[pk.stack].kind != kString {
		pk.stack = -1
	}
	if pk.ts < 0 {
		return pk
	}
	raw := content(meta, ms[pk.ts])
	if ms[pk.ts].kind != kString || ev.Flags&event.FlagNoTimestamp == 0 {
		pk.ts = -1
		return pk
	}
	if ms[pk.ts].valEsc {
		raw, _ = appendUnescaped(nil, raw)
	}
	t, canonical, ok := parseTime(raw)
	if ok {
		ev.Time = t
		ev.Flags &^= event.FlagNoTimestamp
	}
	if !canonical {
		pk.ts = -1
	}
	return pk
}

// trimBlankTail drops blank lines at the end of an entry (between entries, not content).
func trimBlankTail(body []byte) []byte {
	for {
		i := bytes.LastIndexByte(body, '\n')
		if i < 0 || !isBlank(body[i+1:]) {
			return body
		}
		body = body[:i]
	}
}

// maxMetaTries bounds the search for simple()'s meta object in a line full of " {".
const maxMetaTries = 8

// splitMeta finds the JSON object simple() appends after the message: the text after the
// leftmost " {" in the last line that is a valid JSON object to the end of the line.
func splitMeta(body []byte) (msg, meta []byte, ok bool) {
	if !bytes.HasSuffix(body, []byte("}")) {
		return nil, nil, false
	}
	lineStart := bytes.LastIndexByte(body, '\n') + 1
	from := lineStart
	for try := 0; try < maxMetaTries; try++ {
		k := bytes.Index(body[from:], []byte(" {"))
		if k < 0 {
			return nil, nil, false
		}
		k += from
		s := scanner{b: body[k+1:]}
		if end, _, _, err := s.value(0); err == nil && end == len(body)-k-1 {
			return body[:k], body[k+1:], true
		}
		from = k + 1
	}
	return nil, nil, false
}

// isStack reports whether body is a stack trace: a first line such as "TypeError: x" or
// "Error [ERR_X]: x", and below it (after the rest of a multi-line message) at least one V8
// frame line ("    at ...").
func isStack(body []byte) bool {
	return errorHeader(body) && stackHeaderLen(body) >= 0
}

// stackHeaderLen returns the length of the text above the first frame line, or -1 when
// there is no frame line below the first line.
func stackHeaderLen(body []byte) int {
	for i := bytes.IndexByte(body, '\n'); i >= 0; {
		rest := body[i+1:]
		if isFrame(rest) {
			return i
		}
		j := bytes.IndexByte(rest, '\n')
		if j < 0 {
			return -1
		}
		i += j + 1
	}
	return -1
}

// isFrame reports whether the line at the start of b is a V8 stack frame.
func isFrame(b []byte) bool {
	n := len(b) - len(bytes.TrimLeft(b, " \t"))
	return n > 0 && bytes.HasPrefix(b[n:], []byte("at ")) && len(b) > n+3 && b[n+3] != ' '
}

// errorHeader reports whether body starts like an error's stack: a name (letters, digits,
// '_', '$', '.'), an optional bracketed code, then ':' or the end of the line.
func errorHeader(body []byte) bool {
	i := 0
	if i >= len(body) || !isIdentStart(body[0]) {
		return false
	}
	for i < len(body) && (isIdent(body[i]) || body[i] == '.') {
		i++
	}
	if at(body, i, ' ') && at(body, i+1, '[') {
		j := bytes.IndexByte(body[i:], ']')
		if j < 0 {
			return false
		}
		i += j + 1
	}
	return i == len(body) || body[i] == ':' || body[i] == '\n'
}
