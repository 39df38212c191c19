package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// countingSink is an HTTP endpoint that only counts which numbered lines it received, so
// that a backlog of a gibibyte does not have to be kept in the test's memory.
type countingSink struct {
	down atomic.Bool
	mu   sync.Mutex
	seen []uint8
	// distinct counts lines received at least once.
	distinct atomic.Int64
}

func (c *countingSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if c.down.Load() {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(503)
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			w.WriteHeader(400)
			return
		}
		body = zr
	}
	data, err := io.ReadAll(body)
	if err != nil {
		w.WriteHeader(400)
		return
	}
	var nums []int
	for {
		i := bytes.Index(data, []byte(`"message":"line `))
		if i < 0 {
			break
		}
		data = data[i+16:]
		j := bytes.IndexByte(data, '"')
		n, err := strconv.Atoi(string(data[:j]))
		if err != nil {
			w.WriteHeader(400)
			return
		}
		nums = append(nums, n)
	}
	c.mu.Lock()
	for _, n := range nums {
		if n < len(c.seen) && c.seen[n] < 255 {
			if c.seen[n] == 0 {
				c.distinct.Add(1)
			}
			c.seen[n]++
		}
	}
	c.mu.Unlock()
	w.WriteHeader(200)
}

// vmRSS returns a process's resident set size in bytes.
func vmRSS(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			kb, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// TestStressOutageBigBacklog is issue 3's "done when" in small (make test) and in full
// (WINSHIP_STRESS=1: 1 GiB): the sink answers 503 while the lines are written and read;
// the agent is killed with SIGKILL during the outage and restarted; then the sink comes
// back. Every line arrives, and the agent's RSS stays under 100 MB throughout.
func TestStressOutageBigBacklog(t *testing.T) {
	const lineBytes = 256
	total := 64 << 20 / lineBytes
	if os.Getenv("WINSHIP_STRESS") != "" {
		total = 1 << 30 / lineBytes
	}
	sink := &countingSink{seen: make([]uint8, total)}
	sink.down.Store(true)
	srv := httptest.NewServer(sink)
	defer srv.Close()

	dir := t.TempDir()
	log := filepath.Join(dir, "logs/combined.log")
	os.MkdirAll(filepath.Dir(log), 0o755)
	cfg := httpConfig(t, dir, srv.URL, `    buffer: { max_bytes: 4GiB }
    retry: { initial_backoff: 50ms, max_backoff: 500ms }
`)
	writeSized(t, log, 0, total/2, lineBytes)

	var peak atomic.Int64
	sample := func(pid int, stop chan struct{}) {
		for {
			if r := vmRSS(pid); r > peak.Load() {
				peak.Store(r)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}

	cmd, _ := startAgent(t, cfg)
	stop := make(chan struct{})
	go sample(cmd.Process.Pid, stop)
	time.Sleep(300 * time.Millisecond) // kill -9 somewhere while the first half is read
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	close(stop)

	writeSized(t, log, total/2, total, lineBytes)
	cmd, stderr := startAgent(t, cfg)
	stop = make(chan struct{})
	go sample(cmd.Process.Pid, stop)
	waitUntil(t, "everything read into the buffer", 20*time.Minute, func() bool {
		cp, _ := os.ReadFile(filepath.Join(dir, "state/checkpoints.json"))
		fi, _ := os.Stat(log)
		return strings.Contains(string(cp), fmt.Sprintf(`"offset": %d`, fi.Size()))
	})
	sink.down.Store(false)
	waitUntil(t, "every line delivered", 20*time.Minute, func() bool {
		return sink.distinct.Load() >= int64(total)
	})
	stopAgent(t, cmd, stderr)
	close(stop)

	missing, dups := 0, 0
	for n, c := range sink.seen {
		if c == 0 {
			missing++
			if missing < 5 {
				t.Errorf("line %d never arrived", n)
			}
		}
		if c > 1 {
			dups += int(c) - 1
		}
	}
	t.Logf("%d lines (%d MiB), peak RSS %d MiB, %d duplicates after one kill -9",
		total, total*lineBytes>>20, peak.Load()>>20, dups)
	if missing > 0 {
		t.Fatalf("%d lines lost", missing)
	}
	if peak.Load() > 100<<20 {
		t.Fatalf("peak RSS %d MiB, want under 100 MiB", peak.Load()>>20)
	}
}

// writeSized appends lines "line n" padded to about size bytes each.
func writeSized(t *testing.T, path string, from, to, size int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	pad := strings.Repeat("p", size-110)
	for i := from; i < to; i++ {
		fmt.Fprintf(w, `{"level":"info","message":"line %d","pad":"%s","timestamp":"2026-12-03T10:00:00.000Z"}`+"\n", i, pad)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
}

func waitUntil(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
