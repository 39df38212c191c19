package httpsink

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/winship/winship/agent/event"
	"github.com/winship/winship/sinks"
)

// Factory builds http sinks.
var Factory = sinks.Factory{
	NewOptions: func() sinks.Options { return NewOptions() },
	Defaults: sinks.Defaults{
		MaxEvents:   1000,
		MaxBytes:    1 << 20,
		MaxWait:     100 * time.Millisecond, // keeps a line's way to the server well under 250 ms
		Concurrency: concurrency,
	},
	New: func(spec sinks.Spec, opts sinks.Options) (sinks.Sink, error) {
		o, ok := opts.(*Options)
		if !ok {
			return nil, fmt.Errorf("http sink %s: options of type %T", spec.Name, opts)
		}
		return New(spec, o)
	},
}

// concurrency is the default number of requests in flight.
const concurrency = 2

// Sink posts batches to one URL. It is safe for concurrent use.
type Sink struct {
	client *Client
	gz     *Gzipper // nil when gzip is off
	enc    Encoding
	host   string
	log    *slog.Logger
}

var (
	_ sinks.Sink   = (*Sink)(nil)
	_ sinks.Tester = (*Sink)(nil)
)

// New returns a sink for validated options.
func New(spec sinks.Spec, o *Options) (*Sink, error) {
	enc, _ := parseEncoding(o.Encoding)
	client, err := NewClient(ClientConfig{
		URL:         o.URL,
		ContentType: enc.ContentType(),
		Gzip:        o.Gzip,
		Header:      o.Headers,
		Timeout:     o.Timeout,
		MaxConns:    concurrency,
	})
	if err != nil {
		return nil, fmt.Errorf("http sink %s: %w", spec.Name, err)
	}
	s := &Sink{client: client, enc: enc, host: spec.Host, log: spec.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if o.Gzip {
		s.gz = NewGzipper(DefaultGzipLevel)
	}
	return s, nil
}

// Send posts batch as one request and classifies the answer (see ClassifyStatus).
func (s *Sink) Send(ctx context.Context, batch []*event.Event) error {
	if len(batch) == 0 {
		return nil
	}
	_, err := s.post(ctx, batch)
	return err
}

func (s *Sink) post(ctx context.Context, batch []*event.Event) (Answer, error) {
	body := AppendBatch(GetBuffer(), batch, s.enc, s.host)
	if s.gz == nil {
		// The request owns body now; it is not returned to the pool.
		return s.client.Post(ctx, body)
	}
	wire, err := s.gz.Compress(make([]byte, 0, len(body)/4+64), body)
	PutBuffer(body)
	if err != nil {
		return Answer{}, &sinks.Error{Kind: sinks.Retry, Err: err}
	}
	return s.client.Post(ctx, wire)
}

// Close closes idle connections.
func (s *Sink) Close() error {
	s.client.CloseIdle()
	return nil
}

// TestSend posts one test event and writes what happened to w.
func (s *Sink) TestSend(ctx context.Context, w interface{ Write([]byte) (int, error) }) error {
	e := TestEvent(time.Now(), s.host)
	fmt.Fprintf(w, "url: %s (path and query not shown)\n", s.client.Where())
	ans, err := s.post(ctx, []*event.Event{e})
	return WriteReport(w, ans, err)
}

// TestEvent is the event `winship test-sink` sends.
func TestEvent(now time.Time, host string) *event.Event {
	return &event.Event{
		Time:    now,
		Level:   event.Info,
		Message: "winship test-sink: test event from " + host,
		Fields:  []byte(`{"winship_test":true}`),
		Source:  "winship-test-sink",
	}
}

// WriteReport writes a test request's outcome to w, one fact a line, and returns err.
// ans.Body is already free of secrets.
func WriteReport(w interface{ Write([]byte) (int, error) }, ans Answer, err error) error {
	fmt.Fprintf(w, "request: %d bytes sent\n", ans.WireBytes)
	if ans.Status != 0 {
		fmt.Fprintf(w, "status: %s\n", ans.StatusText)
		fmt.Fprintf(w, "answer: %s\n", Reason(ans.Body))
	}
	if err == nil {
		fmt.Fprintln(w, "result: delivered")
		return nil
	}
	se := sinks.Classify(err)
	fmt.Fprintf(w, "result: not delivered; the pipeline would %s\n", actionOf(se))
	fmt.Fprintf(w, "error: %v\n", err)
	return err
}

func actionOf(e *sinks.Error) string {
	switch e.Kind {
	case sinks.Retry:
		return "retry"
	case sinks.Pause:
		return "pause the sink and keep its data"
	case sinks.TooLarge:
		return "split the batch"
	case sinks.Reject:
		return "dead-letter the rejected events"
	}
	return e.Kind.String()
}
