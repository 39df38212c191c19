package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// Error is a configuration problem at one key. Its text names the file, the line, the key
// path and, where there is one, the rejected value, e.g.
//
//	config.yaml:12: sinks[0].batch.max_events: not a whole number (got "ten")
//
// Values of keys that hold secrets are never shown.
type Error struct {
	File  string
	Line  int
	Key   string
	Msg   string
	Value string // the rejected value, already redacted when secret; "" when none
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(":")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "%d:", e.Line)
	}
	if b.Len() > 0 {
		b.WriteString(" ")
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	if e.Value != "" {
		fmt.Fprintf(&b, " (got %q)", e.Value)
	}
	return b.String()
}

// secretKeys are option keys whose values are credentials and never echoed.
var secretKeys = map[string]bool{"dsn": true, "source_token": true, "token": true,
	"password": true, "headers": true, "authorization": true, "api_key": true}

func isSecretKey(path string) bool {
	for _, part := range strings.Split(path, ".") {
		part = strings.ToLower(part)
		if i := strings.IndexByte(part, '['); i >= 0 {
			part = part[:i]
		}
		if secretKeys[part] {
			return true
		}
	}
	return false
}

// decoder decodes YAML nodes into structs strictly: every key must match a `yaml` tag.
type decoder struct {
	file string
}

func (d *decoder) errAt(n *yaml.Node, key, msg string) *Error {
	e := &Error{File: d.file, Key: key, Msg: msg}
	if n != nil {
		e.Line = n.Line
		if n.Kind == yaml.ScalarNode && !isSecretKey(key) {
			e.Value = n.Value
		}
	}
	return e
}

// fieldsOf maps a struct type's yaml keys to field indexes; inline fields are flattened.
func fieldsOf(t reflect.Type) map[string][]int {
	m := map[string][]int{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		if tag == "-" || !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(opts, "inline") && f.Type.Kind() == reflect.Struct {
			for k, idx := range fieldsOf(f.Type) {
				m[k] = append([]int{i}, idx...)
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		m[name] = []int{i}
	}
	return m
}

var unmarshalerType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()

// decode decodes n into the value v points to, naming keys by path.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) error {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	t := v.Type()
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return d.leaf(n, v, path)
	}
	switch {
	case t.Kind() == reflect.Struct && t.String() != "time.Time":
		return d.decodeStruct(n, v, path)
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		if n.Kind != yaml.SequenceNode {
			return d.errAt(n, path, "must be a list")
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, c := range n.Content {
			if err := d.decode(c, s.Index(i), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		v.Set(s)
		return nil
	case t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct:
		p := reflect.New(t.Elem())
		if err := d.decode(n, p.Elem(), path); err != nil {
			return err
		}
		v.Set(p)
		return nil
	}
	return d.leaf(n, v, path)
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) error {
	if n.Kind != yaml.MappingNode {
		if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
			return nil
		}
		return d.errAt(n, path, "must be a mapping of keys to values")
	}
	fields := fieldsOf(v.Type())
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		kp := joinKey(path, k.Value)
		if seen[k.Value] {
			return &Error{File: d.file, Line: k.Line, Key: kp, Msg: "duplicate key"}
		}
		seen[k.Value] = true
		idx, ok := fields[k.Value]
		if !ok {
			return &Error{File: d.file, Line: k.Line, Key: kp,
				Msg: "unknown key" + suggest(k.Value, fields)}
		}
		if err := d.decode(val, v.FieldByIndex(idx), kp); err != nil {
			return err
		}
	}
	return nil
}

// leaf decodes a scalar-like value with yaml.v3 and rewrites its type errors.
func (d *decoder) leaf(n *yaml.Node, v reflect.Value, path string) error {
	err := n.Decode(v.Addr().Interface())
	if err == nil {
		return nil
	}
	var te *yaml.TypeError
	msg := err.Error()
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	return d.errAt(n, path, friendlyTypeError(msg, v.Type()))
}

var yamlLinePrefix = regexp.MustCompile(`^line \d+: `)

func friendlyTypeError(msg string, t reflect.Type) string {
	msg = yamlLinePrefix.ReplaceAllString(msg, "")
	if !strings.HasPrefix(msg, "cannot unmarshal") {
		return msg
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint, reflect.Uint64:
		if t.String() == "time.Duration" {
			return "not a duration (use e.g. 500ms, 10s, 5m, 720h)"
		}
		return "not a whole number"
	case reflect.Bool:
		return "not true or false"
	case reflect.String:
		return "must be a single value (a string)"
	case reflect.Slice:
		return "must be a list"
	case reflect.Map:
		return "must be a mapping of keys to values"
	}
	return "wrong type: " + msg
}

func joinKey(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

func suggest(k string, fields map[string][]int) string {
	best, bestD := "", 3
	for f := range fields {
		if dd := editDistance(k, f); dd < bestD {
			best, bestD = f, dd
		}
	}
	if best == "" {
		return ""
	}
	return " (did you mean `" + best + "`?)"
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev = cur
	}
	return prev[len(b)]
}

var envRef = regexp.MustCompile(`\$\{([^}]*)\}`)

// expandEnv replaces ${VAR} and ${VAR:-default} in every scalar value under n. An unset
// variable without a default is an error naming the key and line (never the value around it).
func (d *decoder) expandEnv(n *yaml.Node, path string) error {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for i, c := range n.Content {
			p := path
			if n.Kind == yaml.SequenceNode {
				p = fmt.Sprintf("%s[%d]", path, i)
			}
			if err := d.expandEnv(c, p); err != nil {
				return err
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if err := d.expandEnv(n.Content[i+1], joinKey(path, n.Content[i].Value)); err != nil {
				return err
			}
		}
	case yaml.ScalarNode:
		return d.expandScalar(n, path)
	}
	return nil
}

func (d *decoder) expandScalar(n *yaml.Node, path string) error {
	if !strings.Contains(n.Value, "${") {
		return nil
	}
	var missing string
	out := envRef.ReplaceAllStringFunc(n.Value, func(ref string) string {
		name, def, hasDef := strings.Cut(ref[2:len(ref)-1], ":-")
		if v, ok := os.LookupEnv(name); ok && (v != "" || !hasDef) {
			return v
		}
		if hasDef {
			return def
		}
		if missing == "" {
			missing = name
		}
		return ""
	})
	if missing != "" {
		return &Error{File: d.file, Line: n.Line, Key: path,
			Msg: "environment variable " + missing + " is not set (use ${" + missing +
				":-default} for a default)"}
	}
	n.Value = out
	if n.Tag != "!!str" && n.Style == 0 {
		// Let the expanded text be typed again: ${N:-5} may fill an integer key.
		n.Tag = ""
	}
	return nil
}
