// Package file is the local file sink: one JSON object per line (event.AppendJSON's shape),
// appended to one file, fsynced before a batch is reported delivered. It is the private
// default that needs no account.
package file

import (
	"context"
	"fmt"
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
	path  string
	host  string
	fsync bool
	buf   []byte
}

// New opens (creating it and its folders) the file in append mode.
func New(spec sinks.Spec, o *Options) (*Sink, error) {
	if err := os.MkdirAll(filepath.Dir(o.Path), 0o755); err != nil {
		return nil, fmt.Errorf("create folder for %s: %w", o.Path, err)
	}
	f, err := os.OpenFile(o.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", o.Path, err)
	}
	return &Sink{f: f, path: o.Path, host: spec.Host, fsync: o.Fsync == nil || *o.Fsync}, nil
}

// Send implements sinks.Sink: it writes the batch in one write and fsyncs.
func (s *Sink) Send(_ context.Context, batch []*event.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buf[:0]
	for _, e := range batch {
		b = event.AppendJSON(b, e, s.host)
		b = append(b, '\n')
	}
	s.buf = b
	if cap(s.buf) > 16<<20 {
		s.buf = nil // do not keep a huge buffer after a burst
	}
	if _, err := s.f.Write(b); err != nil {
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
