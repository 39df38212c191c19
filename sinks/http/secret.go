package httpsink

import "log/slog"

// Secret is a configuration string that must never be printed: a token, an Authorization
// header. Every formatting path (fmt's %v, %s, %q and %#v, slog, JSON, YAML) shows
// "[redacted]"; use string(s) only where the value is sent.
type Secret string

const redacted = "[redacted]"

// String returns "[redacted]", or "" for an empty secret so that "missing" stays visible.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return `httpsink.Secret("` + s.String() + `")` }

// LogValue keeps slog from printing the value.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText keeps encoders (JSON, YAML) from writing the value.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
