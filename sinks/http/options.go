package httpsink

import (
	"net/url"
	"strings"
	"time"

	"github.com/winship/winship/sinks"
)

// Options is the http sink's configuration (the keys of its YAML mapping that are not
// common to every sink).
type Options struct {
	// URL receives the batches; http or https.
	URL string `yaml:"url"`
	// Encoding is "json" (one array a request, the default) or "ndjson".
	Encoding string `yaml:"encoding"`
	// Headers are sent with every request. Values may hold credentials and are never
	// printed.
	Headers map[string]Secret `yaml:"headers"`
	// Gzip compresses bodies (Content-Encoding: gzip). On by default.
	Gzip bool `yaml:"gzip"`
	// Timeout bounds one request, from connecting to reading the answer. Default 10s.
	Timeout time.Duration `yaml:"timeout"`
}

// DefaultTimeout is the default request timeout.
const DefaultTimeout = 10 * time.Second

// NewOptions returns Options with the defaults set.
func NewOptions() *Options {
	return &Options{Encoding: "json", Gzip: true, Timeout: DefaultTimeout}
}

// Validate checks the options and returns a *sinks.KeyError naming the first wrong key.
// Messages never hold a header value or the URL's user info, path or query.
func (o *Options) Validate() error {
	if err := ValidateURL("url", o.URL); err != nil {
		return err
	}
	if _, ok := parseEncoding(o.Encoding); !ok {
		return &sinks.KeyError{Key: "encoding",
			Msg: "must be json or ndjson, not " + quote(o.Encoding)}
	}
	for name, value := range o.Headers {
		if err := validateHeader(name, string(value)); err != nil {
			return err
		}
	}
	if o.Timeout <= 0 {
		return &sinks.KeyError{Key: "timeout", Msg: "must be a positive duration such as 10s"}
	}
	return nil
}

// Resolve does nothing: the http sink has no paths.
func (o *Options) Resolve(string) {}

func parseEncoding(s string) (Encoding, bool) {
	switch s {
	case "json", "":
		return JSON, true
	case "ndjson":
		return NDJSON, true
	}
	return JSON, false
}

// ValidateURL checks that raw is an absolute http or https URL with a host, and returns a
// *sinks.KeyError for key when it is not. The message shows the scheme at most: the rest
// of a URL may hold credentials.
func ValidateURL(key, raw string) error {
	if strings.TrimSpace(raw) == "" {
		return &sinks.KeyError{Key: key, Msg: "is empty or missing (if it is ${VAR}, is VAR set?)"}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return &sinks.KeyError{Key: key, Msg: "is not a valid URL"}
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		msg := "must be an http or https URL such as https://logs.example.com/ingest"
		if u.Scheme != "" {
			msg += ", not " + quote(u.Scheme)
		}
		return &sinks.KeyError{Key: key, Msg: msg}
	}
	if u.Host == "" {
		return &sinks.KeyError{Key: key, Msg: "has no host"}
	}
	return nil
}

// reservedHeaders are set by the sink itself.
var reservedHeaders = map[string]bool{
	"content-length": true, "content-encoding": true, "transfer-encoding": true,
	"host": true, "connection": true, "content-type": true,
}

func validateHeader(name, value string) error {
	key := "headers." + name
	if !isToken(name) {
		return &sinks.KeyError{Key: key, Msg: "is not a valid header name"}
	}
	if reservedHeaders[strings.ToLower(name)] {
		return &sinks.KeyError{Key: key, Msg: "is set by the sink and cannot be configured"}
	}
	if strings.TrimSpace(value) == "" {
		return &sinks.KeyError{Key: key, Msg: "is empty (if it is ${VAR}, is VAR set?)"}
	}
	for i := 0; i < len(value); i++ {
		if c := value[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return &sinks.KeyError{Key: key,
				Msg: "holds a control character (a line break?); value not shown"}
		}
	}
	return nil
}

// isToken reports whether s is an HTTP token (RFC 9110): the characters a header name
// may hold.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
		if !ok {
			return false
		}
	}
	return true
}

func quote(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return `"` + s + `"`
}
