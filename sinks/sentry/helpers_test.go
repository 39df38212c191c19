package sentry

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/winship/winship/agent/event"
	"github.com/winship/winship/sinks"
	"github.com/winship/winship/sinks/sentry/sentryfake"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeClock is a settable clock shared by a sink and a fake server.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 12, 3, 15, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// logBuffer collects a sink's log output for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) count(s string) int { return strings.Count(l.String(), s) }

// testSink builds a sink of typ pointed at srv, with its own state folder unless dir is
// given, and closes it when the test ends.
type testSink struct {
	*Sink
	logs  *logBuffer
	clock *fakeClock
	dir   string
}

type sinkSetup struct {
	typ    string
	dir    string
	clock  *fakeClock
	mutate func(*Options)
}

func newTestSink(t *testing.T, srv *sentryfake.Server, su sinkSetup) *testSink {
	t.Helper()
	if su.typ == "" {
		su.typ = TypeSentry
	}
	if su.dir == "" {
		su.dir = t.TempDir()
	}
	if su.clock == nil {
		su.clock = newClock()
	}
	o := Factory(su.typ).NewOptions().(*Options)
	o.DSN = srv.DSN()
	o.Environment = "production"
	o.Release = "crm@1.4.2"
	if su.mutate != nil {
		su.mutate(o)
	}
	if err := o.Validate(); err != nil {
		t.Fatalf("validate: %v", err)
	}
	logs := &logBuffer{}
	spec := sinks.Spec{Name: "errors", Type: su.typ, StateDir: su.dir, Host: "web-1",
		Logger: slog.New(slog.NewTextHandler(logs, nil)).With("sink", "errors")}
	s, err := newSink(spec, o, su.clock.Now)
	if err != nil {
		t.Fatalf("new sink: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return &testSink{Sink: s, logs: logs, clock: su.clock, dir: su.dir}
}

const testStack = "TypeError: x is not a function\n" +
	"    at handler (/opt/app/src/routes/deals.js:41:13)\n" +
	"    at Layer.handle [as handle_request] (/opt/app/node_modules/express/lib/router/layer.js:95:5)\n" +
	"    at next (/opt/app/node_modules/express/lib/router/route.js:149:13)\n" +
	"    at async Promise.all (index 0)\n" +
	"    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)"

// errEvent is an error entry as the Winston json parser produces it.
func errEvent(msg string, seq int) *event.Event {
	return &event.Event{
		Time:    time.Date(2026, 12, 3, 15, 34, 33, seq*1_000_000, time.UTC),
		Level:   event.Error,
		Message: msg,
		Stack:   testStack,
		Fields:  []byte(`{"service":"vegas-crm-backend","userId":7}`),
		Source:  "app",
		Path:    "/opt/app/logs/error.log",
	}
}

func batchOf(n int) []*event.Event {
	b := make([]*event.Event, n)
	for i := range b {
		b[i] = errEvent("boom #"+itoa(i), i)
	}
	return b
}

// asSinkError returns err as a *sinks.Error or fails the test.
func asSinkError(t *testing.T, err error) *sinks.Error {
	t.Helper()
	se, ok := err.(*sinks.Error)
	if !ok {
		t.Fatalf("error %T (%v), want *sinks.Error", err, err)
	}
	return se
}

type eventT = event.Event

func infoEvent(msg string, at time.Time) *event.Event {
	return &event.Event{Time: at, Level: event.Info, Message: msg, Source: "app",
		Fields: []byte(`{"route":"/deals"}`)}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func loggerTo(l *logBuffer) *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }
