package buffer

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/winship/winship/agent/durable"
)

// ErrPastEnd is returned by Ack for a position past the durable end.
var ErrPastEnd = errors.New("position past the durable end")

// Cursor is one consumer's read and acknowledged position. One goroutine calls Next; Ack,
// Backlog and DropOldest may be called from others.
type Cursor struct {
	l    *Log
	name string
	path string
	done chan struct{} // closed by Close

	acked atomic.Uint64 // the acknowledged position, stored once its save was tried

	mu     sync.Mutex // serialises Ack, DropOldest and Close; guards the fields below
	closed bool
	file   *os.File // the cursor file, open for saves
	seq    uint64   // the number of the last save

	rmu     sync.Mutex // held by Next while it reads; guards the fields below
	rd      reader
	scratch []byte // payloads being read, before they are copied out
	offs    []int
	nexts   []Pos
}

// maxScratch bounds the read scratch space a cursor keeps between calls.
const maxScratch = 4 << 20

// Cursor opens the named cursor, loading its saved position; a cursor never seen before
// starts at the current end (and saves it at once, so a restart does not skip what was
// appended in between). A cursor whose file is damaged starts at the oldest record, with a
// warning: duplicates rather than a loss. A name may be open only once at a time.
func (l *Log) Cursor(name string) (*Cursor, error) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, ErrClosed
	}
	if _, open := l.cursors[name]; open {
		l.mu.Unlock()
		return nil, fmt.Errorf("open cursor %q: already open", name)
	}
	l.cursors[name] = nil // reserved: keeps segments while the position loads
	l.mu.Unlock()

	c, err := l.openCursor(name)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		delete(l.cursors, name)
		return nil, err
	}
	l.cursors[name] = c
	return c, nil
}

func (l *Log) openCursor(name string) (*Cursor, error) {
	c := &Cursor{
		l:    l,
		name: name,
		path: filepath.Join(l.dir, cursorDir, cursorFileName(name)),
		done: make(chan struct{}),
	}
	p, err := c.load()
	if err != nil {
		return nil, err
	}
	c.acked.Store(uint64(p))
	c.rd = reader{l: l, who: name, pos: p, bufSize: readBufBytes}
	return c, nil
}

// load reads the saved position, creating or repairing the file when needed, and leaves
// the file open for saves.
func (c *Cursor) load() (Pos, error) {
	b, err := os.ReadFile(c.path)
	if errors.Is(err, fs.ErrNotExist) {
		p := c.l.End()
		return p, c.create(p)
	}
	if err != nil {
		return 0, fmt.Errorf("read cursor %s: %w", c.path, err)
	}
	seq, p, err := decodeCursor(b)
	if err != nil {
		oldest := c.l.oldest()
		c.l.log.Warn("buffer: cursor file damaged, starting at the oldest record",
			"sink", c.name, "path", c.path, "offset", oldest, "err", err)
		return oldest, c.create(oldest)
	}
	if c.file, err = os.OpenFile(c.path, os.O_RDWR, 0); err != nil {
		return 0, fmt.Errorf("open cursor %s: %w", c.path, err)
	}
	c.seq = seq
	want := p
	if oldest := c.l.oldest(); p < oldest {
		c.l.log.Warn("buffer: cursor behind the oldest segment (removed while the sink "+
			"was not open, or deleted); skipping to it", "sink", c.name, "path", c.path,
			"offset", p, "bytes", int64(oldest-p))
		want = oldest
	} else if p > c.l.openEnd {
		c.l.log.Warn("buffer: cursor past the end of the log (log tail lost); "+
			"moving it back to the end", "sink", c.name, "path", c.path,
			"offset", p, "bytes", int64(p-c.l.openEnd))
		want = c.l.openEnd
	}
	if want != p {
		if err := c.persist(want); err != nil {
			c.closeFile()
			return 0, err
		}
	}
	return want, nil
}

// create writes a new cursor file holding p atomically (temp file, fsync, rename, fsync
// of the folder) and opens it for saves.
func (c *Cursor) create(p Pos) error {
	dir := filepath.Dir(c.path)
	tmp := filepath.Join(dir, "."+filepath.Base(c.path)+".tmp")
	b := make([]byte, cursorFileBytes)
	c.seq = 1
	copy(b[slotOffset(c.seq):], encodeSlot(c.seq, p))
	if err := writeSynced(tmp, b); err != nil {
		return fmt.Errorf("create cursor %q: %w", c.name, err)
	}
	if err := os.Rename(tmp, c.path); err != nil {
		return fmt.Errorf("create cursor %q: %w", c.name, err)
	}
	if err := durable.SyncDir(dir); err != nil {
		return fmt.Errorf("create cursor %q: %w", c.name, err)
	}
	f, err := os.OpenFile(c.path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("open cursor %s: %w", c.path, err)
	}
	c.file = f
	return nil
}

// persist saves p durably: it overwrites the older slot in place and fsyncs, so a crash
// at any instant leaves either the previous position or p, and costs one fsync (about a
// fifth of a temp file, rename and folder fsync; see BenchmarkCursorSave).
func (c *Cursor) persist(p Pos) error {
	if c.file == nil {
		return fmt.Errorf("save cursor %q: %w", c.name, ErrClosed)
	}
	if c.l.fault != nil {
		if _, err := c.l.fault("cursor", cursorSlotBytes); err != nil {
			return fmt.Errorf("save cursor %q: %w", c.name, err)
		}
	}
	seq := c.seq + 1
	if _, err := c.file.WriteAt(encodeSlot(seq, p), slotOffset(seq)); err != nil {
		return fmt.Errorf("save cursor %q: %w", c.name, err)
	}
	if err := c.file.Sync(); err != nil {
		return fmt.Errorf("save cursor %q: fsync: %w", c.name, err)
	}
	c.seq = seq
	return nil
}

// closeFile closes the cursor file; c.mu is held or c is not shared yet.
func (c *Cursor) closeFile() {
	if c.file != nil {
		_ = c.file.Close() // every save was fsynced
		c.file = nil
	}
}

func writeSynced(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Name returns the cursor's name.
func (c *Cursor) Name() string { return c.name }

// Acked returns the acknowledged position.
func (c *Cursor) Acked() Pos { return Pos(c.acked.Load()) }

// Next blocks until at least one durable record lies past the read position or ctx is done,
// then returns up to maxRecords records (and at most maxBytes of payload, but always at least
// one record) and advances the read position past them. If the acknowledged position moved
// past the read position (Ack ahead, DropOldest), reading resumes there. Damaged bytes and
// missing segments are skipped with a warning. It returns ErrClosed once the cursor or the
// log is closed, and ctx.Err() when ctx is done.
func (c *Cursor) Next(ctx context.Context, maxRecords, maxBytes int) ([]Record, error) {
	maxRecords = max(maxRecords, 1)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		c.l.mu.Lock()
		end, notify, closed := c.l.end, c.l.notify, c.l.closed
		c.l.mu.Unlock()
		if closed {
			return nil, ErrClosed
		}
		recs, err := c.read(end, maxRecords, maxBytes)
		if err != nil || len(recs) > 0 {
			return recs, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-c.done:
			return nil, ErrClosed
		case <-c.l.closedCh:
			return nil, ErrClosed
		case <-notify:
		}
	}
}

// read reads a batch of records before end into the cursor's scratch space, then copies
// them into one slab sized exactly, which the caller owns.
func (c *Cursor) read(end Pos, maxRecords, maxBytes int) ([]Record, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	select {
	case <-c.done:
		return nil, ErrClosed
	case <-c.l.closedCh:
		return nil, ErrClosed
	default:
	}
	if acked := c.Acked(); acked > c.rd.pos {
		c.rd.seek(acked)
	}
	buf, offs, nexts := c.scratch[:0], c.offs[:0], c.nexts[:0]
	defer func() {
		if cap(buf) <= maxScratch {
			c.scratch = buf[:0]
		}
		c.offs, c.nexts = offs[:0], nexts[:0]
	}()
	for len(nexts) < maxRecords {
		room := MaxRecordBytes
		if len(nexts) > 0 {
			room = maxBytes - len(buf)
		}
		out, ok, err := c.rd.next(end, room, buf)
		if err != nil {
			return nil, fmt.Errorf("cursor %q: %w", c.name, err)
		}
		if !ok {
			break
		}
		offs = append(offs, len(buf))
		nexts = append(nexts, c.rd.pos)
		buf = out
	}
	if len(nexts) == 0 {
		return nil, nil
	}
	slab := slices.Clone(buf)
	recs := make([]Record, len(nexts))
	for i := range recs {
		hi := len(slab)
		if i+1 < len(offs) {
			hi = offs[i+1]
		}
		recs[i] = Record{Data: slab[offs[i]:hi:hi], Next: nexts[i]}
	}
	return recs, nil
}

// Ack durably records that everything before p has been delivered (a p at or before the
// acknowledged position is a no-op), so segments wholly before every cursor's acknowledged
// position can be removed. p must be a Record.Next or End(); past End() it fails with
// ErrPastEnd. It wakes the Log.Acked waiters.
//
// If the cursor file cannot be saved (a full disk), the position still advances in memory
// and segments are still freed, so a full disk cannot wedge the buffer, and the error is
// returned: after a crash before the next successful save, the sink gets those records
// again (or, if their segments were freed, resumes at the oldest record with a warning).
func (c *Cursor) Ack(p Pos) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.l.isClosed() {
		return ErrClosed
	}
	if p <= c.Acked() {
		return nil
	}
	if end := c.l.End(); p > end {
		return fmt.Errorf("ack cursor %q at %d, end %d: %w", c.name, p, end, ErrPastEnd)
	}
	err := c.persist(p)
	c.acked.Store(uint64(p))
	c.l.wakeAcked()
	return err
}

// Backlog returns the bytes between the acknowledged position and the durable end (frame
// headers included). It does not wait for a concurrent Ack.
func (c *Cursor) Backlog() int64 {
	end, acked := c.l.End(), c.Acked()
	if acked >= end {
		return 0
	}
	return int64(end - acked)
}

// DropOldest advances the acknowledged (and, if behind, the read) position over the oldest
// records until Backlog is at most target, and returns how many records and bytes it
// skipped. It reads the frames it skips, so the record count is exact; bytes are log bytes
// (headers included, and damaged bytes on the way, which are also reported as damage).
// Records a concurrent Next already returned may still be delivered; DropOldestUnread
// tells them apart.
func (c *Cursor) DropOldest(target int64) (records int, bytes int64, err error) {
	records, _, bytes, err = c.DropOldestUnread(target)
	return records, bytes, err
}

// DropOldestUnread is DropOldest that also reports how many of the skipped records had not
// been returned by Next yet. The others were already handed to the reader: they may still
// be delivered, so a caller that counts drops exactly counts them only if they never are.
func (c *Cursor) DropOldestUnread(target int64) (records, unread int, bytes int64, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.l.isClosed() {
		return 0, 0, 0, ErrClosed
	}
	// Hold the reader still, so that "already returned by Next" is exact.
	c.rmu.Lock()
	defer c.rmu.Unlock()
	readPos := c.rd.pos
	end, start := c.l.End(), c.Acked()
	if end <= start || int64(end-start) <= max(target, 0) {
		return 0, 0, 0, nil
	}
	goal := end - Pos(max(target, 0))
	r := reader{l: c.l, who: c.name, pos: start, bufSize: 64 << 10}
	defer r.close()
	var buf []byte
	for r.pos < goal {
		at := r.pos
		out, ok, err := r.next(end, MaxRecordBytes, buf[:0])
		if err != nil {
			return 0, 0, 0, fmt.Errorf("drop oldest of cursor %q: %w", c.name, err)
		}
		if !ok {
			break
		}
		buf = out
		records++
		if at >= readPos {
			unread++
		}
	}
	err = c.persist(r.pos) // as in Ack, a failed save still moves the position
	c.acked.Store(uint64(r.pos))
	c.l.wakeAcked()
	return records, unread, int64(r.pos - start), err
}

// releaseRemoved closes the reader's file when it belongs to one of the removed segments.
// A reader busy in Next (or a DropOldest holding it) is skipped: it moves on by itself.
func (c *Cursor) releaseRemoved(dead []segment) {
	if !c.rmu.TryLock() {
		return
	}
	defer c.rmu.Unlock()
	for _, s := range dead {
		if c.rd.f != nil && c.rd.seg.base == s.base {
			c.rd.close()
		}
	}
}

// Close releases the cursor: it stops holding segments on disk (its file keeps the
// position for the next Cursor call) and a waiting Next returns ErrClosed.
func (c *Cursor) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	close(c.done)
	c.closeFile()
	c.mu.Unlock()
	c.l.mu.Lock()
	if c.l.cursors[c.name] == c {
		delete(c.l.cursors, c.name)
	}
	c.l.mu.Unlock()
	c.closeReader()
	return nil
}

func (c *Cursor) closeReader() {
	c.rmu.Lock()
	c.rd.close()
	c.rmu.Unlock()
}
