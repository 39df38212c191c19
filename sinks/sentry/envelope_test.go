package sentry

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/winship/winship/agent/event"
)

// TestEnvelopeParsedBySentryJS hands our envelope bytes to @sentry/core's parseEnvelope
// and requires the header, the item header and the payload to come back intact.
func TestEnvelopeParsedBySentryJS(t *testing.T) {
	m := testMapper(nil)
	tricky := errEvent("multi\nline message with \"quotes\", emoji 🚀 and Привет", 1)
	tricky.Fields = []byte(`{"note":"tab\there","uz":"Oʻzbekcha","nested":{"a":[1,2,{"b":null}]}}`)
	frontend := &event.Event{Time: time.Unix(1700000000, 5e8), Level: event.Error,
		Message: "Frontend Error: boom", Fields: []byte(`{"url":"https://x.test/a?b=c","userAgent":"UA","ip":"10.0.0.1"}`)}
	events := []*event.Event{tricky, frontend, errEvent("plain", 2)}

	var envs [][]byte
	var payloads [][]byte
	sentAt := time.Date(2026, 12, 3, 15, 34, 35, 123456789, time.UTC)
	for _, e := range events {
		payload := mustJSON(m.mapEvent(e))
		var buf bytes.Buffer
		encodeEnvelope(&buf, eventID(e), sentAt, payload)
		envs = append(envs, buf.Bytes())
		payloads = append(payloads, payload)
	}
	out := runNode(t, "envelope.js", mustJSON(envs))
	var parsed []struct {
		Header map[string]any `json:"header"`
		Items  []struct {
			Header  map[string]any `json:"header"`
			Payload map[string]any `json:"payload"`
		} `json:"items"`
	}
	if err := json.Unmarshal(out, &parsed); err != nil {
		t.Fatalf("decode envelope.js output: %v\n%s", err, out)
	}
	if len(parsed) != len(events) {
		t.Fatalf("%d envelopes parsed, want %d", len(parsed), len(events))
	}
	for i, p := range parsed {
		if p.Header["event_id"] != eventID(events[i]) ||
			p.Header["sent_at"] != "2026-12-03T15:34:35.123456789Z" {
			t.Errorf("envelope %d header %v", i, p.Header)
		}
		sdk, _ := p.Header["sdk"].(map[string]any)
		if sdk["name"] != sdkName || sdk["version"] != Version {
			t.Errorf("envelope %d sdk %v", i, sdk)
		}
		if len(p.Items) != 1 {
			t.Fatalf("envelope %d has %d items, want 1", i, len(p.Items))
		}
		it := p.Items[0]
		if it.Header["type"] != "event" || it.Header["length"] != float64(len(payloads[i])) {
			t.Errorf("envelope %d item header %v", i, it.Header)
		}
		var want map[string]any
		if err := json.Unmarshal(payloads[i], &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(it.Payload, want) {
			t.Errorf("envelope %d payload changed:\n got  %v\n want %v", i, it.Payload, want)
		}
	}
	if !strings.Contains(string(out), "Привет") {
		t.Error("non-ASCII text did not survive")
	}
}
