package source

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
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
	nulBytes, recovered, overflows, openErrors                             atomic.Int64
}

// Snapshot returns the counters by name.
func (m *Metrics) Snapshot() map[string]int64 {
	return map[string]int64{"lines": m.lines.Load(), "bytes": m.bytes.Load(),
		"partial": m.partial.Load(), "truncated": m.truncated.Load(),
		"truncations": m.truncations.Load(), "files_opened": m.opened.Load(),
		"files_closed": m.closed.Load(), "rescans": m.rescans.Load(),
		"nul_bytes_skipped": m.nulBytes.Load(), "copy_recovered_bytes": m.recovered.Load(),
		"watch_overflows": m.overflows.Load(), "open_errors": m.openErrors.Load()}
}

// goneFor is how long the inode of a deleted file is remembered: a new file that reuses it
// within that time is read from its start without consulting the checkpoints at all.
const goneFor = time.Hour

// knownFor is how long where a follower stopped is remembered once its file is no longer
// seen under the globs. A scan racing a rename can miss a file for a moment; without this,
// its next follower would start from the checkpoint store, which lags the writer.
const knownFor = time.Minute

// Source watches one configured source. Run is its only goroutine besides the followers;
// the maps below are shared with the followers' exits and guarded by mu.
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
	known     map[devIno]resume    // followers that ended cleanly: where to go on
	gone      map[devIno]time.Time // inodes of files read to their end after deletion
	rescan    chan struct{}
	wg        sync.WaitGroup

	// Owned by Run's goroutine.
	watcher *fsnotify.Watcher
	dirs    map[string]bool
	polling bool

	// Seams for tests; nil or zero in production.
	newWatcher func() (*fsnotify.Watcher, error)
	dropEvents atomic.Bool        // simulate a queue that lost its events
	injectErr  chan error         // watch errors delivered as if fsnotify reported them
	barrier    chan chan struct{} // closed by Run's loop between two events
}

// resume is what a follower that ended cleanly leaves behind: everything before off was
// handed to the writer, the bytes just before off were tail, and the file had size bytes and
// this mtime then.
type resume struct {
	id    checkpoint.ID
	off   int64
	tail  []byte
	size  int64
	mtime time.Time
	ended time.Time
}

type devIno struct{ dev, ino uint64 }

// New returns a source. firstRun says whether the agent has no checkpoints yet (start_at
// applies then); once makes it read what the files hold now and stop.
func New(cfg config.Source, store *checkpoint.Store, out chan<- Batch, logger *slog.Logger,
	metrics *Metrics, firstRun, once bool) *Source {
	return &Source{cfg: cfg, store: store, out: out, once: once, atStart: firstRun,
		logger: logger.With("source", cfg.Name), metrics: metrics,
		followers: map[devIno]*follower{}, known: map[devIno]resume{},
		gone: map[devIno]time.Time{}, rescan: make(chan struct{}, 1),
		newWatcher: fsnotify.NewWatcher}
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
		s.resumeRotated(ctx, s.scan(ctx))
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.watch()
	defer s.closeWatcher()
	s.resumeRotated(ctx, s.scan(ctx))
	s.atStart = false

	rescan := time.NewTicker(s.cfg.RescanInterval)
	defer rescan.Stop()
	poll := time.NewTicker(s.cfg.PollInterval)
	defer poll.Stop()
	for {
		var events <-chan fsnotify.Event
		var errs <-chan error
		var pollC <-chan time.Time
		if s.watcher != nil {
			events, errs = s.watcher.Events, s.watcher.Errors
		}
		if s.polling {
			pollC = poll.C
		}
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok {
				s.fallBackToPolling("file watch closed", "", nil)
				continue
			}
			s.onEvent(ctx, ev)
		case err, ok := <-errs:
			if !ok {
				s.fallBackToPolling("file watch closed", "", nil)
				continue
			}
			s.onWatchError(ctx, err)
		case err := <-s.injectErr:
			s.onWatchError(ctx, err)
		case done := <-s.barrier:
			close(done)
		case <-pollC:
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

// watch sets up fsnotify. When no watcher can be had, the source polls, after a warning.
func (s *Source) watch() {
	s.dirs = map[string]bool{}
	if s.cfg.Poll {
		s.polling = true
		return
	}
	w, err := s.newWatcher()
	if err != nil {
		s.fallBackToPolling("inotify unavailable", "", err)
		return
	}
	s.watcher = w
	s.watchDirs()
}

// watchDirs adds a watch for every existing folder of the globs that has none yet (one
// watch per folder, not per file). A folder that cannot be watched makes the source poll.
func (s *Source) watchDirs() {
	if s.watcher == nil {
		return
	}
	for _, g := range s.cfg.Paths {
		matches, _ := filepath.Glob(filepath.Dir(g))
		for _, d := range matches {
			if s.dirs[d] {
				continue
			}
			if err := s.watcher.Add(d); err != nil {
				s.fallBackToPolling("cannot watch folder", d, err)
				return
			}
			s.dirs[d] = true
		}
	}
}

func (s *Source) fallBackToPolling(why, dir string, err error) {
	s.logger.Warn(why+"; polling files instead", "path", dir, "err", err,
		"poll_interval", s.cfg.PollInterval)
	s.polling = true
	s.closeWatcher()
}

func (s *Source) closeWatcher() {
	if s.watcher != nil {
		s.watcher.Close()
		s.watcher = nil
	}
}

// onEvent wakes the follower of the file an event names, or asks for a rescan when the set
// of files may have changed. Rescans are coalesced, so a burst of rotations costs a few.
func (s *Source) onEvent(ctx context.Context, ev fsnotify.Event) {
	if s.dropEvents.Load() {
		return
	}
	if !s.matches(ev.Name) {
		// Writes to a file renamed out of the globs (its follower knows only the old name),
		// or to the target of a followed link.
		s.wakeOutside(ev.Name)
		return
	}
	if ev.Has(fsnotify.Create) {
		// Open a new file at once: under a burst of rotations it may not live until the
		// coalesced rescan.
		s.scanOne(ctx, ev.Name)
	}
	if !s.wakePath(ev.Name) || !ev.Has(fsnotify.Write) {
		s.rescanSoon()
	}
}

// scanOne starts a follower for the file at p if it is a candidate without one.
func (s *Source) scanOne(ctx context.Context, p string) {
	fi, target, ok := s.candidate(p)
	if !ok {
		return
	}
	s.watchTarget(target)
	s.ensure(ctx, p, target, toDevIno(fi), fi)
}

func (s *Source) onWatchError(ctx context.Context, err error) {
	if errors.Is(err, fsnotify.ErrEventOverflow) {
		s.metrics.overflows.Add(1)
		s.logger.Warn("inotify queue overflowed; rescanning every file", "err", err)
	} else {
		s.logger.Warn("file watch error; rescanning", "err", err)
	}
	s.pokeAll()
	s.scan(ctx)
}

// wakePath wakes the followers known under the name p (two during a rotation: the old file
// until it notices it was renamed, and the new one) and reports whether there was one.
func (s *Source) wakePath(p string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	found := false
	for _, f := range s.followers {
		if f.curPath() == p {
			f.wake()
			found = true
		}
	}
	return found
}

func (s *Source) pokeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.followers {
		f.wake()
	}
}

func (s *Source) wakeOutside(name string) {
	dir := filepath.Dir(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.followers {
		if f.linkTarget == name || f.away.Load() && filepath.Dir(f.curPath()) == dir {
			f.wake()
		}
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

// scan matches the globs and starts a follower for every file identity without one. It
// returns the identities it saw.
func (s *Source) scan(ctx context.Context) map[devIno]bool {
	s.metrics.rescans.Add(1)
	s.watchDirs()
	seen := map[devIno]bool{}
	for _, g := range s.cfg.Paths {
		matches, _ := filepath.Glob(g)
		for _, p := range matches {
			fi, target, ok := s.candidate(p)
			if !ok {
				continue
			}
			di := toDevIno(fi)
			if seen[di] {
				continue // a second name (a hard link) for a file already handled
			}
			seen[di] = true
			s.watchTarget(target)
			s.ensure(ctx, p, target, di, fi)
		}
	}
	s.prune(seen)
	return seen
}

// candidate stats path and reports whether it is a file to follow under that name. A
// symlink whose target is matched by the globs too is skipped: the target is followed under
// its own name, so a link to the active file (winston-daily-rotate-file's) doubles nothing
// and does not make the file look rotated when the link moves on. For a link that is
// followed, target is the file it points to.
func (s *Source) candidate(p string) (fi os.FileInfo, target string, ok bool) {
	if !s.matches(p) {
		return nil, "", false
	}
	li, err := os.Lstat(p)
	if err != nil {
		return nil, "", false
	}
	if li.Mode()&os.ModeSymlink != 0 {
		if target, err = filepath.EvalSymlinks(p); err != nil || s.matches(target) {
			return nil, "", false
		}
	}
	fi, err = os.Stat(p)
	if err != nil || !fi.Mode().IsRegular() {
		return nil, "", false
	}
	return fi, target, true
}

// watchTarget watches the folder of a followed link's target, whose writes name the target.
func (s *Source) watchTarget(target string) {
	if target == "" || s.watcher == nil || s.dirs[filepath.Dir(target)] {
		return
	}
	if err := s.watcher.Add(filepath.Dir(target)); err != nil {
		s.fallBackToPolling("cannot watch folder", filepath.Dir(target), err)
		return
	}
	s.dirs[filepath.Dir(target)] = true
}

// prune forgets where followers of files no longer under the globs stopped, after knownFor
// (the checkpoint store has it by then), and deleted inodes after goneFor.
func (s *Source) prune(seen map[devIno]bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for di, k := range s.known {
		if !seen[di] && time.Since(k.ended) > knownFor {
			delete(s.known, di)
		}
	}
	for di, t := range s.gone {
		if time.Since(t) > goneFor {
			delete(s.gone, di)
		}
	}
}

// ensure starts a follower for the file at path unless one runs already.
func (s *Source) ensure(ctx context.Context, path, target string, di devIno, fi os.FileInfo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f := s.followers[di]; f != nil {
		if f.curPath() != path {
			f.setPath(path)
		}
		return
	}
	var from *resume
	if k, ok := s.known[di]; ok {
		if k.size == fi.Size() && k.mtime.Equal(fi.ModTime()) {
			return // closed while idle and unchanged since
		}
		from = &k
	}
	_, fresh := s.gone[di]
	f := s.newFollower(path)
	f.linkTarget = target
	start := startPoint{from: from, fresh: fresh, atEnd: s.atStart && s.cfg.StartAt == "end",
		want: di}
	if err := f.open(path, start); err != nil {
		if errors.Is(err, errRenamed) {
			s.rescanSoon() // finds both files where they are now
			return
		}
		if !errors.Is(err, os.ErrNotExist) {
			s.metrics.openErrors.Add(1)
			s.logger.Warn("cannot open file; will retry at the next rescan", "path", path,
				"err", err)
		}
		return
	}
	delete(s.known, di)
	delete(s.gone, di)
	if s.once {
		f.target = fi.Size()
	}
	s.startLocked(ctx, di, f)
}

func (s *Source) newFollower(path string) *follower {
	return &follower{src: s, path: path, poke: make(chan struct{}, 1), target: -1,
		parser: parsers.New(s.cfg.Format), logger: s.logger, batchSafe: -1}
}

func (s *Source) startLocked(ctx context.Context, di devIno, f *follower) {
	s.metrics.opened.Add(1)
	s.followers[di] = f
	s.wg.Add(1)
	go s.follow(ctx, di, f)
}

func (s *Source) follow(ctx context.Context, di devIno, f *follower) {
	defer s.wg.Done()
	end, err := f.run(ctx)
	if err != nil && !errors.Is(err, context.Canceled) {
		s.logger.Error("stopped following file; it is retried at the next rescan",
			"path", f.path, "err", err)
	}
	s.metrics.closed.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.followers, di)
	switch {
	case end == endDeleted:
		s.gone[di] = time.Now()
	case err == nil && ctx.Err() == nil && end != endOnce:
		s.known[di] = f.resumePoint()
	}
	if end == endDeleted || end == endRotated {
		// A new file may have taken the inode (or the name) while this follower was
		// finishing, and been handed to it: look again.
		s.rescanSoon()
	}
}
