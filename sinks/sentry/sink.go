package sentry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sentrygo "github.com/getsentry/sentry-go"

	"github.com/winship/winship/agent/event"
	"github.com/winship/winship/sinks"
)

// Sink sends each event as one envelope to a Sentry or GlitchTip project. It implements
// sinks.Sink, sinks.Observer (breadcrumbs) and sinks.Tester.
type Sink struct {
	name     string
	opts     Options
	log      *slog.Logger
	now      func() time.Time
	mapper   *mapper
	tr       *transport
	sem      chan struct{} // bounds envelopes in flight across concurrent Sends
	crumbs   *breadcrumbs
	guard    *guard
	overflow *overflowLog

	holdUntil atomic.Int64 // unix nanoseconds until which the error category is held

	c         counters
	closeOnce sync.Once
}

// counters are the sink's cumulative counts; see Counters for their meaning.
type counters struct {
	sent           atomic.Int64
	heldQuota      atomic.Int64
	heldSpike      atomic.Int64
	shrunk         atomic.Int64
	shrunkOversize atomic.Int64
	tooLarge       atomic.Int64
	rateLimited    atomic.Int64
	overflowErrors atomic.Int64
}

// Stats are the sink's counters since it was built.
type Stats struct {
	Sent          int64 // events the server accepted
	HeldBackQuota int64 // events the quota held back (written to the overflow file)
	HeldBackSpike int64 // events the spike guard held back
}

var (
	_ sinks.Sink     = (*Sink)(nil)
	_ sinks.Observer = (*Sink)(nil)
	_ sinks.Tester   = (*Sink)(nil)
	_ sinks.Counters = (*Sink)(nil)
)

// New builds a sink from validated options.
func New(spec sinks.Spec, o *Options) (*Sink, error) {
	return newSink(spec, o, time.Now)
}

func newSink(spec sinks.Spec, o *Options, now func() time.Time) (*Sink, error) {
	dsn, err := parseDSN(o.DSN)
	if err != nil {
		return nil, fmt.Errorf("sentry sink %s: %w", spec.Name, err)
	}
	log := spec.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Sink{
		name:     spec.Name,
		opts:     *o,
		log:      log,
		now:      now,
		mapper:   newMapper(spec.Host, o),
		tr:       newTransport(dsn.GetAPIURL().String(), dsn.GetPublicKey(), o.Timeout, o.Parallel),
		sem:      make(chan struct{}, o.Parallel),
		crumbs:   newBreadcrumbs(o.Breadcrumbs, o.BreadcrumbsWindow),
		guard:    newGuard(o.Quota, o.Spike, spec.StateDir, now, log),
		overflow: newOverflowLog(spec.StateDir),
	}
	return s, nil
}

// Observe implements sinks.Observer: entries below min_level become breadcrumbs.
func (s *Sink) Observe(e *event.Event) { s.crumbs.observe(e) }

// Stats returns the sink's main counters.
func (s *Sink) Stats() Stats {
	return Stats{Sent: s.c.sent.Load(), HeldBackQuota: s.c.heldQuota.Load(),
		HeldBackSpike: s.c.heldSpike.Load()}
}

// Counters implements sinks.Counters: cumulative counts since the sink was built, every
// key always present. Cheap (atomic loads) and safe for concurrent use.
//
//   - sent: events the server accepted.
//   - held_back_quota, held_back_spike: events the quota or the spike guard kept from
//     being sent (reported delivered to the pipeline, written to overflow.jsonl).
//   - shrunk: events shrunk and sent once more after a 413.
//   - shrunk_oversize: events shrunk before their first request, being over
//     max_event_bytes or max_compressed_bytes.
//   - too_large: events refused as too large even when shrunk (Reject: dead-lettered).
//   - rate_limited: 429 answers.
//   - overflow_write_errors: held-back events that could not be written to overflow.jsonl.
//   - held_groups_evicted: issue groups whose held-back count was forgotten to keep at
//     most 4,096 of them.
//   - guard_state_errors: failed writes of guard.json; a failed quota reservation
//     also keeps its event from being sent (Retry).
func (s *Sink) Counters() map[string]int64 {
	return map[string]int64{
		"sent":                  s.c.sent.Load(),
		"held_back_quota":       s.c.heldQuota.Load(),
		"held_back_spike":       s.c.heldSpike.Load(),
		"shrunk":                s.c.shrunk.Load(),
		"shrunk_oversize":       s.c.shrunkOversize.Load(),
		"too_large":             s.c.tooLarge.Load(),
		"rate_limited":          s.c.rateLimited.Load(),
		"overflow_write_errors": s.c.overflowErrors.Load(),
		"held_groups_evicted":   s.guard.evicted.Load(),
		"guard_state_errors":    s.guard.saveErrors.Load(),
	}
}

// Close implements sinks.Sink: it saves the guard state and closes the overflow file.
func (s *Sink) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.tr.close()
		err = errors.Join(s.guard.close(), s.overflow.close())
	})
	return err
}

// Send implements sinks.Sink. Each event goes in an envelope of its own, up to
// Options.Parallel at once. It returns nil when every event was accepted or held back by
// the quota or spike guard (counted and written to the overflow file); the *sinks.Error of
// a batch of one; a single Retry or Pause *sinks.Error when every event failed that way
// (a rate-limit hold, an outage, a refused key); else a *sinks.PartialError.
func (s *Sink) Send(ctx context.Context, batch []*event.Event) error {
	errs := make([]error, len(batch))
	var wg sync.WaitGroup
	for i, e := range batch {
		if err := s.heldErr(); err != nil {
			errs[i] = err
			continue
		}
		select {
		case s.sem <- struct{}{}:
		case <-ctx.Done():
			errs[i] = &sinks.Error{Kind: sinks.Retry, Err: ctx.Err()}
			continue
		}
		// A 429 may have come in while this event waited for its turn.
		if err := s.heldErr(); err != nil {
			<-s.sem
			errs[i] = err
			continue
		}
		wg.Add(1)
		go func() {
			defer func() { <-s.sem; wg.Done() }()
			errs[i] = s.sendOne(ctx, e)
		}()
	}
	wg.Wait()
	return combine(errs)
}

// combine folds per-event errors into Send's result.
func combine(errs []error) error {
	failed := 0
	var first *sinks.Error
	same := true
	for _, err := range errs {
		if err == nil {
			continue
		}
		failed++
		se := sinks.Classify(err)
		switch {
		case first == nil:
			first = se
		case se.Kind != first.Kind:
			same = false
		case se.After > first.After:
			first = se
		}
	}
	switch {
	case failed == 0:
		return nil
	case len(errs) == 1:
		return errs[0]
	case failed == len(errs) && same && (first.Kind == sinks.Retry || first.Kind == sinks.Pause):
		// A hold, an outage or a refused key concerns the whole batch. Rejections stay
		// per event, so the pipeline need not bisect to find them.
		return first
	}
	return &sinks.PartialError{Errs: errs}
}

// heldErr returns the Retry error to give while a rate limit holds the error category.
func (s *Sink) heldErr() error {
	until := s.holdUntil.Load()
	if until == 0 {
		return nil
	}
	left := time.Duration(until - s.now().UnixNano())
	if left <= 0 {
		return nil
	}
	return &sinks.Error{Kind: sinks.Retry, Status: 429, After: left,
		Reason: "rate limited by the server; no request until the limit ends"}
}

// hold keeps the error category from being sent for d (a longer hold wins).
func (s *Sink) hold(d time.Duration) {
	until := s.now().Add(d).UnixNano()
	for {
		cur := s.holdUntil.Load()
		if cur >= until || s.holdUntil.CompareAndSwap(cur, until) {
			return
		}
	}
}

// sendOne maps, guards and delivers one event.
func (s *Sink) sendOne(ctx context.Context, e *event.Event) error {
	ev := s.mapper.mapEvent(e)
	ev.Breadcrumbs = s.crumbs.before(e.Source, e.Time)
	group := issueGroup(ev)
	t, reason, err := s.guard.admit(group)
	if err != nil {
		// Without a durable reservation a crash could let the quota be exceeded.
		return &sinks.Error{Kind: sinks.Retry, Reason: "quota not reserved", Err: err}
	}
	if reason != "" {
		s.holdBack(e, string(ev.EventID), group, reason)
		return nil
	}
	heldBackNote(ev, t.heldBack)
	if _, err := s.deliver(ctx, ev); err != nil {
		s.guard.release(t)
		return err
	}
	s.guard.commit(t)
	s.c.sent.Add(1)
	return nil
}

// holdBack records an event the guard kept from being sent: a counted policy removal.
func (s *Sink) holdBack(e *event.Event, id, group, reason string) {
	if reason == reasonQuota {
		s.c.heldQuota.Add(1)
	} else {
		s.c.heldSpike.Add(1)
	}
	rec := overflowRecord{HeldAt: s.now().UTC(), Reason: reason, Group: group, EventID: id}
	if err := s.overflow.append(rec, e); err != nil {
		s.c.overflowErrors.Add(1)
		s.log.Warn("held-back event not written to the overflow file; it is only counted",
			"err", err, "path", s.overflow.path)
	}
}

// deliver sends ev, shrinking it first when it is over the size limits and once more when
// the server answers 413. It returns the last answer and the classified error.
func (s *Sink) deliver(ctx context.Context, ev *sentrygo.Event) (answer, error) {
	body, err := s.encode(ev)
	if err != nil {
		return answer{}, err
	}
	a, err := s.tr.post(ctx, body)
	if err != nil {
		return a, &sinks.Error{Kind: sinks.Retry, Err: err}
	}
	if a.status == 413 {
		shrinkEvent(ev, shrinkHard)
		s.c.shrunk.Add(1)
		if body, err = s.encodeWithin(ev); err != nil {
			return a, err
		}
		if a, err = s.tr.post(ctx, body); err != nil {
			return a, &sinks.Error{Kind: sinks.Retry, Err: err}
		}
		if a.status == 413 {
			s.c.tooLarge.Add(1)
			return a, &sinks.Error{Kind: sinks.Reject, Status: 413,
				Reason: "event too large even after shrinking"}
		}
	}
	return a, s.classify(a)
}

// encode builds the gzipped envelope of ev, shrinking ev while it is over the limits.
func (s *Sink) encode(ev *sentrygo.Event) ([]byte, error) {
	for _, level := range []shrinkLevel{shrinkNone, shrinkSoft, shrinkHard} {
		if level != shrinkNone {
			shrinkEvent(ev, level)
		}
		body, ok, err := s.tryEncode(ev)
		if ok && level != shrinkNone {
			s.c.shrunkOversize.Add(1)
		}
		if err != nil || ok {
			return body, err
		}
	}
	s.c.tooLarge.Add(1)
	return nil, &sinks.Error{Kind: sinks.Reject, Status: 413,
		Reason: "event over max_event_bytes even after shrinking"}
}

// encodeWithin encodes ev once and rejects it when it is still over the limits.
func (s *Sink) encodeWithin(ev *sentrygo.Event) ([]byte, error) {
	body, ok, err := s.tryEncode(ev)
	if err == nil && !ok {
		s.c.tooLarge.Add(1)
		err = &sinks.Error{Kind: sinks.Reject, Status: 413,
			Reason: "event over max_event_bytes even after shrinking"}
	}
	return body, err
}

func (s *Sink) tryEncode(ev *sentrygo.Event) (body []byte, ok bool, err error) {
	payload, err := json.Marshal(ev)
	if err != nil {
		return nil, false, &sinks.Error{Kind: sinks.Reject,
			Reason: "event cannot be encoded", Err: fmt.Errorf("encode event: %w", err)}
	}
	if len(payload) > s.opts.MaxEventBytes {
		return nil, false, nil
	}
	var env bytes.Buffer
	encodeEnvelope(&env, string(ev.EventID), s.now(), payload)
	body = s.tr.gzipBody(env.Bytes())
	if s.opts.MaxCompressedBytes > 0 && len(body) > s.opts.MaxCompressedBytes {
		return nil, false, nil
	}
	return body, true, nil
}

// classify turns an answer other than 413 into nil or a *sinks.Error, and starts a hold
// when the server rate-limits the error category.
func (s *Sink) classify(a answer) error {
	reason := a.sentryError
	if reason == "" {
		reason = a.detail
	}
	switch {
	case a.status >= 200 && a.status < 300:
		if s.opts.RateLimitHeader && a.rateLimits != "" {
			if d, ok := errorCategoryWait(a.rateLimits); ok && d > 0 {
				s.hold(d)
			}
		}
		return nil
	case a.status == 429:
		s.c.rateLimited.Add(1)
		d := s.rateLimitWait(a)
		s.hold(d)
		return &sinks.Error{Kind: sinks.Retry, Status: 429, After: d, Reason: reason}
	case a.status == 401 || a.status == 403:
		// Bad key, or a self-hosted relay that has not loaded the project yet: keep the
		// events and let the pipeline probe again with its backoff.
		return &sinks.Error{Kind: sinks.Pause, Status: a.status, Reason: reason}
	case a.status >= 300 && a.status < 400:
		return &sinks.Error{Kind: sinks.Pause, Status: a.status,
			Reason: "server redirected the envelope request; check the DSN's host and path"}
	}
	after := sinks.ParseRetryAfter(a.retryAfter, s.now())
	return sinks.ClassifyHTTP(a.status, after, reason)
}

// rateLimitWait is how long a 429 asks us to wait: X-Sentry-Rate-Limits for the error
// category (Sentry only), else Retry-After, else one minute.
func (s *Sink) rateLimitWait(a answer) time.Duration {
	if s.opts.RateLimitHeader && a.rateLimits != "" {
		if d, ok := errorCategoryWait(a.rateLimits); ok && d > 0 {
			return d
		}
	}
	if d := sinks.ParseRetryAfter(a.retryAfter, s.now()); d > 0 {
		return d
	}
	return defaultRateLimitWait
}

// issueGroup keys the spike guard as Sentry would group the event: the exception type and
// the top in-app frame (else the top frame). Without frames, the exception type and value,
// and without an exception, the message, each with runs of digits replaced by "N", so that
// "Order 123 failed" and "Order 124 failed" are one issue. At most maxGroupKey bytes.
func issueGroup(ev *sentrygo.Event) string {
	if len(ev.Exception) == 0 {
		return cutUTF8("message: "+normalizeDigits(cutRunes(ev.Message, 200)), maxGroupKey)
	}
	ex := ev.Exception[len(ev.Exception)-1]
	if f := topFrame(ex.Stacktrace); f != nil {
		return cutUTF8(ex.Type+" at "+f.Function+" ("+f.Filename+")", maxGroupKey)
	}
	return cutUTF8(ex.Type+": "+normalizeDigits(cutRunes(ex.Value, 200)), maxGroupKey)
}

// maxGroupKey bounds an issue group's key, in memory, in guard.json and overflow.jsonl.
const maxGroupKey = 200

// topFrame returns the newest in-app frame of st, else its newest frame, else nil.
func topFrame(st *sentrygo.Stacktrace) *sentrygo.Frame {
	if st == nil || len(st.Frames) == 0 {
		return nil
	}
	fs := st.Frames
	for i := len(fs) - 1; i >= 0; i-- {
		if fs[i].InApp {
			return &fs[i]
		}
	}
	return &fs[len(fs)-1]
}

// normalizeDigits replaces each run of ASCII digits in s with "N".
func normalizeDigits(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return r >= '0' && r <= '9' }) < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	inRun := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isDigit(c) && inRun:
		case isDigit(c):
			b.WriteByte('N')
			inRun = true
		default:
			b.WriteByte(c)
			inRun = false
		}
	}
	return b.String()
}
