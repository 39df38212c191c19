package sentry

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/winship/winship/sinks"
	"github.com/winship/winship/sinks/sentry/sentryfake"
)

// crashGuard stops g as kill -9 would: no pending save is written and nothing more is
// reserved; what is on disk is all a restart finds.
func crashGuard(g *guard) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.saveTimer != nil {
		g.saveTimer.Stop()
		g.saveTimer = nil
	}
	g.closed = true
}

// The tester's run: a quota of max events, many crashes mid-send, then a clean run. The
// server must never accept more than max distinct events, and each crash may leave at
// most one chunk (here one event) plus the places of failed sends unused.
func TestQuotaNeverExceededAcrossCrashes(t *testing.T) {
	const maxEvents, cycles = 60, 25
	srv := sentryfake.New(t, sentryfake.Options{})
	dir := t.TempDir()
	quota := func(o *Options) {
		o.Quota = Quota{MaxEvents: maxEvents, Period: 720 * time.Hour}
		o.Parallel = 4
	}
	rng := rand.New(rand.NewPCG(4, 300))
	seq, failures := 0, 0
	for c := 0; c < cycles; c++ {
		s := newTestSink(t, srv, sinkSetup{dir: dir, mutate: quota})
		if c%4 == 0 {
			srv.Script(sentryfake.Status(500), sentryfake.Status(503))
			failures += 2
		}
		batch := make([]*eventT, 1+rng.IntN(8))
		for i := range batch {
			batch[i] = errEvent("crash cycle event "+itoa(seq), seq)
			seq++
		}
		crashAt := len(srv.Events()) + rng.IntN(len(batch)+1)
		sendDone, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			err := s.Send(context.Background(), batch)
			cancel()
			done <- err
		}()
		srv.WaitEvents(sendDone, crashAt) // returns early when Send has ended
		crashGuard(s.guard)
		<-done
		cancel()
		s.tr.close()
		if n := len(srv.Events()); n > maxEvents {
			t.Fatalf("cycle %d: server accepted %d events, quota is %d", c, n, maxEvents)
		}
	}

	s := newTestSink(t, srv, sinkSetup{dir: dir, mutate: quota})
	for i := 0; i < 10; i++ {
		if err := s.Send(context.Background(), batchOf(8)); err != nil {
			t.Fatal(err)
		}
	}
	n := len(srv.Events())
	t.Logf("%d of %d accepted across %d crashes", n, maxEvents, cycles)
	if n > maxEvents {
		t.Fatalf("server accepted %d events across %d crashes, quota is %d", n, cycles, maxEvents)
	}
	if lost := maxEvents - n; lost > cycles*quotaChunk(maxEvents)+failures {
		t.Errorf("%d of the quota unused after %d crashes, want at most a chunk each plus "+
			"%d failed sends", lost, cycles, failures)
	}
	if s.Stats().HeldBackQuota == 0 {
		t.Error("the last run held nothing back; the test did not reach the quota")
	}
}

// The same property on the guard alone, with chunks larger than one and a random mix of
// accepted, failed and in-flight sends at each crash.
func TestGuardReservationSurvivesCrashLoop(t *testing.T) {
	const maxEvents, chunk = 400, 7
	dir := t.TempDir()
	clock := newClock()
	rng := rand.New(rand.NewPCG(9, 9))
	accepted := 0
	for life := 0; life < 200; life++ {
		g := newGuard(Quota{MaxEvents: maxEvents, Period: time.Hour}, Spike{}, dir, clock.Now,
			discardLogger())
		g.chunk = chunk
		var open []ticket
		released := 0
		for step := rng.IntN(30); step > 0; step-- {
			switch r := rng.IntN(10); {
			case r < 5:
				tk, reason, err := g.admit("A")
				if err != nil {
					t.Fatal(err)
				}
				if reason == "" {
					open = append(open, tk)
				}
			case len(open) == 0:
			case r < 8:
				g.commit(open[0])
				open = open[1:]
				accepted++
			default:
				g.release(open[0])
				open = open[1:]
				released++
			}
		}
		g.mu.Lock()
		unused := g.reserved - g.count - g.inflight
		g.mu.Unlock()
		if unused > chunk+released {
			t.Fatalf("life %d: %d reserved places unused, want at most a chunk (%d) plus the "+
				"%d released", life, unused, chunk, released)
		}
		// Requests on the wire when the process died may still be accepted.
		for range open {
			if rng.IntN(2) == 0 {
				accepted++
			}
		}
		crashGuard(g)
		if accepted > maxEvents {
			t.Fatalf("life %d: %d events accepted, quota is %d", life, accepted, maxEvents)
		}
	}
	t.Logf("%d of %d accepted across 200 crashes", accepted, maxEvents)
	if accepted < maxEvents/4 {
		t.Errorf("only %d of %d accepted; the crash loop barely exercised the quota",
			accepted, maxEvents)
	}
}

// A reservation that cannot be written keeps the event from being sent: Retry, not sent.
func TestQuotaReservationFailureKeepsTheEvent(t *testing.T) {
	srv := sentryfake.New(t, sentryfake.Options{})
	dir := t.TempDir()
	// A folder where the state file goes makes every write fail (the rename onto it).
	if err := os.MkdirAll(filepath.Join(dir, guardStateFile, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	s := newTestSink(t, srv, sinkSetup{dir: dir, mutate: func(o *Options) {
		o.Quota = Quota{MaxEvents: 10, Period: time.Hour}
	}})
	err := s.Send(context.Background(), batchOf(1))
	if se := asSinkError(t, err); se.Kind != sinks.Retry {
		t.Fatalf("Send = %v, want Retry", err)
	}
	if n := srv.Requests(); n != 0 {
		t.Errorf("%d requests without a saved reservation", n)
	}
	if c := s.Counters()["guard_state_errors"]; c != 1 {
		t.Errorf("guard_state_errors = %d, want 1", c)
	}
	if err := os.RemoveAll(filepath.Join(dir, guardStateFile)); err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), batchOf(1)); err != nil || len(srv.Events()) != 1 {
		t.Errorf("after the disk recovered: %v, %d events", err, len(srv.Events()))
	}
}

// The file holds the reservation before the event is sent, not a second later.
func TestQuotaReservedOnDiskBeforeTheRequest(t *testing.T) {
	dir := t.TempDir()
	srv := sentryfake.New(t, sentryfake.Options{})
	s := newTestSink(t, srv, sinkSetup{dir: dir, mutate: func(o *Options) {
		o.Quota = Quota{MaxEvents: 5000, Period: 720 * time.Hour}
	}})
	if err := s.Send(context.Background(), batchOf(1)); err != nil {
		t.Fatal(err)
	}
	var st guardState
	b, err := os.ReadFile(filepath.Join(dir, guardStateFile))
	if err == nil {
		err = json.Unmarshal(b, &st)
	}
	if err != nil || st.Reserved != quotaChunk(5000) || st.PeriodStart.IsZero() {
		t.Fatalf("guard.json right after one send: %+v, %v; want %d reserved",
			st, err, quotaChunk(5000))
	}
	crashGuard(s.guard)
	g := newGuard(Quota{MaxEvents: 5000, Period: 720 * time.Hour}, Spike{}, dir, s.now,
		discardLogger())
	defer g.close()
	if g.quotaCount() != quotaChunk(5000) {
		t.Errorf("count after a crash %d, want the whole reservation %d", g.quotaCount(),
			quotaChunk(5000))
	}
}

func TestQuotaChunk(t *testing.T) {
	for _, tt := range []struct{ max, want int }{
		{1, 1}, {300, 1}, {5000, 5}, {50_000, 50}, {10_000_000, maxQuotaChunk},
	} {
		if got := quotaChunk(tt.max); got != tt.want {
			t.Errorf("quotaChunk(%d) = %d, want %d", tt.max, got, tt.want)
		}
	}
}

// A send admitted in one period and answered in the next counts in neither the new
// period's count nor its in-flight places.
func TestQuotaTicketOfAnOldPeriod(t *testing.T) {
	clock := newClock()
	g := newGuard(Quota{MaxEvents: 2, Period: time.Hour}, Spike{}, "", clock.Now, discardLogger())
	old, _, _ := g.admit("A")
	clock.Advance(time.Hour)
	t1, reason, _ := g.admit("A")
	if reason != "" {
		t.Fatal("new period refused its first event")
	}
	g.commit(old)
	g.commit(t1)
	if _, reason, _ := g.admit("A"); reason != "" || g.quotaCount() != 1 {
		t.Errorf("old ticket counted in the new period: count %d, reason %q",
			g.quotaCount(), reason)
	}
}
