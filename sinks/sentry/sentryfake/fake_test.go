package sentryfake

import (
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

type req struct {
	auth     string
	ctype    string
	encoding string
	body     string
}

func goodReq(key string) req {
	payload := `{"event_id":"` + strings.Repeat("a", 32) + `","level":"error"}`
	return req{
		auth:     "Sentry sentry_version=7, sentry_client=test/1.0, sentry_key=" + key,
		ctype:    "application/x-sentry-envelope",
		encoding: "gzip",
		body: `{"event_id":"` + strings.Repeat("a", 32) + `","sent_at":"2026-01-02T03:04:05Z",` +
			`"sdk":{"name":"test","version":"1.0"}}` + "\n" +
			`{"type":"event","length":` + strconv.Itoa(len(payload)) + "}\n" + payload + "\n",
	}
}

func (r req) do(t *testing.T, s *Server) *http.Response {
	t.Helper()
	var body bytes.Buffer
	if r.encoding == "gzip" {
		zw := gzip.NewWriter(&body)
		zw.Write([]byte(r.body))
		zw.Close()
	} else {
		body.WriteString(r.body)
	}
	hr, _ := http.NewRequest("POST", s.URL()+"/api/42/envelope/", &body)
	hr.Header.Set("X-Sentry-Auth", r.auth)
	hr.Header.Set("Content-Type", r.ctype)
	if r.encoding != "" {
		hr.Header.Set("Content-Encoding", r.encoding)
	}
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestFakeChecksTheProtocol(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*req)
		status int
	}{
		{"good", func(*req) {}, 200},
		{"wrong key", func(r *req) {
			r.auth = strings.Replace(r.auth, DefaultKey, strings.Repeat("b", 32), 1)
		}, 403},
		{"no auth", func(r *req) { r.auth = "" }, 403},
		{"not gzipped", func(r *req) { r.encoding = "" }, 400},
		{"content type", func(r *req) { r.ctype = "application/json" }, 400},
		{"upper-case id", func(r *req) { r.body = swap(r.body, strings.Repeat("a", 32), strings.Repeat("A", 32)) }, 400},
		{"no sdk version", func(r *req) { r.body = swap(r.body, `,"version":"1.0"`, "") }, 400},
		{"wrong length", func(r *req) { r.body = swap(r.body, `"length":`, `"length":1`) }, 400},
		{"two items", func(r *req) {
			r.body += `{"type":"event","length":2}` + "\n{}\n"
		}, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(t, Options{AllowProblems: true})
			r := goodReq(DefaultKey)
			tt.mutate(&r)
			if got := r.do(t, s).StatusCode; got != tt.status {
				t.Errorf("status %d, want %d (problems %v)", got, tt.status, s.Problems())
			}
			if (tt.status == 200) != (len(s.Events()) == 1) {
				t.Errorf("%d events recorded", len(s.Events()))
			}
		})
	}
}

func TestFakeScriptsAndHoldsRateLimits(t *testing.T) {
	now := time.Unix(1000, 0)
	s := New(t, Options{AllowProblems: true, Now: func() time.Time { return now }})
	s.Script(RateLimited(30, "error"))
	r := goodReq(DefaultKey)
	got := r.do(t, s)
	if got.StatusCode != 429 || got.Header.Get("X-Sentry-Rate-Limits") != "30:error:key" {
		t.Fatalf("scripted answer %d %v", got.StatusCode, got.Header)
	}
	if got := r.do(t, s).StatusCode; got != 429 || len(s.Problems()) != 0 {
		t.Fatalf("request in flight with the 429: %d, problems %v", got, s.Problems())
	}
	now = now.Add(time.Second)
	if got := r.do(t, s).StatusCode; got != 429 || len(s.Problems()) != 1 {
		t.Fatalf("request in the window: %d, problems %v", got, s.Problems())
	}
	now = now.Add(29 * time.Second)
	if got := r.do(t, s).StatusCode; got != 200 {
		t.Fatalf("after the window: %d", got)
	}
	if got := r.do(t, s).StatusCode; got != 200 || s.Duplicates() != 1 || len(s.Events()) != 1 {
		t.Errorf("duplicate: %d, %d duplicates, %d events", got, s.Duplicates(), len(s.Events()))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := s.WaitEvents(ctx, 1); err != nil {
		t.Error(err)
	}
}

func swap(s, old, new string) string { return strings.Replace(s, old, new, 1) }

func TestFakeGlitchTipBodyCap(t *testing.T) {
	s := New(t, Options{GlitchTip: true})
	r := goodReq(DefaultKey)
	r.body = swap(r.body, `"level":"error"`, `"level":"error","x":"`+strings.Repeat("x", 2_600_000)+`"`)
	if got := r.do(t, s).StatusCode; got != 413 {
		t.Errorf("status %d, want 413", got)
	}
}

func TestDSN(t *testing.T) {
	s := New(t, Options{Key: "k", Project: "7"})
	if want := strings.Replace(s.URL(), "http://", "http://k@", 1) + "/7"; s.DSN() != want {
		t.Errorf("DSN %s, want %s", s.DSN(), want)
	}
}
