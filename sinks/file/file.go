// Package file is the local file sink: one JSON object per line (event.AppendJSON's shape),
// appended to one file, fsynced before a batch is reported delivered. It is the private
// default that needs no account.
package file

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/winship/winship/agent/event"
	"github.com/winship/winship/sinks"
)

// Options of a file sink.
type Options struct {
	Path string `yaml:"path"`
	// Fsync makes every batch durable before it is acknowledged. Default true; turning it off
	// trades the no-loss promise for speed on a machine crash (not on a winship crash).
	Fsync *bool `yaml:"fsync"`
}

// Validate implements sinks.Options.
func (o *Options) Validate() error {
	if o.Path == "" {
		return &sinks.KeyError{Key: "path", Msg: "missing required key: the file to append to"}
	}
	return nil
}

// WrittenPaths implements sinks.Writer.
func (o *Options) WrittenPaths() []string { return []string{o.Path} }

// Resolve implements sinks.Options.
func (o *Options) Resolve(dir string) {
	if !filepath.IsAbs(o.Path) {
		o.Path = filepath.Join(dir, o.Path)
	}
}

// Factory builds file sinks.
var Factory = sinks.Factory{
	NewOptions: func() sinks.Options { return &Options{} },
	Defaults: sinks.Defaults{
		MaxEvents:   512,
		MaxBytes:    512 << 10,
		MaxWait:     20 * time.Millisecond,
		Concurrency: 1,
	},
	New: func(spec sinks.Spec, o sinks.Options) (sinks.Sink, error) {
		return New(spec, o.(*Options))
	},
}

// Sink appends events to a file. Send is serialised, so lines never interleave.
type Sink struct {
	mu    sync.Mutex
	f     *os.File
	fi    os.FileInfo // what f is, to notice the path being moved or deleted
	path  string
	host  string
	fsync bool
	buf   []byte
	log   *slog.Logger
}

// New opens (creating it and its folders) the file in append mode.
func New(spec sinks.Spec, o *Options) (*Sink, error) {
	s := &Sink{path: o.Path, host: spec.Host, fsync: o.Fsync == nil || *o.Fsync, log: spec.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if err := s.open(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Sink) open() error {
	if err := os.MkdirAll(filepath.Dir(s.path), 0o755); err != nil {
		return fmt.Errorf("create folder for %s: %w", s.path, err)
	}
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("open %s: %w", s.path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("stat %s: %w", s.path, err)
	}
	s.f, s.fi = f, fi
	return nil
}

// reopenIfMoved reopens the path when the open file is no longer there: deleted, or moved
// away by a rotation (logrotate's create mode). Writing on into it would hide the events.
func (s *Sink) reopenIfMoved() error {
	cur, err := os.Stat(s.path)
	if err == nil && os.SameFile(cur, s.fi) {
		return nil
	}
	s.log.Info("output file was moved or deleted; opening a new one", "path", s.path)
	old := s.f
	if err := s.open(); err != nil {
		return err
	}
	old.Close()
	return nil
}

// Send implements sinks.Sink: it writes the batch in one write and fsyncs. A failed write
// is cut back off the file, so a retry never leaves half a line behind.
func (s *Sink) Send(_ context.Context, batch []*event.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.reopenIfMoved(); err != nil {
		return &sinks.Error{Kind: sinks.Retry, Err: err}
	}
	b := s.buf[:0]
	for _, e := range batch {
		b = event.AppendJSON(b, e, s.host)
		b = append(b, '\n')
	}
	s.buf = b
	if cap(s.buf) > 16<<20 {
		s.buf = nil // do not keep a huge buffer after a burst
	}
	before, _ := s.f.Seek(0, io.SeekEnd)
	if _, err := s.f.Write(b); err != nil {
		s.f.Truncate(before)
		return &sinks.Error{Kind: sinks.Retry, Err: fmt.Errorf("write %s: %w", s.path, err)}
	}
	if s.fsync {
		if err := s.f.Sync(); err != nil {
			return &sinks.Error{Kind: sinks.Retry, Err: fmt.Errorf("fsync %s: %w", s.path, err)}
		}
	}
	return nil
}

// TestSend implements sinks.Tester.
func (s *Sink) TestSend(ctx context.Context, w interface{ Write([]byte) (int, error) }) error {
	e := &event.Event{Time: time.Now(), Level: event.Info, Message: "winship test-sink: hello",
		Source: "winship"}
	if err := s.Send(ctx, []*event.Event{e}); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "wrote 1 test event to %s\n", s.path)
	return err
}

// Close implements sinks.Sink.
func (s *Sink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f.Close()
}
