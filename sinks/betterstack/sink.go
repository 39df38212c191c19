package betterstack

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/winship/winship/agent/event"
	"github.com/winship/winship/sinks"
	httpsink "github.com/winship/winship/sinks/http"
)

// MaxRequestBytes is BetterStack's limit on one request's compressed body.
const MaxRequestBytes = 10 << 20

// DefaultQuotaProbe is how long the sink pauses on 402 (quota or spending limit reached)
// when the answer names no wait and `quota_probe` is not set: the pipeline probes again
// after it.
const DefaultQuotaProbe = 5 * time.Minute

// concurrency is the default number of requests in flight.
const concurrency = 3

// Factory builds betterstack sinks.
var Factory = sinks.Factory{
	NewOptions: func() sinks.Options { return NewOptions() },
	Defaults: sinks.Defaults{
		MaxEvents:   1000,
		MaxBytes:    2 << 20,
		MaxWait:     100 * time.Millisecond, // keeps a line's way to the server well under 250 ms
		Concurrency: concurrency,
	},
	New: func(spec sinks.Spec, opts sinks.Options) (sinks.Sink, error) {
		o, ok := opts.(*Options)
		if !ok {
			return nil, fmt.Errorf("betterstack sink %s: options of type %T", spec.Name, opts)
		}
		return New(spec, o)
	},
}

// Sink sends batches to BetterStack Logs. It is safe for concurrent use.
type Sink struct {
	client     *httpsink.Client
	gz         *httpsink.Gzipper
	enc        encoder
	maxRequest int
	log        *slog.Logger
	truncated  atomic.Uint64
}

var (
	_ sinks.Sink   = (*Sink)(nil)
	_ sinks.Tester = (*Sink)(nil)
)

// New returns a sink for validated options.
func New(spec sinks.Spec, o *Options) (*Sink, error) {
	client, err := httpsink.NewClient(httpsink.ClientConfig{
		URL:         o.Endpoint,
		ContentType: "application/json",
		Gzip:        true,
		Header:      map[string]httpsink.Secret{"Authorization": "Bearer " + o.SourceToken},
		Secrets:     []string{string(o.SourceToken)},
		Timeout:     o.Timeout,
		MaxConns:    concurrency,
		Classify:    classifier(o.QuotaProbe),
	})
	if err != nil {
		return nil, fmt.Errorf("betterstack sink %s: endpoint: %w", spec.Name, err)
	}
	s := &Sink{
		client:     client,
		gz:         httpsink.NewGzipper(httpsink.DefaultGzipLevel),
		enc:        encoder{host: spec.Host, maxEvent: MaxEventBytes},
		maxRequest: MaxRequestBytes,
		log:        spec.Logger,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// classifier returns Classify with probe as the pause after a 402 that names no wait.
func classifier(probe time.Duration) func(int, time.Duration, string) *sinks.Error {
	return func(status int, after time.Duration, reason string) *sinks.Error {
		e := Classify(status, after, reason)
		if status == http.StatusPaymentRequired && after <= 0 && probe > 0 {
			e.After = probe
		}
		return e
	}
}

// Classify maps BetterStack's answers to what the pipeline does: 402 pauses for
// DefaultQuotaProbe (or the Retry-After), 401/403 pause (bad token), 406 rejects (body not
// parseable); the rest as httpsink.ClassifyStatus (413 TooLarge, 400 Reject, 429 and 5xx
// Retry).
func Classify(status int, after time.Duration, reason string) *sinks.Error {
	e := &sinks.Error{Status: status, After: after}
	switch status {
	case http.StatusPaymentRequired:
		e.Kind, e.Reason = sinks.Pause, join("quota or spending limit reached", reason)
		if e.After <= 0 {
			e.After = DefaultQuotaProbe
		}
	case http.StatusUnauthorized, http.StatusForbidden:
		e.Kind, e.Reason = sinks.Pause, join("source token rejected, check source_token", reason)
	case http.StatusNotAcceptable:
		e.Kind, e.Reason = sinks.Reject, join("body not parseable", reason)
	default:
		return httpsink.ClassifyStatus(status, after, reason)
	}
	return e
}

func join(ours, theirs string) string {
	if theirs == "" {
		return ours
	}
	return ours + ": " + theirs
}

// Truncated returns how many events were cut to fit MaxEventBytes so far.
func (s *Sink) Truncated() uint64 { return s.truncated.Load() }

// Send posts batch as a gzipped JSON array. When the compressed body would exceed
// MaxRequestBytes, the batch is split into requests that fit and the outcome reported per
// event (*sinks.PartialError).
func (s *Sink) Send(ctx context.Context, batch []*event.Event) error {
	if len(batch) == 0 {
		return nil
	}
	body, offs, cut := s.enc.appendBatch(httpsink.GetBuffer(), batch, make([]int, 0, len(batch)+1))
	defer httpsink.PutBuffer(body)
	if cut > 0 {
		s.truncated.Add(uint64(cut))
		s.log.Warn("events over BetterStack's per-record limit were truncated",
			"events", cut, "limit_bytes", s.enc.maxEvent)
	}
	wire, err := s.gz.Compress(nil, body)
	if err != nil {
		return &sinks.Error{Kind: sinks.Retry, Err: err}
	}
	if len(wire) <= s.maxRequest {
		_, err := s.client.Post(ctx, wire)
		return err
	}
	sp := splitter{s: s, body: body, offs: offs, errs: make([]error, len(batch))}
	sp.send(ctx, 0, len(batch), wire)
	return sp.result()
}

// splitter sends a batch whose body is too large as several requests, halving ranges of
// events until each compressed body fits.
type splitter struct {
	s      *Sink
	body   []byte
	offs   []int
	errs   []error
	stop   error // after a Retry or Pause answer, the rest is not sent but gets this
	failed bool
}

// send sends events [i, j); wire is their compressed body when known.
func (sp *splitter) send(ctx context.Context, i, j int, wire []byte) {
	if sp.stop != nil {
		sp.fail(i, j, sp.stop)
		return
	}
	if wire == nil {
		var err error
		if wire, err = sp.s.gz.Compress(nil, sp.sub(i, j)); err != nil {
			sp.fail(i, j, &sinks.Error{Kind: sinks.Retry, Err: err})
			return
		}
	}
	if len(wire) > sp.s.maxRequest && j-i > 1 {
		mid := i + (j-i)/2
		sp.send(ctx, i, mid, nil)
		sp.send(ctx, mid, j, nil)
		return
	}
	if _, err := sp.s.client.Post(ctx, wire); err != nil {
		if k := sinks.Classify(err).Kind; k == sinks.Retry || k == sinks.Pause {
			sp.stop = err
		}
		sp.fail(i, j, err)
	}
}

// sub returns the JSON array of events [i, j).
func (sp *splitter) sub(i, j int) []byte {
	b := make([]byte, 0, sp.offs[j]-sp.offs[i]+2)
	b = append(b, '[')
	b = append(b, sp.body[sp.offs[i]:sp.offs[j]-1]...)
	return append(b, ']')
}

func (sp *splitter) fail(i, j int, err error) {
	sp.failed = true
	for k := i; k < j; k++ {
		sp.errs[k] = err
	}
}

func (sp *splitter) result() error {
	if !sp.failed {
		return nil
	}
	return &sinks.PartialError{Errs: sp.errs}
}

// Close closes idle connections.
func (s *Sink) Close() error {
	s.client.CloseIdle()
	return nil
}

// TestSend posts one test event and writes what happened to w. The token is never shown.
func (s *Sink) TestSend(ctx context.Context, w interface{ Write([]byte) (int, error) }) error {
	fmt.Fprintf(w, "endpoint: %s\n", s.client.Where())
	fmt.Fprintln(w, "source_token: set (not shown)")
	e := httpsink.TestEvent(time.Now(), s.enc.host)
	body, _ := s.enc.appendEvent([]byte{'['}, e)
	body = append(body, ']')
	wire, err := s.gz.Compress(nil, body)
	if err != nil {
		return err
	}
	ans, err := s.client.Post(ctx, wire)
	return httpsink.WriteReport(w, ans, err)
}
