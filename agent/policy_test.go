package agent

import (
	"testing"
	"time"

	"github.com/winship/winship/agent/event"
)

func TestBatchPolicy(t *testing.T) {
	t0 := time.Unix(100, 0)
	p := batchPolicy{maxEvents: 3, maxBytes: 100, maxWait: time.Second}
	if !p.deadline().IsZero() || p.due(t0) {
		t.Fatal("an empty batch has a deadline or is due")
	}
	if p.add(10, t0) || p.add(10, t0.Add(time.Millisecond)) {
		t.Fatal("full before max_events")
	}
	if p.deadline() != t0.Add(time.Second) {
		t.Fatalf("deadline %v: it starts at the first event", p.deadline())
	}
	if p.due(t0.Add(999*time.Millisecond)) || !p.due(t0.Add(time.Second)) {
		t.Fatal("max_wait not honoured")
	}
	if ev, by := p.room(); ev != 1 || by != 80 {
		t.Fatalf("room %d events %d bytes", ev, by)
	}
	if !p.add(1, t0) {
		t.Fatal("not full at max_events")
	}
	p.reset()
	if !p.add(500, t0) {
		t.Fatal("one event over max_bytes does not fill the batch")
	}
	if ev, by := p.room(); ev < 1 || by < 1 {
		t.Fatal("room must allow one more record so a reader never asks for zero")
	}
}

func TestBackoff(t *testing.T) {
	b := backoff{initial: 100 * time.Millisecond, max: time.Second}
	for i := 0; i < 50; i++ {
		ceil := min(100*time.Millisecond<<i, time.Second)
		if i > 20 {
			ceil = time.Second
		}
		if d := b.next(0); d < 0 || d > ceil {
			t.Fatalf("attempt %d waited %s, ceiling %s", i, d, ceil)
		}
	}
	if d := b.next(7 * time.Second); d != 7*time.Second {
		t.Fatalf("a server-asked wait became %s", d)
	}
	b.reset()
	if d := b.next(0); d > 100*time.Millisecond {
		t.Fatalf("after reset waited %s", d)
	}
}

func TestDedupeForgetsTheOldest(t *testing.T) {
	d := newDedupe(2)
	ev := func(msg string) *event.Event {
		return &event.Event{Time: time.Unix(1, 0), Level: event.Error, Message: msg}
	}
	if d.seen(ev("a")) || !d.seen(ev("a")) {
		t.Fatal("the second copy of a is not a duplicate")
	}
	other := ev("a")
	other.Stack = "Error: a\n    at f (/x.js:1:1)"
	if d.seen(other) {
		t.Fatal("a different stack is a duplicate")
	}
	d.seen(ev("b")) // evicts the first "a"
	if d.seen(ev("a")) {
		t.Fatal("an entry older than the window is still remembered")
	}
}

func TestSafeName(t *testing.T) {
	for in, want := range map[string]string{"errors": "errors", "a/b c": "a_b_c", ".hidden": "_.hidden", "": "_"} {
		if got := safeName(in); got != want {
			t.Errorf("safeName(%q) = %q, want %q", in, got, want)
		}
	}
}
