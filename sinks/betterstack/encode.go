package betterstack

import (
	"bytes"
	"strconv"
	"unicode/utf8"

	"github.com/winship/winship/agent/event"
	httpsink "github.com/winship/winship/sinks/http"
)

// MaxEventBytes is BetterStack's per-record limit; larger events are cut to fit.
const MaxEventBytes = 100 << 10

// encoder writes events in BetterStack's shape (see the package doc).
type encoder struct {
	host     string
	maxEvent int // events encoded larger than this are truncated
}

// appendBatch appends batch to dst as a JSON array. offs[i] is where event i starts and
// offs[len(batch)] is len(dst) at the end, so event i ends at offs[i+1]-1 (a ',' or the
// closing ']'). cut counts the events that were truncated.
func (enc *encoder) appendBatch(dst []byte, batch []*event.Event, offs []int) (
	out []byte, _ []int, cut int) {
	dst = append(dst, '[')
	for i, e := range batch {
		if i > 0 {
			dst = append(dst, ',')
		}
		offs = append(offs, len(dst))
		var truncated bool
		dst, truncated = enc.appendEvent(dst, e)
		if truncated {
			cut++
		}
	}
	dst = append(dst, ']')
	return dst, append(offs, len(dst)), cut
}

// appendEvent appends e as one JSON object, truncated when it would be over maxEvent
// bytes, and reports whether it was.
func (enc *encoder) appendEvent(dst []byte, e *event.Event) ([]byte, bool) {
	start := len(dst)
	dst = enc.appendParts(dst, e, parts{msg: e.Message, stack: e.Stack, fields: e.Fields})
	size := len(dst) - start
	if size <= enc.maxEvent {
		return dst, false
	}
	return enc.appendTruncated(dst[:start], e, size), true
}

// parts are the pieces of an event that truncation may shorten. When fieldsText is set,
// the fields are sent as this (cut) string instead of being merged.
type parts struct {
	msg, stack string
	fields     []byte
	fieldsText string
	cut        bool // the event was truncated; size is its full encoded size
	size       int
}

func (enc *encoder) appendParts(dst []byte, e *event.Event, p parts) []byte {
	dst = append(dst, `{"dt":"`...)
	dst = event.AppendTime(dst, e.Time)
	dst = append(dst, `","level":"`...)
	dst = append(dst, e.Level.String()...)
	dst = append(dst, `","message":`...)
	dst = event.AppendJSONString(dst, p.msg)
	dst = appendOptional(dst, `,"stack":`, p.stack)
	if p.fieldsText != "" {
		dst = appendOptional(dst, `,"_winship_fields_text":`, p.fieldsText)
	} else {
		dst = appendMerged(dst, p.fields)
	}
	dst = appendOptional(dst, `,"source":`, e.Source)
	dst = appendOptional(dst, `,"path":`, e.Path)
	dst = appendOptional(dst, `,"host":`, enc.host)
	dst = appendOptional(dst, `,"_winship_raw_level":`, e.RawLevel)
	dst = appendOptional(dst, `,"_winship_parse_error":`, e.ParseError)
	if e.Flags != 0 {
		dst = append(dst, `,"_winship_flags":`...)
		dst = event.AppendFlags(dst, e.Flags)
	}
	if p.cut {
		dst = append(dst, `,"_winship_truncated":true,"_winship_original_bytes":`...)
		dst = strconv.AppendInt(dst, int64(p.size), 10)
	}
	return append(dst, '}')
}

func appendOptional(dst []byte, key, s string) []byte {
	if s == "" {
		return dst
	}
	dst = append(dst, key...)
	return event.AppendJSONString(dst, s)
}

// mayClash marks the first bytes of reserved keys, and the backslash that may start an
// escaped one: most keys are told apart by this table alone.
var mayClash = func() (t [256]bool) {
	for _, c := range []byte("dlmsphf_\\") {
		t[c] = true
	}
	return t
}()

// isReserved reports whether a Winston key would clash with a key the sink writes. Such
// members go under "fields" instead of the top level.
func isReserved(key []byte) bool {
	if len(key) == 0 || !mayClash[key[0]] {
		return false
	}
	switch string(key) {
	case "dt", "level", "message", "stack", "source", "path", "host", "fields":
		return true
	}
	if bytes.HasPrefix(key, []byte("_winship")) {
		return true
	}
	if bytes.IndexByte(key, '\\') >= 0 {
		return isReserved([]byte(unescapeKey(key)))
	}
	return false
}

// appendMerged writes the entry's fields as top-level members of the event. Members whose
// keys clash with the sink's own go into a "fields" object instead. Fields that are not a
// well-formed object are sent as text under "_winship_fields_text".
func appendMerged(dst []byte, fields []byte) []byte {
	if len(fields) == 0 {
		return dst
	}
	obj, ok := httpsink.TrimObject(fields)
	if !ok {
		return appendOptional(dst, `,"_winship_fields_text":`, string(fields))
	}
	if httpsink.IsEmptyObject(obj) {
		return dst
	}
	clash, err := hasReserved(obj)
	if err != nil {
		return appendOptional(dst, `,"_winship_fields_text":`, string(fields))
	}
	if !clash {
		// The usual case: splice the object's inside whole.
		dst = append(dst, ',')
		return append(dst, bytes.TrimSpace(obj[1:len(obj)-1])...)
	}
	return appendSplit(dst, obj)
}

func hasReserved(obj []byte) (bool, error) {
	it := newMembers(obj)
	clash := false
	for {
		key, _, ok, err := it.next()
		if err != nil {
			return false, err
		}
		if !ok {
			return clash, nil
		}
		clash = clash || isReserved(key)
	}
}

// appendSplit writes the free members at top level and the clashing ones under "fields";
// obj was checked by hasReserved.
func appendSplit(dst []byte, obj []byte) []byte {
	it := newMembers(obj)
	for key, member, ok, _ := it.next(); ok; key, member, ok, _ = it.next() {
		if !isReserved(key) {
			dst = append(append(dst, ','), member...)
		}
	}
	dst = append(dst, `,"fields":{`...)
	first := true
	it = newMembers(obj)
	for key, member, ok, _ := it.next(); ok; key, member, ok, _ = it.next() {
		if isReserved(key) {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = append(dst, member...)
		}
	}
	return append(dst, '}')
}

// cutMark ends a string that truncation shortened.
const cutMark = "…[truncated]"

// maxSmall caps the strings truncation does not share out (source, path, raw level and
// parse error are short in practice; a hostile line must still fit).
const maxSmall = 1 << 10

// appendTruncated writes e within maxEvent bytes. The message, the stack and the fields
// share the room left by the rest, max-min fair: pieces smaller than their share stay
// whole, larger ones are cut to it. Fields that do not fit whole are sent as cut text.
// Escaping can make the JSON longer than its text, so the room shrinks until it fits.
func (enc *encoder) appendTruncated(dst []byte, e *event.Event, size int) []byte {
	start := len(dst)
	small := *e
	small.Source, small.Path = cut(e.Source, maxSmall), cut(e.Path, maxSmall)
	small.RawLevel, small.ParseError = cut(e.RawLevel, maxSmall), cut(e.ParseError, maxSmall)
	base := len(enc.appendParts(dst, &small, parts{cut: true, size: size})) - start
	room := enc.maxEvent - base - 3*len(cutMark) - 64
	for try := 0; try < 16 && room > 0; try++ {
		dst = enc.appendParts(dst[:start], &small, share(e, room, size))
		got := len(dst) - start
		if got <= enc.maxEvent {
			return dst
		}
		// Escaping made the pieces longer than their text: shrink the room in proportion.
		room = int(int64(room)*int64(enc.maxEvent-base)/int64(got-base)) - 64
	}
	// Only a host name longer than the limit gets here: send the markers and dt alone.
	return enc.appendParts(dst[:start], &event.Event{Time: e.Time, Level: e.Level},
		parts{msg: cut(e.Message, maxSmall) + cutMark, cut: true, size: size})
}

// share cuts the message, stack and fields to fit room between them.
func share(e *event.Event, room, size int) parts {
	sizes := [3]int{len(e.Message), len(e.Stack), len(e.Fields)}
	got := fairShares(room, sizes)
	p := parts{cut: true, size: size, fields: e.Fields}
	p.msg = cutWithMark(e.Message, got[0])
	p.stack = cutWithMark(e.Stack, got[1])
	if got[2] < sizes[2] {
		p.fields = nil
		p.fieldsText = cutWithMark(string(e.Fields), got[2])
	}
	return p
}

// fairShares splits room between pieces of the given sizes, smallest first: each gets its
// size or an equal part of what is left, whichever is less.
func fairShares(room int, sizes [3]int) [3]int {
	order := [3]int{0, 1, 2}
	for i := 1; i < 3; i++ {
		for j := i; j > 0 && sizes[order[j]] < sizes[order[j-1]]; j-- {
			order[j], order[j-1] = order[j-1], order[j]
		}
	}
	var got [3]int
	left := room
	for n, i := range order {
		got[i] = min(sizes[i], left/(3-n))
		left -= got[i]
	}
	return got
}

// cutWithMark returns s when it fits in n bytes, else its first bytes (whole runes)
// followed by cutMark, n bytes at most.
func cutWithMark(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return cut(s, n-len(cutMark)) + cutMark
}

// cut returns at most the first n bytes of s, ending on a rune boundary.
func cut(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
