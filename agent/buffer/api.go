package buffer

// API CONTRACT (stub written by the lead; the buffer helper replaces the bodies, keeps the
// signatures, and may add methods). Everything here is safe for concurrent use.

import (
	"context"
	"log/slog"
)

// Pos is a position in the log: the global byte offset of a record boundary. Positions only
// grow; segment files are named by the position of their first record.
type Pos uint64

// Options configure a Log.
type Options struct {
	Dir          string       // folder for segments and cursors; created if missing
	SegmentBytes int64        // roll to a new segment past this size; default 64 MiB
	Logger       *slog.Logger // warnings about corruption and skipped data; nil discards
}

// Record is one record handed to a reader.
type Record struct {
	Data []byte // the payload; owned by the caller
	Next Pos    // the position just after this record; Ack(Next) acknowledges it
}

// Log is an append-only log of records in segment files, shared by every sink, each sink
// reading with its own Cursor.
type Log struct{}

// Open opens or creates the log in opts.Dir, recovering from a torn or corrupt tail.
func Open(opts Options) (*Log, error) { panic("TODO") }

// Append writes records after the current end. They are not durable, nor visible to
// readers, until Sync returns.
func (l *Log) Append(recs ...[]byte) error { panic("TODO") }

// Sync makes every appended record durable (fsync), makes them visible to cursors, and
// returns the durable end.
func (l *Log) Sync() (Pos, error) { panic("TODO") }

// End returns the durable end of the log.
func (l *Log) End() Pos { panic("TODO") }

// Acked returns a channel that is closed the next time any cursor acknowledges or drops
// records (the writer waits on it when a blocking sink's backlog is full).
func (l *Log) Acked() <-chan struct{} { panic("TODO") }

// Close syncs and closes the log. Cursors must not be used afterwards.
func (l *Log) Close() error { panic("TODO") }

// Cursor opens the named cursor, loading its saved position; a cursor never seen before
// starts at the current end.
func (l *Log) Cursor(name string) (*Cursor, error) { panic("TODO") }

// Cursor is one consumer's read and acknowledged position.
type Cursor struct{}

// Next blocks until at least one durable record lies past the read position or ctx is done,
// then returns up to maxRecords records (and at most maxBytes of payload, but always at least
// one record) and advances the read position past them.
func (c *Cursor) Next(ctx context.Context, maxRecords, maxBytes int) ([]Record, error) {
	panic("TODO")
}

// Ack durably records that everything before p has been delivered (a p at or before the
// acknowledged position is a no-op), so segments wholly
// before every cursor's acknowledged position can be removed.
func (c *Cursor) Ack(p Pos) error { panic("TODO") }

// Backlog returns the bytes between the acknowledged position and the durable end.
func (c *Cursor) Backlog() int64 { panic("TODO") }

// DropOldest advances the acknowledged (and, if behind, the read) position over the oldest
// records until Backlog is at most target, and returns how many records and bytes it
// skipped.
func (c *Cursor) DropOldest(target int64) (records int, bytes int64, err error) {
	panic("TODO")
}
