package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/winship/winship/agent/config"
	"github.com/winship/winship/sinks"
	"github.com/winship/winship/sinks/file"
	httpsink "github.com/winship/winship/sinks/http"
	"github.com/winship/winship/sinks/http/httpfake"
)

var httpFactories = map[string]sinks.Factory{"file": file.Factory, "http": httpsink.Factory}

// httpSetup writes a config with one source over dir/logs and one http sink at url.
func httpSetup(t *testing.T, dir, url, sinkExtra string) *config.Config {
	t.Helper()
	os.MkdirAll(filepath.Join(dir, "logs"), 0o755)
	return testConfig(t, dir, fmt.Sprintf(`
state_dir: ./state
shutdown_timeout: 2s
sources:
  - name: backend
    paths: ["./logs/*.log"]
    format: json
sinks:
  - name: api
    type: http
    url: %s
    timeout: 10s
    retry: { initial_backoff: 20ms, max_backoff: 200ms }
    batch: { max_events: 500, max_wait: 20ms }
%s`, url, sinkExtra), httpFactories)
}

// appendNumbered appends lines "line <n>" for n in [from, to).
func appendNumbered(t *testing.T, path string, from, to int, pad int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b strings.Builder
	filler := strings.Repeat("x", pad)
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, `{"level":"info","message":"line %d","n":%d,"pad":"%s","timestamp":"2026-12-03T10:00:00.000Z"}`+"\n", i, i, filler)
	}
	if _, err := f.WriteString(b.String()); err != nil {
		t.Fatal(err)
	}
}

// running is an agent started in follow mode by a test.
type running struct {
	cancel context.CancelFunc
	done   chan error
}

func startRun(t *testing.T, cfg *config.Config) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- Run(ctx, cfg, quietLogger(t), Options{}) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop cancels the agent and returns how long it took to exit.
func (r *running) stop(t *testing.T) time.Duration {
	t.Helper()
	if r.done == nil {
		return 0
	}
	start := time.Now()
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("agent did not stop")
	}
	r.done = nil
	return time.Since(start)
}

func waitAccepted(t *testing.T, fake *httpfake.Server, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := fake.WaitAccepted(ctx, n); err != nil {
		t.Fatal(err)
	}
}

// checkEachOnce asserts the fake accepted lines 0..n-1 exactly once each.
func checkEachOnce(t *testing.T, fake *httpfake.Server, n int) {
	t.Helper()
	seen := make([]int, n)
	for _, e := range fake.Events() {
		var k int
		if _, err := fmt.Sscanf(e.Str("message"), "line %d", &k); err != nil || k >= n {
			t.Fatalf("unexpected event %s", e.Raw)
		}
		seen[k]++
	}
	for k, c := range seen {
		if c != 1 {
			t.Fatalf("line %d delivered %d times", k, c)
		}
	}
	if p := fake.Problems(); len(p) > 0 {
		t.Fatalf("the fake found problems: %v", p)
	}
}

// TestOutageThenRecovery: the sink answers 503 while 10,000 lines are written; once it is
// back every line arrives, once.
func TestOutageThenRecovery(t *testing.T) {
	dir := t.TempDir()
	fake := httpfake.New(t, httpfake.Config{RequireGzip: true})
	fake.Down(httpfake.Answer{Status: 503})
	cfg := httpSetup(t, dir, fake.URL, "")
	r := startRun(t, cfg)
	log := filepath.Join(dir, "logs/combined.log")
	for i := 0; i < 10; i++ {
		appendNumbered(t, log, i*1000, (i+1)*1000, 0)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := fake.Wait(ctx, func(s httpfake.Stats) bool { return s.Requests >= 5 }); err != nil {
		t.Fatal(err)
	}
	fake.Up()
	waitAccepted(t, fake, 10000)
	r.stop(t)
	checkEachOnce(t, fake, 10000)
}

// TestShutdownWithSinkDownKeepsEverything: SIGTERM (cancel) while the sink is down stops the
// agent within shutdown_timeout; a restart with the sink up delivers everything.
func TestShutdownWithSinkDownKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	fake := httpfake.New(t, httpfake.Config{})
	fake.Down(httpfake.Answer{Hang: true})
	cfg := httpSetup(t, dir, fake.URL, "")
	appendNumbered(t, filepath.Join(dir, "logs/combined.log"), 0, 3000, 0)
	r := startRun(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := fake.Wait(ctx, func(s httpfake.Stats) bool { return s.Requests >= 1 }); err != nil {
		t.Fatal(err)
	}
	if took := r.stop(t); took > cfg.ShutdownTimeout+3*time.Second {
		t.Fatalf("stopping took %s with shutdown_timeout %s", took, cfg.ShutdownTimeout)
	}
	fake.Up()
	runOnce(t, cfg)
	checkEachOnce(t, fake, 3000)
}

// TestPoisonEventIsDeadLettered: a batch holding one event the server rejects forever is
// bisected; that event goes to the dead-letter file with its status, all others arrive.
func TestPoisonEventIsDeadLettered(t *testing.T) {
	dir := t.TempDir()
	fake := httpfake.New(t, httpfake.Config{})
	fake.Poison(400, func(e httpfake.Event) bool { return e.Str("message") == "line 777" })
	cfg := httpSetup(t, dir, fake.URL, "")
	appendNumbered(t, filepath.Join(dir, "logs/combined.log"), 0, 2000, 0)
	runOnce(t, cfg)

	counts := map[string]int{}
	for _, e := range fake.Events() {
		counts[e.Str("message")]++
	}
	if len(counts) != 1999 || counts["line 777"] != 0 {
		t.Fatalf("delivered %d distinct events, poison delivered %d times", len(counts), counts["line 777"])
	}
	data, err := os.ReadFile(filepath.Join(cfg.StateDir, "deadletter/api.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 1 {
		t.Fatalf("dead-letter file has %d lines: %s", len(lines), data)
	}
	var dl struct {
		Status int
		Reason string
		Event  struct{ Message string }
	}
	if err := json.Unmarshal([]byte(lines[0]), &dl); err != nil {
		t.Fatal(err)
	}
	if dl.Status != 400 || dl.Event.Message != "line 777" || dl.Reason == "" {
		t.Fatalf("dead letter %+v", dl)
	}
}

// TestTooLargeBatchesAreSplit: 413 for bodies over a size → batches are split until they fit.
func TestTooLargeBatchesAreSplit(t *testing.T) {
	dir := t.TempDir()
	fake := httpfake.New(t, httpfake.Config{MaxBodyBytes: 8 << 10})
	cfg := httpSetup(t, dir, fake.URL, "    gzip: false\n")
	appendNumbered(t, filepath.Join(dir, "logs/combined.log"), 0, 1000, 20)
	runOnce(t, cfg)
	checkEachOnce(t, fake, 1000)
	for _, r := range fake.Requests() {
		if r.Status == 200 && r.WireBytes > 8<<10 {
			t.Fatalf("accepted request of %d bytes over the limit", r.WireBytes)
		}
	}
}

// TestPausedSinkDeliversWhenAccepted: 403 (bad token), then 402 (quota) pause the sink and
// keep the data; each new reason is logged at once; once the server accepts again,
// everything is delivered and the resumption is logged.
func TestPausedSinkDeliversWhenAccepted(t *testing.T) {
	dir := t.TempDir()
	fake := httpfake.New(t, httpfake.Config{})
	fake.QueueN(2, httpfake.Answer{Status: 403})
	fake.Down(httpfake.Answer{Status: 402})
	cfg := httpSetup(t, dir, fake.URL, "")
	appendNumbered(t, filepath.Join(dir, "logs/combined.log"), 0, 500, 0)
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, cfg, slog.New(slog.NewTextHandler(logs, nil)), Options{})
	}()
	wctx, wcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer wcancel()
	if err := fake.Wait(wctx, func(s httpfake.Stats) bool { return s.Requests >= 4 }); err != nil {
		t.Fatal(err)
	}
	fake.Up()
	waitAccepted(t, fake, 500)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	checkEachOnce(t, fake, 500)
	out := logs.String()
	for _, want := range []string{"status 403", "status 402", "sink resumed"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestBlockWhenFullPausesReading: with the sink down and buffer.max_bytes reached, reading
// pauses (the buffer stays bounded); when the sink is back, nothing is lost.
func TestBlockWhenFullPausesReading(t *testing.T) {
	dir := t.TempDir()
	fake := httpfake.New(t, httpfake.Config{})
	fake.Down(httpfake.Answer{Status: 503})
	cfg := httpSetup(t, dir, fake.URL, "    buffer: { max_bytes: 1MiB, when_full: block }\n")
	const total = 12000 // ~3.5 MiB of records, three times the limit
	appendNumbered(t, filepath.Join(dir, "logs/combined.log"), 0, total, 200)
	a, stop := startInProcess(t, cfg)
	waitFor(t, "the buffer to fill", 30*time.Second, func() bool {
		return a.workers[0].cursor.Backlog() >= 1<<20
	})
	// Reading is paused: the backlog stays within the limit plus one group commit.
	time.Sleep(300 * time.Millisecond) // give a broken limit time to show
	if b := a.workers[0].cursor.Backlog(); b > 1<<20+groupBytes {
		t.Fatalf("backlog %d bytes, limit 1MiB", b)
	}
	if got := counterValue(t, a.m.buffered); got >= total {
		t.Fatalf("all %v lines buffered although the limit is far below them", got)
	}
	fake.Up()
	waitAccepted(t, fake, total)
	stop()
	checkEachOnce(t, fake, total)
}

// TestDropOldestCountsExactly: with drop_oldest, what was delivered plus what was counted
// as dropped is exactly what was written, and the dropped ones are the oldest.
func TestDropOldestCountsExactly(t *testing.T) {
	dir := t.TempDir()
	fake := httpfake.New(t, httpfake.Config{})
	fake.Down(httpfake.Answer{Status: 503})
	cfg := httpSetup(t, dir, fake.URL, "    buffer: { max_bytes: 1MiB, when_full: drop_oldest }\n")
	const total = 12000
	appendNumbered(t, filepath.Join(dir, "logs/combined.log"), 0, total, 200)
	a, stop := startInProcess(t, cfg)
	waitFor(t, "every line to be buffered", 30*time.Second, func() bool {
		return counterValue(t, a.m.buffered) == total
	})
	dropped := int(counterValue(t, a.m.dropped.WithLabelValues("api", "drop_oldest")))
	if dropped == 0 {
		t.Fatal("nothing dropped although three times the limit was written")
	}
	fake.Up()
	waitAccepted(t, fake, total-dropped)
	stop()
	got := map[int]int{}
	for _, e := range fake.Events() {
		var k int
		fmt.Sscanf(e.Str("message"), "line %d", &k)
		got[k]++
	}
	if len(got) != total-dropped {
		t.Fatalf("delivered %d distinct + dropped %d != written %d", len(got), dropped, total)
	}
	// The newest lines are kept; the oldest are dropped, except the few batches that were
	// already being sent when the limit was reached (they are delivered, not counted).
	for k := total - 3000; k < total; k++ {
		if got[k] != 1 {
			t.Fatalf("line %d (among the newest) delivered %d times", k, got[k])
		}
	}
	for k, n := range got {
		if n != 1 {
			t.Fatalf("line %d delivered %d times", k, n)
		}
	}
}

// counterValue reads a Prometheus counter.
func counterValue(t *testing.T, c prometheus.Metric) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// TestCorruptBufferTailIsSkipped: garbage appended to the last buffer segment while the
// agent was stopped does not stop it from starting, and every intact record is delivered.
func TestCorruptBufferTailIsSkipped(t *testing.T) {
	dir := t.TempDir()
	fake := httpfake.New(t, httpfake.Config{})
	fake.Down(httpfake.Answer{Status: 503})
	cfg := httpSetup(t, dir, fake.URL, "")
	appendNumbered(t, filepath.Join(dir, "logs/combined.log"), 0, 2000, 0)
	r := startRun(t, cfg)
	waitFor(t, "the lines to be buffered", 30*time.Second, func() bool {
		data, _ := os.ReadFile(filepath.Join(cfg.StateDir, "checkpoints.json"))
		return strings.Contains(string(data), `"offset": `+fmt.Sprint(fileSize(t, filepath.Join(dir, "logs/combined.log"))))
	})
	r.stop(t)

	segs, _ := filepath.Glob(filepath.Join(cfg.StateDir, "buffer", "*.seg"))
	if len(segs) == 0 {
		t.Fatal("no buffer segment")
	}
	f, err := os.OpenFile(segs[len(segs)-1], os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("\x13\x37garbage that is not a record\x00\x00\x00\x00\xff\xff"))
	f.Close()

	fake.Up()
	start := time.Now()
	runOnce(t, cfg)
	if took := time.Since(start); took > 20*time.Second {
		t.Fatalf("start and delivery took %s", took)
	}
	checkEachOnce(t, fake, 2000)
}

func fileSize(t *testing.T, p string) int64 {
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// TestDeadSinkDoesNotStopOthers: one sink is down for good; the other still gets every
// line, because the dead one's share of the buffer is bounded by its own policy.
func TestDeadSinkDoesNotStopOthers(t *testing.T) {
	dir := t.TempDir()
	dead := httpfake.New(t, httpfake.Config{})
	dead.Down(httpfake.Answer{Status: 503})
	os.MkdirAll(filepath.Join(dir, "logs"), 0o755)
	cfg := testConfig(t, dir, fmt.Sprintf(`
state_dir: ./state
metrics_addr: 127.0.0.1:0
sources:
  - name: backend
    paths: ["./logs/*.log"]
    format: json
sinks:
  - name: dead
    type: http
    url: %s
    buffer: { max_bytes: 1MiB, when_full: drop_oldest }
    retry: { initial_backoff: 20ms, max_backoff: 100ms }
  - name: archive
    type: file
    path: ./out/events.jsonl
`, dead.URL), httpFactories)
	const total = 15000
	appendNumbered(t, filepath.Join(dir, "logs/combined.log"), 0, total, 200)
	r := startRun(t, cfg)
	waitFor(t, "every line in the file sink", 60*time.Second, func() bool {
		return len(readOut(t, filepath.Join(dir, "out/events.jsonl"))) >= total
	})
	r.stop(t)
	if got := len(readOut(t, filepath.Join(dir, "out/events.jsonl"))); got != total {
		t.Fatalf("file sink got %d events, want %d", got, total)
	}
}

// TestStopDuringRetriesIsPrompt: with the sink answering 503 (nothing on the wire for
// long), stopping does not wait for shutdown_timeout: waits between attempts end at once.
func TestStopDuringRetriesIsPrompt(t *testing.T) {
	dir := t.TempDir()
	fake := httpfake.New(t, httpfake.Config{})
	fake.Down(httpfake.Answer{Status: 503})
	cfg := httpSetup(t, dir, fake.URL, "")
	cfg.ShutdownTimeout = 20 * time.Second
	cfg.Sinks[0].Retry.InitialBackoff, cfg.Sinks[0].Retry.MaxBackoff = 5*time.Second, 10*time.Second
	appendNumbered(t, filepath.Join(dir, "logs/combined.log"), 0, 100, 0)
	r := startRun(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := fake.Wait(ctx, func(s httpfake.Stats) bool { return s.Requests >= 1 }); err != nil {
		t.Fatal(err)
	}
	if took := r.stop(t); took > 5*time.Second {
		t.Fatalf("stopping took %s while the sink only waited to retry", took)
	}
}

// TestMetricsHoldNoSecrets: the registry /metrics serves has the pipeline's series, and no label holds a URL or
// a secret.
func TestMetricsHoldNoSecrets(t *testing.T) {
	dir := t.TempDir()
	fake := httpfake.New(t, httpfake.Config{Token: "s3cr3t-token"})
	cfg := httpSetup(t, dir, fake.URL+"/ingest?key=s3cr3t-key", "    headers: { Authorization: Bearer s3cr3t-token }\n")
	cfg.MetricsAddr = "127.0.0.1:0"
	appendNumbered(t, filepath.Join(dir, "logs/combined.log"), 0, 10, 0)
	a, stop := startInProcess(t, cfg)
	waitAccepted(t, fake, 10)
	stop()
	var buf bytes.Buffer
	if err := expfmtText(a, &buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{`winship_events_sent_total{sink="api"} 10`,
		`winship_source_total{what="lines"} 10`, "winship_events_buffered_total 10"} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(out, "s3cr3t") || strings.Contains(out, "127.0.0.1") {
		t.Error("a secret or the sink URL is in the metrics")
	}
}

// expfmtText gathers the agent's registry in the text exposition format.
func expfmtText(a *agent, w *bytes.Buffer) error {
	mfs, err := a.m.reg.Gather()
	if err != nil {
		return err
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			w.WriteString(mf.GetName())
			if len(m.GetLabel()) > 0 {
				w.WriteString("{")
				for i, l := range m.GetLabel() {
					if i > 0 {
						w.WriteString(",")
					}
					fmt.Fprintf(w, "%s=%q", l.GetName(), l.GetValue())
				}
				w.WriteString("}")
			}
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
			fmt.Fprintf(w, " %g\n", v)
		}
	}
	return nil
}

// startInProcess starts the agent in follow mode and returns it, with a stop that cancels
// it and fails the test if it ended with an error.
func startInProcess(t *testing.T, cfg *config.Config) (*agent, func()) {
	t.Helper()
	a, err := start(cfg, quietLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.run(ctx, Options{}) }()
	return a, func() {
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
