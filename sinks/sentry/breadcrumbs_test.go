package sentry

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/winship/winship/agent/event"
	"github.com/winship/winship/sinks/sentry/sentryfake"
)

func TestBreadcrumbsBeforeAnError(t *testing.T) {
	srv := sentryfake.New(t, sentryfake.Options{})
	s := newTestSink(t, srv, sinkSetup{mutate: func(o *Options) {
		o.Breadcrumbs = 3
		o.BreadcrumbsWindow = time.Minute
	}})
	e := errEvent("boom", 0)
	at := func(d time.Duration) time.Time { return e.Time.Add(d) }
	s.Observe(infoEvent("too old", at(-2*time.Minute)))
	for i := 5; i >= 1; i-- {
		s.Observe(infoEvent("step "+strconv.Itoa(i), at(-time.Duration(i)*time.Second)))
	}
	s.Observe(&event.Event{Time: at(-time.Second), Level: event.Warn, Message: "other source",
		Source: "worker"})
	s.Observe(infoEvent("after the error", at(time.Second)))

	if err := s.Send(context.Background(), []*eventT{e}); err != nil {
		t.Fatal(err)
	}
	bc := srv.Events()[0].Event.Breadcrumbs
	if len(bc) != 3 {
		t.Fatalf("%d breadcrumbs, want 3", len(bc))
	}
	for i, want := range []string{"step 3", "step 2", "step 1"} {
		b := bc[i]
		if b.Message != want || b.Category != "app" || b.Level != "info" {
			t.Errorf("breadcrumb %d = %+v, want %q", i, b, want)
		}
	}
	if bc[2].Data["route"] != "/deals" || !bc[2].Timestamp.Equal(at(-time.Second)) {
		t.Errorf("breadcrumb data/timestamp: %+v", bc[2])
	}
}

func TestBreadcrumbsWindowAndOff(t *testing.T) {
	b := newBreadcrumbs(5, time.Minute)
	now := time.Unix(1000, 0)
	b.observe(infoEvent("old", now.Add(-2*time.Minute)))
	if got := b.before("app", now); len(got) != 0 {
		t.Errorf("entry outside the window attached: %+v", got)
	}
	off := newBreadcrumbs(0, time.Minute)
	off.observe(infoEvent("x", now))
	if got := off.before("app", now); got != nil {
		t.Errorf("breadcrumbs: 0 still attached %v", got)
	}
}

func TestBreadcrumbsSurviveLaterChatter(t *testing.T) {
	b := newBreadcrumbs(2, time.Minute)
	errAt := time.Unix(1000, 0)
	b.observe(infoEvent("before", errAt.Add(-time.Millisecond)))
	// The error waits in the buffer while the source keeps writing.
	for i := 0; i < 2*crumbHistory-3; i++ {
		b.observe(infoEvent("later", errAt.Add(time.Second)))
	}
	got := b.before("app", errAt)
	if len(got) != 1 || got[0].Message != "before" {
		t.Errorf("got %v, want the entry written before the error", got)
	}
}

func TestObserveCopiesFields(t *testing.T) {
	b := newBreadcrumbs(1, time.Minute)
	e := infoEvent("x", time.Unix(5, 0))
	b.observe(e)
	copy(e.Fields, `{"route":"/XXXXX"}`)
	got := b.before("app", time.Unix(5, 0))
	if string(mustJSON(got[0].Data["route"])) != `"/deals"` {
		t.Errorf("breadcrumb shares the entry's buffer: %v", got[0].Data)
	}
}

func TestObserveWhileSending(t *testing.T) {
	srv := sentryfake.New(t, sentryfake.Options{})
	s := newTestSink(t, srv, sinkSetup{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		base := errEvent("x", 0).Time
		for i := 0; i < 2000; i++ {
			s.Observe(infoEvent("line "+strconv.Itoa(i), base.Add(time.Duration(i-1000)*time.Millisecond)))
		}
	}()
	for i := 0; i < 5; i++ {
		if err := s.Send(context.Background(), batchOf(4)); err != nil {
			t.Fatal(err)
		}
	}
	<-done
}

// A 200 KB info line must not ride whole on the next error: the message and the data of
// each breadcrumb are capped, the cut visible, and 20 of them stay far below Sentry's caps.
func TestBreadcrumbsOfHugeLinesAreCapped(t *testing.T) {
	srv := sentryfake.New(t, sentryfake.Options{})
	s := newTestSink(t, srv, sinkSetup{})
	e := errEvent("boom", 0)
	huge := strings.Repeat("payload ", 200<<10/8)
	for i := 20; i >= 1; i-- {
		info := infoEvent("step "+strconv.Itoa(i)+" "+huge, e.Time.Add(-time.Duration(i)*time.Second))
		info.Fields = []byte(`{"route":"/deals","body":` + string(mustJSON(huge)) + `}`)
		s.Observe(info)
	}
	if err := s.Send(context.Background(), []*eventT{e}); err != nil {
		t.Fatal(err)
	}
	got := srv.Events()[0]
	if n := len(got.Event.Breadcrumbs); n != 20 {
		t.Fatalf("%d breadcrumbs, want 20", n)
	}
	for i, b := range got.Event.Breadcrumbs {
		if len(b.Message) > maxCrumbMessage || !strings.HasSuffix(b.Message, "…") ||
			!strings.HasPrefix(b.Message, "step ") {
			t.Fatalf("breadcrumb %d message of %d bytes, want at most %d ending in …: %.40q",
				i, len(b.Message), maxCrumbMessage, b.Message)
		}
		data := mustJSON(b.Data)
		if len(data) > 2*maxCrumbFields || b.Data["route"] != "/deals" ||
			!strings.Contains(string(data), "truncated") {
			t.Fatalf("breadcrumb %d data of %d bytes, want the route kept and body cut: %.200s",
				i, len(data), data)
		}
	}
	t.Logf("event with 20 breadcrumbs of 200 KB lines: %d bytes", len(got.Raw))
	if len(got.Raw) > 128<<10 {
		t.Errorf("event with 20 capped breadcrumbs is %d bytes, want far below 1 MiB", len(got.Raw))
	}
}
