// Package source finds the files of one configured source and follows each of them.
//
// One follower runs per file identity (device and inode, see agent/checkpoint), not per
// name: a file renamed by rotation keeps its follower, which reads it to its end; a new file
// under the old name gets a new follower that reads it from its start. Followers only ever
// emit complete lines; an incomplete last line waits for its newline, and is shipped
// flagged as partial only when its file can never grow again (deleted, rotated away and
// idle, or truncated).
//
// Change notifications come from fsnotify watches on the folders of the globs (one watch
// per folder, not per file, so a thousand files cost a handful of watches). A rescan of the
// globs every rescan_interval, and after an inotify queue overflow, is the safety net for
// missed events. When no inotify watch can be had, the source falls back to polling and
// says so in a warning; it never exits the process.
//
// Followers hand Batches to the pipeline's writer over one channel. A Batch carries the
// offset up to which its file is then fully represented; the writer saves that offset in the
// checkpoint store only once the Batch's events are durable in the disk buffer.
package source

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/winship/winship/agent/checkpoint"
	"github.com/winship/winship/agent/config"
	"github.com/winship/winship/agent/event"
	"github.com/winship/winship/parsers"
)

// Batch is what a follower hands to the writer: events in file order, and the offset of the
// file that they make safe to checkpoint once they are durable.
type Batch struct {
	ID     checkpoint.ID
	Path   string
	Events []event.Event
	Offset int64
}

// Metrics are the source's counters; the agent exports them.
type Metrics struct {
	lines, bytes, partial, truncated, truncations, opened, closed, rescans atomic.Int64
}

// Snapshot returns the counters by name.
func (m *Metrics) Snapshot() map[string]int64 {
	return map[string]int64{"lines": m.lines.Load(), "bytes": m.bytes.Load(),
		"partial": m.partial.Load(), "truncated": m.truncated.Load(),
		"truncations": m.truncations.Load(), "files_opened": m.opened.Load(),
		"files_closed": m.closed.Load(), "rescans": m.rescans.Load()}
}

// Source watches one configured source.
type Source struct {
	cfg     config.Source
	store   *checkpoint.Store
	out     chan<- Batch
	logger  *slog.Logger
	once    bool
	atStart bool // start_at applies to files found by the first scan
	metrics *Metrics

	mu        sync.Mutex
	followers map[devIno]*follower
	dormant   map[devIno]int64 // closed while idle: size at close
	rescan    chan struct{}
	wg        sync.WaitGroup
}

type devIno struct{ dev, ino uint64 }

// New returns a source. firstRun says whether the agent has no checkpoints yet (start_at
// applies then); once makes it read what the files hold now and stop.
func New(cfg config.Source, store *checkpoint.Store, out chan<- Batch, logger *slog.Logger,
	metrics *Metrics, firstRun, once bool) *Source {
	return &Source{cfg: cfg, store: store, out: out, once: once, atStart: firstRun,
		logger: logger.With("source", cfg.Name), metrics: metrics,
		followers: map[devIno]*follower{}, dormant: map[devIno]int64{},
		rescan: make(chan struct{}, 1)}
}

func (s *Source) rescanSoon() {
	select {
	case s.rescan <- struct{}{}:
	default:
	}
}

// Run follows the source's files until ctx ends (or, with once, until every file found at
// the start has been read to the size it had). It returns when every follower has stopped.
func (s *Source) Run(ctx context.Context) error {
	defer s.wg.Wait()
	if s.once {
		s.scan(ctx)
		s.atStart = false
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, dirs := s.watch()
	if w != nil {
		defer w.Close()
	}
	s.scan(ctx)
	s.atStart = false
	rescan := time.NewTicker(s.cfg.RescanInterval)
	defer rescan.Stop()
	var poll <-chan time.Time
	if w == nil {
		t := time.NewTicker(s.cfg.PollInterval)
		defer t.Stop()
		poll = t.C
	}
	var events <-chan fsnotify.Event
	var errs <-chan error
	if w != nil {
		events, errs = w.Events, w.Errors
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			s.onEvent(ctx, ev, dirs)
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			s.onWatchError(ctx, err)
		case <-poll:
			s.pokeAll()
			s.scan(ctx)
		case <-rescan.C:
			s.pokeAll()
			s.scan(ctx)
		case <-s.rescan:
			s.scan(ctx)
		}
	}
}

// watch sets up fsnotify on the globs' folders. It returns nil when inotify cannot be had
// (no watcher, or no watch left), after a warning: the source then polls.
func (s *Source) watch() (*fsnotify.Watcher, map[string]bool) {
	if s.cfg.Poll {
		return nil, nil
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		s.logger.Warn("inotify unavailable; polling files instead", "err", err,
			"poll_interval", s.cfg.PollInterval)
		return nil, nil
	}
	dirs := map[string]bool{}
	for _, g := range s.cfg.Paths {
		matches, _ := filepath.Glob(filepath.Dir(g))
		for _, d := range matches {
			if dirs[d] {
				continue
			}
			if err := w.Add(d); err != nil {
				s.logger.Warn("cannot watch folder; polling files instead", "path", d, "err", err,
					"poll_interval", s.cfg.PollInterval)
				w.Close()
				return nil, nil
			}
			dirs[d] = true
		}
	}
	return w, dirs
}

func (s *Source) onEvent(ctx context.Context, ev fsnotify.Event, dirs map[string]bool) {
	if !s.matches(ev.Name) {
		return
	}
	if ev.Has(fsnotify.Write) {
		if f := s.followerByPath(ev.Name); f != nil {
			f.wake()
			return
		}
	}
	if ev.Has(fsnotify.Rename) || ev.Has(fsnotify.Remove) {
		if f := s.followerByPath(ev.Name); f != nil {
			f.wake()
		}
	}
	s.scan(ctx)
}

func (s *Source) onWatchError(ctx context.Context, err error) {
	if errors.Is(err, fsnotify.ErrEventOverflow) {
		s.logger.Warn("inotify queue overflowed; rescanning every file", "err", err)
	} else {
		s.logger.Warn("file watch error; rescanning", "err", err)
	}
	s.pokeAll()
	s.scan(ctx)
}

func (s *Source) followerByPath(p string) *follower {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.followers {
		if f.curPath() == p {
			return f
		}
	}
	return nil
}

func (s *Source) pokeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.followers {
		f.wake()
	}
}

// matches reports whether path is under one of the globs and not excluded.
func (s *Source) matches(path string) bool {
	base := filepath.Base(path)
	for _, x := range s.cfg.Exclude {
		if ok, _ := filepath.Match(x, base); ok {
			return false
		}
	}
	for _, g := range s.cfg.Paths {
		if ok, _ := filepath.Match(g, path); ok {
			return true
		}
	}
	return false
}

// scan matches the globs and starts a follower for every file identity without one.
func (s *Source) scan(ctx context.Context) {
	s.metrics.rescans.Add(1)
	seen := map[devIno]bool{}
	for _, g := range s.cfg.Paths {
		matches, _ := filepath.Glob(g)
		for _, p := range matches {
			if !s.matches(p) {
				continue
			}
			fi, err := os.Stat(p)
			if err != nil || !fi.Mode().IsRegular() {
				continue
			}
			di := toDevIno(fi)
			if seen[di] {
				continue // a second name (a symlink) for a file already handled
			}
			seen[di] = true
			s.ensure(ctx, p, di, fi.Size())
		}
	}
}

func toDevIno(fi fs.FileInfo) devIno {
	st, _ := fi.Sys().(*syscall.Stat_t)
	if st == nil {
		return devIno{}
	}
	return devIno{uint64(st.Dev), st.Ino}
}

// ensure starts a follower for the file at path unless one runs already.
func (s *Source) ensure(ctx context.Context, path string, di devIno, size int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f := s.followers[di]; f != nil {
		if f.curPath() != path {
			f.setPath(path)
		}
		return
	}
	if sz, ok := s.dormant[di]; ok && sz == size {
		return // closed while idle and unchanged since
	}
	delete(s.dormant, di)
	f := &follower{src: s, path: path, poke: make(chan struct{}, 1), target: -1,
		parser: parsers.New(s.cfg.Format), logger: s.logger, batchSafe: -1}
	if err := f.open(s.atStart && s.cfg.StartAt == "end"); err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			s.logger.Warn("cannot open file; will retry at the next rescan", "path", path,
				"err", err)
		}
		return
	}
	if s.once {
		f.target = size
	}
	s.metrics.opened.Add(1)
	s.followers[di] = f
	s.wg.Add(1)
	go s.follow(ctx, di, f)
}

func (s *Source) follow(ctx context.Context, di devIno, f *follower) {
	defer s.wg.Done()
	finished, err := f.run(ctx)
	if err != nil && !errors.Is(err, context.Canceled) {
		s.logger.Error("stopped following file; it is retried at the next rescan",
			"path", f.path, "err", err)
	}
	s.metrics.closed.Add(1)
	s.mu.Lock()
	delete(s.followers, di)
	if !finished && err == nil && ctx.Err() == nil {
		s.dormant[di] = f.readOff + int64(len(f.carry))
	}
	s.mu.Unlock()
}
