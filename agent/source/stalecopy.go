package source

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/winship/winship/agent/checkpoint"
)

// recoverStale handles a file truncated (logrotate copytruncate) or rewritten while winship
// was stopped: the lines written after the saved offset and before the truncation are only
// in the copy, usually outside the globs (combined.log.1). A copy is a file in the same
// folder, not followed, longer than the saved offset, whose first bytes hash as the old
// content's did. Its end is read from the saved offset, under the old identity, before the
// file itself is read from its start. Without a copy, the possible loss is logged.
func (f *follower) recoverStale(ctx context.Context) error {
	st := f.stale
	f.stale = nil
	if st == nil || st.Offset == 0 || st.ID.HeadLen == 0 {
		return nil
	}
	cp, err := f.findStaleCopy(st)
	if err != nil {
		return err
	}
	if cp == nil {
		f.logger.Warn("file was truncated or replaced while winship was stopped and no copy "+
			"of it was found beside it; lines written after the saved offset and before the "+
			"truncation cannot be read", "path", f.path, "offset", st.Offset)
		return nil
	}
	defer cp.Close()
	file, id := f.file, f.id
	f.file, f.id, f.readOff, f.carry, f.lastSeen = cp, st.ID, st.Offset, f.carry[:0], nil
	if err := f.rememberTail(); err != nil {
		f.file, f.id = file, id
		return err
	}
	_, err = f.readAvailable(ctx)
	if err == nil {
		err = f.finish(ctx, "copy of a file truncated while stopped")
	}
	n := f.readOff - st.Offset
	f.file, f.id, f.readOff, f.carry, f.lastSeen, f.skipping = file, id, 0, f.carry[:0], nil, false
	if err != nil {
		return err
	}
	// Hand over offset 0 under the file's own identity now: it replaces the old content's
	// checkpoint, so the copy is not looked for again at the next start.
	f.batchSafe = -1
	if err := f.flushBatch(ctx); err != nil {
		return err
	}
	f.src.metrics.recovered.Add(n)
	f.logger.Info("read the end of a file truncated while winship was stopped from its copy",
		"path", f.path, "copy", cp.Name(), "offset", st.Offset, "bytes", n)
	return nil
}

// findStaleCopy returns the open copy of the content st describes, or nil.
func (f *follower) findStaleCopy(st *checkpoint.Entry) (*os.File, error) {
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
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() || info.Size() <= st.Offset ||
			os.SameFile(info, self) || f.src.isFollowed(toDevIno(info)) {
			continue
		}
		cp, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		if same, err := checkpoint.SameHead(cp, st.ID); err == nil && same {
			return cp, nil
		}
		cp.Close()
	}
	return nil, nil
}
