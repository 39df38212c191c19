package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/winship/winship/agent/event"
	"github.com/winship/winship/sinks"
)

// find returns the value node at a path of mapping keys (string) and list indexes (int).
func find(n *yaml.Node, path ...any) *yaml.Node {
	for _, p := range path {
		if n == nil {
			return nil
		}
		switch p := p.(type) {
		case string:
			var next *yaml.Node
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == p {
						next = n.Content[i+1]
					}
				}
			}
			n = next
		case int:
			if n.Kind != yaml.SequenceNode || p >= len(n.Content) {
				return nil
			}
			n = n.Content[p]
		}
	}
	return n
}

// at builds an error for the value at path; when the key is absent it points at the
// nearest mapping that exists (for "missing key" errors).
func (d *decoder) at(doc *yaml.Node, key, msg string, path ...any) *Error {
	for i := len(path); i >= 0; i-- {
		if n := find(doc, path[:i]...); n != nil {
			if i < len(path) {
				return &Error{File: d.file, Line: n.Line, Key: key, Msg: msg}
			}
			return d.errAt(n, key, msg)
		}
	}
	return &Error{File: d.file, Key: key, Msg: msg}
}

func (d *decoder) validate(doc *yaml.Node, c *Config, factories map[string]sinks.Factory) error {
	if c.MetricsAddr != "" && !validAddr(c.MetricsAddr) {
		return d.at(doc, "metrics_addr", "not a host:port to listen on", "metrics_addr")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return d.at(doc, "log_level", "must be one of debug, info, warn, error", "log_level")
	}
	if len(c.Sources) == 0 {
		return d.at(doc, "sources", "at least one source is required", "sources")
	}
	if len(c.Sinks) == 0 {
		return d.at(doc, "sinks", "at least one sink is required", "sinks")
	}
	names := map[string]bool{}
	for i := range c.Sources {
		if err := d.validateSource(doc, c, i, names); err != nil {
			return err
		}
	}
	sinkNames := map[string]bool{}
	for i := range c.Sinks {
		if err := d.validateSink(doc, c, i, sinkNames, names, factories); err != nil {
			return err
		}
	}
	return nil
}

func (d *decoder) validateSource(doc *yaml.Node, c *Config, i int, names map[string]bool) error {
	s := &c.Sources[i]
	key := func(k string) string { return fmt.Sprintf("sources[%d].%s", i, k) }
	switch {
	case s.Name == "":
		return d.at(doc, key("name"), "missing required key", "sources", i, "name")
	case names[s.Name]:
		return d.at(doc, key("name"), "duplicate source name", "sources", i, "name")
	case len(s.Paths) == 0:
		return d.at(doc, key("paths"), "missing required key: list the files or globs to read",
			"sources", i, "paths")
	case !validFormat(s.Format):
		return d.at(doc, key("format"), "must be one of auto, json, logstash, pretty, text",
			"sources", i, "format")
	case s.StartAt != "beginning" && s.StartAt != "end":
		return d.at(doc, key("start_at"), "must be beginning or end", "sources", i, "start_at")
	case s.MaxLineBytes < 256:
		return d.at(doc, key("max_line_bytes"), "must be at least 256 bytes",
			"sources", i, "max_line_bytes")
	}
	names[s.Name] = true
	for j, p := range s.Paths {
		if _, err := filepath.Match(p, ""); err != nil || p == "" {
			return d.at(doc, fmt.Sprintf("sources[%d].paths[%d]", i, j), "not a valid glob",
				"sources", i, "paths", j)
		}
	}
	for j, p := range s.Exclude {
		if _, err := filepath.Match(p, ""); err != nil || p == "" {
			return d.at(doc, fmt.Sprintf("sources[%d].exclude[%d]", i, j), "not a valid glob",
				"sources", i, "exclude", j)
		}
	}
	return nil
}

func (d *decoder) validateSink(doc *yaml.Node, c *Config, i int, seen, sources map[string]bool,
	factories map[string]sinks.Factory) error {
	s := &c.Sinks[i]
	key := func(k string) string { return fmt.Sprintf("sinks[%d].%s", i, k) }
	if s.Name == "" {
		return d.at(doc, key("name"), "missing required key", "sinks", i, "name")
	}
	if seen[s.Name] {
		return d.at(doc, key("name"), "duplicate sink name", "sinks", i, "name")
	}
	seen[s.Name] = true
	if s.Type == "" {
		return d.at(doc, key("type"), "missing required key (one of "+typeList(factories)+")",
			"sinks", i, "type")
	}
	f, ok := factories[s.Type]
	if !ok {
		return d.at(doc, key("type"), "unknown sink type (use one of "+typeList(factories)+")",
			"sinks", i, "type")
	}
	s.Factory, s.Defaults = f, f.Defaults
	if err := d.decodeOptions(doc, s, i); err != nil {
		return err
	}
	for j, src := range s.Sources {
		if !sources[src] {
			return d.at(doc, fmt.Sprintf("sinks[%d].sources[%d]", i, j),
				"no source has this name", "sinks", i, "sources", j)
		}
	}
	return d.checkSinkCommon(doc, s, i)
}

func (d *decoder) checkSinkCommon(doc *yaml.Node, s *Sink, i int) error {
	key := func(k string) string { return fmt.Sprintf("sinks[%d].%s", i, k) }
	lvl := s.MinLevel
	if lvl == "" {
		lvl = s.Defaults.MinLevel
	}
	if lvl != "" {
		l, ok := event.ParseLevel(lvl)
		if !ok {
			return d.at(doc, key("min_level"),
				"unknown level (use a Winston level: error, warn, info, http, verbose, debug, "+
					"silly, or a syslog level)", "sinks", i, "min_level")
		}
		s.Level, s.HasLevel = l, true
	}
	switch {
	case s.Buffer.WhenFull != "block" && s.Buffer.WhenFull != "drop_oldest":
		return d.at(doc, key("buffer.when_full"), "must be block or drop_oldest",
			"sinks", i, "buffer", "when_full")
	case s.Buffer.MaxBytes < 1<<20:
		return d.at(doc, key("buffer.max_bytes"), "must be at least 1MiB",
			"sinks", i, "buffer", "max_bytes")
	case s.Batch.MaxEvents < 0:
		return d.at(doc, key("batch.max_events"), "must not be negative",
			"sinks", i, "batch", "max_events")
	case s.Concurrency < 0 || s.Concurrency > 64:
		return d.at(doc, key("concurrency"), "must be between 1 and 64",
			"sinks", i, "concurrency")
	case s.Retry.MaxBackoff < s.Retry.InitialBackoff:
		return d.at(doc, key("retry.max_backoff"), "must not be below retry.initial_backoff",
			"sinks", i, "retry", "max_backoff")
	}
	return nil
}

// decodeOptions decodes the sink's type-specific keys strictly and validates them.
func (d *decoder) decodeOptions(doc *yaml.Node, s *Sink, i int) error {
	opts := s.Factory.NewOptions()
	node := onlyKeys(find(doc, "sinks", i), false)
	path := fmt.Sprintf("sinks[%d]", i)
	if err := d.decode(node, reflect.ValueOf(opts).Elem(), path); err != nil {
		var ce *Error
		if errors.As(err, &ce) && strings.HasPrefix(ce.Msg, "unknown key") {
			ce.Msg = fmt.Sprintf("unknown key for a %s sink%s", s.Type,
				strings.TrimPrefix(ce.Msg, "unknown key"))
		}
		return err
	}
	if err := opts.Validate(); err != nil {
		var ke *sinks.KeyError
		if errors.As(err, &ke) {
			k := strings.Split(ke.Key, ".")
			p := []any{"sinks", i}
			for _, part := range k {
				p = append(p, part)
			}
			e := d.at(doc, path+"."+ke.Key, ke.Msg, p...)
			e.Value = "" // the sink's own message says what is wrong; values may be secret
			return e
		}
		return &Error{File: d.file, Line: s.Line, Key: path, Msg: err.Error()}
	}
	s.Options = opts
	return nil
}

func typeList(factories map[string]sinks.Factory) string {
	var ts []string
	for t := range factories {
		ts = append(ts, t)
	}
	sort.Strings(ts)
	return strings.Join(ts, ", ")
}
