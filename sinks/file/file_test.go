package file

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/winship/winship/agent/event"
	"github.com/winship/winship/sinks"
)

func send(t *testing.T, s *Sink, msg string) {
	t.Helper()
	e := &event.Event{Time: time.Unix(1, 0), Level: event.Info, Message: msg}
	if err := s.Send(context.Background(), []*event.Event{e}); err != nil {
		t.Fatal(err)
	}
}

// TestOutputMovedOrDeletedIsReopened: a deleted or rotated output file is replaced by a new
// one at the configured path instead of being written on invisibly.
func TestOutputMovedOrDeletedIsReopened(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub/events.jsonl")
	s, err := New(sinks.Spec{Name: "f"}, &Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	send(t, s, "one")
	os.Remove(path)
	send(t, s, "two")
	os.Rename(path, path+".1")
	send(t, s, "three")
	for file, want := range map[string]string{path + ".1": "two", path: "three"} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if lines := strings.Split(strings.TrimSpace(string(data)), "\n"); len(lines) != 1 ||
			!strings.Contains(lines[0], `"message":"`+want+`"`) {
			t.Errorf("%s holds %q, want only %q", file, data, want)
		}
	}
}
