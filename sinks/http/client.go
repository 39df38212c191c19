package httpsink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/winship/winship/sinks"
)

// ClientConfig configures a Client.
type ClientConfig struct {
	// URL receives every POST. It must be an absolute http or https URL.
	URL string
	// ContentType is the Content-Type of every body.
	ContentType string
	// Gzip says the bodies given to Post are gzip-compressed (sets Content-Encoding).
	Gzip bool
	// Header holds extra headers sent with every request. Their values are treated as
	// secrets: they are removed from any text the Client reports.
	Header map[string]Secret
	// Secrets lists more values to remove from reported text (a token sent in Header is
	// covered already).
	Secrets []string
	// Timeout bounds one request, from connecting to reading the answer. Zero means 10 s.
	Timeout time.Duration
	// MaxConns is the number of requests in flight at once (idle connections kept).
	MaxConns int
	// UserAgent is sent as User-Agent; empty means "winship".
	UserAgent string
	// Classify maps a non-2xx answer to what the pipeline should do. Nil means
	// ClassifyStatus.
	Classify func(status int, after time.Duration, reason string) *sinks.Error
}

// Client posts encoded bodies to one URL and classifies the answers. It is safe for
// concurrent use.
type Client struct {
	cfg      ClientConfig
	where    string // scheme://host, the only part of the URL ever reported
	http     *http.Client
	tr       *http.Transport
	header   http.Header
	redactor *strings.Replacer
}

// Answer is what the server said to one request.
type Answer struct {
	Status     int           // HTTP status code
	StatusText string        // for example "202 Accepted"
	Body       string        // the start of the answer's body, secrets removed
	RetryAfter time.Duration // the parsed Retry-After header, 0 when absent
	WireBytes  int           // bytes of body sent
}

// maxAnswerBody is how much of an answer's body is read and kept.
const maxAnswerBody = 1 << 10

// NewClient checks cfg.URL and returns a Client with its own connection pool.
func NewClient(cfg ClientConfig) (*Client, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("url is not an absolute http or https URL")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 2
	}
	if cfg.Classify == nil {
		cfg.Classify = ClassifyStatus
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = cfg.MaxConns + 1
	c := &Client{
		cfg:   cfg,
		where: u.Scheme + "://" + u.Host,
		tr:    tr,
		http: &http.Client{
			Transport: tr,
			// A redirect is reported, not followed: following one would resend the
			// Authorization header and the body somewhere the user did not configure.
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
	}
	c.header = c.buildHeader()
	c.redactor = buildRedactor(cfg)
	return c, nil
}

func (c *Client) buildHeader() http.Header {
	h := make(http.Header, len(c.cfg.Header)+3)
	for k, v := range c.cfg.Header {
		h.Set(k, string(v))
	}
	h.Set("Content-Type", c.cfg.ContentType)
	if c.cfg.Gzip {
		h.Set("Content-Encoding", "gzip")
	}
	ua := c.cfg.UserAgent
	if ua == "" {
		ua = "winship"
	}
	h.Set("User-Agent", ua)
	return h
}

// buildRedactor replaces every secret of at least four bytes (shorter ones would mangle
// ordinary words and are not worth hiding) with "[redacted]".
func buildRedactor(cfg ClientConfig) *strings.Replacer {
	var pairs []string
	add := func(s string) {
		if len(s) >= 4 {
			pairs = append(pairs, s, redacted)
		}
	}
	for _, v := range cfg.Header {
		add(string(v))
		// "Bearer <token>": hide the token alone too.
		if _, tok, ok := strings.Cut(string(v), " "); ok {
			add(tok)
		}
	}
	for _, s := range cfg.Secrets {
		add(s)
	}
	return strings.NewReplacer(pairs...)
}

// Where returns the scheme and host of the URL, the only part of it that is safe to show:
// a path or query may hold a key.
func (c *Client) Where() string { return c.where }

// Redact removes the configured secrets from s.
func (c *Client) Redact(s string) string { return c.redactor.Replace(s) }

// Post sends body, already encoded (and compressed when the config says so), and reads the
// answer. It returns nil for a 2xx answer, else a *sinks.Error: the configured Classify
// for other statuses, Retry for network errors and timeouts. The Answer is filled as far
// as the request got. The transport may still read body after Post returns: the caller
// must not modify or reuse it.
func (c *Client) Post(ctx context.Context, body []byte) (Answer, error) {
	ans := Answer{WireBytes: len(body)}
	rctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, c.cfg.URL, bytes.NewReader(body))
	if err != nil {
		// The URL was checked in NewClient; the message of url.Error would show it.
		return ans, &sinks.Error{Kind: sinks.Pause, Err: errors.New("build request: bad url")}
	}
	req.Header = c.header.Clone()
	resp, err := c.http.Do(req)
	if err != nil {
		return ans, c.networkError(ctx, rctx, err)
	}
	ans.Status = resp.StatusCode
	ans.StatusText = resp.Status
	ans.RetryAfter = sinks.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	text, readErr := readAnswer(resp.Body)
	ans.Body = c.Redact(text)
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		// Accepted: an unread tail of the answer does not change that.
		return ans, nil
	}
	if readErr != nil && ans.Body == "" {
		ans.Body = c.Redact(cleanError(readErr).Error())
	}
	reason := Reason(ans.Body)
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		reason = redirectReason(resp)
	}
	return ans, c.cfg.Classify(resp.StatusCode, ans.RetryAfter, reason)
}

// readAnswer reads the start of an answer's body, drains a little more so the connection
// can be reused, and closes it.
func readAnswer(body io.ReadCloser) (string, error) {
	defer body.Close()
	b, err := io.ReadAll(io.LimitReader(body, maxAnswerBody))
	if err == nil {
		_, err = io.Copy(io.Discard, io.LimitReader(body, 64<<10))
	}
	return string(b), err
}

// networkError classifies a failed round trip as Retry, saying whether it timed out, and
// without the URL (url.Error prints it whole, query and all).
func (c *Client) networkError(ctx, rctx context.Context, err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	switch {
	case ctx.Err() != nil:
		err = fmt.Errorf("post to %s: cancelled: %w", c.where, ctx.Err())
	case errors.Is(rctx.Err(), context.DeadlineExceeded):
		err = fmt.Errorf("post to %s: no answer within %s: %w", c.where, c.cfg.Timeout,
			context.DeadlineExceeded)
	default:
		err = fmt.Errorf("post to %s: %w", c.where, err)
	}
	return &sinks.Error{Kind: sinks.Retry, Err: redactedError{err: err, text: c.Redact(err.Error())}}
}

// redactedError shows text (the message with secrets removed) but unwraps to the cause, so
// errors.Is still finds context.DeadlineExceeded and the like.
type redactedError struct {
	err  error
	text string
}

func (e redactedError) Error() string { return e.text }
func (e redactedError) Unwrap() error { return e.err }

func cleanError(err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return uerr.Err
	}
	return err
}

func redirectReason(resp *http.Response) string {
	to := "another location"
	if loc, err := resp.Location(); err == nil {
		to = loc.Scheme + "://" + loc.Host
	}
	return "redirected to " + to + "; redirects are not followed, fix the URL"
}

// Reason shortens an answer body to one line of at most 200 bytes for Error.Reason.
func Reason(body string) string {
	s := strings.Join(strings.Fields(body), " ")
	const max = 200
	if len(s) > max {
		cut := max
		for cut > 0 && !isRuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// ClassifyStatus is sinks.ClassifyHTTP with changes for ingestion endpoints:
//   - 3xx (redirects are not followed), 404 and 405 pause the sink: they say the URL is
//     wrong, not the data, and bisecting a batch against them would dead-letter every event;
//   - a Reason is always set, so logs say what the server meant.
func ClassifyStatus(status int, after time.Duration, reason string) *sinks.Error {
	e := sinks.ClassifyHTTP(status, after, reason)
	if e == nil {
		return nil
	}
	switch {
	case status >= 300 && status < 400:
		e.Kind = sinks.Pause
	case status == http.StatusNotFound || status == http.StatusMethodNotAllowed:
		e.Kind = sinks.Pause
		e.Reason = joinReason("endpoint not found, check the URL", reason)
	}
	if e.Reason == "" {
		e.Reason = strings.ToLower(http.StatusText(status))
	}
	return e
}

func joinReason(ours, theirs string) string {
	if theirs == "" {
		return ours
	}
	return ours + ": " + theirs
}

// CloseIdle closes the client's idle connections.
func (c *Client) CloseIdle() { c.tr.CloseIdleConnections() }
