package sentry

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/winship/winship/agent/event"
)

const (
	overflowFile = "overflow.jsonl"
	// maxOverflowBytes is when the overflow file is moved to overflow.jsonl.1 (replacing
	// the previous one) and a new one started, so a long spike cannot fill the disk.
	maxOverflowBytes = 16 << 20
)

// overflowRecord is one line of the overflow file: an event the guard held back.
type overflowRecord struct {
	HeldAt     time.Time       `json:"held_at"`
	Reason     string          `json:"reason"`
	Group      string          `json:"group"`
	EventID    string          `json:"event_id"`
	Time       time.Time       `json:"timestamp"`
	Level      string          `json:"level"`
	Message    string          `json:"message"`
	Stack      string          `json:"stack,omitempty"`
	Fields     json.RawMessage `json:"fields,omitempty"`
	Source     string          `json:"source,omitempty"`
	Path       string          `json:"path,omitempty"`
	ParseError string          `json:"parse_error,omitempty"`
}

// overflowLog appends held-back events to a JSON Lines file in the sink's state folder.
// Safe for concurrent use. Lines are not fsynced: the file is a record for the user, and a
// process crash does not lose what the kernel already holds.
type overflowLog struct {
	path string

	mu   sync.Mutex
	f    *os.File
	size int64
}

func newOverflowLog(stateDir string) *overflowLog {
	if stateDir == "" {
		return &overflowLog{}
	}
	return &overflowLog{path: filepath.Join(stateDir, overflowFile)}
}

// append writes one record for e.
func (o *overflowLog) append(rec overflowRecord, e *event.Event) error {
	if o.path == "" {
		return nil
	}
	rec.Time, rec.Level, rec.Message, rec.Stack = e.Time, e.Level.String(), e.Message, e.Stack
	rec.Source, rec.Path, rec.ParseError = e.Source, e.Path, e.ParseError
	if json.Valid(e.Fields) {
		rec.Fields = e.Fields
	}
	line, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode overflow record: %w", err)
	}
	line = append(line, '\n')
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := o.openLocked(int64(len(line))); err != nil {
		return err
	}
	n, err := o.f.Write(line)
	o.size += int64(n)
	if err != nil {
		return fmt.Errorf("append to %s: %w", o.path, err)
	}
	return nil
}

// openLocked opens the file for appending, rotating it first when the line would pass
// the size cap.
func (o *overflowLog) openLocked(next int64) error {
	if o.f != nil && o.size+next <= maxOverflowBytes {
		return nil
	}
	if o.f != nil {
		if err := o.f.Close(); err != nil {
			return fmt.Errorf("close %s: %w", o.path, err)
		}
		o.f = nil
		if err := os.Rename(o.path, o.path+".1"); err != nil {
			return fmt.Errorf("rotate %s: %w", o.path, err)
		}
	}
	f, err := os.OpenFile(o.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open overflow file: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("stat %s: %w", o.path, err)
	}
	o.f, o.size = f, st.Size()
	if o.size+next > maxOverflowBytes && o.size > 0 {
		return o.openLocked(next)
	}
	return nil
}

func (o *overflowLog) close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.f == nil {
		return nil
	}
	err := o.f.Close()
	o.f = nil
	if err != nil {
		return fmt.Errorf("close %s: %w", o.path, err)
	}
	return nil
}
