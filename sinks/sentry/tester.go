package sentry

import (
	"context"
	"fmt"
	"io"

	"github.com/winship/winship/agent/event"
)

// TestSend implements sinks.Tester: it sends one info-level test event through the same
// mapping, envelope and HTTP path as real events (the quota and spike guard excepted) and
// writes the server's answer, one fact a line. It returns the classified error when the
// event was not accepted.
func (s *Sink) TestSend(ctx context.Context, w interface{ Write([]byte) (int, error) }) error {
	now := s.now()
	e := &event.Event{
		Time:    now,
		Level:   event.Info,
		Message: fmt.Sprintf("winship test event from sink %q on %s", s.name, s.mapper.host),
		Source:  "winship",
		Fields:  []byte(`{"winship_test":true}`),
	}
	ev := s.mapper.mapEvent(e)
	out := io.Writer(w)
	fmt.Fprintf(out, "endpoint: %s\n", s.tr.url)
	fmt.Fprintf(out, "event_id: %s\n", ev.EventID)
	if err := s.heldErr(); err != nil {
		fmt.Fprintf(out, "result: not sent: %v\n", err)
		return err
	}
	a, err := s.deliver(ctx, ev)
	if a.status != 0 {
		fmt.Fprintf(out, "status: %d\n", a.status)
	}
	for _, h := range []struct{ name, value string }{
		{"id", a.id}, {"x-sentry-rate-limits", a.rateLimits}, {"retry-after", a.retryAfter},
		{"x-sentry-error", a.sentryError}, {"detail", a.detail},
	} {
		if h.value != "" {
			fmt.Fprintf(out, "%s: %s\n", h.name, h.value)
		}
	}
	if err != nil {
		fmt.Fprintf(out, "result: not delivered: %v\n", err)
		return err
	}
	fmt.Fprintln(out, "result: delivered")
	return nil
}
