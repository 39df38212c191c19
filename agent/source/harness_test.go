package source

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/winship/winship/agent/checkpoint"
	"github.com/winship/winship/agent/config"
	"github.com/winship/winship/agent/event"
)

func TestMain(m *testing.M) {
	code := m.Run()
	var opts []goleak.Option
	if nxadmUsed.Load() {
		// nxadm/tail keeps one process-wide inotify tracker (and its fsnotify reader)
		// running once any Tail used it; it has no way to stop it.
		opts = append(opts,
			goleak.IgnoreTopFunction("github.com/nxadm/tail/watch.(*InotifyTracker).run"),
			goleak.IgnoreAnyFunction("github.com/fsnotify/fsnotify.(*inotify).readEvents"))
	}
	if code == 0 {
		if err := goleak.Find(opts...); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// testSource is a source configuration with short timings, so that rotation and idle
// handling happen within a test; RescanInterval is long so that tests prove the
// notifications (or polling) do the work, not the safety net.
func testSource(dir string) config.Source {
	return config.Source{Name: "backend", Paths: []string{filepath.Join(dir, "*.log")},
		Exclude: []string{"*.gz", "*.zip", ".*-audit.json", "*.tmp"}, Format: "json",
		StartAt: "beginning", MaxLineBytes: 1 << 20, MultilineTimeout: 100 * time.Millisecond,
		PollInterval: 20 * time.Millisecond, RescanInterval: time.Hour,
		CloseInactive: time.Minute, RotateWait: time.Second}
}

func testLogger(testing.TB) *slog.Logger {
	if testing.Verbose() && os.Getenv("WINSHIP_DEBUG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// harness runs one Source over a temporary folder and collects what it hands over, playing
// the pipeline's writer: every Batch's offset is set in the checkpoint store at once (the
// events are "durable" as soon as they are received). It also holds the file helpers that
// write, append in pieces, rename, truncate, copy-truncate, delete and recreate files.
type harness struct {
	t         *testing.T
	dir       string
	cfg       config.Source
	store     *checkpoint.Store
	storePath string
	metrics   *Metrics

	src    *Source
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	events []event.Event
	notify chan struct{}
}

func newHarness(t *testing.T) *harness {
	dir := t.TempDir()
	storePath := filepath.Join(t.TempDir(), "checkpoints.json")
	store, err := checkpoint.Open(storePath)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, dir: dir, cfg: testSource(dir), store: store, storePath: storePath,
		metrics: &Metrics{}, notify: make(chan struct{}, 1)}
}

// start runs the source; tweak, if given, adjusts it before Run (test seams).
func (h *harness) start(tweak ...func(*Source)) {
	h.t.Helper()
	out := make(chan Batch, 4)
	first := len(h.store.Entries()) == 0
	h.src = New(h.cfg, h.store, out, testLogger(h.t), h.metrics, first, false)
	h.src.barrier = make(chan chan struct{})
	for _, fn := range tweak {
		fn(h.src)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan struct{})
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		if err := h.src.Run(ctx); err != nil {
			h.t.Errorf("run: %v", err)
		}
	}()
	go func() {
		defer close(h.done)
		for {
			select {
			case b := <-out:
				h.take(b)
			case <-ran:
				return
			}
		}
	}()
	h.t.Cleanup(h.stop)
}

func (h *harness) take(b Batch) {
	h.mu.Lock()
	h.events = append(h.events, b.Events...)
	h.mu.Unlock()
	h.store.Set(b.ID, b.Path, b.Offset, time.Now())
	select {
	case h.notify <- struct{}{}:
	default:
	}
}

// stop ends the source and waits for it; harmless twice.
func (h *harness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	<-h.done
	h.cancel = nil
}

// restart stops the source and runs a new one on the same checkpoints, as an agent restart.
func (h *harness) restart(between func()) {
	h.stop()
	if between != nil {
		between()
	}
	h.start()
}

func (h *harness) snapshot() []event.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]event.Event(nil), h.events...)
}

// waitUntil waits until cond holds for the events received so far. Batches are the signal;
// the short tick also catches conditions on counters.
func (h *harness) waitUntil(what string, timeout time.Duration, cond func([]event.Event) bool) {
	h.t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond(h.snapshot()) {
		select {
		case <-h.notify:
		case <-tick.C:
		case <-deadline.C:
			h.t.Fatalf("timed out after %s waiting for %s; got %d events (lines missing "+
				"below the highest seen: %s): %s", timeout, what, len(h.snapshot()),
				missingLines(h.snapshot()), summary(h.snapshot()))
		}
	}
}

// waitCount waits until at least n events arrived.
func (h *harness) waitCount(n int, timeout time.Duration) {
	h.t.Helper()
	h.waitUntil(fmt.Sprintf("%d events", n), timeout, func(ev []event.Event) bool {
		return len(ev) >= n
	})
}

// settle waits until no new event arrived for quiet, so that a test can check that nothing
// more (no duplicate) comes.
func (h *harness) settle(quiet time.Duration) {
	for {
		n := len(h.snapshot())
		time.Sleep(quiet) // the quiet period itself is what is being observed
		if len(h.snapshot()) == n {
			return
		}
	}
}

// expectNumbered checks that messages "line 0" .. "line n-1" arrived exactly once each, and
// nothing else.
func (h *harness) expectNumbered(n int) {
	h.t.Helper()
	expectNumbered(h.t, h.snapshot(), "line", n)
}

func expectNumbered(t *testing.T, events []event.Event, prefix string, n int) {
	t.Helper()
	seen := map[int]int{}
	for _, e := range events {
		var k int
		if _, err := fmt.Sscanf(e.Message, prefix+" %d", &k); err != nil {
			t.Errorf("unexpected event %q (flags %b, parse error %q)", e.Message, e.Flags,
				e.ParseError)
			continue
		}
		seen[k]++
	}
	var missing, doubled []int
	for k := range n {
		switch seen[k] {
		case 0:
			missing = append(missing, k)
		case 1:
		default:
			doubled = append(doubled, k)
		}
	}
	if len(missing)+len(doubled) > 0 || len(seen) > n {
		t.Fatalf("%d events for %d lines: missing %s, doubled %s, %d distinct", len(events), n,
			ranges(missing), ranges(doubled), len(seen))
	}
}

// ranges prints sorted numbers compactly: 1-5,9.
func ranges(ns []int) string {
	if len(ns) == 0 {
		return "none"
	}
	sort.Ints(ns)
	var b strings.Builder
	for i := 0; i < len(ns); {
		j := i
		for j+1 < len(ns) && ns[j+1] == ns[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		if i == j {
			fmt.Fprintf(&b, "%d", ns[i])
		} else {
			fmt.Fprintf(&b, "%d-%d", ns[i], ns[j])
		}
		i = j + 1
	}
	return b.String()
}

// missingLines lists the numbers below the highest "line k" seen that did not arrive.
func missingLines(events []event.Event) string {
	seen := map[int]bool{}
	top := -1
	for _, e := range events {
		var k int
		if _, err := sscanLine(e.Message, &k); err == nil {
			seen[k] = true
			top = max(top, k)
		}
	}
	var missing []int
	for k := 0; k < top; k++ {
		if !seen[k] {
			missing = append(missing, k)
		}
	}
	return ranges(missing)
}

func summary(events []event.Event) string {
	var msgs []string
	for i, e := range events {
		if i == 20 {
			msgs = append(msgs, "...")
			break
		}
		msgs = append(msgs, fmt.Sprintf("%q", e.Message))
	}
	return strings.Join(msgs, " ")
}

// line returns the Winston JSON line of entry k (with its newline). The timestamp varies
// with k, as a real one does.
func line(k int) string {
	ts := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC).Add(time.Duration(k) * time.Millisecond)
	return fmt.Sprintf(`{"level":"info","message":"line %d","service":"vegas-crm-backend",`+
		`"timestamp":"%s"}`+"\n", k, ts.Format("2006-01-02T15:04:05.000Z"))
}

func lines(from, to int) string {
	var b strings.Builder
	for k := from; k < to; k++ {
		b.WriteString(line(k))
	}
	return b.String()
}

// hideChanges makes the source miss every notification from now on (as after a lost inotify
// queue) and drops wake-ups already queued for the followers, so that they look at their
// files again only when showChanges is called and a change is notified, or on a rescan.
func (h *harness) hideChanges() {
	h.src.dropEvents.Store(true)
	// A round trip through Run's loop: an event it was handling is done, later ones are
	// dropped; then a rescan it asked for is dropped too.
	done := make(chan struct{})
	h.src.barrier <- done
	<-done
	select {
	case <-h.src.rescan:
	default:
	}
	h.src.mu.Lock()
	defer h.src.mu.Unlock()
	for _, f := range h.src.followers {
		select {
		case <-f.poke:
		default:
		}
	}
}

func (h *harness) showChanges() { h.src.dropEvents.Store(false) }

// path returns the full name of a file in the harness folder.
func (h *harness) path(name string) string { return filepath.Join(h.dir, name) }

// appender opens name for appending as Winston does (O_APPEND), creating it.
func (h *harness) appender(name string) *os.File {
	h.t.Helper()
	f, err := os.OpenFile(h.path(name), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { f.Close() })
	return f
}

// write writes s to an open file.
func (h *harness) write(f *os.File, s string) {
	h.t.Helper()
	if _, err := f.WriteString(s); err != nil {
		h.t.Fatal(err)
	}
}

// appendFile appends s to the file name (opening and closing it).
func (h *harness) appendFile(name, s string) {
	h.t.Helper()
	f, err := os.OpenFile(h.path(name), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		h.t.Fatal(err)
	}
	defer f.Close()
	h.write(f, s)
}

// overwrite is the shell's "> name" followed by writing s: truncate in place, then write.
func (h *harness) overwrite(name, s string) {
	h.t.Helper()
	if err := os.WriteFile(h.path(name), []byte(s), 0o644); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) rename(from, to string) {
	h.t.Helper()
	if err := os.Rename(h.path(from), h.path(to)); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) remove(name string) {
	h.t.Helper()
	if err := os.Remove(h.path(name)); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) truncate(name string, size int64) {
	h.t.Helper()
	if err := os.Truncate(h.path(name), size); err != nil {
		h.t.Fatal(err)
	}
}

// copyTruncate does what logrotate's copytruncate does: copy name to copyName, then
// truncate name in place.
func (h *harness) copyTruncate(name, copyName string) {
	h.t.Helper()
	data, err := os.ReadFile(h.path(name))
	if err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(h.path(copyName), data, 0o644); err != nil {
		h.t.Fatal(err)
	}
	h.truncate(name, 0)
}

// writeNULs writes n NUL bytes at the end of name (a writer's hole made of real zeros).
func (h *harness) writeNULs(name string, n int) {
	h.appendFile(name, string(make([]byte, n)))
}

// inode returns the inode number of name.
func (h *harness) inode(name string) uint64 {
	h.t.Helper()
	fi, err := os.Stat(h.path(name))
	if err != nil {
		h.t.Fatal(err)
	}
	return toDevIno(fi).ino
}

// deletedFDs lists this process's descriptors that point to deleted files in the harness
// folder.
func deletedFDs(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	var open []string
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err == nil && strings.HasPrefix(target, dir) && strings.HasSuffix(target, "(deleted)") {
			open = append(open, target)
		}
	}
	return open
}

// openFDs counts this process's descriptors that point into dir.
func openFDs(t *testing.T, dir string) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	n := 0
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err == nil && strings.HasPrefix(target, dir+"/") {
			n++
		}
	}
	return n
}

// eventually polls cond: for conditions outside the source's signals (descriptors in /proc).
func eventually(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// modes runs a test with inotify and with polling.
func modes(t *testing.T, test func(t *testing.T, h *harness)) {
	for _, poll := range []bool{false, true} {
		name := "inotify"
		if poll {
			name = "poll"
		}
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			h.cfg.Poll = poll
			test(t, h)
		})
	}
}

// sscanLine reads k from a message "line k".
func sscanLine(msg string, k *int) (int, error) { return fmt.Sscanf(msg, "line %d", k) }
