package parsers

import (
	"bytes"
	"time"

	"github.com/winship/winship/agent/event"
)

// ParseError texts of the pretty format.
const (
	errPrettyStray        = "not part of a prettyPrint entry"
	errPrettyUnterminated = "unterminated prettyPrint entry"
	errPrettySyntaxPrefix = "not util.inspect syntax: "
)

// prettyParser reads Winston's prettyPrint() output: each entry is util.inspect text that
// starts with '{' in column 0 and, when it spans lines, ends with a line "}" in column 0.
// Nested lines are always indented and strings never hold a raw newline, so those two lines
// delimit entries reliably.
type prettyParser struct {
	entry   entryParser
	held    held
	scratch []byte
	plain   []byte // held text without colour codes
	json    []byte // held text converted to JSON
}

// Feed implements Parser. Lines outside an entry become events of their own.
func (p *prettyParser) Feed(out []event.Event, line []byte, off int64, now time.Time,
) []event.Event {
	line, flags := cleanLine(line, &p.scratch)
	if p.held.active() {
		switch {
		case opensPretty(line):
			out = p.complete(out, errPrettyUnterminated)
		case p.held.full(len(line)):
			out = p.complete(out, errTooLong)
			p.held.start(line, off, now, flags)
			p.held.split = true
			return out
		default:
			p.held.add(line, flags)
			if closesPretty(line) {
				out = p.complete(out, "")
			}
			return out
		}
	}
	switch {
	case isBlank(line):
		return out
	case opensPretty(line):
		p.held.start(line, off, now, flags)
		if bytes.HasSuffix(bytes.TrimRight(line, " \t"), []byte("}")) { // one-line entry
			out = p.complete(out, "")
		}
		return out
	}
	return append(out, rawEvent(line, now, flags, errPrettyStray))
}

// Flush implements Parser: an entry still open is shipped as it stands.
func (p *prettyParser) Flush(out []event.Event) []event.Event {
	if p.held.active() {
		out = p.complete(out, errPrettyUnterminated)
	}
	return out
}

// Pending implements Parser.
func (p *prettyParser) Pending() int64 { return p.held.pending() }

// opensPretty reports whether line starts an entry: '{' (or a `<ref *1>` mark) in column 0.
func opensPretty(line []byte) bool {
	return len(line) > 0 && line[0] == '{' || bytes.HasPrefix(line, []byte("<ref *"))
}

// closesPretty reports whether line ends a multi-line entry.
func closesPretty(line []byte) bool {
	return string(bytes.TrimRight(line, " \t")) == "}"
}

// complete turns the held entry into an event; why, when set, says it is known not to
// parse (it was cut short). An entry that does not convert keeps its text as the message.
func (p *prettyParser) complete(out []event.Event, why string) []event.Event {
	h := &p.held
	defer func() {
		h.reset()
		p.json, p.plain = shrink(p.json, maxScratch), shrink(p.plain, maxScratch)
	}()
	if h.split || h.cut {
		why = errTooLong
	}
	text := h.text
	if bytes.IndexByte(text, 0x1b) >= 0 { // prettyPrint({colorize: true})
		p.plain = stripANSI(p.plain[:0], text)
		text = p.plain
	}
	if why == "" {
		var err error
		if p.json, err = inspectToJSON(p.json[:0], text); err != nil {
			why = errPrettySyntaxPrefix + err.Error()
		}
	}
	if why != "" {
		ev := rawEvent(h.text, h.now, h.flags, why)
		salvagePretty(&ev, text)
		return append(out, ev)
	}
	out = append(out, event.Event{Flags: h.flags})
	p.entry.fill(&out[len(out)-1], p.json, h.text, h.now)
	return out
}

// salvagePretty sets the level and time of an entry that did not convert from its
// top-level `level:` and `timestamp:` lines, so that an error still routes as an error.
func salvagePretty(ev *event.Event, text []byte) {
	for _, line := range bytes.Split(text, []byte("\n")) {
		if v, ok := topString(line, "level"); ok {
			if lv, ok := parseLevel(stripANSI(nil, v)); ok {
				ev.Level = lv
				if lv.String() != string(v) {
					ev.RawLevel = string(v)
				}
			}
		}
		if v, ok := topString(line, "timestamp"); ok {
			if t, _, ok := parseTime(v); ok {
				ev.Time, ev.Flags = t, ev.Flags&^event.FlagNoTimestamp
			}
		}
	}
}

// topString reads `  key: 'value',` (a top-level member on its own line).
func topString(line []byte, key string) ([]byte, bool) {
	rest, ok := bytes.CutPrefix(line, []byte("  "+key+": "))
	if !ok || len(rest) == 0 || (rest[0] != '\'' && rest[0] != '"' && rest[0] != '`') {
		return nil, false
	}
	c := inspectConv{b: rest}
	if c.literal() != nil {
		return nil, false
	}
	return c.str, true
}
