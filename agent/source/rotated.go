package source

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/winship/winship/agent/checkpoint"
)

// resumeRotated finishes the files that were rotated out of the globs while the agent was
// stopped. Each checkpoint of this source whose file was not seen under the globs is looked
// for by inode in its folder (combined.log renamed to combined.log.1): found and unchanged,
// it is read from its saved offset to its end; not found, its checkpoint is forgotten, so
// that a later file reusing the inode cannot inherit it.
func (s *Source) resumeRotated(ctx context.Context, seen map[devIno]bool) {
	for _, e := range s.store.Entries() {
		di := devIno{e.ID.Dev, e.ID.Ino}
		if seen[di] || !s.matches(e.Path) {
			continue
		}
		name, fi := findInode(filepath.Dir(e.Path), di)
		if name == "" || !sameAsEntry(name, e) {
			s.logger.Debug("forgetting the checkpoint of a file that is gone", "path", e.Path)
			s.store.Forget(e.ID)
			continue
		}
		if fi.Size() <= e.Offset {
			continue // read to its end before the stop
		}
		s.resumeEntry(ctx, e, di, name, fi.Size())
	}
}

func (s *Source) resumeEntry(ctx context.Context, e checkpoint.Entry, di devIno, name string,
	size int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.followers[di] != nil {
		return
	}
	f := s.newFollower(e.Path)
	start := startPoint{from: &resume{id: e.ID, off: e.Offset}, away: true, want: di}
	if err := f.open(name, start); err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			s.logger.Warn("cannot open a file rotated while stopped; its end is not read",
				"path", name, "err", err)
		}
		return
	}
	s.logger.Info("finishing a file rotated away while stopped", "path", name,
		"from", e.Path, "offset", f.readOff)
	if s.once {
		f.target = size
	}
	s.startLocked(ctx, di, f)
}

func sameAsEntry(name string, e checkpoint.Entry) bool {
	file, err := os.Open(name)
	if err != nil {
		return false
	}
	defer file.Close()
	same, err := checkpoint.SameFile(file, e.ID)
	return err == nil && same
}

// findInode returns the name of the regular file in dir with the identity di.
func findInode(dir string, di devIno) (string, os.FileInfo) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", nil
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err == nil && toDevIno(fi) == di {
			return filepath.Join(dir, e.Name()), fi
		}
	}
	return "", nil
}

func toDevIno(fi fs.FileInfo) devIno {
	st, _ := fi.Sys().(*syscall.Stat_t)
	if st == nil {
		return devIno{}
	}
	return devIno{uint64(st.Dev), st.Ino}
}
