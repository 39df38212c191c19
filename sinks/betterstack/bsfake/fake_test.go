package bsfake

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/winship/winship/sinks/http/httpfake"
)

func TestCheckEvent(t *testing.T) {
	cases := map[string]string{
		`{"dt":"2026-12-03T15:34:33.908Z","level":"info","message":"m"}`:      "",
		`{"level":"info","message":"m"}`:                                      "no dt string",
		`{"dt":"2026-12-03T15:34:33Z","level":"info","message":"m"}`:          "is not RFC 3339",
		`{"dt":"2026-12-03T20:34:33.908+05:00","level":"info","message":"m"}`: "is not RFC 3339",
		`{"dt":"2026-12-03T15:34:33.908Z","message":"m"}`:                     "no level string",
		`{"dt":"2026-12-03T15:34:33.908Z","level":"info","message":7}`:        "no message string",
	}
	for in, want := range cases {
		evs, err := httpfake.DecodeEvents([]byte(in), false)
		if err != nil {
			t.Fatal(err)
		}
		err = CheckEvent(evs[0])
		if (want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), want)) {
			t.Errorf("%s: got %v, want %q", in, err, want)
		}
	}
}

func TestAnswersLikeBetterStack(t *testing.T) {
	s := New(t, "tok", nil)
	send := func(token, body string, zip bool) int {
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
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	ev, _ := json.Marshal(map[string]any{"dt": "2026-12-03T15:34:33.908Z", "level": "info",
		"message": "m"})
	good := "[" + string(ev) + "]"
	s.Quota(1)
	checks := []struct {
		token, body string
		zip         bool
		want        int
	}{
		{"tok", good, true, 402},
		{"bad", good, true, 403},
		{"tok", "not json", true, 406},
		{"tok", good, true, 202},
		{"tok", good, false, 202},
	}
	for _, c := range checks {
		if got := send(c.token, c.body, c.zip); got != c.want {
			t.Errorf("%+v: got %d", c, got)
		}
	}
	if p := s.Problems(); len(p) != 1 || !strings.Contains(p[0], "without gzip") {
		t.Errorf("problems %v", p)
	}
}
