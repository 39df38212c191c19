// Package sentryfake is a small Sentry (or GlitchTip) ingest server for tests. It checks
// what the real servers check on the envelope endpoint (the DSN's key in X-Sentry-Auth,
// gzip, envelope framing, event ids, the sdk header), records the events it accepts, and
// answers as a test scripts it: 429 with X-Sentry-Rate-Limits or Retry-After, 413, 400
// with X-Sentry-Error, 403, 5xx.
//
// A request that breaks the protocol is answered as the real server would (mostly 400)
// and recorded as a problem; unless Options.AllowProblems is set, the test fails at
// cleanup when there was any. A request made while a 429 the server gave is still in force
// counts as a problem too: clients must hold off. The server stops when the test ends.
package sentryfake

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	sentrygo "github.com/getsentry/sentry-go"
)

// DefaultKey is the public key of the DSN when Options.Key is empty.
const DefaultKey = "0123456789abcdef0123456789abcdef"

// Options configure a fake server. The zero value is a Sentry-flavoured server.
type Options struct {
	Key     string // the DSN's public key; DefaultKey when empty
	Project string // the DSN's project id; "42" when empty
	// GlitchTip makes the server GlitchTip-flavoured: an sdk header without name and
	// version gets 400 "Invalid envelope header", zstd is refused, and the default body
	// cap is 2.5 MB.
	GlitchTip bool
	// MaxBodyBytes caps the decompressed body (413 above it); default 20 MiB for Sentry,
	// 2.5 MB for GlitchTip.
	MaxBodyBytes int
	// MaxEventBytes caps the event item (413 above it); default 1 MiB.
	MaxEventBytes int
	// AllowProblems keeps protocol problems from failing the test.
	AllowProblems bool
	// Now is the server's clock for rate-limit windows; time.Now when nil.
	Now func() time.Time
}

// InFlightGrace is how long after a 429 requests are still taken to have been sent before
// the client could read it (several envelopes are in flight at once).
const InFlightGrace = 250 * time.Millisecond

// Answer is a scripted response.
type Answer struct {
	Status int
	Header http.Header
	Body   string
}

// RateLimited answers 429 with X-Sentry-Rate-Limits "<secs>:<categories>:key".
func RateLimited(secs int, categories string) Answer {
	return Answer{Status: 429, Header: http.Header{
		"X-Sentry-Rate-Limits": {fmt.Sprintf("%d:%s:key", secs, categories)}}}
}

// RetryAfter answers 429 with only a Retry-After header (GlitchTip's way).
func RetryAfter(value string) Answer {
	return Answer{Status: 429, Header: http.Header{"Retry-After": {value}}}
}

// TooLarge answers 413.
func TooLarge() Answer { return Answer{Status: 413} }

// BadRequest answers 400 with X-Sentry-Error and a JSON detail.
func BadRequest(msg string) Answer {
	b, _ := json.Marshal(map[string]string{"detail": msg})
	return Answer{Status: 400, Header: http.Header{"X-Sentry-Error": {msg}}, Body: string(b)}
}

// Forbidden answers 403, as a self-hosted Sentry does while its relay loads a project.
func Forbidden() Answer {
	return Answer{Status: 403, Header: http.Header{"X-Sentry-Error": {"project not ready"}}}
}

// Status answers code with an empty body.
func Status(code int) Answer { return Answer{Status: code} }

// Event is an event the server accepted.
type Event struct {
	ID       string          // the envelope's event_id
	Header   map[string]any  // the envelope header
	Raw      json.RawMessage // the item payload as sent
	Event    sentrygo.Event  // the payload decoded
	Received time.Time
}

// Server is a running fake. Its methods are safe for concurrent use.
type Server struct {
	t    testing.TB
	opts Options
	srv  *httptest.Server

	mu           sync.Mutex
	script       []Answer
	events       []Event
	seen         map[string]bool
	duplicates   int
	requests     int
	problems     []string
	limitedUntil time.Time
	limitedAt    time.Time
	changed      chan struct{}
}

// New starts a fake server on 127.0.0.1 that stops when the test ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.Key == "" {
		opts.Key = DefaultKey
	}
	if opts.Project == "" {
		opts.Project = "42"
	}
	if opts.MaxBodyBytes == 0 {
		opts.MaxBodyBytes = 20 << 20
		if opts.GlitchTip {
			opts.MaxBodyBytes = 2_500_000
		}
	}
	if opts.MaxEventBytes == 0 {
		opts.MaxEventBytes = 1 << 20
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{t: t, opts: opts, seen: map[string]bool{}, changed: make(chan struct{})}
	s.srv = httptest.NewServer(http.HandlerFunc(s.handle))
	t.Cleanup(func() {
		s.srv.Close()
		if p := s.Problems(); len(p) > 0 && !opts.AllowProblems {
			t.Errorf("sentryfake: %d protocol problems:\n%s", len(p), strings.Join(p, "\n"))
		}
	})
	return s
}

// URL is the server's base URL.
func (s *Server) URL() string { return s.srv.URL }

// DSN is a DSN that points at the server: http://<key>@127.0.0.1:PORT/<project>.
func (s *Server) DSN() string {
	return strings.Replace(s.srv.URL, "http://", "http://"+s.opts.Key+"@", 1) + "/" + s.opts.Project
}

// Script queues answers for the next requests that pass the protocol checks, in order.
// A scripted 2xx still records the event.
func (s *Server) Script(answers ...Answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script = append(s.script, answers...)
}

// Events returns the accepted events, in arrival order, without duplicates.
func (s *Server) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.events...)
}

// Requests returns how many requests reached the server.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Duplicates returns how many accepted envelopes repeated an event_id already accepted
// (the real servers drop those silently).
func (s *Server) Duplicates() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.duplicates
}

// Problems returns the protocol problems seen so far.
func (s *Server) Problems() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.problems...)
}

// WaitEvents waits until at least n events were accepted, or ctx ends.
func (s *Server) WaitEvents(ctx context.Context, n int) ([]Event, error) {
	for {
		s.mu.Lock()
		if len(s.events) >= n {
			evs := append([]Event(nil), s.events...)
			s.mu.Unlock()
			return evs, nil
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return s.Events(), fmt.Errorf("wait for %d events, have %d: %w",
				n, len(s.Events()), ctx.Err())
		}
	}
}

// reply is the server's decision on one request.
type reply struct {
	status  int
	header  http.Header
	body    string
	problem string // a protocol problem to record
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	s.mu.Unlock()
	rep, env := s.check(r)
	if rep.status == 0 {
		rep = s.accept(env)
	}
	if rep.problem != "" {
		s.mu.Lock()
		s.problems = append(s.problems, rep.problem)
		s.mu.Unlock()
	}
	for k, vs := range rep.header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	if rep.body != "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(rep.status)
	io.WriteString(w, rep.body)
}

func bad(status int, msg string, problem bool) reply {
	b, _ := json.Marshal(map[string]string{"detail": msg})
	rep := reply{status: status, header: http.Header{"X-Sentry-Error": {msg}}, body: string(b)}
	if problem {
		rep.problem = msg
	}
	return rep
}

// envelope is a checked request body.
type envelope struct {
	header  map[string]any
	id      string
	payload []byte
}

// check applies the protocol checks; a reply with a status ends the request.
func (s *Server) check(r *http.Request) (reply, envelope) {
	if r.Method != http.MethodPost || r.URL.Path != "/api/"+s.opts.Project+"/envelope/" {
		return bad(404, fmt.Sprintf("unexpected %s %s", r.Method, r.URL.Path), true), envelope{}
	}
	if rep, ok := s.checkAuth(r.Header.Get("X-Sentry-Auth")); !ok {
		return rep, envelope{}
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-sentry-envelope" {
		return bad(400, "content type "+ct+", want application/x-sentry-envelope", true), envelope{}
	}
	body, rep, ok := s.readBody(r)
	if !ok {
		return rep, envelope{}
	}
	return s.parseEnvelope(body)
}

var authPair = regexp.MustCompile(`^\s*(sentry_[a-z_]+)=([^,\s]*)\s*$`)

func (s *Server) checkAuth(h string) (reply, bool) {
	rest, ok := strings.CutPrefix(h, "Sentry ")
	if !ok {
		return bad(403, "missing or malformed X-Sentry-Auth", true), false
	}
	kv := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		m := authPair.FindStringSubmatch(part)
		if m == nil {
			return bad(403, "malformed X-Sentry-Auth part", true), false
		}
		kv[m[1]] = m[2]
	}
	switch {
	case kv["sentry_version"] != "7":
		return bad(403, "X-Sentry-Auth: sentry_version must be 7", true), false
	case kv["sentry_client"] == "":
		return bad(403, "X-Sentry-Auth: sentry_client missing", true), false
	case kv["sentry_key"] != s.opts.Key:
		return bad(403, "invalid key", false), false // a configuration matter, not a bug
	}
	return reply{}, true
}

func (s *Server) readBody(r *http.Request) ([]byte, reply, bool) {
	var rd io.Reader = r.Body
	switch enc := r.Header.Get("Content-Encoding"); enc {
	case "gzip":
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, bad(400, "bad gzip body: "+err.Error(), true), false
		}
		rd = zr
	case "zstd":
		if s.opts.GlitchTip {
			return nil, bad(400, "unsupported content encoding zstd", true), false
		}
		return nil, bad(400, "fake does not decode zstd", true), false
	default:
		return nil, bad(400, "body not gzipped (Content-Encoding "+enc+")", true), false
	}
	body, err := io.ReadAll(io.LimitReader(rd, int64(s.opts.MaxBodyBytes)+1))
	if err != nil {
		return nil, bad(400, "bad gzip body: "+err.Error(), true), false
	}
	if len(body) > s.opts.MaxBodyBytes {
		return nil, reply{status: 413}, false
	}
	return body, reply{}, true
}

var hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)

// parseEnvelope checks the framing: a header line, then exactly one event item whose
// item header gives the payload's length.
func (s *Server) parseEnvelope(body []byte) (reply, envelope) {
	line, rest, _ := bytes.Cut(body, []byte("\n"))
	var env envelope
	if err := json.Unmarshal(line, &env.header); err != nil {
		return bad(400, "envelope header is not JSON", true), env
	}
	if rep, ok := s.checkHeader(&env); !ok {
		return rep, env
	}
	line, rest, ok := bytes.Cut(rest, []byte("\n"))
	var item struct {
		Type   string `json:"type"`
		Length *int   `json:"length"`
	}
	if !ok || json.Unmarshal(line, &item) != nil {
		return bad(400, "missing or bad item header", true), env
	}
	switch {
	case item.Type != "event":
		return bad(400, "item type "+item.Type+", want event", true), env
	case item.Length == nil:
		return bad(400, "item header without length", true), env
	case *item.Length > len(rest):
		return bad(400, "item length past the end of the body", true), env
	}
	env.payload, rest = rest[:*item.Length], rest[*item.Length:]
	switch {
	case len(rest) == 0 || (len(rest) == 1 && rest[0] == '\n'):
	case rest[0] != '\n':
		return bad(400, "item length does not match its payload", true), env
	default:
		return bad(400, "more than one item in the envelope", true), env
	}
	if len(env.payload) > s.opts.MaxEventBytes {
		return reply{status: 413}, env
	}
	return reply{}, env
}

func (s *Server) checkHeader(env *envelope) (reply, bool) {
	id, _ := env.header["event_id"].(string)
	if !hex32.MatchString(id) {
		return bad(400, fmt.Sprintf("event_id %q is not 32 lowercase hex", id), true), false
	}
	env.id = id
	sentAt, _ := env.header["sent_at"].(string)
	if _, err := time.Parse(time.RFC3339Nano, sentAt); err != nil {
		return bad(400, "sent_at missing or not RFC 3339", true), false
	}
	sdk, _ := env.header["sdk"].(map[string]any)
	name, _ := sdk["name"].(string)
	version, _ := sdk["version"].(string)
	if name == "" || version == "" {
		// GlitchTip refuses it; Sentry would take it, but winship must always send it.
		return bad(400, "Invalid envelope header: sdk needs name and version", true), false
	}
	return reply{}, true
}

// accept applies the rate-limit window and the script, then records the event.
func (s *Server) accept(env envelope) reply {
	var ev sentrygo.Event
	if err := json.Unmarshal(env.payload, &ev); err != nil {
		return bad(400, "event payload is not JSON: "+err.Error(), true)
	}
	if string(ev.EventID) != env.id {
		return bad(400, "payload event_id differs from the envelope's", true)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()
	if now.Before(s.limitedUntil) {
		left := s.limitedUntil.Sub(now)
		r := reply{status: 429, header: http.Header{
			"Retry-After": {strconv.Itoa(int(left.Seconds() + 0.999))}}}
		// Envelopes already on the wire when the 429 went out are answered 429 too, as a
		// real server does; only a request sent after the client could have read the 429
		// breaks the protocol.
		if now.Sub(s.limitedAt) > InFlightGrace {
			r.problem = fmt.Sprintf("request %s before the rate limit ended", left)
		}
		return r
	}
	if len(s.script) > 0 {
		a := s.script[0]
		s.script = s.script[1:]
		if a.Status == 429 {
			s.limitedUntil = now.Add(limitOf(a.Header, now))
			s.limitedAt = now
		}
		if a.Status < 200 || a.Status > 299 {
			return reply{status: a.Status, header: a.Header, body: a.Body}
		}
		s.record(env, ev, now)
		return reply{status: a.Status, header: a.Header, body: idBody(env.id)}
	}
	s.record(env, ev, now)
	return reply{status: 200, body: idBody(env.id)}
}

func idBody(id string) string { return `{"id":"` + id + `"}` }

func (s *Server) record(env envelope, ev sentrygo.Event, now time.Time) {
	if s.seen[env.id] {
		s.duplicates++
		return
	}
	s.seen[env.id] = true
	s.events = append(s.events, Event{ID: env.id, Header: env.header,
		Raw: append(json.RawMessage(nil), env.payload...), Event: ev, Received: now})
	close(s.changed)
	s.changed = make(chan struct{})
}

// limitOf is the wait a scripted 429 announces for events: the longest
// X-Sentry-Rate-Limits entry whose categories include "error" (or are empty), else
// Retry-After, else 60 s.
func limitOf(h http.Header, now time.Time) time.Duration {
	var longest time.Duration
	for _, entry := range strings.Split(h.Get("X-Sentry-Rate-Limits"), ",") {
		f := strings.Split(strings.TrimSpace(entry), ":")
		if len(f) < 2 {
			continue
		}
		n, err := strconv.ParseFloat(f[0], 64)
		cats := ";" + f[1] + ";"
		if err != nil || (f[1] != "" && !strings.Contains(cats, ";error;")) {
			continue
		}
		if d := time.Duration(n * float64(time.Second)); d > longest {
			longest = d
		}
	}
	if longest > 0 {
		return longest
	}
	if ra := h.Get("Retry-After"); ra != "" {
		if n, err := strconv.ParseFloat(ra, 64); err == nil {
			return time.Duration(n * float64(time.Second))
		}
		if t, err := http.ParseTime(ra); err == nil {
			return t.Sub(now)
		}
	}
	return 60 * time.Second
}
