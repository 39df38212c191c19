package parsers

import (
	"time"

	"github.com/winship/winship/agent/event"
)

// Parser parses the lines of one file.
type Parser interface {
	// Feed takes one complete line, without its line terminator ("\n" or "\r\n"), that starts
	// at byte offset off of the file, and appends the events it completes to out. now is the
	// time the line was read (used when an entry has no timestamp). line is only valid during
	// the call. Feed does not set Event.Source or Event.Path.
	Feed(out []event.Event, line []byte, off int64, now time.Time) []event.Event
	// Flush completes whatever entry is held (end of a multi-line entry after a quiet period,
	// or a file that is being closed) and appends it to out.
	Flush(out []event.Event) []event.Event
	// Pending returns the offset of the first line held for an incomplete entry, or -1 when
	// nothing is held. A checkpoint must not move past it.
	Pending() int64
}

// Formats lists the accepted values of a source's `format` key.
var Formats = []string{"auto", "json", "logstash", "pretty", "text"}

// New returns a parser for format, one of Formats. It panics on any other value: the config
// loader has rejected those already.
func New(format string) Parser {
	return newParser(format)
}
