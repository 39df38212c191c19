// Package event defines the structured event that flows from the parsers, through the
// disk buffer, to every sink, and its compact binary encoding for the buffer.
package event

import (
	"strings"
	"time"
)

// Event is one log entry after parsing. Parsers fill it; the pipeline adds Source and Path;
// sinks read it and must not modify it (the same *Event may be shared by several sinks).
type Event struct {
	// Time is the entry's own timestamp, or the time it was read when it had none
	// (then FlagNoTimestamp is set).
	Time time.Time
	// Level is the normalised severity.
	Level Level
	// RawLevel is the level exactly as written, set only when it differs from Level.String()
	// (for example "warning", "ERROR", or a colourised level), so it can be recovered.
	RawLevel string
	// Message is the entry's message (for unparseable input: the raw line).
	Message string
	// Stack is the error stack trace when the entry carried one.
	Stack string
	// Fields holds every other key of the entry as a JSON object, in the order written,
	// with nested values as they were. Nil or empty when there are none.
	Fields []byte
	// Source is the configured source name; Path the file the entry was read from.
	Source string
	Path   string
	// ParseError says why the line could not be parsed as its format; empty when it could.
	ParseError string
	// Flags records what happened to the line on its way in.
	Flags Flags
}

// Flags mark lines that were altered or incomplete.
type Flags uint8

const (
	// FlagPartial marks a fragment whose line was never completed (file rotated, truncated
	// or closed before its newline arrived).
	FlagPartial Flags = 1 << iota
	// FlagTruncated marks a line longer than max_line_bytes that was cut.
	FlagTruncated
	// FlagInvalidUTF8 marks a line whose invalid UTF-8 bytes were replaced with U+FFFD.
	FlagInvalidUTF8
	// FlagNoTimestamp marks an entry without its own timestamp; Time is the read time.
	FlagNoTimestamp
)

// Level is a normalised severity. Lower values are more severe, as in syslog and Winston.
// The names are Winston's npm and syslog level names; "warning" is folded into Warn.
type Level uint8

const (
	Emerg Level = iota
	Alert
	Crit
	Error
	Warn
	Notice
	Info
	HTTP
	Verbose
	Debug
	Silly
)

var levelNames = [...]string{"emerg", "alert", "crit", "error", "warn", "notice", "info",
	"http", "verbose", "debug", "silly"}

// String returns the canonical lower-case name.
func (l Level) String() string {
	if int(l) < len(levelNames) {
		return levelNames[l]
	}
	return "info"
}

// AtLeast reports whether l is at least as severe as min.
func (l Level) AtLeast(min Level) bool { return l <= min }

// ParseLevel maps a Winston (npm or syslog) level name, case-insensitively, to a Level.
// Common aliases are accepted: warning, err, fatal, critical, panic, trace.
// ok is false for names it does not know.
func ParseLevel(s string) (Level, bool) {
	if lv, ok := lookupLevel(s); ok {
		return lv, true
	}
	return lookupLevel(strings.ToLower(strings.TrimSpace(s)))
}

func lookupLevel(s string) (Level, bool) {
	switch s {
	case "emerg", "emergency", "panic":
		return Emerg, true
	case "alert":
		return Alert, true
	case "crit", "critical", "fatal":
		return Crit, true
	case "error", "err":
		return Error, true
	case "warn", "warning":
		return Warn, true
	case "notice":
		return Notice, true
	case "info", "information":
		return Info, true
	case "http":
		return HTTP, true
	case "verbose":
		return Verbose, true
	case "debug":
		return Debug, true
	case "silly", "trace":
		return Silly, true
	}
	return Info, false
}
