// Package config loads winship's YAML configuration in a fixed order: parse, expand ${VAR}
// references, decode strictly (unknown keys are errors), apply defaults, validate, and
// resolve relative paths against the config file's folder. Every error names the file, the
// line, the key and the rejected value (never a secret's value).
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/winship/winship/agent/event"
	"github.com/winship/winship/parsers"
	"github.com/winship/winship/sinks"
)

// Config is the whole agent configuration.
type Config struct {
	StateDir        string        `yaml:"state_dir"`
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	MetricsAddr     string        `yaml:"metrics_addr"`
	LogLevel        string        `yaml:"log_level"`
	Sources         []Source      `yaml:"sources"`
	Sinks           []Sink        `yaml:"sinks"`

	// File is the path the config was loaded from ("" for the embedded default).
	File string `yaml:"-"`
}

// Source is a set of files read with one format.
type Source struct {
	Name    string   `yaml:"name"`
	Paths   []string `yaml:"paths"`
	Exclude []string `yaml:"exclude"`
	Format  string   `yaml:"format"`
	StartAt string   `yaml:"start_at"`
	// MaxLineBytes cuts longer lines (shipped truncated and flagged).
	MaxLineBytes ByteSize `yaml:"max_line_bytes"`
	// MultilineTimeout flushes a held multi-line entry after this long without a new line.
	MultilineTimeout time.Duration `yaml:"multiline_timeout"`
	// Poll reads files by polling every PollInterval instead of inotify.
	Poll         bool          `yaml:"poll"`
	PollInterval time.Duration `yaml:"poll_interval"`
	// RescanInterval is how often the globs are matched again, as a safety net for missed
	// file system notifications.
	RescanInterval time.Duration `yaml:"rescan_interval"`
	// CloseInactive closes a file that has not grown for this long (it is reopened when it
	// changes); RotateWait is how long a file that left the glob (rotated away) is still
	// read after its last growth.
	CloseInactive time.Duration `yaml:"close_inactive"`
	RotateWait    time.Duration `yaml:"rotate_wait"`
}

// Sink is one destination. The keys here are common to every type; the rest of the sink's
// mapping is decoded into Options by the type's factory.
type Sink struct {
	Name        string   `yaml:"name"`
	Type        string   `yaml:"type"`
	Sources     []string `yaml:"sources"`
	MinLevel    string   `yaml:"min_level"`
	Dedupe      *bool    `yaml:"dedupe"`
	Concurrency int      `yaml:"concurrency"`
	Buffer      Buffer   `yaml:"buffer"`
	Batch       Batch    `yaml:"batch"`
	Retry       Retry    `yaml:"retry"`

	// Filled by Load.
	Level    event.Level    `yaml:"-"` // parsed MinLevel
	HasLevel bool           `yaml:"-"` // false: every level is sent
	Options  sinks.Options  `yaml:"-"`
	Factory  sinks.Factory  `yaml:"-"`
	Defaults sinks.Defaults `yaml:"-"`
	Line     int            `yaml:"-"`
}

// Buffer limits a sink's share of the disk buffer.
type Buffer struct {
	MaxBytes ByteSize `yaml:"max_bytes"`
	WhenFull string   `yaml:"when_full"` // block | drop_oldest
}

// Batch is a sink's batching policy; zero values take the sink type's defaults.
type Batch struct {
	MaxEvents int           `yaml:"max_events"`
	MaxBytes  ByteSize      `yaml:"max_bytes"`
	MaxWait   time.Duration `yaml:"max_wait"`
}

// Retry bounds the exponential backoff between attempts.
type Retry struct {
	InitialBackoff time.Duration `yaml:"initial_backoff"`
	MaxBackoff     time.Duration `yaml:"max_backoff"`
}

// Defaults for keys the user leaves out.
const (
	DefaultPath            = "/etc/winship/config.yaml"
	defaultShutdownTimeout = 10 * time.Second
	defaultMaxLineBytes    = 1 << 20
	defaultBufferBytes     = 1 << 30
)

var yamlLine = regexp.MustCompile(`^line (\d+): (.*)$`)

// commonSinkKeys are the keys of Sink; every other key of a sink goes to its Options.
var commonSinkKeys = fieldsOf(reflect.TypeOf(Sink{}))

// Load reads and checks the config file at path. factories maps sink types to factories.
func Load(path string, factories map[string]sinks.Factory) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(data, path, filepath.Dir(abs), factories)
}

// Parse checks config text. name is used in errors; relative paths resolve against dir.
func Parse(data []byte, name, dir string, factories map[string]sinks.Factory) (*Config, error) {
	d := &decoder{file: name}
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{File: name, Msg: "the file is empty: it needs sources and sinks"}
		}
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			return nil, fmt.Errorf("%s:%s: %s", name, m[1], m[2])
		}
		return nil, fmt.Errorf("%s: %s", name, msg)
	}
	if len(root.Content) == 0 {
		return nil, &Error{File: name, Msg: "the file is empty"}
	}
	if err := d.expandEnv(&root, ""); err != nil {
		return nil, err
	}
	doc := root.Content[0]
	cfg := &Config{File: name}
	if err := d.decodeTop(doc, cfg); err != nil {
		return nil, err
	}
	cfg.applyDefaults()
	if err := d.validate(doc, cfg, factories); err != nil {
		return nil, err
	}
	cfg.resolve(dir)
	if err := d.checkFeedback(doc, cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}

// checkFeedback refuses a sink that writes a file a source reads, or one another sink
// writes too.
func (d *decoder) checkFeedback(doc *yaml.Node, c *Config) error {
	writers := map[string]string{}
	for i, s := range c.Sinks {
		w, ok := s.Options.(sinks.Writer)
		if !ok {
			continue
		}
		for _, p := range w.WrittenPaths() {
			if other, dup := writers[p]; dup {
				return d.at(doc, fmt.Sprintf("sinks[%d]", i), fmt.Sprintf(
					"writes %s, which sink %s writes too", p, other), "sinks", i, "name")
			}
			writers[p] = s.Name
			for _, src := range c.Sources {
				for _, g := range src.Paths {
					if ok, _ := filepath.Match(g, p); ok {
						return d.at(doc, fmt.Sprintf("sinks[%d]", i), fmt.Sprintf(
							"writes %s, which source %s reads (%s): winship would ship its "+
								"own output forever", p, src.Name, g), "sinks", i, "name")
					}
				}
			}
		}
	}
	return nil
}

// decodeTop decodes everything but the sinks' type-specific keys.
func (d *decoder) decodeTop(doc *yaml.Node, cfg *Config) error {
	if doc.Kind != yaml.MappingNode {
		return d.errAt(doc, "", "the config must be a mapping of keys to values")
	}
	stripped, sinkNodes := splitSinkNodes(doc)
	if err := d.decode(stripped, reflect.ValueOf(cfg).Elem(), ""); err != nil {
		return err
	}
	for i := range cfg.Sinks {
		cfg.Sinks[i].Line = sinkNodes[i].Line
	}
	return nil
}

// splitSinkNodes returns a copy of doc in which each sink mapping keeps only the common
// keys, and the original sink mapping nodes.
func splitSinkNodes(doc *yaml.Node) (*yaml.Node, []*yaml.Node) {
	cp := *doc
	cp.Content = slices.Clone(doc.Content)
	var orig []*yaml.Node
	for i := 0; i+1 < len(cp.Content); i += 2 {
		if cp.Content[i].Value != "sinks" || cp.Content[i+1].Kind != yaml.SequenceNode {
			continue
		}
		seq := *cp.Content[i+1]
		seq.Content = nil
		for _, s := range cp.Content[i+1].Content {
			orig = append(orig, s)
			seq.Content = append(seq.Content, onlyKeys(s, true))
		}
		cp.Content[i+1] = &seq
	}
	return &cp, orig
}

// onlyKeys returns a copy of mapping m with only the common sink keys (common=true) or only
// the others.
func onlyKeys(m *yaml.Node, common bool) *yaml.Node {
	if m.Kind != yaml.MappingNode {
		return m
	}
	cp := *m
	cp.Content = nil
	for i := 0; i+1 < len(m.Content); i += 2 {
		_, isCommon := commonSinkKeys[m.Content[i].Value]
		if isCommon == common {
			cp.Content = append(cp.Content, m.Content[i], m.Content[i+1])
		}
	}
	return &cp
}

func (c *Config) applyDefaults() {
	if c.StateDir == "" {
		c.StateDir = "./.winship"
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = defaultShutdownTimeout
	}
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
	for i := range c.Sources {
		s := &c.Sources[i]
		s.Format = defaultStr(s.Format, "auto")
		s.StartAt = defaultStr(s.StartAt, "beginning")
		if s.MaxLineBytes == 0 {
			s.MaxLineBytes = defaultMaxLineBytes
		}
		s.MultilineTimeout = defaultDur(s.MultilineTimeout, time.Second)
		s.PollInterval = defaultDur(s.PollInterval, 250*time.Millisecond)
		s.RescanInterval = defaultDur(s.RescanInterval, 10*time.Second)
		s.CloseInactive = defaultDur(s.CloseInactive, 5*time.Minute)
		s.RotateWait = defaultDur(s.RotateWait, 5*time.Second)
		if s.Exclude == nil {
			// Compressed rotations and winston-daily-rotate-file's audit file are not logs.
			s.Exclude = []string{"*.gz", "*.zip", ".*-audit.json", "*.tmp"}
		}
	}
	for i := range c.Sinks {
		s := &c.Sinks[i]
		s.Buffer.WhenFull = defaultStr(s.Buffer.WhenFull, "block")
		if s.Buffer.MaxBytes == 0 {
			s.Buffer.MaxBytes = defaultBufferBytes
		}
		s.Retry.InitialBackoff = defaultDur(s.Retry.InitialBackoff, time.Second)
		s.Retry.MaxBackoff = defaultDur(s.Retry.MaxBackoff, 5*time.Minute)
	}
}

func defaultStr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func defaultDur(v, def time.Duration) time.Duration {
	if v == 0 {
		return def
	}
	return v
}

func (c *Config) resolve(dir string) {
	c.StateDir = absJoin(dir, c.StateDir)
	for i := range c.Sources {
		for j, p := range c.Sources[i].Paths {
			c.Sources[i].Paths[j] = absJoin(dir, p)
		}
	}
	for i := range c.Sinks {
		c.Sinks[i].Options.Resolve(dir)
	}
}

func absJoin(dir, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(dir, p)
}

// Summary is the one-line description `winship validate` prints.
func (c *Config) Summary() string {
	var src, snk []string
	for _, s := range c.Sources {
		src = append(src, fmt.Sprintf("%s (%s, %d path(s))", s.Name, s.Format, len(s.Paths)))
	}
	for _, s := range c.Sinks {
		snk = append(snk, fmt.Sprintf("%s (%s)", s.Name, s.Type))
	}
	return fmt.Sprintf("config OK: %d source(s): %s; %d sink(s): %s; state in %s",
		len(c.Sources), strings.Join(src, ", "), len(c.Sinks), strings.Join(snk, ", "), c.StateDir)
}

// validAddr reports whether addr is a host:port to listen on.
func validAddr(addr string) bool {
	_, _, err := net.SplitHostPort(addr)
	return err == nil
}

// validFormat reports whether f is a parser format.
func validFormat(f string) bool { return slices.Contains(parsers.Formats, f) }
