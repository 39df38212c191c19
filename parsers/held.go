package parsers

import (
	"time"

	"github.com/winship/winship/agent/event"
)

// Limits on one multi-line entry. An entry that would pass them is completed as it stands
// and the rest continues in a new event, so memory stays bounded and nothing is dropped.
const (
	maxHeldLines = 10000
	maxHeldBytes = 4 << 20
)

// errTooLong is the ParseError of the pieces of an entry split at the limits.
const errTooLong = "entry split: longer than 10000 lines or 4 MiB"

// held collects the lines of one multi-line entry until it is complete.
type held struct {
	text  []byte // the lines, joined with '\n'
	off   int64  // offset of the first line; -1 when nothing is held
	lines int
	flags event.Flags
	now   time.Time // when the first line was read
	split bool      // the entry continues a piece completed at the limits
	cut   bool      // the entry is completed at the limits; the rest follows as a piece
}

func (h *held) active() bool { return h.lines > 0 }

func (h *held) start(line []byte, off int64, now time.Time, flags event.Flags) {
	h.text = append(h.text[:0], line...)
	h.off, h.lines, h.flags, h.now, h.split, h.cut = off, 1, flags, now, false, false
}

func (h *held) add(line []byte, flags event.Flags) {
	h.text = append(append(h.text, '\n'), line...)
	h.lines++
	h.flags |= flags
}

// full reports whether a line of n more bytes would pass the limits, and if so marks the
// entry as cut.
func (h *held) full(n int) bool {
	h.cut = h.lines >= maxHeldLines || len(h.text)+1+n > maxHeldBytes
	return h.cut
}

func (h *held) reset() {
	h.lines, h.off = 0, -1
	if cap(h.text) > maxScratch {
		h.text = nil // do not keep a huge entry's buffer for the file's lifetime
	}
}

// pending is Parser.Pending for a parser that holds h.
func (h *held) pending() int64 {
	if !h.active() {
		return -1
	}
	return h.off
}

// rawEvent is the event for text that did not parse: the text as message, the read time,
// level info, and why.
func rawEvent(text []byte, now time.Time, flags event.Flags, why string) event.Event {
	return event.Event{Time: now, Level: event.Info, Message: string(text), ParseError: why,
		Flags: flags | event.FlagNoTimestamp}
}
