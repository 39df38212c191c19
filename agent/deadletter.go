package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/winship/winship/agent/event"
	"github.com/winship/winship/sinks"
)

// deadLetters appends events a sink permanently rejected to
// <state_dir>/deadletter/<sink>.jsonl, one JSON object a line:
//
//	{"time":"…","sink":"…","reason":"…","status":400,"event":{…event.AppendJSON…}}
//
// Each write is fsynced before the events are acknowledged, so a rejected event is never
// only in memory.
type deadLetters struct {
	mu   sync.Mutex
	path string
	sink string
	host string
	f    *os.File
}

func newDeadLetters(stateDir, sink, host string) *deadLetters {
	return &deadLetters{path: filepath.Join(stateDir, "deadletter", safeName(sink)+".jsonl"),
		sink: sink, host: host}
}

func (d *deadLetters) write(events []*event.Event, cause *sinks.Error, now time.Time) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.f == nil {
		if err := os.MkdirAll(filepath.Dir(d.path), 0o755); err != nil {
			return fmt.Errorf("create dead-letter folder: %w", err)
		}
		f, err := os.OpenFile(d.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			return fmt.Errorf("open dead-letter file: %w", err)
		}
		d.f = f
	}
	var b []byte
	for _, e := range events {
		b = append(b, `{"time":"`...)
		b = event.AppendTime(b, now)
		b = append(b, `","sink":`...)
		b = event.AppendJSONString(b, d.sink)
		b = append(b, `,"reason":`...)
		b = event.AppendJSONString(b, cause.Error())
		b = fmt.Appendf(b, `,"status":%d,"event":`, cause.Status)
		b = event.AppendJSON(b, e, d.host)
		b = append(b, "}\n"...)
	}
	if _, err := d.f.Write(b); err != nil {
		return fmt.Errorf("write dead-letter file %s: %w", d.path, err)
	}
	if err := d.f.Sync(); err != nil {
		return fmt.Errorf("fsync dead-letter file %s: %w", d.path, err)
	}
	return nil
}

func (d *deadLetters) close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.f == nil {
		return nil
	}
	return d.f.Close()
}

// safeName turns a sink name into a file name.
func safeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '_' || c == '.'
		if !ok {
			b[i] = '_'
		}
	}
	if len(b) == 0 || b[0] == '.' {
		b = append([]byte{'_'}, b...)
	}
	return string(b)
}
