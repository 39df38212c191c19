package httpsink

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/winship/winship/sinks"
)

// decodeOptions decodes YAML the way the config loader does: defaults, strict decode,
// validate.
func decodeOptions(t *testing.T, src string) (*Options, error) {
	t.Helper()
	o := Factory.NewOptions().(*Options)
	dec := yaml.NewDecoder(strings.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(o); err != nil {
		t.Fatalf("decode %q: %v", src, err)
	}
	return o, o.Validate()
}

func TestOptionsDefaults(t *testing.T) {
	o, err := decodeOptions(t, "url: https://logs.example.com/in\n")
	if err != nil {
		t.Fatal(err)
	}
	if !o.Gzip || o.Encoding != "json" || o.Timeout != 10*time.Second {
		t.Errorf("defaults: %+v", o)
	}
	d := Factory.Defaults
	if d.MaxEvents != 1000 || d.MaxBytes != 1<<20 || d.MaxWait != 100*time.Millisecond ||
		d.Concurrency < 2 || d.Dedupe || d.MinLevel != "" {
		t.Errorf("factory defaults: %+v", d)
	}
}

func TestOptionsDecode(t *testing.T) {
	o, err := decodeOptions(t, `
url: http://127.0.0.1:9000/logs?key=abc
encoding: ndjson
gzip: false
timeout: 2500ms
headers:
  Authorization: Bearer s3cr3t-token
  X-Tenant: acme
`)
	if err != nil {
		t.Fatal(err)
	}
	if o.Encoding != "ndjson" || o.Gzip || o.Timeout != 2500*time.Millisecond ||
		string(o.Headers["Authorization"]) != "Bearer s3cr3t-token" {
		t.Errorf("decoded: %+v", o)
	}
}

func TestOptionsErrors(t *testing.T) {
	cases := []struct{ yaml, want string }{
		{"encoding: json\n", "`url`: is empty or missing (if it is ${VAR}, is VAR set?)"},
		{"url: ''\n", "`url`: is empty or missing (if it is ${VAR}, is VAR set?)"},
		{"url: ftp://user:pw@h/x\n", "`url`: must be an http or https URL such as " +
			"https://logs.example.com/ingest, not \"ftp\""},
		{"url: logs.example.com/in\n", "`url`: must be an http or https URL such as " +
			"https://logs.example.com/ingest"},
		{"url: 'http://'\n", "`url`: has no host"},
		{"url: 'http://h/%zz?token=s3cr3t'\n", "`url`: is not a valid URL"},
		{"url: http://h\nencoding: xml\n", "`encoding`: must be json or ndjson, not \"xml\""},
		{"url: http://h\ntimeout: 0s\n", "`timeout`: must be a positive duration such as 10s"},
		{"url: http://h\nheaders: {'Bad Name': s3cr3t}\n",
			"`headers.Bad Name`: is not a valid header name"},
		{"url: http://h\nheaders: {Content-Encoding: br}\n",
			"`headers.Content-Encoding`: is set by the sink and cannot be configured"},
		{"url: http://h\nheaders: {Authorization: ''}\n",
			"`headers.Authorization`: is empty (if it is ${VAR}, is VAR set?)"},
		{"url: http://h\nheaders: {Authorization: \"Bearer s3cr3t\\r\\nX: y\"}\n",
			"`headers.Authorization`: holds a control character (a line break?); value not shown"},
	}
	for _, c := range cases {
		_, err := decodeOptions(t, c.yaml)
		var ke *sinks.KeyError
		if !errors.As(err, &ke) {
			t.Errorf("%q: got %v, want a *sinks.KeyError", c.yaml, err)
			continue
		}
		if err.Error() != c.want {
			t.Errorf("%q:\n got  %s\n want %s", c.yaml, err, c.want)
		}
		if strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "pw") {
			t.Errorf("%q: error shows a secret: %s", c.yaml, err)
		}
	}
}

func TestSecretIsNeverPrinted(t *testing.T) {
	o := &Options{URL: "http://h", Headers: map[string]Secret{"Authorization": "Bearer s3cr3t"}}
	var logged bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logged, nil))
	log.Info("opts", "opts", o, "h", o.Headers["Authorization"])
	yml, _ := yaml.Marshal(o)
	for _, s := range []string{
		fmt.Sprintf("%v %+v %#v %s", o, o, o, o.Headers), logged.String(), string(yml),
	} {
		if strings.Contains(s, "s3cr3t") {
			t.Errorf("secret printed: %s", s)
		}
	}
}
