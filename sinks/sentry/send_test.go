package sentry

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/winship/winship/sinks"
	"github.com/winship/winship/sinks/sentry/sentryfake"
)

func TestSendDeliversEachEventInItsOwnEnvelope(t *testing.T) {
	srv := sentryfake.New(t, sentryfake.Options{})
	s := newTestSink(t, srv, sinkSetup{})
	batch := batchOf(6)
	if err := s.Send(context.Background(), batch); err != nil {
		t.Fatalf("Send: %v", err)
	}
	evs := srv.Events()
	if len(evs) != 6 || srv.Requests() != 6 {
		t.Fatalf("server has %d events from %d requests, want 6 and 6", len(evs), srv.Requests())
	}
	ids := map[string]bool{}
	for _, e := range batch {
		ids[eventID(e)] = true
	}
	for _, ev := range evs {
		if !ids[ev.ID] {
			t.Errorf("unexpected event id %s", ev.ID)
		}
		sdk := ev.Header["sdk"].(map[string]any)
		if sdk["name"] != "winship" || sdk["version"] != Version {
			t.Errorf("envelope sdk = %v", sdk)
		}
		if ev.Event.Level != "error" || ev.Event.Environment != "production" ||
			ev.Event.ServerName != "web-1" {
			t.Errorf("event %+v", ev.Event)
		}
	}
	if st := s.Stats(); st.Sent != 6 {
		t.Errorf("stats %+v", st)
	}
}

func TestSentAtIsStampedAtSendTime(t *testing.T) {
	clock := newClock()
	srv := sentryfake.New(t, sentryfake.Options{Now: clock.Now})
	s := newTestSink(t, srv, sinkSetup{clock: clock})
	srv.Script(sentryfake.Status(503))
	e := batchOf(1)
	if err := s.Send(context.Background(), e); err == nil {
		t.Fatal("503 was not an error")
	}
	clock.Advance(90 * time.Second)
	if err := s.Send(context.Background(), e); err != nil {
		t.Fatalf("resend: %v", err)
	}
	got := srv.Events()[0].Header["sent_at"].(string)
	want := clock.Now().UTC().Format(time.RFC3339Nano)
	if got != want {
		t.Errorf("sent_at %s, want the resend's time %s", got, want)
	}
}

// TestRateLimitHoldsWithoutRequests is the scripted 429: X-Sentry-Rate-Limits
// 30:error:key means no request for 30 s, then every event is delivered.
func TestRateLimitHoldsWithoutRequests(t *testing.T) {
	clock := newClock()
	srv := sentryfake.New(t, sentryfake.Options{Now: clock.Now})
	s := newTestSink(t, srv, sinkSetup{clock: clock, mutate: func(o *Options) { o.Parallel = 1 }})
	srv.Script(sentryfake.RateLimited(30, "error"))
	batch := batchOf(4)

	err := s.Send(context.Background(), batch)
	se := asSinkError(t, err)
	if se.Kind != sinks.Retry || se.Status != 429 || se.After != 30*time.Second {
		t.Fatalf("first Send: %+v, want retry 429 after 30s", se)
	}
	if n := srv.Requests(); n != 1 {
		t.Fatalf("%d requests after the 429, want 1 (the rest held)", n)
	}

	clock.Advance(20 * time.Second)
	se = asSinkError(t, s.Send(context.Background(), batch))
	if se.Kind != sinks.Retry || se.After != 10*time.Second {
		t.Fatalf("Send during the hold: %+v, want retry after the 10 s left", se)
	}
	if n := srv.Requests(); n != 1 {
		t.Fatalf("Send during the hold made %d requests", n-1)
	}

	clock.Advance(10 * time.Second)
	if err := s.Send(context.Background(), batch); err != nil {
		t.Fatalf("Send after the hold: %v", err)
	}
	if n := len(srv.Events()); n != 4 {
		t.Fatalf("%d events delivered, want 4", n)
	}
}

func TestRateLimitWaits(t *testing.T) {
	date := newClock().Now().Add(45 * time.Second).Format(http.TimeFormat)
	tests := []struct {
		name      string
		glitchtip bool
		answer    sentryfake.Answer
		want      time.Duration
	}{
		{"rate limits header", false, sentryfake.RateLimited(30, "error"), 30 * time.Second},
		{"all categories", false, sentryfake.RateLimited(12, ""), 12 * time.Second},
		{"longest of several", false, sentryfake.Answer{Status: 429, Header: http.Header{
			"X-Sentry-Rate-Limits": {"5:error:key, 20:error;transaction:organization:quota, 99:transaction:key"}}},
			20 * time.Second},
		{"other category falls back to Retry-After", false, sentryfake.Answer{Status: 429,
			Header: http.Header{"X-Sentry-Rate-Limits": {"99:transaction:key"},
				"Retry-After": {"7"}}}, 7 * time.Second},
		{"unknown fields ignored", false, sentryfake.Answer{Status: 429, Header: http.Header{
			"X-Sentry-Rate-Limits": {"junk, 8:error;foo:key:reason:ns:extra"}}}, 8 * time.Second},
		{"retry-after seconds", false, sentryfake.RetryAfter("15"), 15 * time.Second},
		{"retry-after date", false, sentryfake.RetryAfter(date), 45 * time.Second},
		{"nothing", false, sentryfake.Status(429), time.Minute},
		{"glitchtip ignores rate limits header", true, sentryfake.Answer{Status: 429,
			Header: http.Header{"X-Sentry-Rate-Limits": {"5:error:key"}, "Retry-After": {"600"}}},
			10 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newClock()
			srv := sentryfake.New(t, sentryfake.Options{Now: clock.Now, GlitchTip: tt.glitchtip})
			typ := TypeSentry
			if tt.glitchtip {
				typ = TypeGlitchTip
			}
			s := newTestSink(t, srv, sinkSetup{typ: typ, clock: clock})
			srv.Script(tt.answer)
			se := asSinkError(t, s.Send(context.Background(), batchOf(1)))
			if se.Kind != sinks.Retry || se.After != tt.want {
				t.Errorf("got %v after %s, want retry after %s", se.Kind, se.After, tt.want)
			}
			clock.Advance(tt.want)
			if err := s.Send(context.Background(), batchOf(1)); err != nil {
				t.Errorf("Send after the wait: %v", err)
			}
		})
	}
}

func TestRateLimitHeaderOn200HoldsNextSends(t *testing.T) {
	clock := newClock()
	srv := sentryfake.New(t, sentryfake.Options{Now: clock.Now})
	s := newTestSink(t, srv, sinkSetup{clock: clock})
	srv.Script(sentryfake.Answer{Status: 200,
		Header: http.Header{"X-Sentry-Rate-Limits": {"40:error;default:organization"}}})
	if err := s.Send(context.Background(), batchOf(1)); err != nil {
		t.Fatalf("Send: %v", err)
	}
	se := asSinkError(t, s.Send(context.Background(), []*eventT{errEvent("next", 99)}))
	if se.Kind != sinks.Retry || se.After != 40*time.Second || srv.Requests() != 1 {
		t.Errorf("after a 200 with a 40 s limit: %+v, %d requests", se, srv.Requests())
	}
}

func TestTooLargeIsShrunkAndSentOnce(t *testing.T) {
	srv := sentryfake.New(t, sentryfake.Options{})
	s := newTestSink(t, srv, sinkSetup{})
	e := errEvent("big", 1)
	e.Fields = []byte(`{"payload":"` + strings.Repeat("x", 6000) + `","service":"crm"}`)
	s.Observe(infoEvent("before", e.Time.Add(-time.Second)))
	srv.Script(sentryfake.TooLarge())
	if err := s.Send(context.Background(), []*eventT{e}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	evs := srv.Events()
	if len(evs) != 1 || srv.Requests() != 2 {
		t.Fatalf("%d events from %d requests, want 1 from 2", len(evs), srv.Requests())
	}
	ev := evs[0].Event
	if len(ev.Breadcrumbs) != 0 {
		t.Errorf("shrunk event kept %d breadcrumbs", len(ev.Breadcrumbs))
	}
	if ev.Contexts[ctxWinship]["shrunk"] != true {
		t.Errorf("shrunk event not marked: %v", ev.Contexts[ctxWinship])
	}
	w, _ := json.Marshal(ev.Contexts[ctxWinston])
	if len(w) > 600 {
		t.Errorf("winston context still %d bytes after shrinking", len(w))
	}
	if evs[0].ID != eventID(e) {
		t.Errorf("shrunk event has id %s, want the same id %s", evs[0].ID, eventID(e))
	}
}

func TestTooLargeTwiceIsRejected(t *testing.T) {
	srv := sentryfake.New(t, sentryfake.Options{})
	s := newTestSink(t, srv, sinkSetup{})
	srv.Script(sentryfake.TooLarge(), sentryfake.TooLarge())
	se := asSinkError(t, s.Send(context.Background(), batchOf(1)))
	if se.Kind != sinks.Reject || se.Status != 413 || srv.Requests() != 2 {
		t.Errorf("got %+v after %d requests, want reject 413 after 2", se, srv.Requests())
	}
}

func TestOversizedEventIsShrunkBeforeSending(t *testing.T) {
	srv := sentryfake.New(t, sentryfake.Options{MaxEventBytes: 70 << 10})
	s := newTestSink(t, srv, sinkSetup{mutate: func(o *Options) { o.MaxEventBytes = 64 << 10 }})
	e := errEvent("huge", 1)
	e.Message = strings.Repeat("m", 200<<10)
	if err := s.Send(context.Background(), []*eventT{e}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if srv.Requests() != 1 || len(srv.Events()[0].Raw) > 64<<10 {
		t.Errorf("%d requests, event of %d bytes", srv.Requests(), len(srv.Events()[0].Raw))
	}
}

func TestAnswersAreClassified(t *testing.T) {
	tests := []struct {
		name   string
		answer sentryfake.Answer
		kind   sinks.Kind
		reason string
	}{
		{"400", sentryfake.BadRequest("invalid event: bad timestamp"), sinks.Reject,
			"invalid event: bad timestamp"},
		{"400 with the key echoed", sentryfake.BadRequest("bad key " + sentryfake.DefaultKey),
			sinks.Reject, "bad key <key>"},
		{"403", sentryfake.Forbidden(), sinks.Pause, "project not ready"},
		{"401", sentryfake.Status(401), sinks.Pause, ""},
		{"500", sentryfake.Status(500), sinks.Retry, ""},
		{"503", sentryfake.Answer{Status: 503, Header: http.Header{"Retry-After": {"5"}}},
			sinks.Retry, ""},
		{"302", sentryfake.Status(302), sinks.Pause, "server redirected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := sentryfake.New(t, sentryfake.Options{})
			s := newTestSink(t, srv, sinkSetup{})
			srv.Script(tt.answer)
			se := asSinkError(t, s.Send(context.Background(), batchOf(1)))
			if se.Kind != tt.kind || !strings.Contains(se.Reason, tt.reason) {
				t.Errorf("got %v %q, want %v %q", se.Kind, se.Reason, tt.kind, tt.reason)
			}
			if strings.Contains(se.Error(), sentryfake.DefaultKey) {
				t.Errorf("error shows the key: %v", se)
			}
			if err := s.Send(context.Background(), batchOf(1)); err != nil {
				t.Errorf("next Send: %v", err)
			}
		})
	}
}

func TestPartialFailureReportsPerEvent(t *testing.T) {
	srv := sentryfake.New(t, sentryfake.Options{})
	s := newTestSink(t, srv, sinkSetup{mutate: func(o *Options) { o.Parallel = 1 }})
	srv.Script(sentryfake.Status(200), sentryfake.BadRequest("bad event"), sentryfake.Status(200))
	err := s.Send(context.Background(), batchOf(3))
	pe, ok := err.(*sinks.PartialError)
	if !ok {
		t.Fatalf("Send = %v (%T), want *sinks.PartialError", err, err)
	}
	if pe.Errs[0] != nil || pe.Errs[2] != nil || sinks.Classify(pe.Errs[1]).Kind != sinks.Reject {
		t.Errorf("per-event errors %v", pe.Errs)
	}
}

func TestNetworkErrorIsRetry(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	dsn := "http://" + sentryfake.DefaultKey + "@" + strings.TrimPrefix(dead.URL, "http://") + "/42"
	dead.Close()
	o := defaultOptions(TypeSentry)
	o.DSN = dsn
	s, err := newSink(sinks.Spec{Name: "x", StateDir: t.TempDir()}, o, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	se := asSinkError(t, s.Send(context.Background(), batchOf(2)))
	if se.Kind != sinks.Retry || se.Err == nil {
		t.Errorf("got %+v, want retry with the network error", se)
	}
	if strings.Contains(se.Error(), sentryfake.DefaultKey) {
		t.Errorf("error shows the key: %v", se)
	}
}

func TestCancelledContextStopsSend(t *testing.T) {
	srv := sentryfake.New(t, sentryfake.Options{})
	s := newTestSink(t, srv, sinkSetup{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	se := asSinkError(t, s.Send(ctx, batchOf(3)))
	if se.Kind != sinks.Retry {
		t.Errorf("got %+v, want retry", se)
	}
}

func TestGlitchTipModeDelivers(t *testing.T) {
	srv := sentryfake.New(t, sentryfake.Options{GlitchTip: true, Key: "0f9e8d7c6b5a49382716051423324150"})
	s := newTestSink(t, srv, sinkSetup{typ: TypeGlitchTip})
	if err := s.Send(context.Background(), batchOf(3)); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if len(srv.Events()) != 3 {
		t.Errorf("%d events", len(srv.Events()))
	}
}

func TestWrongKeyPauses(t *testing.T) {
	srv := sentryfake.New(t, sentryfake.Options{})
	o := defaultOptions(TypeSentry)
	o.DSN = strings.Replace(srv.DSN(), sentryfake.DefaultKey, goodKey, 1)
	s, err := newSink(sinks.Spec{Name: "x", StateDir: t.TempDir()}, o, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	se := asSinkError(t, s.Send(context.Background(), batchOf(1)))
	if se.Kind != sinks.Pause || se.Status != 403 {
		t.Errorf("got %+v, want pause 403", se)
	}
}

func TestCombine(t *testing.T) {
	retry := &sinks.Error{Kind: sinks.Retry, After: time.Second}
	longer := &sinks.Error{Kind: sinks.Retry, After: time.Minute}
	reject := &sinks.Error{Kind: sinks.Reject}
	if combine([]error{nil, nil}) != nil {
		t.Error("all delivered is not nil")
	}
	if got := combine([]error{retry, longer}); got != longer {
		t.Errorf("all retry: %v, want the longest wait", got)
	}
	if _, ok := combine([]error{reject, reject}).(*sinks.PartialError); !ok {
		t.Error("rejections must stay per event")
	}
	if _, ok := combine([]error{nil, retry}).(*sinks.PartialError); !ok {
		t.Error("mixed outcome is not partial")
	}
	if got := combine([]error{reject}); got != reject {
		t.Errorf("batch of one: %v", got)
	}
}

// Counters are what the pipeline exports as winship_sink_events_total: every key present
// from the start, and each counting its own thing.
func TestCountersCountWhatThePipelineCannotSee(t *testing.T) {
	clock := newClock()
	srv := sentryfake.New(t, sentryfake.Options{Now: clock.Now})
	s := newTestSink(t, srv, sinkSetup{clock: clock, mutate: func(o *Options) {
		o.Quota = Quota{MaxEvents: 3, Period: time.Hour}
	}})
	want := map[string]int64{"sent": 0, "held_back_quota": 0, "held_back_spike": 0,
		"shrunk": 0, "shrunk_oversize": 0, "too_large": 0, "rate_limited": 0,
		"overflow_write_errors": 0, "held_groups_evicted": 0, "guard_state_errors": 0}
	if got := s.Counters(); !reflect.DeepEqual(got, want) {
		t.Fatalf("new sink counters %v, want %v", got, want)
	}
	send := func(e *eventT, answers ...sentryfake.Answer) error {
		srv.Script(answers...)
		return s.Send(context.Background(), []*eventT{e})
	}
	if err := send(errEvent("shrunk once", 100), sentryfake.TooLarge()); err != nil {
		t.Fatal(err)
	}
	if send(errEvent("too large", 101), sentryfake.TooLarge(), sentryfake.TooLarge()) == nil {
		t.Fatal("second 413 accepted")
	}
	// Random text does not compress: over a small max_compressed_bytes before any request.
	big := errEvent("oversized", 102)
	noise := make([]byte, 3000)
	for i := range noise {
		noise[i] = "0123456789abcdef"[rand.IntN(16)]
	}
	big.Fields = []byte(`{"a":"` + string(noise) + `","b":"` + string(noise[1:]) +
		`","c":"` + string(noise[2:]) + `"}`)
	s.opts.MaxCompressedBytes = 1800
	if err := send(big); err != nil {
		t.Fatal(err)
	}
	s.opts.MaxCompressedBytes = 0
	if send(errEvent("limited", 103), sentryfake.RateLimited(5, "error")) == nil {
		t.Fatal("429 accepted")
	}
	clock.Advance(10 * time.Second)
	if err := s.Send(context.Background(), batchOf(3)); err != nil {
		t.Fatal(err)
	}
	want["sent"], want["held_back_quota"] = 3, 2
	want["shrunk"], want["too_large"], want["shrunk_oversize"], want["rate_limited"] = 2, 1, 1, 1
	if got := s.Counters(); !reflect.DeepEqual(got, want) {
		t.Errorf("counters %v,\nwant %v", got, want)
	}
}
