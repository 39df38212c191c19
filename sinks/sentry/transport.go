package sentry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
)

// maxAnswerBody is how much of a response body is read for its id or error detail.
const maxAnswerBody = 64 << 10

// defaultRateLimitWait is the wait after a 429 that names none.
const defaultRateLimitWait = 60 * time.Second

// transport posts envelopes to one project's envelope endpoint.
type transport struct {
	client *http.Client
	url    string
	auth   string // X-Sentry-Auth value
	key    string // the public key, to keep it out of error texts
	zips   sync.Pool
}

// answer is what a server said to one envelope.
type answer struct {
	status      int
	retryAfter  string
	rateLimits  string
	sentryError string
	id          string // the "id" of a 200 body
	detail      string // the "detail" of an error body
}

func newTransport(apiURL, publicKey string, timeout time.Duration, parallel int) *transport {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConnsPerHost:   parallel,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &transport{
		client: &http.Client{
			Transport: tr,
			Timeout:   timeout,
			// A redirected POST would arrive as a GET; report the redirect instead.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		url: apiURL,
		auth: fmt.Sprintf("Sentry sentry_version=7, sentry_client=%s/%s, sentry_key=%s",
			sdkName, Version, publicKey),
		key: publicKey,
	}
}

// envelopeHeader is the first line of an envelope.
type envelopeHeader struct {
	EventID string    `json:"event_id"`
	SentAt  time.Time `json:"sent_at"`
	Sdk     sdkHeader `json:"sdk"`
}

type sdkHeader struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

type itemHeader struct {
	Type   string `json:"type"`
	Length int    `json:"length"`
}

// encodeEnvelope writes an envelope of one event item. sentAt must be the time of sending:
// a stored and resent sent_at makes Sentry reject the envelope.
func encodeEnvelope(w *bytes.Buffer, eventID string, sentAt time.Time, payload []byte) {
	hdr, _ := json.Marshal(envelopeHeader{EventID: eventID, SentAt: sentAt.UTC(),
		Sdk: sdkHeader{Name: sdkName, Version: Version}})
	item, _ := json.Marshal(itemHeader{Type: "event", Length: len(payload)})
	w.Grow(len(hdr) + len(item) + len(payload) + 3)
	w.Write(hdr)
	w.WriteByte('\n')
	w.Write(item)
	w.WriteByte('\n')
	w.Write(payload)
	w.WriteByte('\n')
}

// gzipBody compresses env.
func (t *transport) gzipBody(env []byte) []byte {
	var out bytes.Buffer
	out.Grow(len(env)/4 + 64)
	zw, _ := t.zips.Get().(*gzip.Writer)
	if zw == nil {
		zw = gzip.NewWriter(&out)
	} else {
		zw.Reset(&out)
	}
	zw.Write(env)
	zw.Close()
	t.zips.Put(zw)
	return out.Bytes()
}

// post sends one gzipped envelope and reads the answer. The error is set only when there
// was no HTTP answer (network, timeout, cancellation).
func (t *transport) post(ctx context.Context, body []byte) (answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(body))
	if err != nil {
		return answer{}, fmt.Errorf("build envelope request: %w", err)
	}
	req.Header.Set("X-Sentry-Auth", t.auth)
	req.Header.Set("Content-Type", "application/x-sentry-envelope")
	req.Header.Set("Content-Encoding", "gzip")
	req.Header.Set("User-Agent", sdkName+"/"+Version)
	resp, err := t.client.Do(req)
	if err != nil {
		return answer{}, fmt.Errorf("post envelope: %w", t.redact(err))
	}
	defer resp.Body.Close()
	a := answer{
		status:      resp.StatusCode,
		retryAfter:  resp.Header.Get("Retry-After"),
		rateLimits:  resp.Header.Get("X-Sentry-Rate-Limits"),
		sentryError: t.clean(resp.Header.Get("X-Sentry-Error")),
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBody))
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswerBody))
	var parsed struct {
		ID     string `json:"id"`
		Detail any    `json:"detail"`
	}
	if json.Unmarshal(b, &parsed) == nil {
		a.id = parsed.ID
		if parsed.Detail != nil {
			d, _ := json.Marshal(parsed.Detail)
			a.detail = t.clean(strings.Trim(string(d), `"`))
		}
	}
	return a, nil
}

// clean makes a server-provided text safe to log: one line, short, without the key.
func (t *transport) clean(s string) string {
	if t.key != "" {
		s = strings.ReplaceAll(s, t.key, "<key>")
	}
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	return cutRunes(strings.TrimSpace(s), 200)
}

// redact removes the public key from an error text, should a proxy or library echo it.
func (t *transport) redact(err error) error {
	if t.key == "" || !strings.Contains(err.Error(), t.key) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), t.key, "<key>"))
}

func (t *transport) close() {
	t.client.CloseIdleConnections()
}

// errorCategoryWait reads X-Sentry-Rate-Limits and returns the longest wait it gives the
// "error" category (an empty category list means every category). Unknown categories and
// unreadable entries are ignored.
func errorCategoryWait(h string) (time.Duration, bool) {
	var longest time.Duration
	found := false
	for _, entry := range strings.Split(h, ",") {
		parts := strings.Split(strings.TrimSpace(entry), ":")
		if len(parts) < 2 {
			continue
		}
		secs, err := strconv.ParseFloat(strings.TrimSpace(parts[0]), 64)
		if err != nil || secs < 0 {
			continue
		}
		if !coversError(parts[1]) {
			continue
		}
		found = true
		if d := time.Duration(secs * float64(time.Second)); d > longest {
			longest = d
		}
	}
	return longest, found
}

func coversError(categories string) bool {
	if strings.TrimSpace(categories) == "" {
		return true
	}
	for _, c := range strings.Split(categories, ";") {
		if strings.TrimSpace(c) == "error" {
			return true
		}
	}
	return false
}
