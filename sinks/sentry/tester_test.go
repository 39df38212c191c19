package sentry

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/winship/winship/sinks"
	"github.com/winship/winship/sinks/sentry/sentryfake"
)

func TestTestSendReportsTheAnswer(t *testing.T) {
	srv := sentryfake.New(t, sentryfake.Options{})
	s := newTestSink(t, srv, sinkSetup{})
	srv.Script(sentryfake.Answer{Status: 200,
		Header: http.Header{"X-Sentry-Rate-Limits": {"0:transaction:key"}}})
	var out bytes.Buffer
	if err := s.TestSend(context.Background(), &out); err != nil {
		t.Fatalf("TestSend: %v\n%s", err, out.String())
	}
	evs := srv.Events()
	if len(evs) != 1 || evs[0].Event.Level != "info" || evs[0].Event.Logger != "winship" {
		t.Fatalf("server got %+v", evs)
	}
	text := out.String()
	for _, want := range []string{
		"endpoint: " + srv.URL() + "/api/42/envelope/",
		"event_id: " + evs[0].ID,
		"status: 200",
		"id: " + evs[0].ID,
		"x-sentry-rate-limits: 0:transaction:key",
		"result: delivered",
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, sentryfake.DefaultKey) {
		t.Errorf("output shows the key:\n%s", text)
	}
	if s.guard.quotaCount() != 0 {
		t.Error("the test event counted against the quota")
	}
}

func TestTestSendReportsRefusal(t *testing.T) {
	srv := sentryfake.New(t, sentryfake.Options{})
	s := newTestSink(t, srv, sinkSetup{})
	srv.Script(sentryfake.RetryAfter("120"))
	var out bytes.Buffer
	err := s.TestSend(context.Background(), &out)
	if sinks.Classify(err).Kind != sinks.Retry {
		t.Fatalf("TestSend = %v", err)
	}
	for _, want := range []string{"status: 429", "retry-after: 120", "result: not delivered"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
