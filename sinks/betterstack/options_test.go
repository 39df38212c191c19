package betterstack

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/winship/winship/sinks"
)

const token = "tok3n-Abc123xyz"

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
	o, err := decodeOptions(t, "source_token: "+token+"\n")
	if err != nil {
		t.Fatal(err)
	}
	if o.Endpoint != "https://in.logs.betterstack.com" || o.Timeout != 10*time.Second ||
		string(o.SourceToken) != token {
		t.Errorf("options: %+v", o)
	}
	d := Factory.Defaults
	if d.MaxEvents != 1000 || d.MaxWait != 100*time.Millisecond || d.Concurrency < 2 ||
		d.Concurrency > 4 || d.Dedupe || d.MinLevel != "" {
		t.Errorf("defaults: %+v", d)
	}
}

func TestOptionsErrors(t *testing.T) {
	cases := []struct{ yaml, key, msg string }{
		{"endpoint: https://x.example\n", "source_token",
			"is empty or missing (if it is ${VAR}, is VAR set?)"},
		{"source_token: ''\n", "source_token",
			"is empty or missing (if it is ${VAR}, is VAR set?)"},
		{"source_token: \"" + token + "\\n\"\n", "source_token",
			"has white space or a line break around it; value not shown"},
		{"source_token: \"tok3n Abc123xyz\"\n", "source_token",
			"holds a space or control character; value not shown"},
		{"source_token: " + token + "\nendpoint: in.logs.betterstack.com\n", "endpoint",
			"must be an http or https URL such as https://logs.example.com/ingest"},
		{"source_token: " + token + "\nendpoint: ftp://x\n", "endpoint",
			"must be an http or https URL such as https://logs.example.com/ingest, not \"ftp\""},
		{"source_token: " + token + "\nendpoint: ''\n", "endpoint",
			"is empty or missing (if it is ${VAR}, is VAR set?)"},
		{"source_token: " + token + "\ntimeout: -1s\n", "timeout",
			"must be a positive duration such as 10s"},
		{"source_token: " + token + "\nquota_probe: 0s\n", "quota_probe",
			"must be a positive duration such as 5m"},
	}
	for _, c := range cases {
		_, err := decodeOptions(t, c.yaml)
		var ke *sinks.KeyError
		if !errors.As(err, &ke) || ke.Key != c.key || ke.Msg != c.msg {
			t.Errorf("%q: got %v, want `%s`: %s", c.yaml, err, c.key, c.msg)
		}
		if err != nil && strings.Contains(err.Error(), "Abc123") {
			t.Errorf("%q: error shows the token: %v", c.yaml, err)
		}
	}
}

func TestTokenNeverPrinted(t *testing.T) {
	o, err := decodeOptions(t, "source_token: "+token+"\n")
	if err != nil {
		t.Fatal(err)
	}
	y, _ := yaml.Marshal(o)
	for _, s := range []string{fmt.Sprintf("%v %+v %#v", o, o, *o), string(y)} {
		if strings.Contains(s, token) {
			t.Errorf("token printed: %s", s)
		}
	}
}
