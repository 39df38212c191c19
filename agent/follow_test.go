package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// waitFor polls cond with a short interval: the condition is outside the process's control
// (a file another goroutine writes), so there is no signal to await.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestFollowShipsAppendedLinesAndStopsCleanly(t *testing.T) {
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	os.MkdirAll(logs, 0o755)
	cfg := fileSinkConfig(t, dir)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, quietLogger(t), Options{}) }()

	out := filepath.Join(dir, "out/events.jsonl")
	f, err := os.Create(filepath.Join(logs, "combined.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i := range 50 {
		fmt.Fprintf(f, `{"level":"info","message":"line %d","timestamp":"2026-12-03T10:00:00.000Z"}`+"\n", i)
		want := i + 1
		start := time.Now()
		waitFor(t, fmt.Sprintf("line %d", i), 5*time.Second, func() bool {
			return len(readOut(t, out)) >= want
		})
		if d := time.Since(start); d > time.Second {
			t.Errorf("line %d took %s to arrive", i, d)
		}
	}
	// A line written in two pieces is one event.
	fmt.Fprint(f, `{"level":"warn","message":"two `)
	time.Sleep(300 * time.Millisecond) // the gap between the pieces is the point of the test
	fmt.Fprint(f, `pieces"}`+"\n")
	waitFor(t, "joined line", 5*time.Second, func() bool { return len(readOut(t, out)) >= 51 })

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("agent did not stop")
	}
	got := readOut(t, out)
	if len(got) != 51 || got[50].Message != "two pieces" {
		t.Fatalf("got %d events, last %+v", len(got), got[len(got)-1])
	}
}
