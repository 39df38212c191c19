package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/winship/winship/agent/checkpoint"
	"github.com/winship/winship/agent/event"
	"github.com/winship/winship/parsers"
)

// readSize is the chunk a follower reads at once. Buffers come from a pool and go back at
// end of file, so a thousand idle followers hold no read buffers.
const readSize = 128 << 10

// maxBatchEvents bounds the events in one Batch handed to the writer.
const maxBatchEvents = 1024

// tailCheckBytes is how many bytes before the read offset are remembered and compared on
// every wake-up: if they changed, the file was truncated and rewritten even if it is already
// longer again than where we were ("> file" followed by fast appends).
const tailCheckBytes = 32

var bufPool = sync.Pool{New: func() any { b := make([]byte, readSize); return &b }}

// follower reads one file (one identity) from its offset, splits complete lines, parses
// them and hands batches to the writer. It owns its file descriptor.
type follower struct {
	src    *Source
	path   string // current name; updated by the watcher when the file is renamed within the globs
	file   *os.File
	id     checkpoint.ID
	parser parsers.Parser

	readOff  int64  // offset after the last complete line consumed
	carry    []byte // bytes of an incomplete line, starting at readOff
	skipping bool   // inside an over-long line, discarding until its newline
	lastSeen []byte // up to tailCheckBytes bytes before readOff
	target   int64  // --once: stop at this size; -1 when following

	poke   chan struct{}
	pathMu sync.Mutex
	newPth string

	rotated   bool      // the path no longer names this file
	lastGrow  time.Time // last time the file grew
	logger    *slog.Logger
	batch     []event.Event
	batchSafe int64
}

// curPath returns the file's current name; safe from any goroutine.
func (f *follower) curPath() string {
	f.pathMu.Lock()
	defer f.pathMu.Unlock()
	if f.newPth != "" {
		return f.newPth
	}
	return f.path
}

func (f *follower) setPath(p string) {
	f.pathMu.Lock()
	f.newPth = p
	f.pathMu.Unlock()
	f.wake()
}

func (f *follower) wake() {
	select {
	case f.poke <- struct{}{}:
	default:
	}
}

// open opens path and finds where to start reading.
func (f *follower) open(startAtEnd bool) error {
	file, err := os.Open(f.path)
	if err != nil {
		return err
	}
	id, err := checkpoint.Identify(file)
	if err != nil {
		file.Close()
		return err
	}
	f.file, f.id = file, id
	fi, err := file.Stat()
	if err != nil {
		file.Close()
		return err
	}
	entry, err := f.src.store.Lookup(file)
	if err != nil {
		file.Close()
		return err
	}
	switch {
	case entry != nil && entry.Offset <= fi.Size():
		f.readOff = entry.Offset
		f.id = entry.ID // keep the saved key so the checkpoint entry is updated, not doubled
	case entry != nil:
		f.logger.Warn("file is shorter than its checkpoint; reading it from the start",
			"path", f.path, "offset", entry.Offset, "size", fi.Size())
	case startAtEnd:
		f.readOff = fi.Size()
	}
	if f.readOff > 0 {
		if err := f.rememberTail(); err != nil {
			file.Close()
			return err
		}
	}
	f.lastGrow = time.Now()
	return nil
}

// rememberTail keeps the bytes before readOff for the truncation check.
func (f *follower) rememberTail() error {
	n := min(f.readOff, tailCheckBytes)
	buf := make([]byte, n)
	if _, err := f.file.ReadAt(buf, f.readOff-n); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read %s: %w", f.path, err)
	}
	f.lastSeen = buf
	return nil
}

// run follows the file until ctx ends or the file is finished. It always closes the file.
func (f *follower) run(ctx context.Context) (finished bool, err error) {
	defer f.file.Close()
	inactive := time.NewTimer(f.src.cfg.CloseInactive)
	defer inactive.Stop()
	var flushTimer *time.Timer
	for {
		grew, err := f.readAvailable(ctx)
		if err != nil {
			return false, err
		}
		if grew {
			f.lastGrow = time.Now()
			resetTimer(inactive, f.src.cfg.CloseInactive)
		}
		if f.target >= 0 && (f.readOff+int64(len(f.carry)) >= f.target || !grew) {
			return true, f.finishOnce(ctx)
		}
		if err := f.flushBatch(ctx); err != nil {
			return false, err
		}
		done, err := f.checkFile(ctx)
		if err != nil || done {
			return done, err
		}
		var flushC <-chan time.Time
		if f.parser.Pending() >= 0 {
			if flushTimer == nil {
				flushTimer = time.NewTimer(f.src.cfg.MultilineTimeout)
				defer flushTimer.Stop()
			} else {
				resetTimer(flushTimer, f.src.cfg.MultilineTimeout)
			}
			flushC = flushTimer.C
		}
		var rotC <-chan time.Time
		if f.rotated {
			rotC = time.After(time.Until(f.lastGrow.Add(f.src.cfg.RotateWait)))
		}
		select {
		case <-ctx.Done():
			// Whatever was read but not handed over is re-read at the next start: its
			// offset was never saved.
			return false, nil
		case <-f.poke:
		case <-flushC:
			f.batch = f.parser.Flush(f.batch)
			if err := f.flushBatch(ctx); err != nil {
				return false, err
			}
		case <-rotC:
			return true, f.finish(ctx, "rotated away and idle")
		case <-inactive.C:
			if f.parser.Pending() < 0 && !f.rotated {
				return false, nil // dormant: the watcher reopens it when it changes
			}
			resetTimer(inactive, f.src.cfg.CloseInactive)
		}
		f.applyPath()
	}
}

func resetTimer(t *time.Timer, d time.Duration) {
	t.Stop()
	select {
	case <-t.C:
	default:
	}
	t.Reset(d)
}

func (f *follower) applyPath() {
	f.pathMu.Lock()
	defer f.pathMu.Unlock()
	if f.newPth != "" {
		if f.newPth != f.path {
			f.logger.Debug("file renamed", "path", f.newPth, "from", f.path)
		}
		f.path, f.newPth, f.rotated = f.newPth, "", false
	}
}

// checkFile looks for truncation, rotation and deletion after a wake-up.
func (f *follower) checkFile(ctx context.Context) (done bool, err error) {
	fi, err := f.file.Stat()
	if err != nil {
		return false, fmt.Errorf("stat %s: %w", f.path, err)
	}
	if truncated, err := f.truncated(fi.Size()); err != nil {
		return false, err
	} else if truncated {
		f.src.metrics.truncations.Add(1)
		f.logger.Info("file truncated; reading it again from the start", "path", f.path,
			"offset", f.readOff)
		if err := f.emitPartial(ctx); err != nil {
			return false, err
		}
		f.readOff, f.lastSeen, f.skipping = 0, nil, false
		f.wake()
		return false, nil
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink == 0 {
		// Deleted: everything it holds has been read (readAvailable ran to its end).
		return true, f.finish(ctx, "deleted")
	}
	cur, err := os.Stat(f.path)
	if err != nil || !os.SameFile(cur, fi) {
		if !f.rotated {
			f.logger.Debug("file rotated away; reading it to its end", "path", f.path)
			f.rotated = true
			f.src.rescanSoon()
		}
	}
	return false, nil
}

// truncated reports whether the file no longer holds what was read: it is shorter than the
// read offset, or the bytes just before the offset changed.
func (f *follower) truncated(size int64) (bool, error) {
	if size < f.readOff {
		return true, nil
	}
	if len(f.lastSeen) == 0 {
		return false, nil
	}
	buf := make([]byte, len(f.lastSeen))
	if _, err := f.file.ReadAt(buf, f.readOff-int64(len(buf))); err != nil {
		if errors.Is(err, io.EOF) {
			return true, nil
		}
		return false, fmt.Errorf("read %s: %w", f.path, err)
	}
	return !bytes.Equal(buf, f.lastSeen), nil
}

// finish completes a file that will never grow again: a held fragment becomes a partial
// event, a held multi-line entry is flushed, and the final offset is handed over.
func (f *follower) finish(ctx context.Context, why string) error {
	f.logger.Debug("closing file", "path", f.path, "reason", why, "offset", f.readOff)
	if err := f.emitPartial(ctx); err != nil {
		return err
	}
	f.batch = f.parser.Flush(f.batch)
	return f.flushBatch(ctx)
}

// finishOnce ends a --once read: complete lines are shipped, a multi-line entry is flushed,
// and an incomplete last line is left for the next run.
func (f *follower) finishOnce(ctx context.Context) error {
	f.batch = f.parser.Flush(f.batch)
	return f.flushBatch(ctx)
}

// emitPartial ships a fragment that can never be completed, flagged as partial.
func (f *follower) emitPartial(ctx context.Context) error {
	if len(f.carry) == 0 {
		return nil
	}
	f.src.metrics.partial.Add(1)
	f.logger.Warn("shipping an incomplete last line flagged as partial", "path", f.path,
		"offset", f.readOff, "bytes", len(f.carry))
	n := len(f.batch)
	f.batch = f.parser.Feed(f.batch, trimLine(f.carry), f.readOff, time.Now())
	f.batch = f.parser.Flush(f.batch)
	for i := n; i < len(f.batch); i++ {
		f.batch[i].Flags |= event.FlagPartial
	}
	f.readOff += int64(len(f.carry))
	f.carry = f.carry[:0]
	return f.flushBatch(ctx)
}

// readAvailable reads from readOff to the end of the file, feeding complete lines to the
// parser and handing batches over as they fill. It reports whether anything was read.
func (f *follower) readAvailable(ctx context.Context) (bool, error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	grew := false
	for {
		pos := f.readOff + int64(len(f.carry))
		n, err := f.file.ReadAt(buf, pos)
		if n > 0 {
			grew = true
			f.src.metrics.bytes.Add(int64(n))
			if err := f.consume(ctx, buf[:n]); err != nil {
				return grew, err
			}
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return grew, fmt.Errorf("read %s: %w", f.path, err)
		}
		if n < len(buf) {
			return grew, nil
		}
		if f.target >= 0 && f.readOff+int64(len(f.carry)) >= f.target {
			return grew, nil
		}
	}
}

// consume splits data (which follows carry) into lines.
func (f *follower) consume(ctx context.Context, data []byte) error {
	now := time.Now()
	maxLine := int(f.src.cfg.MaxLineBytes)
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return f.hold(ctx, data, maxLine, now)
		}
		lineLen := len(f.carry) + i + 1
		var line []byte
		if len(f.carry) > 0 {
			f.carry = append(f.carry, data[:i]...)
			line = f.carry
		} else {
			line = data[:i]
		}
		start := f.readOff
		f.readOff += int64(lineLen)
		if f.skipping {
			f.skipping = false // the over-long line ends here; its head was shipped already
		} else if err := f.feed(ctx, line, start, now, maxLine); err != nil {
			return err
		}
		f.carry = f.carry[:0]
		data = data[i+1:]
	}
	f.noteTail()
	return nil
}

// hold keeps an incomplete line; an over-long one is shipped truncated now and the rest of
// it discarded until its newline.
func (f *follower) hold(ctx context.Context, data []byte, maxLine int, now time.Time) error {
	if f.skipping {
		f.readOff += int64(len(data)) // the discarded middle of an over-long line
		f.noteTail()
		return nil
	}
	f.carry = append(f.carry, data...)
	if len(f.carry) <= maxLine {
		f.noteTail()
		return nil
	}
	if err := f.feed(ctx, f.carry, f.readOff, now, maxLine); err != nil {
		return err
	}
	f.readOff += int64(len(f.carry))
	f.carry = f.carry[:0]
	f.skipping = true
	f.noteTail()
	return nil
}

// feed parses one line (without its newline).
func (f *follower) feed(ctx context.Context, line []byte, off int64, now time.Time, maxLine int) error {
	line = trimLine(line)
	if len(line) == 0 {
		return nil
	}
	truncated := false
	if len(line) > maxLine {
		line, truncated = line[:maxLine], true
		f.src.metrics.truncated.Add(1)
		f.logger.Warn("line longer than max_line_bytes shipped truncated", "path", f.path,
			"offset", off, "max_line_bytes", maxLine)
	}
	n := len(f.batch)
	f.batch = f.parser.Feed(f.batch, line, off, now)
	if truncated {
		for i := n; i < len(f.batch); i++ {
			f.batch[i].Flags |= event.FlagTruncated
		}
	}
	f.src.metrics.lines.Add(1)
	if len(f.batch) >= maxBatchEvents {
		return f.flushBatch(ctx)
	}
	return nil
}

// trimLine drops a trailing CR and leading NUL bytes (the hole copytruncate leaves when the
// writer keeps its offset).
func trimLine(line []byte) []byte {
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if len(line) > 0 && line[0] == 0 {
		i := 0
		for i < len(line) && line[i] == 0 {
			i++
		}
		line = line[i:]
	}
	return line
}

// noteTail remembers the bytes just before readOff, from the data already in hand when it
// can, else with a small pread.
func (f *follower) noteTail() {
	if f.readOff == 0 {
		f.lastSeen = nil
		return
	}
	_ = f.rememberTail()
}

// safeOffset is how far a checkpoint may go: not past a held multi-line entry.
func (f *follower) safeOffset() int64 {
	if p := f.parser.Pending(); p >= 0 && p < f.readOff {
		return p
	}
	return f.readOff
}

// flushBatch hands the events read so far to the writer, with the offset they make safe.
func (f *follower) flushBatch(ctx context.Context) error {
	safe := f.safeOffset()
	if len(f.batch) == 0 && safe == f.batchSafe {
		return nil
	}
	for i := range f.batch {
		f.batch[i].Source = f.src.cfg.Name
		f.batch[i].Path = f.path
	}
	b := Batch{ID: f.id, Path: f.path, Events: f.batch, Offset: safe}
	select {
	case f.src.out <- b:
	case <-ctx.Done():
		return ctx.Err()
	}
	f.batch = nil
	f.batchSafe = safe
	return nil
}
