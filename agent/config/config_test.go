package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/winship/winship/sinks"
	"github.com/winship/winship/sinks/file"
)

type secretOptions struct {
	Token string `yaml:"token"`
}

func (o *secretOptions) Validate() error {
	if o.Token == "" {
		return &sinks.KeyError{Key: "token", Msg: "missing required key"}
	}
	return nil
}
func (o *secretOptions) Resolve(string) {}

var testFactories = map[string]sinks.Factory{
	"file": file.Factory,
	"secretive": {NewOptions: func() sinks.Options { return &secretOptions{} },
		Defaults: sinks.Defaults{MinLevel: "error"}},
}

// TestBadConfigs pins the exact error each bad file gives: the file, the line, the key and
// the rejected value.
func TestBadConfigs(t *testing.T) {
	cases := map[string]string{
		"unknown-top-key":    "testdata/bad/unknown-top-key.yaml:1: state_dri: unknown key (did you mean `state_dir`?)",
		"unknown-sink-key":   "testdata/bad/unknown-sink-key.yaml:8: sinks[0].pth: unknown key for a file sink (did you mean `path`?)",
		"wrong-type":         `testdata/bad/wrong-type.yaml:9: sinks[0].batch.max_events: not a whole number (got "ten")`,
		"missing-name":       "testdata/bad/missing-name.yaml:2: sources[0].name: missing required key",
		"missing-paths":      "testdata/bad/missing-paths.yaml:2: sources[0].paths: missing required key: list the files or globs to read",
		"duplicate-sink":     `testdata/bad/duplicate-sink.yaml:6: sinks[1].name: duplicate sink name (got "s")`,
		"unknown-sink-type":  `testdata/bad/unknown-sink-type.yaml:4: sinks[0].type: unknown sink type (use one of file, secretive) (got "kafka")`,
		"unset-env":          "testdata/bad/unset-env.yaml:5: sinks[0].path: environment variable WINSHIP_TEST_UNSET_VAR is not set (use ${WINSHIP_TEST_UNSET_VAR:-default} for a default)",
		"bad-format":         `testdata/bad/bad-format.yaml:4: sources[0].format: must be one of auto, json, logstash, pretty, text (got "xml")`,
		"bad-when-full":      `testdata/bad/bad-when-full.yaml:7: sinks[0].buffer.when_full: must be block or drop_oldest (got "drop_newest")`,
		"bad-level":          `testdata/bad/bad-level.yaml:6: sinks[0].min_level: unknown level (use a Winston level: error, warn, info, http, verbose, debug, silly, or a syslog level) (got "loud")`,
		"bad-duration":       `testdata/bad/bad-duration.yaml:1: shutdown_timeout: not a duration (use e.g. 500ms, 10s, 5m, 720h) (got "soon")`,
		"bad-size":           `testdata/bad/bad-size.yaml:7: sinks[0].buffer.max_bytes: not a size (use e.g. 512KiB, 64MiB, 1GiB) (got "lots")`,
		"missing-file-path":  "testdata/bad/missing-file-path.yaml:3: sinks[0].path: missing required key: the file to append to",
		"secret-type":        "testdata/bad/secret-type.yaml:5: sinks[0].token: must be a single value (a string)",
		"duplicate-key":      "testdata/bad/duplicate-key.yaml:6: sinks[0].path: duplicate key",
		"unknown-source-ref": `testdata/bad/unknown-source-ref.yaml:6: sinks[0].sources[0]: no source has this name (got "b")`,
		"no-sinks":           "testdata/bad/no-sinks.yaml:1: sinks: at least one sink is required",
		"not-yaml":           "testdata/bad/not-yaml.yaml:1: did not find expected ',' or ']'",
		"empty":              "testdata/bad/empty.yaml: the file is empty: it needs sources and sinks",
		"same-output":        `testdata/bad/same-output.yaml:6: sinks[1]: writes ` + mustAbs("testdata/bad/out.jsonl") + `, which sink one writes too (got "two")`,
	}
	entries, _ := os.ReadDir("testdata/bad")
	if len(entries) != len(cases) {
		t.Errorf("%d bad files but %d cases: every bad file needs its expected error", len(entries), len(cases))
	}
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Load("testdata/bad/"+name+".yaml", testFactories)
			if err == nil {
				t.Fatal("loaded without error")
			}
			if err.Error() != want {
				t.Errorf("error:\n got %s\nwant %s", err, want)
			}
		})
	}
}

func TestSecretValuesAreNeverEchoed(t *testing.T) {
	body := "sources: [{name: a, paths: [a.log]}]\nsinks:\n  - name: s\n    type: secretive\n    token: 42\n    tokn: hunter2\n"
	_, err := Parse([]byte(body), "c.yaml", "/", testFactories)
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error %v", err)
	}
	body = "sources: [{name: a, paths: [a.log]}]\nsinks:\n  - name: s\n    type: secretive\n    token: {a: hunter2}\n"
	_, err = Parse([]byte(body), "c.yaml", "/", testFactories)
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error %v", err)
	}
}

func TestGoodConfigs(t *testing.T) {
	t.Setenv("ARCHIVE_PATH", "/tmp/archive.jsonl")
	cfg, err := Load("testdata/good/full.yaml", testFactories)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.StateDir != "/var/lib/winship" || cfg.ShutdownTimeout != 15*time.Second {
		t.Errorf("top level: %+v", cfg)
	}
	src := cfg.Sources[0]
	if src.MaxLineBytes != 512<<10 || src.StartAt != "end" || src.Format != "json" {
		t.Errorf("source: %+v", src)
	}
	if cfg.Sources[1].Format != "text" {
		t.Errorf("${FE_FORMAT:-text} gave %q", cfg.Sources[1].Format)
	}
	snk := cfg.Sinks[0]
	if snk.Options.(*file.Options).Path != "/tmp/archive.jsonl" {
		t.Errorf("file path %q", snk.Options.(*file.Options).Path)
	}
	if snk.Buffer.MaxBytes != 256<<20 || snk.Buffer.WhenFull != "drop_oldest" ||
		snk.Batch.MaxEvents != 500 || snk.Batch.MaxWait != 50*time.Millisecond ||
		!snk.HasLevel || snk.Level.String() != "http" || snk.Dedupe == nil || !*snk.Dedupe {
		t.Errorf("sink: %+v", snk)
	}

	cfg, err = Load("testdata/good/minimal.yaml", testFactories)
	if err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs("testdata/good")
	if cfg.StateDir != filepath.Join(abs, ".winship") {
		t.Errorf("state_dir %q does not resolve against the config's folder", cfg.StateDir)
	}
	if cfg.Sources[0].Paths[0] != filepath.Join(abs, "logs/*.log") {
		t.Errorf("paths %q", cfg.Sources[0].Paths)
	}
	if got := cfg.Sinks[0].Options.(*file.Options).Path; got != filepath.Join(abs, "out/events.jsonl") {
		t.Errorf("sink path %q", got)
	}
	if cfg.Sinks[0].HasLevel {
		t.Error("file sink has a min_level by default")
	}
}

func TestSinkDefaultMinLevel(t *testing.T) {
	body := "sources: [{name: a, paths: [a.log]}]\nsinks:\n  - name: s\n    type: secretive\n    token: x\n"
	cfg, err := Parse([]byte(body), "c.yaml", "/", testFactories)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Sinks[0].HasLevel || cfg.Sinks[0].Level.String() != "error" {
		t.Errorf("default min_level not applied: %+v", cfg.Sinks[0])
	}
}

func TestParseByteSize(t *testing.T) {
	cases := map[string]ByteSize{"1048576": 1 << 20, "64MiB": 64 << 20, "10 MB": 10e6,
		"1GiB": 1 << 30, "512k": 512 << 10, "1.5KiB": 1536}
	for in, want := range cases {
		if got, err := ParseByteSize(in); err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
}

func TestSinkOutputInsideASourceIsRefused(t *testing.T) {
	body := "sources: [{name: a, paths: [./logs/*.log]}]\nsinks:\n  - name: s\n    type: file\n    path: ./logs/out.log\n"
	_, err := Parse([]byte(body), "c.yaml", "/srv", testFactories)
	want := `c.yaml:3: sinks[0]: writes /srv/logs/out.log, which source a reads (/srv/logs/*.log): winship would ship its own output forever (got "s")`
	if err == nil || err.Error() != want {
		t.Fatalf("error:\n got %v\nwant %s", err, want)
	}
}

func mustAbs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		panic(err)
	}
	return a
}
