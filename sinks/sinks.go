// Package sinks holds the contract between winship's delivery pipeline and its destinations,
// and the error kinds a destination uses to say what should happen to a batch it could not
// deliver. Each destination lives in its own package below this one (sinks/file, sinks/http,
// sinks/betterstack, sinks/sentry) and is registered with a Factory.
//
// The pipeline owns retries, backoff, splitting, dead letters and pauses; a sink only sends
// and classifies the answer. Keeping the policy in one place is what lets every sink promise
// the same thing: an event leaves the buffer only when its destination acknowledged it, or
// when a counted policy removed it.
package sinks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/winship/winship/agent/event"
)

// Sink delivers events to one destination.
//
// Send delivers batch and returns nil only when the destination has accepted every event
// durably (a 2xx it documents as accepted, an fsync). It may be called from up to
// Defaults.Concurrency goroutines at once. It must not keep batch or its events after it
// returns, and must not modify them. It should return promptly when ctx is cancelled.
//
// A non-nil error tells the pipeline what to do next: an *Error for the whole batch, or a
// *PartialError with one entry per event. Any other error is treated as Retry.
type Sink interface {
	Send(ctx context.Context, batch []*event.Event) error
	// Close releases what the sink holds. The pipeline calls it once, after the last Send.
	Close() error
}

// Observer is implemented by sinks that want the events filtered out by min_level (the
// Sentry sink keeps them as breadcrumbs). Observe is called from one goroutine, in log
// order, before the Send of any later event; it must not block.
type Observer interface {
	Observe(e *event.Event)
}

// Counters is implemented by sinks that count things the pipeline cannot see (events a
// quota held back, events truncated to fit). Counters returns cumulative counts by stable
// key; the agent exports each as winship_sink_events_total{sink, what=key}. It must be
// cheap and safe for concurrent use.
type Counters interface {
	Counters() map[string]int64
}

// Tester is implemented by sinks that `winship test-sink` can check: TestSend sends one
// test event through the real path and writes the server's answer to w, one fact a line.
type Tester interface {
	TestSend(ctx context.Context, w interface{ Write([]byte) (int, error) }) error
}

// Kind says what the pipeline does with a batch a sink could not deliver.
type Kind int

const (
	// Retry: a transient failure (network error, timeout, 408, 429, 5xx but 501). The same
	// events are sent again after a backoff with full jitter, or after Error.After when set.
	Retry Kind = iota
	// Pause: the destination refuses this sink for now (401/403 bad credentials, 402 quota).
	// Data is kept; the sink is probed again after Error.After (default one minute) and an
	// error is logged at most once a minute until it works.
	Pause
	// TooLarge: the request was too large (413). The pipeline splits the batch in halves and
	// sends each; a single event that is still too large is dead-lettered.
	TooLarge
	// Reject: the destination will never accept these events as they are (400, 406, 422).
	// The pipeline bisects the batch to find the poison events and dead-letters each one.
	Reject
)

func (k Kind) String() string {
	switch k {
	case Retry:
		return "retry"
	case Pause:
		return "pause"
	case TooLarge:
		return "too_large"
	case Reject:
		return "reject"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Error is a classified delivery failure. Its text must never contain a secret.
type Error struct {
	Kind   Kind
	Status int           // HTTP status, 0 when there was none
	After  time.Duration // wait the server asked for (Retry-After, rate limits), 0 for none
	Reason string        // short server-provided reason, e.g. X-Sentry-Error; no secrets
	Err    error         // underlying error, if any
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Kind.String())
	if e.Status != 0 {
		fmt.Fprintf(&b, ": status %d", e.Status)
	}
	if e.Reason != "" {
		b.WriteString(": ")
		b.WriteString(e.Reason)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// PartialError reports per-event outcomes of one Send: Errs[i] is nil when batch[i] was
// delivered, else the error for that event (an *Error or any error, as for Send).
type PartialError struct {
	Errs []error
}

func (e *PartialError) Error() string {
	failed := 0
	var first error
	for _, err := range e.Errs {
		if err != nil {
			if first == nil {
				first = err
			}
			failed++
		}
	}
	return fmt.Sprintf("%d of %d events failed, first: %v", failed, len(e.Errs), first)
}

// Classify returns the *Error carried by err, or a Retry *Error wrapping it.
func Classify(err error) *Error {
	var se *Error
	if errors.As(err, &se) {
		return se
	}
	return &Error{Kind: Retry, Err: err}
}

// ClassifyHTTP maps an HTTP status to the Kind the generic rules give it: 2xx is success
// (nil), 401/402/403 Pause, 413 TooLarge, 400/406/422 and other 4xx Reject, and 408, 429,
// 5xx (but 501) and anything else Retry. after is the parsed Retry-After, 0 when absent.
func ClassifyHTTP(status int, after time.Duration, reason string) *Error {
	if status >= 200 && status < 300 {
		return nil
	}
	e := &Error{Status: status, After: after, Reason: reason}
	switch {
	case status == 401 || status == 402 || status == 403:
		e.Kind = Pause
	case status == 413:
		e.Kind = TooLarge
	case status == 408 || status == 429:
		e.Kind = Retry
	case status == 501:
		e.Kind = Reject
	case status >= 400 && status < 500:
		e.Kind = Reject
	default:
		e.Kind = Retry
	}
	return e
}

// ParseRetryAfter reads a Retry-After value: delay seconds or an HTTP date (relative to
// now). It returns 0 when the value is empty or unreadable.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := time.Parse(time.RFC1123, v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// Spec is what the pipeline tells a sink about itself when it builds it.
type Spec struct {
	Name     string       // the sink's configured name, unique
	Type     string       // the configured type (sentry and glitchtip share a factory)
	StateDir string       // a folder of the sink's own under state_dir, created already
	Host     string       // this machine's host name, for server_name and the like
	Logger   *slog.Logger // already carries sink=<name>
}

// Defaults are a sink type's defaults for the keys every sink has.
type Defaults struct {
	MaxEvents   int           // batch.max_events
	MaxBytes    int           // batch.max_bytes (sum of event sizes in the buffer)
	MaxWait     time.Duration // batch.max_wait
	Concurrency int           // batches in flight at once
	Dedupe      bool          // drop the second copy of an entry seen in two files
	MinLevel    string        // min_level when the user sets none; "" sends every level
}

// Options is a sink type's own configuration, decoded strictly from the sink's YAML mapping
// (every key that is not common to all sinks). Validate checks it after decoding and after
// ${VAR} expansion; its errors should be *KeyError so the config loader can name the key
// and line. Resolve turns relative paths into absolute ones against the config's folder.
type Options interface {
	Validate() error
	Resolve(configDir string)
}

// Writer is implemented by Options of sinks that write local files; the config loader
// refuses a source glob that would read them back (winship would ship its own output
// forever).
type Writer interface {
	WrittenPaths() []string
}

// KeyError names the option key that is wrong. Its message must not hold a secret.
type KeyError struct {
	Key string
	Msg string
}

func (e *KeyError) Error() string { return "`" + e.Key + "`: " + e.Msg }

// Factory builds one type of sink.
type Factory struct {
	// NewOptions returns a pointer to a fresh options struct with its defaults set. Its
	// fields carry `yaml` tags; unknown keys are config errors.
	NewOptions func() Options
	// Defaults for this type; the user's batch and dedupe keys override them.
	Defaults Defaults
	// New builds the sink from validated options.
	New func(spec Spec, opts Options) (Sink, error)
}
