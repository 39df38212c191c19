package parsers

import (
	"bytes"
	"time"
	"unsafe"

	"github.com/winship/winship/agent/event"
)

// This file turns one JSON object (a Winston json() or logstash() line, or the JSON that a
// prettyPrint() entry was converted to) into an event. It is the hot path: a valid line
// costs one allocation, the arena that holds the event's strings and Fields.

// ParseError texts. Each says why the input did not parse as its format; the event still
// carries the raw text as its message.
const (
	errNotObject      = "not an object"
	errMessageMissing = "message missing"
	errMessageType    = "message is not a string"
	errNotJSONPrefix  = "not JSON: "
)

// picks holds the indexes of the members that become event fields; -1 when absent.
type picks struct{ level, msg, stack, ts int }

// keyNames are the keys a pass looks for; an empty name is not looked for.
type keyNames struct{ level, msg, stack, ts string }

var (
	winstonKeys   = keyNames{level: "level", msg: "message", stack: "stack", ts: "timestamp"}
	logstashTop   = keyNames{msg: "@message", ts: "@timestamp"}
	logstashInner = keyNames{level: "level", stack: "stack"}
)

// entryParser parses JSON entries. Its slices are scratch space reused from line to line,
// which is why one parser serves one goroutine.
type entryParser struct {
	ms      []member // members of the entry, in the order they go into Fields
	top     []member // top-level members of a logstash line
	inner   []member // members of a logstash line's @fields, read with the line
	innerAt int      // index in ms of the member inner was read from, or -1
	lvl     []byte   // decoded level text (RawLevel refers to it until the event is built)
	tmp     []byte   // decoded timestamp text
	plain   []byte   // level text without colour codes
}

// fill parses the JSON text src into ev. fallback is the message when src is not an object
// with a string message (the raw line, or the raw prettyPrint text); nil means src itself.
func (p *entryParser) fill(ev *event.Event, src, fallback []byte, now time.Time) {
	p.parse(ev, src, fallback, now)
	p.release()
}

// release drops scratch space that an unusually large entry grew, so that the parser of
// each file does not keep it for the file's lifetime.
func (p *entryParser) release() {
	const members, text = 1024, 4096
	if cap(p.ms) > members || cap(p.top) > members || cap(p.inner) > members ||
		cap(p.lvl) > text || cap(p.tmp) > text || cap(p.plain) > text {
		p.ms, p.top, p.inner = shrink(p.ms, members), shrink(p.top, members),
			shrink(p.inner, members)
		p.lvl, p.tmp, p.plain = shrink(p.lvl, text), shrink(p.tmp, text), shrink(p.plain, text)
	}
}

// shrink returns s, or nil when its capacity is above n.
func shrink[T any](s []T, n int) []T {
	if cap(s) > n {
		return nil
	}
	return s
}

func (p *entryParser) parse(ev *event.Event, src, fallback []byte, now time.Time) {
	if fallback == nil {
		fallback = src
	}
	// The object itself is the first level of nesting, as in encoding/json.
	s := scanner{b: src, depth: 1, inner: &p.inner, innerAt: -1}
	i := s.skipWS(0)
	if i >= len(src) || src[i] != '{' {
		p.parseNotObject(ev, src, fallback, now)
		return
	}
	ms, end, err := s.members(i, p.ms[:0])
	p.ms, p.innerAt = ms, s.innerAt
	if err == nil && s.skipWS(end) != len(src) {
		err = s.fail(s.skipWS(end), "text after the object")
	}
	pk := p.pick(src)
	if err != nil {
		// Salvage level and time from the members read before the error (a line cut by
		// max_line_bytes keeps its severity), but not Fields: the message has them all.
		pk.msg, pk.stack = -1, -1
		p.build(ev, src, pk, fallback, now, false)
		ev.ParseError = errNotJSONPrefix + err.Error()
		return
	}
	p.build(ev, src, pk, fallback, now, true)
}

// parseNotObject handles text that is not a JSON object: valid JSON of another type becomes
// its own text as the message; anything else the raw line.
func (p *entryParser) parseNotObject(ev *event.Event, src, fallback []byte, now time.Time) {
	s := scanner{b: src}
	i, _, _, err := s.value(s.skipWS(0))
	if err == nil && s.skipWS(i) != len(src) {
		err = s.fail(s.skipWS(i), "text after the value")
	}
	ev.Time, ev.Level, ev.Flags = now, event.Info, ev.Flags|event.FlagNoTimestamp
	if err != nil {
		ev.Message = string(fallback)
		ev.ParseError = errNotJSONPrefix + err.Error()
		return
	}
	if bytes.Equal(src, fallback) {
		fallback = bytes.TrimSpace(src)
	}
	ev.Message = string(fallback)
	ev.ParseError = errNotObject
}

// pick chooses the members that become Level, Message, Stack and Time. A line without
// "message" but with "@message" or an object "@fields" is read as logstash(); any other as
// json(). Either format thus reads the other's lines.
func (p *entryParser) pick(src []byte) picks {
	pk := findWinstonKeys(src, p.ms)
	if pk.msg >= 0 {
		return pk
	}
	top := findKeys(src, p.ms, logstashTop)
	fields := findKey(src, p.ms, "@fields")
	if top.msg < 0 && (fields < 0 || p.ms[fields].kind != kObject) {
		return pk
	}
	return p.pickLogstash(src, top, fields)
}

// pickLogstash rebuilds p.ms as the @fields members followed by the other top-level members,
// and returns picks into it.
func (p *entryParser) pickLogstash(src []byte, top picks, fields int) picks {
	p.top = append(p.top[:0], p.ms...)
	p.ms = p.ms[:0]
	if fields >= 0 && fields == p.innerAt {
		p.ms = append(p.ms, p.inner...)
	} else if fields >= 0 && p.top[fields].kind == kObject {
		s := scanner{b: src}
		p.ms, _, _ = s.members(p.top[fields].val.from, p.ms) // validated already
	}
	pk := findKeys(src, p.ms, logstashInner)
	pk.msg, pk.ts = -1, -1
	for i, m := range p.top {
		switch i {
		case fields:
			if m.kind == kObject {
				continue
			}
		case top.msg:
			pk.msg = len(p.ms)
		case top.ts:
			pk.ts = len(p.ms)
		}
		p.ms = append(p.ms, m)
	}
	return pk
}

// findWinstonKeys is findKeys(src, ms, winstonKeys), with the names as constants so that
// the compiler can match them without a comparison per name (the hot path).
func findWinstonKeys(src []byte, ms []member) picks {
	pk := picks{level: -1, msg: -1, stack: -1, ts: -1}
	for i := range ms {
		if ms[i].keyEsc {
			return findKeys(src, ms, winstonKeys)
		}
		switch string(src[ms[i].key.from:ms[i].key.to]) {
		case "level":
			pk.level = first(pk.level, i)
		case "message":
			pk.msg = first(pk.msg, i)
		case "stack":
			pk.stack = first(pk.stack, i)
		case "timestamp":
			pk.ts = first(pk.ts, i)
		}
	}
	return pk
}

// findKeys returns, for each name, the index of the first member so named, in one pass.
func findKeys(src []byte, ms []member, names keyNames) picks {
	pk := picks{level: -1, msg: -1, stack: -1, ts: -1}
	var buf [32]byte
	for i := range ms {
		k := src[ms[i].key.from:ms[i].key.to]
		if ms[i].keyEsc {
			k, _ = appendUnescaped(buf[:0], k)
		}
		if len(k) == 0 {
			continue
		}
		switch string(k) {
		case names.level:
			pk.level = first(pk.level, i)
		case names.msg:
			pk.msg = first(pk.msg, i)
		case names.stack:
			pk.stack = first(pk.stack, i)
		case names.ts:
			pk.ts = first(pk.ts, i)
		}
	}
	return pk
}

func first(old, i int) int {
	if old >= 0 {
		return old
	}
	return i
}

// findKey returns the index of the first member named name, or -1.
func findKey(src []byte, ms []member, name string) int {
	return findKeys(src, ms, keyNames{level: name}).level
}

// build fills ev from the picked members; withFields adds the members not consumed.
func (p *entryParser) build(ev *event.Event, src []byte, pk picks, fallback []byte,
	now time.Time, withFields bool) {
	rawLevel := p.level(ev, src, pk.level)
	p.time(ev, src, pk.ts, now)

	msg, msgErr := fallback, errMessageMissing
	if pk.msg >= 0 {
		msgErr = errMessageType
		if m := p.ms[pk.msg]; m.kind == kString {
			msg, msgErr = content(src, m), ""
			p.ms[pk.msg].used = true
		}
	}
	var stack []byte
	if pk.stack >= 0 && p.ms[pk.stack].kind == kString {
		stack = content(src, p.ms[pk.stack])
		p.ms[pk.stack].used = true
	}

	a := make([]byte, 0, len(msg)+len(stack)+len(rawLevel)+p.fieldsLen(withFields))
	var replaced bool
	a, ev.Message, replaced = appendView(a, msg, msgErr == "" && p.ms[pk.msg].valEsc)
	if stack != nil {
		var r bool
		a, ev.Stack, r = appendView(a, stack, p.ms[pk.stack].valEsc)
		replaced = replaced || r
	}
	if rawLevel != nil {
		a, ev.RawLevel, _ = appendView(a, rawLevel, false)
	}
	if withFields {
		ev.Fields = p.appendFields(a, src)
	}
	if replaced {
		ev.Flags |= event.FlagInvalidUTF8
	}
	if msgErr != "" && withFields {
		ev.ParseError = msgErr
	}
}

// content returns a string member's raw text without its quotes.
func content(src []byte, m member) []byte {
	return src[m.val.from+1 : m.val.to-1]
}

// appendView appends text (unescaping it when esc) to the arena a and returns a string that
// shares the appended bytes. The arena is never written below its length again, so the
// string stays immutable; if an append outgrows a, the old array lives on under the string.
func appendView(a, text []byte, esc bool) ([]byte, string, bool) {
	start := len(a)
	var replaced bool
	if esc {
		a, replaced = appendUnescaped(a, text)
	} else {
		a = append(a, text...)
	}
	if len(a) == start {
		return a, "", replaced
	}
	return a, unsafe.String(&a[start], len(a)-start), replaced
}

// level sets ev.Level and returns the level text to keep as RawLevel (nil when the
// canonical name says it all).
func (p *entryParser) level(ev *event.Event, src []byte, i int) []byte {
	ev.Level = event.Info
	if i < 0 || p.ms[i].kind != kString {
		return nil
	}
	p.ms[i].used = true
	m := p.ms[i]
	raw := content(src, m)
	if m.valEsc {
		p.lvl, _ = appendUnescaped(p.lvl[:0], raw)
		raw = p.lvl
	}
	plain := raw
	if bytes.IndexByte(raw, 0x1b) >= 0 {
		p.plain = stripANSI(p.plain[:0], raw)
		plain = p.plain
	}
	lv, ok := parseLevel(plain)
	ev.Level = lv
	if ok && string(raw) == lv.String() {
		return nil
	}
	return raw
}

// parseLevel maps a level name with event.ParseLevel, without copying it.
func parseLevel(b []byte) (event.Level, bool) {
	if len(b) == 0 {
		return event.Info, false
	}
	return event.ParseLevel(unsafe.String(&b[0], len(b)))
}

// time sets ev.Time from the timestamp member i, or to now with FlagNoTimestamp. The
// member is consumed only when Event.Time gives its text back exactly.
func (p *entryParser) time(ev *event.Event, src []byte, i int, now time.Time) {
	ev.Time = now
	if i >= 0 {
		m := p.ms[i]
		var t time.Time
		var canonical, ok bool
		switch m.kind {
		case kString:
			raw := content(src, m)
			if m.valEsc {
				p.tmp, _ = appendUnescaped(p.tmp[:0], raw)
				raw = p.tmp
			}
			t, canonical, ok = parseTime(raw)
		case kNumber:
			t, ok = parseUnixMilli(src[m.val.from:m.val.to])
		}
		if ok {
			ev.Time = t
			p.ms[i].used = canonical
			return
		}
	}
	ev.Flags |= event.FlagNoTimestamp
}

// fieldsLen is the size of the Fields object that appendFields will write.
func (p *entryParser) fieldsLen(withFields bool) int {
	if !withFields {
		return 0
	}
	n := 0
	for _, m := range p.ms {
		if !m.used {
			n += m.key.to - m.key.from + m.val.to - m.val.from + 4
		}
	}
	if n > 0 {
		n++
	}
	return n
}

// appendFields appends the members not consumed, as one JSON object, keys and values byte
// for byte as written, and returns the object (nil when there are none).
func (p *entryParser) appendFields(a, src []byte) []byte {
	start := len(a)
	for _, m := range p.ms {
		if m.used {
			continue
		}
		sep := byte(',')
		if len(a) == start {
			sep = '{'
		}
		a = append(a, sep, '"')
		a = append(a, src[m.key.from:m.key.to]...)
		a = append(a, '"', ':')
		a = append(a, src[m.val.from:m.val.to]...)
	}
	if len(a) == start {
		return nil
	}
	a = append(a, '}')
	return a[start:len(a):len(a)]
}
