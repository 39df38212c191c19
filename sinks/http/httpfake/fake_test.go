package httpfake

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func post(t *testing.T, s *Server, body string, zip bool, hdr map[string]string) (
	int, string, error) {
	t.Helper()
	b := []byte(body)
	if zip {
		var buf bytes.Buffer
		w := gzip.NewWriter(&buf)
		w.Write(b)
		w.Close()
		b = buf.Bytes()
	}
	req, _ := http.NewRequest("POST", s.URL, bytes.NewReader(b))
	if zip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("Retry-After"), nil
}

var auth = map[string]string{"Authorization": "Bearer t0k"}

func TestChecks(t *testing.T) {
	s := New(t, Config{Token: "t0k", RequireGzip: true, MaxBodyBytes: 200})
	cases := []struct {
		name, body string
		zip        bool
		hdr        map[string]string
		want       int
	}{
		{"no token", `[{"a":1}]`, true, nil, 401},
		{"wrong token", `[{"a":1}]`, true, map[string]string{"Authorization": "Bearer x"}, 401},
		{"bad json", `[{"a":1}`, true, auth, 400},
		{"not objects", `[1,2]`, true, auth, 400},
		{"too large", `[{"a":"` + strings.Repeat("x", 300) + `"}]`, false, auth, 413},
		{"array", `[{"a":1},{"a":2}]`, true, auth, 200},
		{"one object", `{"a":3}`, true, auth, 200},
		{"no gzip", `[{"a":4}]`, false, auth, 200},
	}
	for _, c := range cases {
		code, _, err := post(t, s, c.body, c.zip, c.hdr)
		if err != nil || code != c.want {
			t.Errorf("%s: %d %v, want %d", c.name, code, err, c.want)
		}
	}
	if st := s.Stats(); st.Accepted != 4 || st.Requests != len(cases) || st.Problems != 1 {
		t.Errorf("stats %+v, problems %v", st, s.Problems())
	}
	if ev := s.Events(); string(ev[2].Raw) != `{"a":3}` {
		t.Errorf("events %v", ev)
	}
}

func TestNDJSON(t *testing.T) {
	s := New(t, Config{Encoding: "ndjson"})
	code, _, _ := post(t, s, "{\"a\":1}\n{\"a\":2}\n", false,
		map[string]string{"Content-Type": "application/x-ndjson"})
	if code != 200 || s.Stats().Accepted != 2 || len(s.Problems()) != 0 {
		t.Errorf("%d %+v %v", code, s.Stats(), s.Problems())
	}
	post(t, s, "{\"a\":3}\n", false, map[string]string{"Content-Type": "application/json"})
	if len(s.Problems()) != 1 {
		t.Errorf("content type mismatch not noticed: %v", s.Problems())
	}
}

func TestScriptOrder(t *testing.T) {
	s := New(t, Config{})
	s.Queue(Answer{Status: 503, RetryAfter: "9"}, Answer{Status: 402})
	s.Script(func(n int) *Answer {
		if n == 3 {
			return &Answer{Status: 429}
		}
		return nil
	})
	want := []int{503, 402, 429, 200}
	for i, w := range want {
		code, ra, err := post(t, s, `{"a":1}`, false, nil)
		if err != nil || code != w || (i == 0 && ra != "9") {
			t.Errorf("request %d: %d %q %v, want %d", i+1, code, ra, err, w)
		}
	}
	s.Down(Answer{Status: 500})
	if code, _, _ := post(t, s, `{"a":1}`, false, nil); code != 500 {
		t.Errorf("down: %d", code)
	}
	s.Up()
	if code, _, _ := post(t, s, `{"a":1}`, false, nil); code != 200 {
		t.Errorf("up: %d", code)
	}
	if st := s.Stats(); st.Accepted != 2 || st.Duplicates != 1 || st.Distinct != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestPoisonAndDeliveries(t *testing.T) {
	s := New(t, Config{Key: func(e Event) string { return e.Str("id") }})
	s.Poison(406, func(e Event) bool { return e.Str("id") == "bad" })
	if code, _, _ := post(t, s, `[{"id":"a"},{"id":"bad"}]`, false, nil); code != 406 {
		t.Errorf("poison batch: %d", code)
	}
	post(t, s, `[{"id":"a"},{"id":"b"}]`, false, nil)
	post(t, s, `[{"id":"a"}]`, false, nil)
	if s.Deliveries("a") != 2 || s.Deliveries("b") != 1 || s.Deliveries("bad") != 0 {
		t.Errorf("deliveries %v", s.DeliveryCounts())
	}
	if r := s.Requests(); !r[0].PoisonMatchSeen || r[1].AcceptedEvents != 2 {
		t.Errorf("requests %+v", r)
	}
}

func TestHangResetAndLostAnswer(t *testing.T) {
	s := New(t, Config{})
	s.Queue(Answer{Reset: true}, Answer{LoseAnswer: true})
	for i := 0; i < 2; i++ {
		if _, _, err := post(t, s, `{"a":1}`, false, nil); err == nil {
			t.Errorf("request %d answered", i)
		}
	}
	if st := s.Stats(); st.Accepted != 1 {
		t.Errorf("lost answer: %+v", st)
	}
	s.Queue(Answer{Hang: true})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", s.URL, strings.NewReader(`{}`))
	if _, err := http.DefaultClient.Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("hang: %v", err)
	}
}

func TestCloseReleasesHungRequests(t *testing.T) {
	s := New(t, Config{})
	s.Down(Answer{Hang: true})
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			http.Post(s.URL, "application/json", strings.NewReader(`{}`))
		}()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Wait(ctx, func(st Stats) bool { return st.Requests == 3 }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s.Close()
	wg.Wait()
}

func TestWaitTimesOut(t *testing.T) {
	s := New(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := s.WaitAccepted(ctx, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v", err)
	}
}
