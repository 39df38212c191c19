package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/winship/winship/agent/checkpoint"
	"github.com/winship/winship/agent/event"
	"github.com/winship/winship/parsers"
)

// ending says why a follower stopped.
type ending int

const (
	keepGoing  ending = iota
	endStopped        // ctx ended, closed while idle (dormant), or an error
	endRotated        // rotated away and idle: read to its end
	endDeleted        // deleted: read to its end
	endOnce           // --once: read to the size it had at the start
)

// startPoint says where a new follower may start.
type startPoint struct {
	from  *resume // where an earlier follower of this file stopped, if any
	fresh bool    // the inode belonged to a deleted file: ignore the checkpoints
	atEnd bool    // start_at: end, on the first scan
	away  bool    // the file is no longer under the globs (rotated while the agent was stopped)
	want  devIno  // the identity the name had when it was matched; zero: any
}

// errRenamed says that the name held another file by the time it was opened.
var errRenamed = errors.New("renamed between the scan and the open")

// follower reads one file (one identity) from its offset, splits complete lines, parses
// them and hands batches to the writer. It owns its file descriptor; only its goroutine
// touches its fields, except path (guarded by pathMu), poke and away.
type follower struct {
	src *Source
	// stale is the checkpoint of what this inode held before it was truncated or rewritten
	// while winship was stopped; run reads its unread end from a copy first (stalecopy.go).
	stale *checkpoint.Entry

	path string // the name under the globs; updated when the file is renamed within them
	// linkTarget is the file a followed symlink pointed to when opened; set before the
	// follower starts, read-only after.
	linkTarget string
	file       *os.File
	id         checkpoint.ID
	parser     parsers.Parser

	readOff   int64  // offset after the last complete line consumed
	carry     []byte // bytes of an incomplete line, starting at readOff
	skipping  bool   // inside an over-long line, discarding until its newline
	maybeHole bool   // the read position may be inside a sparse hole
	lastSeen  []byte // up to tailCheckBytes bytes before readOff
	scratch   [2 * tailCheckBytes]byte
	lastMtime time.Time
	target    int64 // --once: stop at this size; -1 when following

	poke   chan struct{}
	pathMu sync.Mutex
	newPth string
	away   atomic.Bool // the path no longer names this file

	lastGrow  time.Time // last time the file grew
	awaySince time.Time // when the follower noticed that its path names another file
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

// pos is how far the file has been read: complete lines and the held fragment.
func (f *follower) pos() int64 { return f.readOff + int64(len(f.carry)) }

// open opens the file called name and finds where to start reading.
func (f *follower) open(name string, sp startPoint) error {
	file, err := os.Open(name)
	if err != nil {
		return err
	}
	if fi, err := file.Stat(); err != nil || sp.want != (devIno{}) && toDevIno(fi) != sp.want {
		file.Close()
		return errRenamed
	}
	if err := f.position(file, sp); err != nil {
		file.Close()
		return err
	}
	f.lastGrow = time.Now()
	f.awaySince = f.lastGrow
	f.away.Store(sp.away)
	return nil
}

func (f *follower) position(file *os.File, sp startPoint) error {
	id, err := checkpoint.Identify(file)
	if err != nil {
		return err
	}
	fi, err := file.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", f.path, err)
	}
	f.file, f.id = file, id
	if f.readOff, err = f.startOffset(sp, fi.Size()); err != nil {
		return err
	}
	if f.readOff == 0 {
		return nil
	}
	if err := f.rememberTail(); err != nil || len(f.lastSeen) == 0 {
		return err
	}
	// A saved offset inside a line means its head was shipped already (cut at
	// max_line_bytes, or flagged partial): the rest of that line is not a line of its own.
	last := f.lastSeen[len(f.lastSeen)-1]
	f.skipping = last != '\n' && last != 0
	return nil
}

func (f *follower) startOffset(sp startPoint, size int64) (int64, error) {
	if sp.from != nil {
		same, err := checkpoint.SameFile(f.file, sp.from.id)
		if err != nil {
			return 0, err
		}
		if same && sp.from.off <= size && f.holdsAt(sp.from.tail, sp.from.off) {
			return sp.from.off, nil
		}
		// Rewritten since the earlier follower stopped: its checkpoint (the same place, or
		// older) must not be trusted either.
		return 0, nil
	}
	if !sp.fresh {
		entry, err := f.src.store.Lookup(f.file)
		if err != nil {
			return 0, err
		}
		if entry != nil && entry.Offset <= size {
			return entry.Offset, nil
		}
		if entry != nil {
			f.logger.Warn("file is shorter than its checkpoint; reading it from the start",
				"path", f.path, "offset", entry.Offset, "size", size)
			f.stale = entry
			return 0, nil
		}
		if f.stale, err = f.src.store.Stale(f.file); err != nil {
			return 0, err
		}
	}
	if sp.atEnd {
		return size, nil
	}
	return 0, nil
}

// holdsAt reports whether the file holds tail just before off.
func (f *follower) holdsAt(tail []byte, off int64) bool {
	got := make([]byte, len(tail))
	n, _ := f.file.ReadAt(got, off-int64(len(tail)))
	return n == len(tail) && bytes.Equal(got, tail)
}

// resumePoint is what the source keeps when the follower ends cleanly.
func (f *follower) resumePoint() resume {
	return resume{id: f.id, off: f.readOff, tail: bytes.Clone(f.lastSeen), size: f.pos(),
		mtime: f.lastMtime, ended: time.Now()}
}

// run follows the file until ctx ends or the file is finished. It always closes the file.
func (f *follower) run(ctx context.Context) (ending, error) {
	defer f.file.Close()
	if err := f.recoverStale(ctx); err != nil {
		return endStopped, err
	}
	inactive := time.NewTimer(f.src.cfg.CloseInactive)
	defer inactive.Stop()
	var flushTimer *time.Timer
	for {
		f.applyPath()
		grew, end, err := f.step(ctx)
		if err != nil {
			return endStopped, err
		}
		if end != keepGoing {
			return end, nil
		}
		if grew {
			f.lastGrow = time.Now()
			resetTimer(inactive, f.src.cfg.CloseInactive)
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
		if f.away.Load() {
			// rotate_wait runs from the last growth or from the rotation, whichever is
			// later: a writer gets that long after a rename to move to the new file.
			last := f.lastGrow
			if f.awaySince.After(last) {
				last = f.awaySince
			}
			rotC = time.After(time.Until(last.Add(f.src.cfg.RotateWait)))
		}
		select {
		case <-ctx.Done():
			// Whatever was read but not handed over is read again at the next start: its
			// offset was never saved.
			return endStopped, nil
		case <-f.poke:
		case <-flushC:
			f.batch = f.parser.Flush(f.batch)
			if err := f.flushBatch(ctx); err != nil {
				return endStopped, err
			}
		case <-rotC:
			return endRotated, f.finish(ctx, "rotated away and idle")
		case <-inactive.C:
			if f.parser.Pending() < 0 && !f.away.Load() {
				return endStopped, nil // dormant: the source reopens it when it changes
			}
			resetTimer(inactive, f.src.cfg.CloseInactive)
		}
	}
}

// step handles one wake-up: truncation first (so that a file rewritten past the old offset
// is not read from the middle), then everything the file holds, then rotation and deletion.
func (f *follower) step(ctx context.Context) (grew bool, end ending, err error) {
	fi, err := f.file.Stat()
	if err != nil {
		return false, endStopped, fmt.Errorf("stat %s: %w", f.path, err)
	}
	f.lastMtime = fi.ModTime()
	if err := f.checkTruncation(ctx, fi.Size()); err != nil {
		return false, endStopped, err
	}
	if grew, err = f.readAvailable(ctx); err != nil {
		return grew, endStopped, err
	}
	if err := f.refreshID(); err != nil {
		return grew, endStopped, err
	}
	if f.target >= 0 && (f.pos() >= f.target || !grew) {
		return grew, endOnce, f.finishOnce(ctx)
	}
	if err := f.flushBatch(ctx); err != nil {
		return grew, endStopped, err
	}
	end, err = f.checkGone(ctx)
	return grew, end, err
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
		f.path, f.newPth = f.newPth, ""
		f.away.Store(false)
	}
}

// checkGone looks for deletion and rotation after the file was read to its end.
func (f *follower) checkGone(ctx context.Context) (ending, error) {
	fi, err := f.file.Stat()
	if err != nil {
		return endStopped, fmt.Errorf("stat %s: %w", f.path, err)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink == 0 {
		return endDeleted, f.finish(ctx, "deleted")
	}
	cur, err := os.Stat(f.path)
	if (err != nil || !os.SameFile(cur, fi)) && !f.away.Load() {
		f.logger.Debug("file rotated away; reading it to its end", "path", f.path)
		f.away.Store(true)
		f.awaySince = time.Now()
		f.src.rescanSoon()
	}
	return keepGoing, nil
}

// refreshID identifies the file again while its identity covers fewer than HeadBytes bytes
// and more have been read, so that a file that was tiny when opened gets a full identity.
func (f *follower) refreshID() error {
	if f.id.HeadLen >= checkpoint.HeadBytes || f.pos() <= int64(f.id.HeadLen) {
		return nil
	}
	id, err := checkpoint.Identify(f.file)
	if err != nil {
		return err
	}
	f.id = id
	return nil
}

// finish completes a file that will never grow again: what it still holds is read, a held
// fragment becomes a partial event, a held multi-line entry is flushed, and the final
// offset is handed over.
func (f *follower) finish(ctx context.Context, why string) error {
	if _, err := f.readAvailable(ctx); err != nil {
		return err
	}
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
	seen := append(f.lastSeen, f.carry...)
	f.lastSeen = append([]byte(nil), seen[max(0, len(seen)-tailCheckBytes):]...)
	f.carry = f.carry[:0]
	return f.flushBatch(ctx)
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
