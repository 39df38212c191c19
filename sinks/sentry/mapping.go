package sentry

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"sort"
	"strconv"
	"strings"

	sentrygo "github.com/getsentry/sentry-go"

	"github.com/winship/winship/agent/event"
)

// Limits Sentry applies to an event; we apply them first so nothing is cut unpredictably.
const (
	maxMessage    = 8192
	maxTagKey     = 32
	maxTagValue   = 200
	maxContext    = 8 << 10
	frontendTitle = "Frontend Error:"
)

// Context names.
const (
	ctxWinston  = "winston"  // the entry's other keys
	ctxFrontend = "frontend" // the browser's `context` object of a frontend error
	ctxWinship  = "winship"  // where the entry came from, and what winship did to it
)

// frontendKeys are the keys of a frontend error that become request and user data.
var frontendKeys = []string{"url", "userAgent", "ip", "context"}

// mapper turns winship events into Sentry events. It is immutable after construction and
// safe for concurrent use.
type mapper struct {
	host        string
	environment string
	release     string
	dist        string
	tags        map[string]string
	tagFields   []string
}

func newMapper(host string, o *Options) *mapper {
	m := &mapper{host: host, environment: o.Environment, release: o.Release,
		dist: o.Dist, tagFields: o.TagFields, tags: map[string]string{}}
	for k, v := range o.Tags {
		m.tags[cutRunes(k, maxTagKey)] = tagValue(v)
	}
	return m
}

// mapEvent builds the Sentry event for e. It does not modify e.
func (m *mapper) mapEvent(e *event.Event) *sentrygo.Event {
	fields, fieldsErr := decodeFields(e.Fields)
	ev := &sentrygo.Event{
		EventID:     sentrygo.EventID(eventID(e)),
		Timestamp:   e.Time.UTC(),
		Level:       sentryLevel(e.Level),
		Logger:      e.Source,
		ServerName:  m.host,
		Platform:    "node",
		Environment: m.environment,
		Release:     m.release,
		Dist:        m.dist,
		Message:     cutUTF8(e.Message, maxMessage),
		Sdk:         sentrygo.SdkInfo{Name: sdkName, Version: Version},
		Tags:        m.eventTags(fields),
		Contexts:    map[string]sentrygo.Context{},
	}
	if isFrontend(e.Message, fields) {
		applyFrontend(ev, fields)
	}
	if e.Stack != "" {
		ev.Exception = []sentrygo.Exception{exceptionFrom(e.Stack)}
	}
	if w := boundedContext(fields, maxContext); len(w) > 0 {
		ev.Contexts[ctxWinston] = w
	}
	ev.Contexts[ctxWinship] = winshipContext(e, fieldsErr)
	return ev
}

// sentryLevel maps Winston's npm and syslog levels to Sentry's five.
func sentryLevel(l event.Level) sentrygo.Level {
	switch l {
	case event.Emerg, event.Alert, event.Crit:
		return sentrygo.LevelFatal
	case event.Error:
		return sentrygo.LevelError
	case event.Warn:
		return sentrygo.LevelWarning
	case event.Notice, event.Info, event.HTTP, event.Verbose:
		return sentrygo.LevelInfo
	}
	return sentrygo.LevelDebug
}

// eventID derives the event's id from its content (time, level, message, stack and other
// keys), so that the copy of an entry read from a second file, or sent again after a
// crash, carries the same id and Sentry and GlitchTip drop it.
func eventID(e *event.Event) string {
	h := sha256.New()
	var buf [9]byte
	binary.BigEndian.PutUint64(buf[:8], uint64(e.Time.UnixNano()))
	buf[8] = byte(e.Level)
	h.Write(buf[:])
	for _, s := range []string{e.Message, e.Stack} {
		binary.BigEndian.PutUint64(buf[:8], uint64(len(s)))
		h.Write(buf[:8])
		h.Write([]byte(s))
	}
	h.Write(e.Fields)
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])[:16])
}

// decodeFields reads the entry's other keys. A value that is not a JSON object (it should
// always be one) is kept whole under "_raw" and the problem reported.
func decodeFields(raw []byte) (map[string]json.RawMessage, string) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, ""
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		s, _ := json.Marshal(cutUTF8(string(raw), maxContext/2))
		return map[string]json.RawMessage{"_raw": s}, "fields are not a JSON object: " + err.Error()
	}
	return m, ""
}

// eventTags merges the static tags with the tag_fields found in the entry.
func (m *mapper) eventTags(fields map[string]json.RawMessage) map[string]string {
	tags := make(map[string]string, len(m.tags)+len(m.tagFields)+1)
	for k, v := range m.tags {
		tags[k] = v
	}
	for _, name := range m.tagFields {
		if raw, ok := fields[name]; ok {
			if v := tagValue(scalarText(raw)); v != "" {
				tags[cutRunes(name, maxTagKey)] = v
			}
		}
	}
	return tags
}

// scalarText is a JSON value as text: strings unquoted, null empty, others as written.
func scalarText(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	}
	return string(raw)
}

// tagValue makes v a valid tag value: one line, at most 200 characters.
func tagValue(v string) string {
	v = strings.TrimSpace(strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == '\t' {
			return ' '
		}
		return r
	}, v))
	return cutRunes(v, maxTagValue)
}

// cutRunes cuts s to at most n characters.
func cutRunes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := 0
	for pos := range s {
		if i == n {
			return s[:pos]
		}
		i++
	}
	return s
}

// isFrontend reports an entry logged for the browser: the "Frontend Error:" prefix, or
// the url and userAgent keys together.
func isFrontend(msg string, fields map[string]json.RawMessage) bool {
	if strings.HasPrefix(msg, frontendTitle) {
		return true
	}
	_, url := fields["url"]
	_, ua := fields["userAgent"]
	return url && ua
}

// applyFrontend moves the browser's url, user agent, ip and context into the request,
// user and a context of their own, and marks the event as coming from the browser.
func applyFrontend(ev *sentrygo.Event, fields map[string]json.RawMessage) {
	ev.Platform = "javascript"
	ev.Tags["origin"] = "browser"
	url, ua := scalarText(fields["url"]), scalarText(fields["userAgent"])
	if url != "" || ua != "" {
		ev.Request = &sentrygo.Request{URL: url}
		if ua != "" {
			ev.Request.Headers = map[string]string{"User-Agent": ua}
		}
	}
	ev.User.IPAddress = scalarText(fields["ip"])
	if raw, ok := fields["context"]; ok {
		ev.Contexts[ctxFrontend] = objectContext(raw)
	}
	for _, k := range frontendKeys {
		delete(fields, k)
	}
}

// objectContext turns a JSON value into a context: an object's keys, else {"value": v}.
func objectContext(raw json.RawMessage) sentrygo.Context {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) == nil && m != nil {
		return boundedContext(m, maxContext)
	}
	return boundedContext(map[string]json.RawMessage{"value": raw}, maxContext)
}

// boundedContext builds a context of the fields in key order whose JSON stays within
// limit bytes: a value over a quarter of the limit, or too large for what is left, is cut
// to a string, and keys past the limit are counted under "_winship_dropped_keys".
func boundedContext(fields map[string]json.RawMessage, limit int) sentrygo.Context {
	if len(fields) == 0 {
		return nil
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	ctx := make(sentrygo.Context, len(keys))
	left := limit - 64 // room for the braces and the dropped-keys note
	dropped := 0
	bigValue := limit / 4 // no one value may crowd out the others
	for _, k := range keys {
		raw := fields[k]
		need := len(k) + len(raw) + 4
		switch {
		case need <= left && len(raw) <= bigValue:
			ctx[k] = raw
		case left > len(k)+96:
			cut := cutUTF8(string(raw), min(bigValue, left-len(k)-64)) + "…[truncated]"
			ctx[k] = cut
			need = len(k) + len(cut) + 16
		default:
			dropped++
			continue
		}
		left -= need
	}
	if dropped > 0 {
		ctx["_winship_dropped_keys"] = dropped
	}
	return ctx
}

// exceptionFrom builds the exception of a V8 stack: type and value from its error line,
// frames oldest first with the throwing frame last, at most maxFrames of them.
func exceptionFrom(stack string) sentrygo.Exception {
	ps := parseStack(stack)
	ex := sentrygo.Exception{
		Type:      ps.Type,
		Value:     cutUTF8(ps.Value, maxMessage),
		Mechanism: &sentrygo.Mechanism{Type: "winston", Handled: sentrygo.Pointer(true)},
	}
	if ps.Code != "" {
		ex.Mechanism.Data = map[string]any{"code": ps.Code}
	}
	if len(ps.Frames) > 0 {
		frames, omitted := trimFrames(ps.Frames, maxFrames)
		ex.Stacktrace = &sentrygo.Stacktrace{Frames: frames, FramesOmitted: omitted}
	}
	return ex
}

// winshipContext says where the entry was read and what happened to it on the way.
func winshipContext(e *event.Event, fieldsErr string) sentrygo.Context {
	c := sentrygo.Context{}
	if e.Path != "" {
		c["file"] = e.Path
	}
	if e.RawLevel != "" {
		c["raw_level"] = e.RawLevel
	}
	if e.ParseError != "" {
		c["parse_error"] = e.ParseError
	}
	if fieldsErr != "" {
		c["fields_error"] = fieldsErr
	}
	if f := flagNames(e.Flags); f != "" {
		c["flags"] = f
	}
	return c
}

func flagNames(f event.Flags) string {
	var names []string
	for _, fl := range []struct {
		flag event.Flags
		name string
	}{
		{event.FlagPartial, "partial"}, {event.FlagTruncated, "truncated"},
		{event.FlagInvalidUTF8, "invalid_utf8"}, {event.FlagNoTimestamp, "no_timestamp"},
	} {
		if f&fl.flag != 0 {
			names = append(names, fl.name)
		}
	}
	return strings.Join(names, ",")
}

// breadcrumbFrom turns an entry below min_level into a breadcrumb.
func breadcrumbFrom(c *crumb) *sentrygo.Breadcrumb {
	b := &sentrygo.Breadcrumb{
		Type:      "default",
		Category:  c.source,
		Message:   c.message,
		Level:     sentryLevel(c.level),
		Timestamp: c.time,
	}
	if fields, _ := decodeFields(c.fields); len(fields) > 0 {
		b.Data = make(map[string]interface{}, len(fields))
		for k, v := range fields {
			b.Data[k] = v
		}
	}
	return b
}

// heldBackNote marks an event that stands for n others of its group held back by the
// quota or spike guard.
func heldBackNote(ev *sentrygo.Event, n int64) {
	if n <= 0 {
		return
	}
	ev.Tags["winship.held_back"] = strconv.FormatInt(n, 10)
	w := ev.Contexts[ctxWinship]
	if w == nil {
		w = sentrygo.Context{}
		ev.Contexts[ctxWinship] = w
	}
	w["held_back"] = n
}
