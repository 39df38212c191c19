package buffer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/winship/winship/agent/durable"
)

// maxKeptBuf bounds the encode buffer kept between Append calls.
const maxKeptBuf = 1 << 20

// Append writes records after the current end, with one write per segment touched. They
// are not durable, nor visible to readers, until Sync returns.
//
// On an error (a full disk, say) nothing appended since the last successful Sync is kept:
// the log is truncated back to the durable end, so the caller retries by appending those
// records again. A record over MaxRecordBytes fails with ErrTooLarge before anything is
// written.
func (l *Log) Append(recs ...[]byte) error {
	for i, r := range recs {
		if len(r) > MaxRecordBytes {
			return fmt.Errorf("append record %d of %d bytes: %w", i, len(r), ErrTooLarge)
		}
	}
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if err := l.ready(); err != nil {
		return err
	}
	if err := l.appendLocked(recs); err != nil {
		return l.fail("append to", err)
	}
	return nil
}

// Sync makes every appended record durable (fsync of the segment, and of the folder when
// a segment was created), makes them visible to cursors, and returns the durable end. On
// an error the log is rolled back to the previous durable end, as for Append.
func (l *Log) Sync() (Pos, error) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if err := l.ready(); err != nil {
		return l.End(), err
	}
	l.mu.Lock()
	idle := l.written == l.end
	l.mu.Unlock()
	if idle && !l.dirDirty {
		return l.End(), nil
	}
	if err := l.syncActive(); err != nil {
		return l.End(), l.fail("fsync", err)
	}
	if l.dirDirty {
		if err := durable.SyncDir(l.dir); err != nil {
			return l.End(), l.fail("fsync folder of", err)
		}
		l.dirDirty = false
	}
	return l.publish(), nil
}

// ready refuses writes after Close and repairs the log after a failed rollback.
func (l *Log) ready() error {
	if l.isClosed() {
		return ErrClosed
	}
	if l.broken == nil {
		return nil
	}
	if err := l.rollback(); err != nil {
		l.broken = err
		return fmt.Errorf("buffer still unwritable: %w", err)
	}
	l.broken = nil
	return nil
}

// publish makes the written bytes the durable end and wakes waiting readers.
func (l *Log) publish() Pos {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.end = l.written
	l.syncSeg = l.segs[len(l.segs)-1].base
	l.stats.AppendedRecords += l.pendingRecs
	l.stats.AppendedBytes += l.pendingBytes
	l.pendingRecs, l.pendingBytes = 0, 0
	close(l.notify)
	l.notify = make(chan struct{})
	return l.end
}

// appendLocked encodes recs and writes them, rolling to a new segment when the active one
// would pass the segment size.
func (l *Log) appendLocked(recs [][]byte) error {
	size := l.activeSize()
	buf := l.wbuf[:0]
	defer func() {
		if cap(buf) <= maxKeptBuf {
			l.wbuf = buf[:0]
		}
	}()
	for _, r := range recs {
		n := int64(len(buf))
		if size+n > 0 && size+n+frameSize(len(r)) > l.segBytes {
			if err := l.write(buf); err != nil {
				return err
			}
			if err := l.roll(); err != nil {
				return err
			}
			buf, size = buf[:0], 0
		}
		buf = appendFrame(buf, r)
		l.pendingRecs++
		l.pendingBytes += uint64(len(r))
	}
	return l.write(buf)
}

// activeSize returns the bytes written to the active segment.
func (l *Log) activeSize() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.segs[len(l.segs)-1].size
}

// write appends b to the active segment in one call.
func (l *Log) write(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	n, ferr := len(b), error(nil)
	if l.fault != nil {
		n, ferr = l.fault("write", len(b))
		n = max(0, min(n, len(b)))
		if ferr == nil {
			n = len(b)
		}
	}
	off := l.activeSize()
	w, err := l.active.WriteAt(b[:n], off)
	l.mu.Lock()
	l.segs[len(l.segs)-1].size += int64(w)
	l.written += Pos(w)
	l.mu.Unlock()
	if err == nil {
		err = ferr
	}
	return err
}

// syncActive fsyncs the active segment.
func (l *Log) syncActive() error {
	if l.fault != nil {
		if _, err := l.fault("sync", 0); err != nil {
			return err
		}
	}
	return l.active.Sync()
}

// roll seals the active segment (fsynced, so that only the last segment can ever have a
// torn tail) and starts a new one at the written end.
func (l *Log) roll() error {
	if err := l.syncActive(); err != nil {
		return err
	}
	l.mu.Lock()
	base := l.written
	l.mu.Unlock()
	if l.fault != nil {
		if _, err := l.fault("create", 0); err != nil {
			return err
		}
	}
	f, err := os.OpenFile(l.segPath(base), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := l.active.Close(); err != nil {
		l.log.Warn("buffer: close sealed segment", "err", err)
	}
	l.active = f
	l.dirDirty = true
	l.mu.Lock()
	l.segs = append(l.segs, segment{base: base})
	l.mu.Unlock()
	return nil
}

// fail rolls the log back to its durable end after a failed write and returns the error
// for the caller, wrapped with what failed.
func (l *Log) fail(op string, cause error) error {
	l.mu.Lock()
	l.stats.WriteErrors++
	path := l.segPath(l.segs[len(l.segs)-1].base)
	l.mu.Unlock()
	err := fmt.Errorf("buffer: %s segment %s: %w", op, path, cause)
	if rerr := l.rollback(); rerr != nil {
		l.broken = rerr
		return errors.Join(err, fmt.Errorf("roll back to the durable end: %w", rerr))
	}
	return err
}

// rollback removes every byte written after the durable end: the segments created since
// the last Sync are deleted and the segment holding the durable end is truncated to it and
// becomes the active segment again.
func (l *Log) rollback() error {
	l.pendingRecs, l.pendingBytes = 0, 0
	l.mu.Lock()
	end, keep := l.end, l.syncSeg
	var extra []segment
	for len(l.segs) > 1 && l.segs[len(l.segs)-1].base > keep {
		extra = append(extra, l.segs[len(l.segs)-1])
		l.segs = l.segs[:len(l.segs)-1]
	}
	if l.segs[len(l.segs)-1].base != keep { // its file went missing and was forgotten
		l.segs = append(l.segs, segment{base: keep})
	}
	l.mu.Unlock()
	if l.active != nil {
		_ = l.active.Close() // the bytes it holds past the durable end are being discarded
		l.active = nil
	}
	for _, s := range extra {
		if err := os.Remove(l.segPath(s.base)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove segment %s: %w", l.segPath(s.base), err)
		}
	}
	f, err := os.OpenFile(l.segPath(keep), os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("reopen segment %s: %w", l.segPath(keep), err)
	}
	l.active = f
	if l.fault != nil {
		if _, err := l.fault("truncate", 0); err != nil {
			return err
		}
	}
	if err := f.Truncate(int64(end - keep)); err != nil {
		return fmt.Errorf("truncate segment %s to %d: %w", l.segPath(keep), end-keep, err)
	}
	l.mu.Lock()
	l.segs[len(l.segs)-1].size = int64(end - keep)
	l.written = end
	l.mu.Unlock()
	return nil
}

// Reclaim frees the disk the active segment holds once every open cursor has acknowledged
// all of it: the log starts a new, empty segment at its end and the old one is removed like
// any acknowledged segment. Otherwise an active segment leaves the disk only when it fills
// up and rolls, so a disk too small for one segment would stay full after every sink caught
// up. The writer calls it when a write fails. It does nothing while records await a Sync,
// while no cursor is open, or while some cursor is behind.
func (l *Log) Reclaim() error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if err := l.ready(); err != nil {
		return err
	}
	l.mu.Lock()
	ok := l.written == l.end && len(l.cursors) > 0 && l.segs[len(l.segs)-1].size > 0
	for _, c := range l.cursors {
		if c == nil || c.Acked() < l.end {
			ok = false
		}
	}
	l.mu.Unlock()
	if !ok {
		return nil
	}
	if err := l.roll(); err != nil {
		return l.fail("roll", err)
	}
	if err := durable.SyncDir(l.dir); err != nil {
		return l.fail("fsync folder of", err)
	}
	l.dirDirty = false
	l.publish()
	l.wakeAcked() // removes the old segment: it is wholly acknowledged and sealed
	return nil
}
