package httpsink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/winship/winship/agent/event"
	"github.com/winship/winship/sinks"
	"github.com/winship/winship/sinks/http/httpfake"
)

const secret = "s3cr3t-token-value"

func newSink(t *testing.T, url string, edit func(*Options)) *Sink {
	t.Helper()
	o := NewOptions()
	o.URL = url
	o.Headers = map[string]Secret{"Authorization": "Bearer " + secret}
	if edit != nil {
		edit(o)
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	s, err := Factory.New(sinks.Spec{Name: "h", Type: "http", Host: "web-1"}, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s.(*Sink)
}

func newFake(t *testing.T, edit func(*httpfake.Config)) *httpfake.Server {
	cfg := httpfake.Config{Token: secret, RequireGzip: true, Encoding: "json"}
	if edit != nil {
		edit(&cfg)
	}
	return httpfake.New(t, cfg)
}

func events(n int) []*event.Event {
	out := make([]*event.Event, n)
	for i := range out {
		out[i] = &event.Event{
			Time: time.Unix(1764776073, int64(i)*1e6), Level: event.Info,
			Message: fmt.Sprintf("line %d", i), Fields: []byte(fmt.Sprintf(`{"seq":%d}`, i)),
			Source: "app", Path: "/logs/combined.log",
		}
	}
	return out
}

func TestSendDeliversWithTokenGzipJSON(t *testing.T) {
	fake := newFake(t, nil)
	s := newSink(t, fake.URL+"/ingest?x=1", nil)
	if err := s.Send(context.Background(), events(3)); err != nil {
		t.Fatal(err)
	}
	got := fake.Events()
	if len(got) != 3 || got[2].Str("message") != "line 2" || got[0].Str("host") != "web-1" {
		t.Fatalf("accepted: %v", got)
	}
	if p := fake.Problems(); len(p) != 0 {
		t.Errorf("problems: %v", p)
	}
	r := fake.Requests()[0]
	if !r.Gzip || r.ContentType != "application/json" || r.WireBytes >= r.BodyBytes {
		t.Errorf("request: %+v", r)
	}
}

func TestSendNDJSONWithoutGzip(t *testing.T) {
	fake := newFake(t, func(c *httpfake.Config) { c.Encoding = "ndjson"; c.RequireGzip = false })
	s := newSink(t, fake.URL, func(o *Options) { o.Encoding = "ndjson"; o.Gzip = false })
	if err := s.Send(context.Background(), events(5)); err != nil {
		t.Fatal(err)
	}
	r := fake.Requests()[0]
	if r.Gzip || r.ContentType != "application/x-ndjson" || r.Events != 5 {
		t.Errorf("request: %+v", r)
	}
	if p := fake.Problems(); len(p) != 0 {
		t.Errorf("problems: %v", p)
	}
}

func TestSendWrongTokenPauses(t *testing.T) {
	fake := newFake(t, func(c *httpfake.Config) { c.Token = "other" })
	s := newSink(t, fake.URL, nil)
	err := s.Send(context.Background(), events(1))
	if se := sinks.Classify(err); se.Kind != sinks.Pause || se.Status != 401 {
		t.Fatalf("got %v", err)
	}
	if fake.Stats().Accepted != 0 {
		t.Error("accepted without the token")
	}
}

func TestSendClassifiesAnswers(t *testing.T) {
	cases := []struct {
		answer httpfake.Answer
		kind   sinks.Kind
		after  time.Duration
	}{
		{httpfake.Answer{Status: 500}, sinks.Retry, 0},
		{httpfake.Answer{Status: 503, RetryAfter: "7"}, sinks.Retry, 7 * time.Second},
		{httpfake.Answer{Status: 429, RetryAfter: "120"}, sinks.Retry, 2 * time.Minute},
		{httpfake.Answer{Status: 408}, sinks.Retry, 0},
		{httpfake.Answer{Status: 400}, sinks.Reject, 0},
		{httpfake.Answer{Status: 406}, sinks.Reject, 0},
		{httpfake.Answer{Status: 422}, sinks.Reject, 0},
		{httpfake.Answer{Status: 501}, sinks.Reject, 0},
		{httpfake.Answer{Status: 413}, sinks.TooLarge, 0},
		{httpfake.Answer{Status: 401}, sinks.Pause, 0},
		{httpfake.Answer{Status: 402}, sinks.Pause, 0},
		{httpfake.Answer{Status: 403}, sinks.Pause, 0},
		{httpfake.Answer{Status: 404}, sinks.Pause, 0},
		{httpfake.Answer{Status: 308, Header: map[string]string{"Location": "https://x.example/"}},
			sinks.Pause, 0},
	}
	fake := newFake(t, nil)
	s := newSink(t, fake.URL, nil)
	for _, c := range cases {
		fake.Queue(c.answer)
		err := s.Send(context.Background(), events(2))
		var se *sinks.Error
		if !errors.As(err, &se) {
			t.Errorf("%d: got %v, want a *sinks.Error", c.answer.Status, err)
			continue
		}
		if se.Kind != c.kind || se.Status != c.answer.Status || se.After != c.after {
			t.Errorf("%d: got %s status %d after %s, want %s after %s", c.answer.Status,
				se.Kind, se.Status, se.After, c.kind, c.after)
		}
		if se.Reason == "" {
			t.Errorf("%d: no reason", c.answer.Status)
		}
	}
	if st := fake.Stats(); st.Accepted != 0 || st.Requests != len(cases) {
		t.Errorf("stats: %+v", st)
	}
	// The queue is used up: the next send goes through.
	if err := s.Send(context.Background(), events(2)); err != nil {
		t.Fatal(err)
	}
}

func TestSendRedirectNotFollowed(t *testing.T) {
	fake := newFake(t, nil)
	fake.Queue(httpfake.Answer{Status: 307, Header: map[string]string{"Location": fake.URL + "/x"}})
	s := newSink(t, fake.URL, nil)
	err := s.Send(context.Background(), events(1))
	if se := sinks.Classify(err); se.Kind != sinks.Pause || !strings.Contains(se.Reason, "redirect") {
		t.Fatalf("got %v", err)
	}
	if n := fake.Stats().Requests; n != 1 {
		t.Errorf("%d requests: the redirect was followed", n)
	}
}

func TestSendNetworkFailuresRetry(t *testing.T) {
	fake := newFake(t, nil)
	// Down, not Queue: under load the short timeout may expire before the request reaches
	// the fake, and a queued Hang would then catch the next request.
	fake.Down(httpfake.Answer{Hang: true})
	short := newSink(t, fake.URL, func(o *Options) { o.Timeout = 200 * time.Millisecond })
	err := short.Send(context.Background(), events(1))
	if se := sinks.Classify(err); se.Kind != sinks.Retry || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("hang: got %v", err)
	}
	if !strings.Contains(err.Error(), "no answer within 200ms") {
		t.Errorf("hang: %v", err)
	}
	fake.Up()

	s := newSink(t, fake.URL, nil)
	fake.Queue(httpfake.Answer{Reset: true})
	err = s.Send(context.Background(), events(1))
	if se := sinks.Classify(err); se.Kind != sinks.Retry || se.Status != 0 {
		t.Errorf("reset: got %v", err)
	}

	if err := s.Send(context.Background(), events(1)); err != nil {
		t.Errorf("after the failures: %v", err)
	}
}

func TestSendConnectionRefusedRetries(t *testing.T) {
	fake := newFake(t, nil)
	url := fake.URL + "/in?token=" + secret
	fake.Close()
	s := newSink(t, url, nil)
	err := s.Send(context.Background(), events(1))
	if se := sinks.Classify(err); se.Kind != sinks.Retry {
		t.Fatalf("got %v", err)
	}
	if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "/in") {
		t.Errorf("error shows the URL's path or query: %v", err)
	}
}

func TestSendCancelledReturnsPromptly(t *testing.T) {
	fake := newFake(t, nil)
	fake.Queue(httpfake.Answer{Hang: true})
	s := newSink(t, fake.URL, func(o *Options) { o.Timeout = time.Hour })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Send(ctx, events(1)) }()
	sent := func(st httpfake.Stats) bool { return st.Requests == 1 }
	if err := fake.Wait(context.Background(), sent); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("got %v", err)
	}
}

func TestAnswerTextHidesSecrets(t *testing.T) {
	fake := newFake(t, nil)
	fake.Queue(httpfake.Answer{Status: 400, Body: "bad request from Bearer " + secret})
	s := newSink(t, fake.URL, nil)
	err := s.Send(context.Background(), events(1))
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("error: %v", err)
	}
	var out bytes.Buffer
	fake.Queue(httpfake.Answer{Status: 403, Body: "token " + secret + " is not valid"})
	if err := s.TestSend(context.Background(), &out); err == nil {
		t.Error("TestSend: no error for a 403")
	}
	if strings.Contains(out.String(), secret) || !strings.Contains(out.String(), "status: 403") {
		t.Errorf("TestSend output:\n%s", out.String())
	}
}

func TestTestSend(t *testing.T) {
	fake := newFake(t, nil)
	s := newSink(t, fake.URL+"/logs?key=abc", nil)
	var out bytes.Buffer
	if err := s.TestSend(context.Background(), &out); err != nil {
		t.Fatal(err)
	}
	want := []string{"url: " + fake.URL + " (path and query not shown)", "status: 200 OK",
		`answer: {"status":"accepted"}`, "result: delivered"}
	for _, w := range want {
		if !strings.Contains(out.String(), w+"\n") {
			t.Errorf("output lacks %q:\n%s", w, out.String())
		}
	}
	if ev := fake.Events(); len(ev) != 1 || !strings.Contains(ev[0].Str("message"), "test-sink") {
		t.Errorf("events: %v", ev)
	}
}

func TestSendRealWinstonOutput(t *testing.T) {
	for _, file := range []string{"testdata/combined.log", "testdata/combined-unicode.log"} {
		t.Run(file, func(t *testing.T) {
			batch, err := httpfake.ReadWinston(file, "app")
			if err != nil {
				t.Fatal(err)
			}
			fake := newFake(t, nil)
			s := newSink(t, fake.URL, nil)
			if err := s.Send(context.Background(), batch); err != nil {
				t.Fatal(err)
			}
			got := fake.Events()
			if len(got) != len(batch) {
				t.Fatalf("%d of %d events arrived", len(got), len(batch))
			}
			for i, e := range batch {
				checkEvent(t, e, got[i])
			}
		})
	}
}

// checkEvent compares what the fake received with the event sent.
func checkEvent(t *testing.T, sent *event.Event, got httpfake.Event) {
	t.Helper()
	if got.Str("message") != sent.Message || got.Str("level") != sent.Level.String() ||
		got.Str("stack") != sent.Stack || got.Str("timestamp") != string(event.AppendTime(nil, sent.Time)) {
		t.Errorf("event %s\ndiffers from %+v", got.Raw, sent)
	}
	want, _ := httpfake.DecodeEvents(sent.Fields, false)
	if len(sent.Fields) > 0 && !reflect.DeepEqual(got.Map["fields"], want[0].Map) {
		t.Errorf("fields %v, want %v", got.Map["fields"], want[0].Map)
	}
}
