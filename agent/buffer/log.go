package buffer

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
)

// Pos is a position in the log: the global byte offset of a record boundary. Positions only
// grow; segment files are named by the position of their first record.
type Pos uint64

// Options configure a Log.
type Options struct {
	Dir          string       // folder for segments and cursors; created if missing
	SegmentBytes int64        // roll to a new segment past this size; default 64 MiB
	Logger       *slog.Logger // warnings about corruption and skipped data; nil discards

	// Fault, when set, is called before each segment write, fsync, file creation, rollback
	// truncation and cursor save with the operation ("write", "sync", "create", "truncate"
	// or "cursor") and, for a write, its size in bytes. A
	// non-nil error makes the operation fail with that error after writing only the first
	// n bytes, as a full disk does. It exists for tests, here and in the pipeline.
	Fault func(op string, size int) (n int, err error)
}

// Record is one record handed to a reader.
type Record struct {
	Data []byte // the payload; owned by the caller
	Next Pos    // the position just after this record; Ack(Next) acknowledges it
}

// Stats are counters since Open, for metrics.
type Stats struct {
	AppendedRecords uint64 // records made durable by Sync
	AppendedBytes   uint64 // their payload bytes
	CorruptSegments uint64 // segments in which damaged bytes were found
	CorruptBytes    uint64 // damaged bytes skipped or truncated
	CorruptRecords  uint64 // records lost in them: a lower bound, at least 1 per damage
	MissingSegments uint64 // segment files found missing (deleted by hand)
	SegmentsRemoved uint64 // segments deleted because every open cursor was past them
	WriteErrors     uint64 // failed Append or Sync calls (rolled back to the durable end)
	Segments        int    // segment files now
	DiskBytes       int64  // bytes in them
	End             Pos    // the durable end
}

// segment is one segment file: its first position and the bytes written to it.
type segment struct {
	base Pos
	size int64
}

func (s segment) end() Pos { return s.base + Pos(s.size) }

// Log is an append-only log of records in segment files, shared by every sink, each sink
// reading with its own Cursor. All methods are safe for concurrent use.
type Log struct {
	dir      string
	segBytes int64
	log      *slog.Logger
	fault    func(op string, size int) (int, error)
	openEnd  Pos // the durable end found by Open; saved cursors never start past it

	// Writer state, guarded by wmu (Append, Sync, Close and the rollback after a failure).
	wmu          sync.Mutex
	active       *os.File // the last segment, open for writing
	wbuf         []byte
	pendingRecs  uint64
	pendingBytes uint64
	dirDirty     bool  // a segment was created since the last folder fsync
	broken       error // a rollback that failed; retried before the next write

	// Shared state, guarded by mu.
	mu       sync.Mutex
	segs     []segment // sorted by base; the last one is being written
	written  Pos       // end of the bytes written, durable or not
	end      Pos       // the durable end, what readers may see
	syncSeg  Pos       // base of the segment that held the durable end at the last Sync
	notify   chan struct{}
	ackCh    chan struct{}
	closed   bool
	closedCh chan struct{}
	cursors  map[string]*Cursor // open cursors; nil while one is being opened
	reported map[Pos]bool       // damaged regions already warned about, by position
	damaged  map[Pos]bool       // segments with damage, by base
	stats    Stats
}

// Open opens or creates the log in opts.Dir, recovering from a torn or corrupt tail: the
// damaged bytes are truncated or skipped with a warning, never refused.
func Open(opts Options) (*Log, error) {
	l := &Log{
		dir:      opts.Dir,
		segBytes: opts.SegmentBytes,
		log:      opts.Logger,
		fault:    opts.Fault,
		notify:   make(chan struct{}),
		ackCh:    make(chan struct{}),
		closedCh: make(chan struct{}),
		cursors:  make(map[string]*Cursor),
		reported: make(map[Pos]bool),
		damaged:  make(map[Pos]bool),
	}
	if l.segBytes <= 0 {
		l.segBytes = DefaultSegmentBytes
	}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(filepath.Join(l.dir, cursorDir), 0o700); err != nil {
		return nil, fmt.Errorf("create buffer folder %s: %w", l.dir, err)
	}
	segs, err := l.listSegments()
	if err != nil {
		return nil, err
	}
	if segs, err = l.recover(segs); err != nil {
		return nil, err
	}
	if err := l.openActive(segs); err != nil {
		return nil, err
	}
	l.openEnd = l.end
	return l, nil
}

// listSegments returns the segment files in the folder, sorted, ignoring every other file.
func (l *Log) listSegments() ([]segment, error) {
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		return nil, fmt.Errorf("list buffer folder %s: %w", l.dir, err)
	}
	var segs []segment
	for _, e := range entries {
		base, ok := parseSegName(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("stat segment %s: %w", e.Name(), err)
		}
		segs = append(segs, segment{base: base, size: info.Size()})
	}
	sort.Slice(segs, func(i, j int) bool { return segs[i].base < segs[j].base })
	return segs, nil
}

// openActive opens the last segment for writing, creating the first one in an empty log.
func (l *Log) openActive(segs []segment) error {
	if len(segs) == 0 {
		segs = []segment{{base: 0}}
		l.dirDirty = true
	}
	last := segs[len(segs)-1]
	f, err := os.OpenFile(l.segPath(last.base), os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open segment %s: %w", l.segPath(last.base), err)
	}
	l.active = f
	l.segs = segs
	l.written = last.end()
	l.end = last.end()
	l.syncSeg = last.base
	return nil
}

func (l *Log) segPath(base Pos) string { return filepath.Join(l.dir, segName(base)) }

// End returns the durable end of the log.
func (l *Log) End() Pos {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.end
}

// Acked returns a channel that is closed the next time any cursor acknowledges or drops
// records (the writer waits on it when a blocking sink's backlog is full).
func (l *Log) Acked() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ackCh
}

func (l *Log) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

// Stats returns the counters since Open.
func (l *Log) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.stats
	s.Segments = len(l.segs)
	for _, sg := range l.segs {
		s.DiskBytes += sg.size
	}
	s.End = l.end
	return s
}

// Close syncs and closes the log, and wakes any Next waiting for records (it returns
// ErrClosed). Cursors must not be used afterwards. Closing twice is harmless.
func (l *Log) Close() error {
	_, err := l.Sync()
	if errors.Is(err, ErrClosed) {
		return nil
	}
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.mu.Lock()
	if l.closed { // a concurrent Close won
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	close(l.closedCh)
	cursors := make([]*Cursor, 0, len(l.cursors))
	for _, c := range l.cursors {
		if c != nil {
			cursors = append(cursors, c)
		}
	}
	l.mu.Unlock()
	for _, c := range cursors {
		c.closeReader()
		c.mu.Lock()
		c.closeFile() // later Acks fail with ErrClosed
		c.mu.Unlock()
	}
	if cerr := l.active.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("close segment: %w", cerr)
	}
	return err
}

// wakeAcked tells the writer that some cursor acknowledged or dropped records, and removes
// the segments that no open cursor needs any more.
func (l *Log) wakeAcked() {
	l.mu.Lock()
	close(l.ackCh)
	l.ackCh = make(chan struct{})
	dead := l.collectLocked()
	var cursors []*Cursor
	if len(dead) > 0 {
		for _, c := range l.cursors {
			if c != nil {
				cursors = append(cursors, c)
			}
		}
	}
	l.mu.Unlock()
	for _, s := range dead {
		err := os.Remove(l.segPath(s.base))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			l.log.Warn("buffer: remove segment", "path", l.segPath(s.base), "err", err)
		}
	}
	// A removed file's space is freed only when its last descriptor closes: an idle
	// reader parked at the end of a removed segment must let go of it now.
	for _, c := range cursors {
		c.releaseRemoved(dead)
	}
}

// collectLocked takes the segments every open cursor acknowledged past off the list and
// returns them. It keeps everything while no cursor is open or one is being opened: the
// files of cursors not opened in this run are ignored on purpose, so a sink removed from
// the configuration does not pin the disk forever.
func (l *Log) collectLocked() []segment {
	if len(l.cursors) == 0 {
		return nil
	}
	min := l.end
	for _, c := range l.cursors {
		if c == nil {
			return nil
		}
		min = minPos(min, c.Acked())
	}
	var dead []segment
	for len(l.segs) > 1 && l.segs[0].base < l.syncSeg && l.segs[0].end() <= min {
		dead = append(dead, l.segs[0])
		l.segs = l.segs[1:]
	}
	l.stats.SegmentsRemoved += uint64(len(dead))
	return dead
}

// locate returns the segment holding p or, when p lies in a gap, the first segment after
// it; ok is false when no segment holds or follows p.
func (l *Log) locate(p Pos) (segment, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].end() > p })
	if i == len(l.segs) {
		return segment{}, false
	}
	return l.segs[i], true
}

// oldest returns the first position still on disk.
func (l *Log) oldest() Pos {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.segs[0].base
}

// reportDamage warns about and counts a damaged region once per run, whoever finds it
// first (recovery or a cursor). what says what was done with it; who names the cursor that
// found it, if any.
func (l *Log) reportDamage(what string, base Pos, off, bytes int64, records int, who string) {
	at := base + Pos(off)
	l.mu.Lock()
	if l.reported[at] {
		l.mu.Unlock()
		return
	}
	l.reported[at] = true
	if !l.damaged[base] {
		l.damaged[base] = true
		l.stats.CorruptSegments++
	}
	l.stats.CorruptBytes += uint64(bytes)
	l.stats.CorruptRecords += uint64(records)
	l.mu.Unlock()
	args := []any{"path", l.segPath(base), "offset", off, "bytes", bytes, "records_at_least", records}
	if who != "" {
		args = append(args, "sink", who)
	}
	l.log.Warn("buffer: "+what, args...)
}

// dropMissing forgets a segment whose file disappeared (the one being written is kept:
// the writer still holds it open) and warns once.
func (l *Log) dropMissing(s segment, who string) {
	l.mu.Lock()
	i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].base >= s.base })
	if i < len(l.segs)-1 && l.segs[i].base == s.base {
		l.segs = append(l.segs[:i:i], l.segs[i+1:]...)
	}
	if l.reported[s.base] {
		l.mu.Unlock()
		return
	}
	l.reported[s.base] = true
	l.stats.MissingSegments++
	l.mu.Unlock()
	l.log.Warn("buffer: segment missing, skipping it", "path", l.segPath(s.base),
		"bytes", s.size, "records_at_least", 1, "sink", who)
}

func minPos(a, b Pos) Pos {
	if a < b {
		return a
	}
	return b
}
