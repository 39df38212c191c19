package sentry

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/winship/winship/sinks/sentry/sentryfake"
)

func readOverflow(t *testing.T, dir string) []overflowRecord {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, overflowFile))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []overflowRecord
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r overflowRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("overflow line %q: %v", sc.Text(), err)
		}
		out = append(out, r)
	}
	return out
}

func TestQuotaHoldsBackCountsAndSurvivesRestart(t *testing.T) {
	clock := newClock()
	srv := sentryfake.New(t, sentryfake.Options{Now: clock.Now})
	dir := t.TempDir()
	quota := func(o *Options) { o.Quota = Quota{MaxEvents: 3, Period: 720 * time.Hour} }
	s := newTestSink(t, srv, sinkSetup{dir: dir, clock: clock, mutate: quota})

	if err := s.Send(context.Background(), batchOf(5)); err != nil {
		t.Fatalf("Send over the quota must report delivered, got %v", err)
	}
	if n := len(srv.Events()); n != 3 {
		t.Fatalf("%d events sent, want the quota's 3", n)
	}
	if st := s.Stats(); st.Sent != 3 || st.HeldBackQuota != 2 {
		t.Errorf("stats %+v", st)
	}
	recs := readOverflow(t, dir)
	if len(recs) != 2 || recs[0].Reason != reasonQuota || recs[0].Message == "" {
		t.Fatalf("overflow file %+v", recs)
	}
	if s.Send(context.Background(), batchOf(2)) != nil || s.logs.count("sentry quota reached") != 1 {
		t.Errorf("quota warning logged %d times, want once per period:\n%s",
			s.logs.count("sentry quota reached"), s.logs)
	}
	s.Close()

	// A restart within the period keeps the count.
	s2 := newTestSink(t, srv, sinkSetup{dir: dir, clock: clock, mutate: quota})
	if err := s2.Send(context.Background(), []*eventT{errEvent("after restart", 50)}); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.Events()); n != 3 {
		t.Fatalf("restart forgot the quota: %d events sent", n)
	}

	// A new period sends again and says how many of the group were held back.
	clock.Advance(721 * time.Hour)
	if err := s2.Send(context.Background(), []*eventT{errEvent("new period", 60)}); err != nil {
		t.Fatal(err)
	}
	evs := srv.Events()
	if len(evs) != 4 {
		t.Fatalf("%d events after the period rolled, want 4", len(evs))
	}
	last := evs[3].Event
	if last.Tags["winship.held_back"] != "5" {
		t.Errorf("held_back tag %q, want 5 (2+2+1 held back)", last.Tags["winship.held_back"])
	}
	if last.Contexts[ctxWinship]["held_back"] != float64(5) {
		t.Errorf("winship context %v", last.Contexts[ctxWinship])
	}
	if s2.guard.quotaCount() != 1 {
		t.Errorf("count in the new period %d, want 1", s2.guard.quotaCount())
	}
}

func TestQuotaCountsOnlyAcceptedSends(t *testing.T) {
	srv := sentryfake.New(t, sentryfake.Options{})
	s := newTestSink(t, srv, sinkSetup{mutate: func(o *Options) {
		o.Quota = Quota{MaxEvents: 2, Period: time.Hour}
	}})
	srv.Script(sentryfake.Status(500), sentryfake.BadRequest("no"))
	s.Send(context.Background(), batchOf(1))
	s.Send(context.Background(), batchOf(1))
	if c := s.guard.quotaCount(); c != 0 {
		t.Fatalf("failed sends counted: %d", c)
	}
	if err := s.Send(context.Background(), batchOf(2)); err != nil {
		t.Fatal(err)
	}
	if len(srv.Events()) != 2 {
		t.Errorf("%d sent, want 2", len(srv.Events()))
	}
}

func TestSpikeGuardPerIssue(t *testing.T) {
	clock := newClock()
	srv := sentryfake.New(t, sentryfake.Options{Now: clock.Now})
	s := newTestSink(t, srv, sinkSetup{clock: clock, mutate: func(o *Options) {
		o.Spike.MaxPerMinute = 3
		o.Parallel = 1
	}})
	other := errEvent("other issue", 99)
	other.Stack = "RangeError: bad\n    at other (/opt/app/src/other.js:1:1)"
	batch := append(batchOf(5), other)
	if err := s.Send(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.Events()); n != 4 {
		t.Fatalf("%d sent, want 3 of the spiking issue and 1 other", n)
	}
	recs := readOverflow(t, s.dir)
	if len(recs) != 2 || recs[0].Reason != reasonSpike ||
		recs[0].Group != "TypeError at handler (/opt/app/src/routes/deals.js)" {
		t.Fatalf("overflow %+v", recs)
	}
	if s.logs.count("spike guard") != 1 {
		t.Errorf("spike warning logged %d times", s.logs.count("spike guard"))
	}
	clock.Advance(time.Minute)
	if err := s.Send(context.Background(), []*eventT{errEvent("next minute", 200)}); err != nil {
		t.Fatal(err)
	}
	evs := srv.Events()
	if got := evs[len(evs)-1].Event.Tags["winship.held_back"]; got != "2" {
		t.Errorf("held_back %q, want 2", got)
	}
	if st := s.Stats(); st.HeldBackSpike != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestHeldBackCountKeptWhenItsSendFails(t *testing.T) {
	g := newGuard(Quota{}, Spike{MaxPerMinute: 1}, "", newClock().Now, discardLogger())
	t1, _, _ := g.admit("A")
	if _, reason, _ := g.admit("A"); reason != reasonSpike {
		t.Fatal("second event of the minute admitted")
	}
	g.commit(t1)
	g.now = func() time.Time { return newClock().Now().Add(time.Minute) }
	t2, _, _ := g.admit("A")
	if t2.heldBack != 1 {
		t.Fatalf("heldBack %d, want 1", t2.heldBack)
	}
	g.release(t2)
	t3, _, _ := g.admit("A")
	if t3.heldBack != 1 {
		t.Errorf("failed send lost the held-back count: %d", t3.heldBack)
	}
}

func TestGuardStateUnreadableStartsAfresh(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, guardStateFile), []byte("{oops"), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	g := newGuard(Quota{MaxEvents: 1, Period: time.Hour}, Spike{}, dir, time.Now, loggerTo(logs))
	defer g.close()
	if g.quotaCount() != 0 || logs.count("unreadable") != 1 {
		t.Errorf("count %d, log %s", g.quotaCount(), logs)
	}
}

func TestOverflowFileRotates(t *testing.T) {
	dir := t.TempDir()
	o := newOverflowLog(dir)
	defer o.close()
	e := errEvent("x", 1)
	e.Stack = string(make([]byte, 0))
	e.Message = string(bytesOf('m', 1<<20))
	for i := 0; i < 20; i++ {
		if err := o.append(overflowRecord{Reason: reasonQuota}, e); err != nil {
			t.Fatal(err)
		}
	}
	st, err := os.Stat(filepath.Join(dir, overflowFile))
	if err != nil || st.Size() > maxOverflowBytes {
		t.Fatalf("overflow file %v, %v", st, err)
	}
	if _, err := os.Stat(filepath.Join(dir, overflowFile+".1")); err != nil {
		t.Errorf("no rotated file: %v", err)
	}
}

func bytesOf(c byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = c
	}
	return b
}

// Hundreds of distinct held-back groups must not grow guard.json without bound: it keeps
// the maxHeldGroups held back most recently, in memory and on disk, and counts evictions.
func TestHeldBackGroupsBoundedOldestEvicted(t *testing.T) {
	dir := t.TempDir()
	clock := newClock()
	g := newGuard(Quota{MaxEvents: 1, Period: time.Hour}, Spike{}, dir, clock.Now, discardLogger())
	tk, _, _ := g.admit("sent")
	g.commit(tk)
	const extra = 50
	for i := 0; i < maxHeldGroups+extra; i++ {
		if _, reason, _ := g.admit("group " + itoa(i)); reason != reasonQuota {
			t.Fatalf("event %d not held back: %q", i, reason)
		}
	}
	g.admit("group 60") // held again: now the most recent
	if err := g.close(); err != nil {
		t.Fatal(err)
	}
	if n := g.evicted.Load(); n != extra {
		t.Errorf("%d groups evicted, want %d", n, extra)
	}
	var st guardState
	b, err := os.ReadFile(filepath.Join(dir, guardStateFile))
	if err == nil {
		err = json.Unmarshal(b, &st)
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(st.HeldBack) != maxHeldGroups {
		t.Fatalf("guard.json holds %d groups, want at most %d", len(st.HeldBack), maxHeldGroups)
	}
	first, last := st.HeldBack[0], st.HeldBack[len(st.HeldBack)-1]
	if first.Group != "group "+itoa(extra) || last.Group != "group 60" || last.N != 2 {
		t.Errorf("oldest kept %+v, newest %+v; want group %d first, group 60 (2) last",
			first, last, extra)
	}
	// A restart keeps the order: the next new group evicts the oldest saved one.
	g2 := newGuard(Quota{MaxEvents: 1, Period: time.Hour}, Spike{}, dir, clock.Now, discardLogger())
	defer g2.close()
	g2.admit("one more")
	g2.mu.Lock()
	defer g2.mu.Unlock()
	if g2.held.len() != maxHeldGroups || g2.held.take("group "+itoa(extra)) != 0 ||
		g2.held.take("group "+itoa(extra+1)) != 1 {
		t.Errorf("after a restart the oldest group was not the one evicted")
	}
}

func TestIssueGroupOfStacklessErrors(t *testing.T) {
	m := newMapper("web-1", defaultOptions(TypeSentry))
	group := func(msg, stack string) string {
		e := errEvent(msg, 0)
		e.Stack = stack
		return issueGroup(m.mapEvent(e))
	}
	tests := []struct{ a, b, stackA, stackB string }{
		{"Order 123 failed", "Order 98765 failed", "", ""},
		{"x", "y", "Error: order 17 not found", "Error: order 4096 not found"},
		{"retry 1 of 3 for job 2024-12-03", "retry 2 of 3 for job 2025-01-30", "", ""},
	}
	for _, tt := range tests {
		if ga, gb := group(tt.a, tt.stackA), group(tt.b, tt.stackB); ga != gb {
			t.Errorf("%q and %q are different issues: %q, %q", tt.a+tt.stackA,
				tt.b+tt.stackB, ga, gb)
		}
	}
	if g := group("Order 123 failed", ""); g != "message: Order N failed" {
		t.Errorf("group %q", g)
	}
	if g := group("x", "TypeError: order 17 not found"); g != "TypeError: order N not found" {
		t.Errorf("group %q", g)
	}
	if group("x", "TypeError: a") == group("x", "RangeError: a") ||
		group("Order 1 failed", "") == group("Order 1 shipped", "") {
		t.Error("different types or words share an issue")
	}
	if g := group(strings.Repeat("ü", 1000), ""); len(g) > maxGroupKey {
		t.Errorf("group of %d bytes, want at most %d", len(g), maxGroupKey)
	}
}

// A flood of numbered stackless errors is one issue for the spike guard.
func TestSpikeGuardTreatsNumberedMessagesAsOneIssue(t *testing.T) {
	srv := sentryfake.New(t, sentryfake.Options{})
	s := newTestSink(t, srv, sinkSetup{mutate: func(o *Options) {
		o.Spike.MaxPerMinute = 3
		o.Parallel = 1
	}})
	batch := make([]*eventT, 40)
	for i := range batch {
		batch[i] = errEvent("Order "+itoa(1000+i)+" failed", i)
		batch[i].Stack = ""
	}
	if err := s.Send(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.Events()); n != 3 {
		t.Errorf("%d sent, want the spike limit of 3", n)
	}
	c := s.Counters()
	if c["held_back_spike"] != 37 || c["sent"] != 3 {
		t.Errorf("counters %v", c)
	}
	s.guard.mu.Lock()
	defer s.guard.mu.Unlock()
	if n := s.guard.held.len(); n != 1 {
		t.Errorf("%d held-back groups, want 1", n)
	}
}
