// Package httpfake is a scriptable HTTP log-ingestion server for tests: an httptest server
// on 127.0.0.1 that checks what a real endpoint checks (a bearer token or other headers,
// gzip, JSON array or NDJSON bodies), records every event it accepts, and answers as the
// test scripts it: a queue of answers (500, 503, 429 with Retry-After, 402, 403, ...), an
// outage, a size limit (413), poison events rejected forever, requests that hang past the
// client's timeout, connections reset without an answer.
//
// Counts (requests, accepted events, deliveries per event to spot duplicates) are safe to
// read while clients send, and Wait blocks until a condition on them holds, so tests await
// a signal instead of sleeping. The server closes itself through t.Cleanup.
//
// Order of decisions for each request: the body is read whole and the request recorded;
// then the first of: a queued answer, the Script function, the outage answer (Down); then
// the checks a real server makes: token and headers, body size (413), gzip and JSON (bad
// bodies get BadBodyStatus), poison events; then the events are recorded as accepted and
// the server answers OKStatus (or, for a scripted LoseAnswer, resets the connection).
package httpfake

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Config says what the fake checks and how it answers when nothing is scripted.
type Config struct {
	// Token, when set, is required as "Authorization: Bearer <Token>"; other requests get
	// AuthStatus (default 401).
	Token      string
	AuthStatus int
	// Headers are required with exactly these values; other requests get AuthStatus.
	Headers map[string]string
	// RequireGzip records a Problem for a body sent without Content-Encoding: gzip (a real
	// endpoint may take it; winship should not send it).
	RequireGzip bool
	// Encoding is "json" (an array, or one object), "ndjson", or "" to go by the
	// Content-Type (application/x-ndjson means NDJSON). A Content-Type that does not match
	// a set Encoding is recorded as a Problem.
	Encoding string
	// OKStatus answers accepted batches; default 200.
	OKStatus int
	// BadBodyStatus answers bodies that are not valid gzip or JSON; default 400.
	BadBodyStatus int
	// MaxBodyBytes, when positive, answers 413 to bodies larger than this on the wire
	// (compressed size when gzipped).
	MaxBodyBytes int
	// MaxEventBytes, when positive, records a Problem for each accepted event whose JSON is
	// larger.
	MaxEventBytes int
	// Check, when set, is called for each accepted event; an error is recorded as a
	// Problem (the event is still accepted, as a lenient real server would).
	Check func(Event) error
	// Key identifies an event for delivery counts; default: its JSON text.
	Key func(Event) string
}

// Answer is a scripted reply.
type Answer struct {
	Status     int               // HTTP status; 0 means 500 unless Hang or Reset
	RetryAfter string            // Retry-After header value, if any
	Body       string            // answer body
	Header     map[string]string // more answer headers
	// Hang holds the request without answering until the client gives up or the server
	// closes. A queued answer goes to the next request that reaches the fake: with a short
	// client timeout on a loaded machine a request may give up before it arrives, and the
	// queued Hang then catches a later one. Down(Answer{Hang: true}) ... Up() avoids that.
	Hang bool
	// Reset closes the connection without an answer (TCP RST).
	Reset bool
	// LoseAnswer runs the normal checks and accepts the events, then resets the connection
	// instead of answering: an acknowledgement lost on the way, so the client sends the
	// events again and the fake counts duplicates.
	LoseAnswer bool
}

// Event is one accepted event.
type Event struct {
	Raw json.RawMessage // the event's JSON as received
	Map map[string]any  // decoded; numbers as json.Number, nested objects as maps
}

// Str returns the event's key as a string, or "" when absent or not a string.
func (e Event) Str(key string) string {
	s, _ := e.Map[key].(string)
	return s
}

// Request is what the fake saw and did for one request.
type Request struct {
	Status          int // the status answered; 0 for Hang and Reset
	WireBytes       int // body bytes as received
	BodyBytes       int // body bytes after gunzip
	Events          int // events in the body, when it parsed
	Gzip            bool
	ContentType     string
	Hung, WasReset  bool
	AcceptedEvents  int
	Authorization   bool // an Authorization header was present
	ScriptedAnswer  bool // the answer came from the queue, Script or Down
	PoisonMatchSeen bool // the batch held a poison event
}

// Stats are the fake's counts.
type Stats struct {
	Requests   int // every request, answered or not
	Accepted   int // events accepted, duplicates included
	Distinct   int // distinct event keys accepted
	Duplicates int // accepted events whose key had been accepted before
	Problems   int // see Problems
}

// Server is the fake. Its methods are safe for concurrent use.
type Server struct {
	// URL is the server's base URL, http://127.0.0.1:port.
	URL string

	cfg     Config
	srv     *httptest.Server
	closing chan struct{}

	mu         sync.Mutex
	changed    chan struct{} // closed and replaced on every change
	queue      []Answer
	script     func(n int) *Answer
	down       *Answer
	poison     func(Event) bool
	poisonCode int
	requests   []Request
	events     []Event
	deliveries map[string]int
	problems   []string
	stats      Stats
}

// New starts a fake on 127.0.0.1 that stops when the test ends.
func New(t testing.TB, cfg Config) *Server {
	t.Helper()
	if cfg.AuthStatus == 0 {
		cfg.AuthStatus = http.StatusUnauthorized
	}
	if cfg.OKStatus == 0 {
		cfg.OKStatus = http.StatusOK
	}
	if cfg.BadBodyStatus == 0 {
		cfg.BadBodyStatus = http.StatusBadRequest
	}
	s := &Server{
		cfg:        cfg,
		closing:    make(chan struct{}),
		changed:    make(chan struct{}),
		deliveries: make(map[string]int),
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	t.Cleanup(s.Close)
	return s
}

// Close stops the server, releasing hung requests first. Calling it twice is harmless.
func (s *Server) Close() {
	s.mu.Lock()
	select {
	case <-s.closing:
		s.mu.Unlock()
		return
	default:
		close(s.closing)
	}
	s.mu.Unlock()
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// Queue appends answers that the next requests get, in order, whatever they hold.
func (s *Server) Queue(answers ...Answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queue = append(s.queue, answers...)
}

// QueueN queues n copies of a.
func (s *Server) QueueN(n int, a Answer) {
	for i := 0; i < n; i++ {
		s.Queue(a)
	}
}

// Down makes every request get a (after any queued answers) until Up: an outage.
func (s *Server) Down(a Answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = &a
}

// Up ends an outage started by Down.
func (s *Server) Up() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = nil
}

// Script sets a function asked for each request that found the queue empty: n counts
// requests from 1; a nil answer lets the request through to the normal checks. It runs
// under the fake's lock: it must not call the Server. Nil removes it.
func (s *Server) Script(fn func(n int) *Answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script = fn
}

// Poison makes every batch holding an event for which match is true get status (400 or
// 406, say), forever. Nil match removes it.
func (s *Server) Poison(status int, match func(Event) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.poison, s.poisonCode = match, status
}

// Stats returns the counts so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Events returns a copy of the accepted events, in the order accepted.
func (s *Server) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.events...)
}

// Requests returns a copy of the request log.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Deliveries returns how many times the event with key was accepted.
func (s *Server) Deliveries(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deliveries[key]
}

// DeliveryCounts returns a copy of the accepted count per event key.
func (s *Server) DeliveryCounts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[string]int, len(s.deliveries))
	for k, v := range s.deliveries {
		m[k] = v
	}
	return m
}

// Problems returns what the fake found wrong with the requests it was sent (a missing
// gzip, an event over MaxEventBytes, a Check failure). A correct client causes none.
func (s *Server) Problems() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.problems...)
}

// Wait blocks until cond holds for the counts, or ctx is done.
func (s *Server) Wait(ctx context.Context, cond func(Stats) bool) error {
	for {
		s.mu.Lock()
		st, ch := s.stats, s.changed
		s.mu.Unlock()
		if cond(st) {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("httpfake: waiting, with %+v: %w", st, ctx.Err())
		}
	}
}

// WaitAccepted blocks until at least n events were accepted, or ctx is done.
func (s *Server) WaitAccepted(ctx context.Context, n int) error {
	return s.Wait(ctx, func(st Stats) bool { return st.Accepted >= n })
}

// notify wakes waiters; the caller holds mu.
func (s *Server) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Server) problem(format string, args ...any) {
	s.problems = append(s.problems, fmt.Sprintf(format, args...))
	s.stats.Problems++
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	wire, err := io.ReadAll(r.Body)
	if err != nil {
		// The client went away mid-body; nothing to answer.
		return
	}
	rec := Request{
		WireBytes:     len(wire),
		Gzip:          r.Header.Get("Content-Encoding") == "gzip",
		ContentType:   r.Header.Get("Content-Type"),
		Authorization: r.Header.Get("Authorization") != "",
	}
	s.mu.Lock()
	s.stats.Requests++
	a := s.scripted()
	s.mu.Unlock()
	if a != nil && !a.LoseAnswer {
		rec.ScriptedAnswer = true
		s.reply(w, r, &rec, *a)
		return
	}
	status, body := s.check(r, wire, &rec)
	if a != nil {
		rec.ScriptedAnswer = true
		s.reply(w, r, &rec, Answer{Reset: true})
		return
	}
	s.reply(w, r, &rec, Answer{Status: status, Body: body})
}

// scripted returns the scripted answer for this request, if any; the caller holds mu.
func (s *Server) scripted() *Answer {
	if len(s.queue) > 0 {
		a := s.queue[0]
		s.queue = s.queue[1:]
		return &a
	}
	if s.script != nil {
		if a := s.script(s.stats.Requests); a != nil {
			return a
		}
	}
	return s.down
}

// check applies the real server's checks and, when all pass, accepts the events.
func (s *Server) check(r *http.Request, wire []byte, rec *Request) (int, string) {
	if !s.authorized(r) {
		return s.cfg.AuthStatus, "invalid credentials"
	}
	if s.cfg.MaxBodyBytes > 0 && len(wire) > s.cfg.MaxBodyBytes {
		return http.StatusRequestEntityTooLarge, "body too large"
	}
	body, events, err := s.decode(rec, wire)
	rec.BodyBytes = len(body)
	if err != nil {
		return s.cfg.BadBodyStatus, err.Error()
	}
	rec.Events = len(events)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.poison != nil {
		for _, e := range events {
			if s.poison(e) {
				rec.PoisonMatchSeen = true
				return s.poisonCode, "poison event in batch"
			}
		}
	}
	s.accept(events)
	rec.AcceptedEvents = len(events)
	return s.cfg.OKStatus, `{"status":"accepted"}`
}

func (s *Server) authorized(r *http.Request) bool {
	if s.cfg.Token != "" && r.Header.Get("Authorization") != "Bearer "+s.cfg.Token {
		return false
	}
	for k, v := range s.cfg.Headers {
		if r.Header.Get(k) != v {
			return false
		}
	}
	return true
}

// accept records events; the caller holds mu.
func (s *Server) accept(events []Event) {
	for _, e := range events {
		key := string(e.Raw)
		if s.cfg.Key != nil {
			key = s.cfg.Key(e)
		}
		s.deliveries[key]++
		if s.deliveries[key] > 1 {
			s.stats.Duplicates++
		} else {
			s.stats.Distinct++
		}
		if s.cfg.MaxEventBytes > 0 && len(e.Raw) > s.cfg.MaxEventBytes {
			s.problem("event of %d bytes is over the %d-byte limit", len(e.Raw),
				s.cfg.MaxEventBytes)
		}
		if s.cfg.Check != nil {
			if err := s.cfg.Check(e); err != nil {
				s.problem("event %.80s: %v", e.Raw, err)
			}
		}
	}
	s.events = append(s.events, events...)
	s.stats.Accepted += len(events)
}

func (s *Server) decode(rec *Request, wire []byte) ([]byte, []Event, error) {
	body := wire
	if rec.Gzip {
		zr, err := gzip.NewReader(bytes.NewReader(wire))
		if err != nil {
			return nil, nil, fmt.Errorf("bad gzip: %v", err)
		}
		if body, err = io.ReadAll(zr); err != nil {
			return nil, nil, fmt.Errorf("bad gzip: %v", err)
		}
	} else if s.cfg.RequireGzip {
		s.mu.Lock()
		s.problem("body of %d bytes sent without gzip", len(wire))
		s.mu.Unlock()
	}
	ndjson := strings.HasPrefix(rec.ContentType, "application/x-ndjson")
	if s.cfg.Encoding != "" && ndjson != (s.cfg.Encoding == "ndjson") {
		s.mu.Lock()
		s.problem("content type %q for %s encoding", rec.ContentType, s.cfg.Encoding)
		s.mu.Unlock()
		ndjson = s.cfg.Encoding == "ndjson"
	}
	events, err := DecodeEvents(body, ndjson)
	return body, events, err
}

// DecodeEvents parses a body: NDJSON (one object a line) when ndjson is true, else a JSON
// array of objects or a single object.
func DecodeEvents(body []byte, ndjson bool) ([]Event, error) {
	var raws []json.RawMessage
	switch {
	case ndjson:
		for i, line := range bytes.Split(body, []byte("\n")) {
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			if !json.Valid(line) {
				return nil, fmt.Errorf("ndjson line %d is not JSON", i+1)
			}
			raws = append(raws, json.RawMessage(line))
		}
	case bytes.HasPrefix(bytes.TrimSpace(body), []byte("[")):
		if err := json.Unmarshal(body, &raws); err != nil {
			return nil, fmt.Errorf("body is not a JSON array: %v", err)
		}
	default:
		raws = []json.RawMessage{body}
	}
	events := make([]Event, 0, len(raws))
	for i, raw := range raws {
		e := Event{Raw: append(json.RawMessage(nil), bytes.TrimSpace(raw)...)}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&e.Map); err != nil || e.Map == nil {
			return nil, fmt.Errorf("event %d is not a JSON object", i)
		}
		events = append(events, e)
	}
	return events, nil
}

// reply answers one request as a says, records it and wakes waiters.
func (s *Server) reply(w http.ResponseWriter, r *http.Request, rec *Request, a Answer) {
	switch {
	case a.Hang:
		rec.Hung = true
		s.record(rec)
		select {
		case <-r.Context().Done():
		case <-s.closing:
		}
		return
	case a.Reset:
		rec.WasReset = true
		s.record(rec)
		reset(w)
		return
	}
	if a.Status == 0 {
		a.Status = http.StatusInternalServerError
	}
	rec.Status = a.Status
	for k, v := range a.Header {
		w.Header().Set(k, v)
	}
	if a.RetryAfter != "" {
		w.Header().Set("Retry-After", a.RetryAfter)
	}
	// Record before answering, so that a client that saw the answer sees the counts too.
	s.record(rec)
	w.WriteHeader(a.Status)
	io.WriteString(w, a.Body)
}

func (s *Server) record(rec *Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, *rec)
	s.notify()
}

// reset closes the connection under the request with SO_LINGER 0, so the client sees a
// TCP reset instead of an answer.
func reset(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("httpfake: connection cannot be hijacked")
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}
