package source

import (
	"testing"
	"time"

	"github.com/winship/winship/agent/checkpoint"
)

// Case 4: restarts across changes made while winship was stopped. The harness keeps the
// checkpoint store across the restart, as the agent's checkpoints.json does.
func TestRestartAcrossChanges(t *testing.T) {
	tests := []struct {
		name  string
		while func(h *harness) // what happens while stopped
		after func(h *harness) // what happens after the restart
		total int
	}{
		{"appended while stopped", func(h *harness) {
			h.appendFile("combined.log", lines(50, 120))
		}, nil, 120},
		{"truncated and refilled longer", func(h *harness) {
			h.overwrite("combined.log", lines(50, 150))
		}, nil, 150},
		{"truncated and refilled shorter", func(h *harness) {
			h.overwrite("combined.log", lines(50, 60))
		}, nil, 60},
		{"rotated out of the globs, new file", func(h *harness) {
			h.appendFile("combined.log", lines(50, 70))
			h.rename("combined.log", "combined.log.1")
			h.appendFile("combined.log", lines(70, 90))
		}, func(h *harness) {
			h.appendFile("combined.log", lines(90, 100))
		}, 100},
		{"rotated within the globs, new file", func(h *harness) {
			h.appendFile("combined.log", lines(50, 70))
			h.rename("combined.log", "combined1.log")
			h.appendFile("combined.log", lines(70, 90))
		}, nil, 90},
		{"deleted and recreated", func(h *harness) {
			h.remove("combined.log")
			h.appendFile("combined.log", lines(50, 80))
		}, nil, 80},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.start()
			h.appendFile("combined.log", lines(0, 50))
			h.waitCount(50, 5*time.Second)
			h.restart(func() { tc.while(h) })
			if tc.after != nil {
				tc.after(h)
			}
			h.waitCount(tc.total, 5*time.Second)
			h.settle(300 * time.Millisecond)
			h.expectNumbered(tc.total)
		})
	}
}

// Case 4, through a saved and reloaded checkpoint file: nothing is shipped twice and a
// rotated file's entry is forgotten once the file is gone.
func TestRestartFromSavedCheckpoints(t *testing.T) {
	h := newHarness(t)
	h.start()
	h.appendFile("combined.log", lines(0, 30))
	h.waitCount(30, 5*time.Second)
	h.restart(func() {
		reload(t, h)
		h.rename("combined.log", "combined.log.1")
		h.appendFile("combined.log", lines(30, 40))
	})
	h.waitCount(40, 5*time.Second)
	h.restart(func() {
		reload(t, h)
		h.remove("combined.log.1")
	})
	h.appendFile("combined.log", lines(40, 45))
	h.waitCount(45, 5*time.Second)
	h.settle(200 * time.Millisecond)
	h.expectNumbered(45)
	if n := len(h.store.Entries()); n != 1 {
		t.Fatalf("%d checkpoint entries, want 1 (the deleted file's entry forgotten): %+v", n,
			h.store.Entries())
	}
}

// reload saves the store and opens it again from its file.
func reload(t *testing.T, h *harness) {
	t.Helper()
	if err := h.store.Save(); err != nil {
		t.Fatal(err)
	}
	store, err := checkpoint.Open(h.storePath)
	if err != nil {
		t.Fatal(err)
	}
	h.store = store
}
