package parsers

import (
	"bytes"
	"time"

	"github.com/winship/winship/agent/event"
)

// errUndetected is the ParseError of a line read before the file's format was known.
const errUndetected = "format not detected yet: line shipped as is"

// maxUndecided is how many inconclusive lines auto ships as they are before it settles on
// text.
const maxUndecided = 16

// autoParser picks the format of a file from its first conclusive line and keeps it for the
// file: a JSON object is json (which reads logstash() lines too), a line "{" or "{ key: ..."
// is pretty, anything else text. An indented line or a lone "}" (the file was opened in the
// middle of an entry) is inconclusive: it is shipped as its own event and the next line
// decides.
type autoParser struct {
	p         Parser
	undecided int
	scratch   []byte
}

// Feed implements Parser.
func (a *autoParser) Feed(out []event.Event, line []byte, off int64, now time.Time,
) []event.Event {
	if a.p == nil {
		clean, flags := cleanLine(line, &a.scratch)
		if isBlank(clean) {
			return out
		}
		format, sure := detect(clean)
		if !sure && a.undecided < maxUndecided {
			a.undecided++
			return append(out, rawEvent(clean, now, flags, errUndetected))
		}
		a.p = newParser(format)
	}
	return a.p.Feed(out, line, off, now)
}

// Flush implements Parser.
func (a *autoParser) Flush(out []event.Event) []event.Event {
	if a.p == nil {
		return out
	}
	return a.p.Flush(out)
}

// Pending implements Parser.
func (a *autoParser) Pending() int64 {
	if a.p == nil {
		return -1
	}
	return a.p.Pending()
}

// detect names the format line is written in; sure is false for a line that could be the
// middle of an entry of any multi-line format.
func detect(line []byte) (format string, sure bool) {
	switch {
	case line[0] == ' ' || line[0] == '\t' || closesPretty(line):
		return "text", false
	case bytes.HasPrefix(line, []byte("<ref *")):
		return "pretty", true
	case line[0] != '{':
		return "text", true
	}
	// '{' then a quoted key (or '}') is JSON; '{' alone or before a bare key is util.inspect.
	if rest := bytes.TrimLeft(line[1:], " \t"); len(rest) > 0 && (rest[0] == '"' || rest[0] == '}') {
		return "json", true
	}
	return "pretty", true
}
