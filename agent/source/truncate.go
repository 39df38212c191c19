package source

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/winship/winship/agent/checkpoint"
)

// checkTruncation notices a file that no longer holds what was read from it and starts it
// over from offset 0, after recovering its unread end from a copytruncate copy if one is
// found.
func (f *follower) checkTruncation(ctx context.Context, size int64) error {
	why, err := f.truncated(size)
	if err != nil || why == "" {
		return err
	}
	f.src.metrics.truncations.Add(1)
	f.logger.Info("file truncated; reading it again from the start", "path", f.path,
		"offset", f.pos(), "reason", why)
	if err := f.recoverFromCopy(ctx); err != nil {
		f.logger.Warn("cannot read the end of a truncated file from its copy; lines "+
			"written just before the truncation may be missing", "path", f.path, "err", err)
	}
	if err := f.emitPartial(ctx); err != nil {
		return err
	}
	f.batch = f.parser.Flush(f.batch)
	if err := f.flushBatch(ctx); err != nil {
		return err
	}
	// The file is a new file now: its identity is what it holds from here on.
	id, err := checkpoint.Identify(f.file)
	if err != nil {
		return err
	}
	f.id, f.readOff, f.lastSeen, f.skipping, f.maybeHole = id, 0, nil, false, true
	return nil
}

// truncated says why the file no longer holds what was read ("" when it does): it is
// shorter than the read position, the bytes just before the read offset changed, or its
// first bytes changed. A file not read at all yet only gets its identity refreshed.
func (f *follower) truncated(size int64) (string, error) {
	if f.pos() == 0 {
		return "", f.refreshHead()
	}
	if size < f.pos() {
		return "shorter than the read position", nil
	}
	if !f.unchangedBefore() {
		return "the bytes before the read position changed", nil
	}
	if f.id.HeadLen > 0 {
		same, err := checkpoint.SameHead(f.file, f.id)
		if err != nil {
			return "", err
		}
		if !same {
			return "its first bytes changed", nil
		}
	}
	return "", nil
}

// refreshHead identifies the file again when its head changed before anything was read
// (truncated and rewritten between open and the first read).
func (f *follower) refreshHead() error {
	if f.id.HeadLen == 0 {
		return nil
	}
	same, err := checkpoint.SameHead(f.file, f.id)
	if err != nil || same {
		return err
	}
	f.id, err = checkpoint.Identify(f.file)
	return err
}

// recoverFromCopy reads the lines that had not been read yet from a copy of the file in the
// same folder. logrotate's copytruncate copies the file, then truncates it in place: what
// the writer added after our last read is in the copy only, and the copy is usually outside
// the globs (combined.log.1). A copy is a file whose first bytes hash like ours, that holds
// the bytes we last saw just before our offset, and that is longer than what we read.
func (f *follower) recoverFromCopy(ctx context.Context) error {
	if f.id.HeadLen == 0 {
		return nil
	}
	cp, err := f.findCopy()
	if err != nil || cp == nil {
		return err
	}
	defer cp.Close()
	before := f.pos()
	orig := f.file
	f.file = cp // readAvailable and the tail bookkeeping read through f.file
	_, err = f.readAvailable(ctx)
	f.file = orig
	if n := f.pos() - before; n > 0 {
		f.src.metrics.recovered.Add(n)
		f.logger.Info("read the end of a truncated file from its copy", "path", f.path,
			"copy", cp.Name(), "offset", before, "bytes", n)
	}
	return err
}

// findCopy returns the open copy of the file, or nil when there is none. Files this source
// follows are not candidates (error.log and combined.log can share their first bytes).
func (f *follower) findCopy() (*os.File, error) {
	dir := filepath.Dir(f.path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	self, err := f.file.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", f.path, err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil || info.Size() <= f.pos() || os.SameFile(info, self) ||
			f.src.isFollowed(toDevIno(info)) {
			continue
		}
		cp, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		if f.isCopy(cp) {
			return cp, nil
		}
		cp.Close()
	}
	return nil, nil
}

// isCopy reports whether cp holds our head, the bytes before our offset and our held
// fragment at the same offsets.
func (f *follower) isCopy(cp *os.File) bool {
	if same, err := checkpoint.SameHead(cp, f.id); err != nil || !same {
		return false
	}
	want := append(append([]byte(nil), f.lastSeen...), f.carry...)
	got := make([]byte, len(want))
	_, err := cp.ReadAt(got, f.readOff-int64(len(f.lastSeen)))
	return err == nil && bytes.Equal(got, want)
}

func (s *Source) isFollowed(di devIno) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.followers[di]
	return ok
}
