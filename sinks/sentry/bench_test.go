package sentry

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// BenchmarkMapEvent maps a Winston error entry with a stack and metadata into a Sentry
// event (stack parsing, tags, contexts, event id).
func BenchmarkMapEvent(b *testing.B) {
	m := testMapper(nil)
	e := errEvent("Cannot save deal", 1)
	b.ReportAllocs()
	for b.Loop() {
		m.mapEvent(e)
	}
}

// BenchmarkParseStack parses a ten-frame Node stack.
func BenchmarkParseStack(b *testing.B) {
	stack := testStack + "\n" + testStack[len("TypeError: x is not a function\n"):]
	b.ReportAllocs()
	for b.Loop() {
		parseStack(stack)
	}
}

// BenchmarkEncodeEnvelope marshals a mapped event, frames it and gzips it: the rest of
// the per-event CPU before the request.
func BenchmarkEncodeEnvelope(b *testing.B) {
	m := testMapper(nil)
	ev := m.mapEvent(errEvent("Cannot save deal", 1))
	tr := newTransport("http://127.0.0.1/api/1/envelope/", "k", time.Second, 1)
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		payload, _ := json.Marshal(ev)
		var env bytes.Buffer
		encodeEnvelope(&env, string(ev.EventID), now, payload)
		tr.gzipBody(env.Bytes())
	}
}

// BenchmarkObserve records an entry below min_level as a breadcrumb: this runs for every
// info line routed past the sink, so it must stay cheap.
func BenchmarkObserve(b *testing.B) {
	bc := newBreadcrumbs(20, 5*time.Minute)
	e := infoEvent("GET /deals 200", time.Unix(1000, 0))
	b.ReportAllocs()
	for b.Loop() {
		bc.observe(e)
	}
}

// BenchmarkGuardAdmitCommit is the guard's cost per sent event with a large quota and the
// spike guard on: the reservation writes (fsynced, one per 100 events) amortised in.
func BenchmarkGuardAdmitCommit(b *testing.B) {
	g := newGuard(Quota{MaxEvents: 1 << 40, Period: 720 * time.Hour},
		Spike{MaxPerMinute: 1 << 40}, b.TempDir(), time.Now, discardLogger())
	defer g.close()
	b.ReportAllocs()
	for b.Loop() {
		t, reason, err := g.admit("TypeError at handler (/opt/app/src/routes/deals.js)")
		if err != nil || reason != "" {
			b.Fatal(reason, err)
		}
		g.commit(t)
	}
}
