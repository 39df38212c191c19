package parsers

import (
	"time"

	"github.com/winship/winship/agent/event"
)

// jsonParser reads Winston's json() and logstash() output: one entry per line, so it never
// holds a line.
type jsonParser struct {
	entry   entryParser
	scratch []byte
}

// Feed implements Parser. A blank line is not an entry and yields no event.
func (p *jsonParser) Feed(out []event.Event, line []byte, _ int64, now time.Time) []event.Event {
	line, flags := cleanLine(line, &p.scratch)
	if isBlank(line) {
		return out
	}
	out = append(out, event.Event{Flags: flags})
	p.entry.fill(&out[len(out)-1], line, nil, now)
	return out
}

// Flush implements Parser; nothing is ever held.
func (p *jsonParser) Flush(out []event.Event) []event.Event { return out }

// Pending implements Parser; nothing is ever held.
func (p *jsonParser) Pending() int64 { return -1 }
