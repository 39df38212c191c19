package betterstack

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/winship/winship/agent/event"
	"github.com/winship/winship/sinks"
	"github.com/winship/winship/sinks/betterstack/bsfake"
	"github.com/winship/winship/sinks/http/httpfake"
)

func newSink(t *testing.T, endpoint, tok string) *Sink {
	t.Helper()
	return newSinkTimeout(t, endpoint, tok, 5*time.Second)
}

func newSinkTimeout(t *testing.T, endpoint, tok string, timeout time.Duration) *Sink {
	t.Helper()
	o := NewOptions()
	o.Endpoint, o.SourceToken = endpoint, httpsinkSecret(tok)
	o.Timeout = timeout
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	s, err := Factory.New(sinks.Spec{Name: "logs", Type: "betterstack", Host: "web-1"}, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s.(*Sink)
}

func numbered(n int) []*event.Event {
	out := make([]*event.Event, n)
	for i := range out {
		out[i] = &event.Event{Time: time.Unix(1764776073, 0), Level: event.Info,
			Message: fmt.Sprintf("line %d", i), Fields: []byte(fmt.Sprintf(`{"seq":%d}`, i)),
			Source: "app", Path: "/logs/combined.log"}
	}
	return out
}

func TestSendDelivers(t *testing.T) {
	fake := bsfake.New(t, token, nil)
	s := newSink(t, fake.URL, token)
	if err := s.Send(context.Background(), numbered(10)); err != nil {
		t.Fatal(err)
	}
	if st := fake.Stats(); st.Accepted != 10 || st.Duplicates != 0 || st.Requests != 1 {
		t.Errorf("stats %+v", st)
	}
	if p := fake.Problems(); len(p) > 0 {
		t.Errorf("problems: %v", p)
	}
	r := fake.Requests()[0]
	if r.Status != 202 || !r.Gzip || r.ContentType != "application/json" {
		t.Errorf("request %+v", r)
	}
}

func TestSendClassifiesAnswers(t *testing.T) {
	cases := []struct {
		answer httpfake.Answer
		kind   sinks.Kind
		after  time.Duration
		reason string
	}{
		{httpfake.Answer{Status: 500}, sinks.Retry, 0, ""},
		{httpfake.Answer{Status: 502}, sinks.Retry, 0, ""},
		{httpfake.Answer{Status: 503, RetryAfter: "30"}, sinks.Retry, 30 * time.Second, ""},
		{httpfake.Answer{Status: 429, RetryAfter: "2"}, sinks.Retry, 2 * time.Second, ""},
		{httpfake.Answer{Status: 413}, sinks.TooLarge, 0, ""},
		{httpfake.Answer{Status: 400}, sinks.Reject, 0, ""},
		{httpfake.Answer{Status: 406}, sinks.Reject, 0, "body not parseable"},
		{httpfake.Answer{Status: 403}, sinks.Pause, 0, "source token rejected"},
		{httpfake.Answer{Status: 401}, sinks.Pause, 0, "source token rejected"},
		{httpfake.Answer{Status: 402}, sinks.Pause, DefaultQuotaProbe,
			"quota or spending limit reached"},
		{httpfake.Answer{Status: 402, RetryAfter: "3600"}, sinks.Pause, time.Hour,
			"quota or spending limit reached"},
		{httpfake.Answer{Status: 404}, sinks.Pause, 0, "endpoint not found"},
	}
	fake := bsfake.New(t, token, nil)
	s := newSink(t, fake.URL, token)
	for _, c := range cases {
		fake.Queue(c.answer)
		err := s.Send(context.Background(), numbered(3))
		var se *sinks.Error
		if !errors.As(err, &se) {
			t.Errorf("%d: got %v", c.answer.Status, err)
			continue
		}
		if se.Kind != c.kind || se.After != c.after || !strings.Contains(se.Reason, c.reason) {
			t.Errorf("%d: got %s after %s reason %q; want %s after %s reason %q",
				c.answer.Status, se.Kind, se.After, se.Reason, c.kind, c.after, c.reason)
		}
	}
	if st := fake.Stats(); st.Accepted != 0 {
		t.Errorf("accepted %d", st.Accepted)
	}
}

func TestQuotaProbeOption(t *testing.T) {
	fake := bsfake.New(t, token, nil)
	o := NewOptions()
	o.Endpoint, o.SourceToken, o.QuotaProbe = fake.URL, httpsinkSecret(token), 90*time.Second
	s, err := New(sinks.Spec{Name: "logs"}, o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fake.Quota(1)
	fake.Queue(httpfake.Answer{Status: 402, RetryAfter: "7"})
	for _, want := range []time.Duration{90 * time.Second, 7 * time.Second} {
		se := sinks.Classify(s.Send(context.Background(), numbered(1)))
		if se.Kind != sinks.Pause || se.After != want {
			t.Errorf("got %s after %s, want pause after %s", se.Kind, se.After, want)
		}
	}
}

func TestSendWrongTokenIs403Pause(t *testing.T) {
	fake := bsfake.New(t, token, nil)
	s := newSink(t, fake.URL, "wrong-token")
	err := s.Send(context.Background(), numbered(1))
	se := sinks.Classify(err)
	if se.Kind != sinks.Pause || se.Status != 403 {
		t.Fatalf("got %v", err)
	}
	if strings.Contains(err.Error(), "wrong-token") {
		t.Errorf("error shows the token: %v", err)
	}
	if !fake.Requests()[0].Authorization {
		t.Error("no Authorization header")
	}
}

func TestSendNetworkFailures(t *testing.T) {
	fake := bsfake.New(t, token, nil)
	s := newSink(t, fake.URL, token)
	normal := s.client
	// Down, not Queue: under load the short timeout may expire before the request reaches
	// the fake, and a queued Hang would then catch the next request.
	fake.Down(httpfake.Answer{Hang: true})
	s.client = shortTimeout(t, fake.URL)
	err := s.Send(context.Background(), numbered(2))
	if se := sinks.Classify(err); se.Kind != sinks.Retry || se.Status != 0 {
		t.Errorf("hang: got %v", err)
	}
	fake.Up()
	s.client = normal
	fake.Queue(httpfake.Answer{Reset: true})
	err = s.Send(context.Background(), numbered(2))
	if se := sinks.Classify(err); se.Kind != sinks.Retry || se.Status != 0 {
		t.Errorf("reset: got %v", err)
	}
	if err := s.Send(context.Background(), numbered(2)); err != nil {
		t.Fatal(err)
	}
	if st := fake.Stats(); st.Accepted != 2 {
		t.Errorf("stats %+v", st)
	}
}

// randomEvents returns n events whose messages are about size bytes of base64 noise,
// which gzip shrinks to about three quarters.
func randomEvents(t testing.TB, n, size int) []*event.Event {
	out := numbered(n)
	raw := make([]byte, size*3/4)
	for _, e := range out {
		rand.Read(raw)
		e.Message = base64.StdEncoding.EncodeToString(raw)
	}
	return out
}

func TestSendSplitsAtTenMiB(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 18 MB")
	}
	fake := bsfake.New(t, token, nil)
	// The fake decodes 7 MB bodies into maps: slow under the race detector.
	s := newSinkTimeout(t, fake.URL, token, time.Minute)
	batch := randomEvents(t, 160, 90<<10) // 14.7 MB of JSON, about 11 MB gzipped
	if err := s.Send(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	checkSplit(t, fake, len(batch), bsfake.MaxRequestBytes)
}

func TestSendSplitsAtLimit(t *testing.T) {
	fake := bsfake.New(t, token, func(c *httpfake.Config) { c.MaxBodyBytes = 64 << 10 })
	s := newSink(t, fake.URL, token)
	s.maxRequest = 64 << 10
	batch := randomEvents(t, 50, 8<<10)
	if err := s.Send(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	checkSplit(t, fake, len(batch), 64<<10)
}

func checkSplit(t *testing.T, fake *bsfake.Server, n, limit int) {
	t.Helper()
	reqs := fake.Requests()
	if len(reqs) < 2 {
		t.Errorf("%d requests: not split", len(reqs))
	}
	for _, r := range reqs {
		if r.WireBytes > limit || r.Status != 202 {
			t.Errorf("request of %d bytes answered %d", r.WireBytes, r.Status)
		}
	}
	if st := fake.Stats(); st.Accepted != n || st.Duplicates != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestSendSplitReportsPerEvent(t *testing.T) {
	fake := bsfake.New(t, token, func(c *httpfake.Config) { c.MaxBodyBytes = 64 << 10 })
	s := newSink(t, fake.URL, token)
	s.maxRequest = 64 << 10
	batch := randomEvents(t, 40, 8<<10)
	// The first part is rejected, the next one fails with 503: the rest is not sent.
	fake.Queue(httpfake.Answer{Status: 400}, httpfake.Answer{Status: 503})
	err := s.Send(context.Background(), batch)
	var pe *sinks.PartialError
	if !errors.As(err, &pe) || len(pe.Errs) != len(batch) {
		t.Fatalf("got %v", err)
	}
	kinds := map[sinks.Kind]int{}
	for _, e := range pe.Errs {
		if e == nil {
			t.Fatal("an event reported delivered; none was")
		}
		kinds[sinks.Classify(e).Kind]++
	}
	if kinds[sinks.Reject] == 0 || kinds[sinks.Retry] == 0 || fake.Stats().Requests != 2 {
		t.Errorf("kinds %v after %d requests", kinds, fake.Stats().Requests)
	}
}

func TestSendTruncatesLargeEvents(t *testing.T) {
	fake := bsfake.New(t, token, nil)
	s := newSink(t, fake.URL, token)
	batch := numbered(3)
	batch[1].Message = strings.Repeat("Тўлов 🚀 ", 30_000)
	if err := s.Send(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	if p := fake.Problems(); len(p) > 0 {
		t.Errorf("problems: %v", p)
	}
	ev := fake.Events()
	if ev[1].Map["_winship_truncated"] != true || ev[0].Map["_winship_truncated"] != nil ||
		s.Truncated() != 1 || len(ev[1].Raw) > MaxEventBytes {
		t.Errorf("event 1: %.200s (%d bytes)", ev[1].Raw, len(ev[1].Raw))
	}
}

func TestTestSend(t *testing.T) {
	fake := bsfake.New(t, token, nil)
	s := newSink(t, fake.URL, token)
	var out bytes.Buffer
	if err := s.TestSend(context.Background(), &out); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"endpoint: " + fake.URL, "status: 202 Accepted", "result: delivered"} {
		if !strings.Contains(out.String(), w+"\n") {
			t.Errorf("output lacks %q:\n%s", w, out.String())
		}
	}
	out.Reset()
	fake.Queue(httpfake.Answer{Status: 403, Body: "Unauthorized token " + token})
	if err := s.TestSend(context.Background(), &out); err == nil {
		t.Error("no error for a 403")
	}
	if strings.Contains(out.String(), token) || !strings.Contains(out.String(), "pause") {
		t.Errorf("output:\n%s", out.String())
	}
	t.Logf("test-sink output on 403:\n%s", out.String())
}

// TestRealWinstonOutput sends real Winston output and checks, against the original lines,
// that every entry arrived with dt, level, message, stack and every field intact.
func TestRealWinstonOutput(t *testing.T) {
	for _, file := range []string{"testdata/combined.log", "testdata/combined-unicode.log"} {
		t.Run(file, func(t *testing.T) { checkWinstonFile(t, file) })
	}
}

func checkWinstonFile(t *testing.T, file string) {
	batch, err := httpfake.ReadWinston(file, "app")
	if err != nil {
		t.Fatal(err)
	}
	fake := bsfake.New(t, token, nil)
	s := newSink(t, fake.URL, token)
	if err := s.Send(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	got := fake.Events()
	lines := readLines(t, file)
	if len(got) != len(lines) || len(fake.Problems()) > 0 {
		t.Fatalf("%d of %d events arrived; problems %v", len(got), len(lines), fake.Problems())
	}
	for i, line := range lines {
		checkEntry(t, line, got[i])
	}
}

func readLines(t *testing.T, file string) []map[string]any {
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		d := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		d.UseNumber()
		if err := d.Decode(&m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// checkEntry compares one original Winston entry with the event BetterStack received.
func checkEntry(t *testing.T, orig map[string]any, got httpfake.Event) {
	t.Helper()
	if got.Map["dt"] != orig["timestamp"] {
		t.Errorf("dt %v, want %v", got.Map["dt"], orig["timestamp"])
	}
	for k, v := range orig {
		var have any
		switch {
		case k == "timestamp":
			continue
		case k == "level" || k == "message" || k == "stack":
			have = got.Map[k]
		case isReserved([]byte(k)):
			have = got.Map["fields"].(map[string]any)[k]
		default:
			have = got.Map[k]
		}
		if !reflect.DeepEqual(have, v) {
			t.Errorf("key %q: got %#v, want %#v\nevent %s", k, have, v, got.Raw)
		}
	}
	if got.Map["source"] != "app" || got.Map["host"] != "web-1" || got.Str("path") == "" {
		t.Errorf("source, host, path: %s", got.Raw)
	}
}
