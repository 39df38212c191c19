package sentry

import (
	"fmt"
	"log/slog"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	sentrygo "github.com/getsentry/sentry-go"

	"github.com/winship/winship/sinks"
)

// Type names this package registers.
const (
	TypeSentry    = "sentry"
	TypeGlitchTip = "glitchtip"
)

// Version is the winship version sent in X-Sentry-Auth and in the envelope's sdk header.
// The main package sets it at start-up; GlitchTip requires it to be non-empty.
var Version = "0.0.0-dev"

// sdkName is the sdk.name winship reports to Sentry and GlitchTip.
const sdkName = "winship"

// Options configure a sentry or glitchtip sink. Fields carry the YAML keys of the sink's
// mapping; defaults come from NewOptions of the type.
type Options struct {
	// DSN is the project's client key URL: {scheme}://{public key}@{host}[/path]/{project
	// id}, the project id a number.
	DSN         string            `yaml:"dsn"`
	Environment string            `yaml:"environment"`
	Release     string            `yaml:"release"`
	Dist        string            `yaml:"dist"`
	Tags        map[string]string `yaml:"tags"`       // static tags on every event
	TagFields   []string          `yaml:"tag_fields"` // entry keys lifted into tags
	Quota       Quota             `yaml:"quota"`
	Spike       Spike             `yaml:"spike"`
	// Breadcrumbs is how many entries below min_level are attached to an error of the same
	// source (0 turns breadcrumbs off); BreadcrumbsWindow how far back they may lie.
	Breadcrumbs       int           `yaml:"breadcrumbs"`
	BreadcrumbsWindow time.Duration `yaml:"breadcrumbs_window"`
	// Timeout bounds one HTTP request, connection and body included.
	Timeout time.Duration `yaml:"timeout"`
	// Parallel is how many envelopes are in flight at once across the sink.
	Parallel int `yaml:"parallel"`
	// MaxEventBytes is the largest event JSON sent as is; larger ones are shrunk first.
	MaxEventBytes int `yaml:"max_event_bytes"`
	// MaxCompressedBytes is the largest gzipped body sent as is (0: no limit).
	MaxCompressedBytes int `yaml:"max_compressed_bytes"`
	// RateLimitHeader reads X-Sentry-Rate-Limits (Sentry sends it; GlitchTip does not).
	RateLimitHeader bool `yaml:"rate_limit_header"`

	typ string // TypeSentry or TypeGlitchTip, set by NewOptions
}

// Quota caps how many events are sent in each period (the free tier's monthly allowance).
// MaxEvents 0 turns the quota off.
type Quota struct {
	MaxEvents int           `yaml:"max_events"`
	Period    time.Duration `yaml:"period"`
}

// Spike caps how many events of one issue (exception type and top in-app frame; without
// frames, the type and value or the message, digits normalised) are sent per minute.
// MaxPerMinute 0 turns the guard off.
type Spike struct {
	MaxPerMinute int `yaml:"max_per_minute"`
}

// Factory returns the sink factory of typ, TypeSentry or TypeGlitchTip: one code path,
// with defaults that suit each server.
func Factory(typ string) sinks.Factory {
	return sinks.Factory{
		NewOptions: func() sinks.Options { return defaultOptions(typ) },
		Defaults: sinks.Defaults{
			MaxEvents: 8,
			MaxBytes:  4 << 20,
			// One event per envelope: waiting to fill a batch buys nothing, and the
			// owners' target is a line at its sink within 250 ms at the 99th percentile.
			MaxWait:     50 * time.Millisecond,
			Concurrency: 2,
			Dedupe:      true,
			MinLevel:    "error",
		},
		New: func(spec sinks.Spec, opts sinks.Options) (sinks.Sink, error) {
			o, ok := opts.(*Options)
			if !ok {
				return nil, fmt.Errorf("sentry sink %s: options of type %T", spec.Name, opts)
			}
			return New(spec, o)
		},
	}
}

// Factories for the two types, for the registry.
var (
	SentryFactory    = Factory(TypeSentry)
	GlitchTipFactory = Factory(TypeGlitchTip)
)

func defaultOptions(typ string) *Options {
	o := &Options{
		typ:                typ,
		Breadcrumbs:        20,
		BreadcrumbsWindow:  5 * time.Minute,
		Timeout:            15 * time.Second,
		Parallel:           4,
		MaxEventBytes:      1 << 20,
		MaxCompressedBytes: 200_000,
		RateLimitHeader:    true,
	}
	if typ == TypeGlitchTip {
		// GlitchTip caps the decompressed body at 2.5 MB, has no compressed cap and
		// throttles with Retry-After only.
		o.MaxEventBytes = 2_500_000 - 4096
		o.MaxCompressedBytes = 0
		o.RateLimitHeader = false
	}
	return o
}

// Resolve implements sinks.Options; the sink has no paths.
func (o *Options) Resolve(string) {}

// Validate implements sinks.Options. Its errors name the key and never show the DSN's keys.
func (o *Options) Validate() error {
	dsn, err := parseDSN(o.DSN)
	if err != nil {
		return err
	}
	if o.typ == TypeGlitchTip && !hexKey(dsn.GetPublicKey()) {
		return &sinks.KeyError{Key: "dsn",
			Msg: "has a public key that is not the 32 hex digits GlitchTip issues"}
	}
	checks := []struct {
		bad      bool
		key, msg string
	}{
		{o.Quota.MaxEvents < 0, "quota.max_events", "must not be negative"},
		{o.Quota.MaxEvents > 0 && o.Quota.Period <= 0, "quota.period",
			"must be a positive duration when quota.max_events is set (e.g. 720h)"},
		{o.Quota.Period < 0, "quota.period", "must not be negative"},
		{o.Spike.MaxPerMinute < 0, "spike.max_per_minute", "must not be negative"},
		{o.Breadcrumbs < 0 || o.Breadcrumbs > 100, "breadcrumbs", "must be between 0 and 100"},
		{o.BreadcrumbsWindow < 0, "breadcrumbs_window", "must not be negative"},
		{o.Timeout <= 0, "timeout", "must be a positive duration"},
		{o.Parallel < 1 || o.Parallel > 64, "parallel", "must be between 1 and 64"},
		{o.MaxEventBytes < 64<<10, "max_event_bytes", "must be at least 65536"},
		{o.MaxCompressedBytes < 0, "max_compressed_bytes", "must not be negative"},
	}
	for _, c := range checks {
		if c.bad {
			return &sinks.KeyError{Key: c.key, Msg: c.msg}
		}
	}
	return o.validateTags()
}

// validateTags checks tag names against Sentry's rule: 1 to 32 letters, digits and _.:-
// (Sentry drops other tags).
func (o *Options) validateTags() error {
	for k := range o.Tags {
		if !validTagKey(k) {
			return &sinks.KeyError{Key: "tags", Msg: fmt.Sprintf("tag name %q must have 1 to "+
				"%d letters, digits or _.:-", cutUTF8(k, 40), maxTagKey)}
		}
	}
	for i, f := range o.TagFields {
		if !validTagKey(f) {
			return &sinks.KeyError{Key: fmt.Sprintf("tag_fields[%d]", i), Msg: fmt.Sprintf(
				"field name %q must have 1 to %d letters, digits or _.:- to be a tag name",
				cutUTF8(f, 40), maxTagKey)}
		}
	}
	return nil
}

func validTagKey(k string) bool {
	if k == "" || len(k) > maxTagKey {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !isLetter(c) && !isDigit(c) && c != '_' && c != '.' && c != ':' && c != '-' {
			return false
		}
	}
	return true
}

// parseDSN checks raw and parses it with sentry-go. Its errors say what is wrong with the
// DSN without repeating it: the public key is a credential too.
func parseDSN(raw string) (*sentrygo.Dsn, error) {
	keyErr := func(msg string) error { return &sinks.KeyError{Key: "dsn", Msg: msg} }
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, keyErr("is required (the project's DSN, e.g. ${SENTRY_DSN})")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, keyErr("is not a URL")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, keyErr(fmt.Sprintf("has scheme %q; want https or http", cutUTF8(u.Scheme, 20)))
	case u.User == nil || u.User.Username() == "":
		return nil, keyErr("has no public key (https://<key>@host/<project id>)")
	case u.Hostname() == "":
		return nil, keyErr("has no host")
	case strings.Trim(u.Path, "/") == "" || strings.HasSuffix(u.Path, "/"):
		return nil, keyErr("has no project id (https://<key>@host/<project id>)")
	case !numeric(path.Base(u.Path)):
		// Sentry and GlitchTip number their projects; a name here is a copied page URL.
		return nil, keyErr("has a project id that is not a number " +
			"(https://<key>@host/<project id>, e.g. .../42)")
	case !validPort(u.Port()):
		return nil, keyErr("has an invalid port")
	case u.RawQuery != "" || u.Fragment != "":
		return nil, keyErr("must not have a query or fragment")
	}
	dsn, err := sentrygo.NewDsn(raw)
	if err != nil {
		// sentry-go's messages do not hold the URL, but keep to our own words anyway.
		return nil, keyErr("is not a valid DSN (check the port and the project id)")
	}
	return dsn, nil
}

// numeric reports a non-empty string of ASCII digits.
func numeric(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

func validPort(p string) bool {
	if p == "" {
		return true
	}
	n, err := strconv.Atoi(p)
	return err == nil && n > 0 && n < 65536
}

// hexKey reports a key of 32 hex digits, with or without a UUID's dashes.
func hexKey(k string) bool {
	k = strings.ReplaceAll(k, "-", "")
	if len(k) != 32 {
		return false
	}
	for i := 0; i < len(k); i++ {
		if !isDigit(k[i]) && !((k[i]|0x20) >= 'a' && (k[i]|0x20) <= 'f') {
			return false
		}
	}
	return true
}

// String describes the options without the DSN's keys, for logs and debugging.
func (o Options) String() string {
	return fmt.Sprintf("sentry options{dsn: %s, environment: %q, release: %q, quota: %d/%s, "+
		"spike: %d/min, breadcrumbs: %d}", RedactDSN(o.DSN), o.Environment, o.Release,
		o.Quota.MaxEvents, o.Quota.Period, o.Spike.MaxPerMinute, o.Breadcrumbs)
}

// LogValue implements slog.LogValuer so that logging the options never shows the keys.
func (o Options) LogValue() slog.Value { return slog.StringValue(o.String()) }

// RedactDSN returns raw as scheme://<key>@host/path, the keys replaced; "<invalid dsn>"
// when it does not parse.
func RedactDSN(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" {
		return "<invalid dsn>"
	}
	u.User = url.User("<key>")
	u.RawQuery, u.Fragment = "", ""
	return strings.Replace(u.String(), "%3Ckey%3E", "<key>", 1)
}
