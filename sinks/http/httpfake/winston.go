package httpfake

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/winship/winship/agent/event"
)

// ReadWinston reads a file of Winston json() lines (timestamp() + errors() + json()) into
// events, as the json parser would: timestamp, level, message and stack become the event's
// own; every other key stays in Fields, in the order written, with its value as written.
// Source is set to source and Path to the file. It is for building test batches from real
// output without depending on the parsers package.
func ReadWinston(path, source string) ([]*event.Event, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var events []*event.Event
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for n := 1; sc.Scan(); n++ {
		e, err := WinstonEvent(sc.Bytes())
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		e.Source, e.Path = source, path
		events = append(events, e)
	}
	return events, sc.Err()
}

// WinstonEvent turns one Winston json() line into an event (see ReadWinston).
func WinstonEvent(line []byte) (*event.Event, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object")
	}
	e := &event.Event{}
	fields := []byte{'{'}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("key %q: %w", key, err)
		}
		if own(e, key, raw) {
			continue
		}
		if len(fields) > 1 {
			fields = append(fields, ',')
		}
		k, _ := json.Marshal(key)
		fields = append(append(append(fields, k...), ':'), raw...)
	}
	if len(fields) > 1 {
		e.Fields = append(fields, '}')
	}
	return e, nil
}

// own stores the keys the event holds itself and reports whether key was one of them.
func own(e *event.Event, key string, raw json.RawMessage) bool {
	var s string
	switch key {
	case "timestamp", "level", "message", "stack":
		if json.Unmarshal(raw, &s) != nil {
			return false
		}
	default:
		return false
	}
	switch key {
	case "timestamp":
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return false
		}
		e.Time = t
	case "level":
		lv, ok := event.ParseLevel(s)
		if !ok {
			return false
		}
		e.Level = lv
	case "message":
		e.Message = s
	case "stack":
		e.Stack = s
	}
	return true
}
