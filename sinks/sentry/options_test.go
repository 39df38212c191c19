package sentry

import (
	"strings"
	"testing"
	"time"

	"github.com/winship/winship/sinks"
)

const (
	goodKey    = "abcdef0123456789abcdef0123456789"
	goodSecret = "fedcba9876543210fedcba9876543210"
)

func TestValidateNamesKeyWithoutSecrets(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Options)
		key    string
		msg    string
	}{
		{"empty dsn", func(o *Options) { o.DSN = "" }, "dsn", "is required"},
		{"unknown scheme", func(o *Options) { o.DSN = "ftp://" + goodKey + "@host/1" },
			"dsn", `has scheme "ftp"; want https or http`},
		{"no key", func(o *Options) { o.DSN = "https://sentry.io/1" }, "dsn", "has no public key"},
		{"no project", func(o *Options) { o.DSN = "https://" + goodKey + "@sentry.io/" },
			"dsn", "has no project id"},
		{"no project path", func(o *Options) { o.DSN = "https://" + goodKey + "@sentry.io" },
			"dsn", "has no project id"},
		{"project id not a number", func(o *Options) { o.DSN = "https://" + goodKey + "@host/abc" },
			"dsn", "has a project id that is not a number"},
		{"project slug under a path", func(o *Options) {
			o.DSN = "https://" + goodKey + ":" + goodSecret + "@host/sentry/my-project"
		}, "dsn", "has a project id that is not a number"},
		{"not a url", func(o *Options) { o.DSN = "https://" + goodKey + ":" + goodSecret + "@ho st/%zz" },
			"dsn", "is not a URL"},
		{"bad port", func(o *Options) { o.DSN = "https://" + goodKey + ":" + goodSecret + "@host:99999999999/1" },
			"dsn", "has an invalid port"},
		{"query", func(o *Options) { o.DSN = "https://" + goodKey + "@host/1?x=" + goodSecret },
			"dsn", "must not have a query"},
		{"quota without period", func(o *Options) { o.Quota = Quota{MaxEvents: 5000} },
			"quota.period", "must be a positive duration"},
		{"negative quota", func(o *Options) { o.Quota = Quota{MaxEvents: -1, Period: time.Hour} },
			"quota.max_events", "must not be negative"},
		{"negative spike", func(o *Options) { o.Spike.MaxPerMinute = -3 },
			"spike.max_per_minute", "must not be negative"},
		{"too many breadcrumbs", func(o *Options) { o.Breadcrumbs = 1000 },
			"breadcrumbs", "must be between 0 and 100"},
		{"zero timeout", func(o *Options) { o.Timeout = 0 }, "timeout", "must be a positive"},
		{"empty tag field", func(o *Options) { o.TagFields = []string{"service", ""} },
			"tag_fields[1]", "field name \"\" must have"},
		{"tag field with a space", func(o *Options) { o.TagFields = []string{"user id"} },
			"tag_fields[0]", "must have 1 to 32 letters"},
		{"long tag name", func(o *Options) { o.Tags = map[string]string{strings.Repeat("t", 33): "v"} },
			"tags", "must have 1 to 32 letters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := defaultOptions(TypeSentry)
			o.DSN = "https://" + goodKey + "@o1.ingest.sentry.io/42"
			tt.mutate(o)
			err := o.Validate()
			ke, ok := err.(*sinks.KeyError)
			if !ok {
				t.Fatalf("Validate() = %v (%T), want *sinks.KeyError", err, err)
			}
			if ke.Key != tt.key || !strings.Contains(ke.Msg, tt.msg) {
				t.Errorf("got key %q msg %q; want key %q msg containing %q", ke.Key, ke.Msg, tt.key, tt.msg)
			}
			if s := err.Error(); strings.Contains(s, goodKey) || strings.Contains(s, goodSecret) {
				t.Errorf("error text shows a credential: %s", s)
			}
		})
	}
}

func TestValidateAcceptsSentryAndGlitchTipDSNs(t *testing.T) {
	for _, dsn := range []string{
		"https://" + goodKey + "@o123.ingest.us.sentry.io/4507",
		"https://" + goodKey + ":" + goodSecret + "@sentry.example.com/sentry/7",
		"http://" + goodKey + "@127.0.0.1:8000/42",
		"https://" + goodKey + "@app.glitchtip.com/1234",
	} {
		o := defaultOptions(TypeGlitchTip)
		o.DSN = dsn
		if err := o.Validate(); err != nil {
			t.Errorf("Validate(%s): %v", dsn, err)
		}
	}
}

func TestFactoryDefaults(t *testing.T) {
	for _, typ := range []string{TypeSentry, TypeGlitchTip} {
		f := Factory(typ)
		d := f.Defaults
		if d.MinLevel != "error" || !d.Dedupe || d.Concurrency < 1 || d.MaxEvents < 1 ||
			d.MaxWait <= 0 || d.MaxWait > time.Second {
			t.Errorf("%s defaults %+v", typ, d)
		}
		// A line must reach its sink within 250 ms at p99; the batch wait is most of it.
		if d.MaxWait != 50*time.Millisecond {
			t.Errorf("%s batch.max_wait default %s, want 50ms", typ, d.MaxWait)
		}
		o := f.NewOptions().(*Options)
		if o.Breadcrumbs != 20 || o.BreadcrumbsWindow != 5*time.Minute {
			t.Errorf("%s breadcrumbs defaults %d/%s", typ, o.Breadcrumbs, o.BreadcrumbsWindow)
		}
	}
	s := Factory(TypeSentry).NewOptions().(*Options)
	g := Factory(TypeGlitchTip).NewOptions().(*Options)
	if !s.RateLimitHeader || g.RateLimitHeader {
		t.Errorf("rate limit header: sentry %v glitchtip %v; want true, false",
			s.RateLimitHeader, g.RateLimitHeader)
	}
	if s.MaxEventBytes != 1<<20 || g.MaxEventBytes > 2_500_000 || g.MaxEventBytes < 2_400_000 {
		t.Errorf("event caps: sentry %d glitchtip %d", s.MaxEventBytes, g.MaxEventBytes)
	}
}

func TestNewRejectsWrongOptionsType(t *testing.T) {
	_, err := Factory(TypeSentry).New(sinks.Spec{Name: "x"}, fakeOptions{})
	if err == nil {
		t.Fatal("New accepted options of another sink type")
	}
}

type fakeOptions struct{}

func (fakeOptions) Validate() error { return nil }
func (fakeOptions) Resolve(string)  {}

func TestGlitchTipKeyMustBeHex(t *testing.T) {
	o := defaultOptions(TypeGlitchTip)
	o.DSN = "https://not-a-hex-key@glitchtip.example.com/3"
	ke, ok := o.Validate().(*sinks.KeyError)
	if !ok || ke.Key != "dsn" || strings.Contains(ke.Msg, "not-a-hex-key") {
		t.Errorf("Validate() = %v", o.Validate())
	}
	o.DSN = "https://0f9e8d7c-6b5a-4938-2716-051423324150@glitchtip.example.com/3"
	if err := o.Validate(); err != nil {
		t.Errorf("UUID key refused: %v", err)
	}
}

func TestOptionsNeverPrintTheKeys(t *testing.T) {
	o := defaultOptions(TypeSentry)
	o.DSN = "https://" + goodKey + ":" + goodSecret + "@o1.ingest.sentry.io/42"
	for _, s := range []string{o.String(), o.LogValue().String(), RedactDSN(o.DSN)} {
		if strings.Contains(s, goodKey) || strings.Contains(s, goodSecret) {
			t.Errorf("shows a key: %s", s)
		}
	}
	if got := RedactDSN(o.DSN); got != "https://<key>@o1.ingest.sentry.io/42" {
		t.Errorf("RedactDSN = %s", got)
	}
}
