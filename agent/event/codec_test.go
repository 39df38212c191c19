package event

import (
	"reflect"
	"testing"
	"time"
)

func TestCodecRoundTrip(t *testing.T) {
	in := Event{
		Time:       time.Date(2026, 12, 3, 10, 4, 5, 123000000, time.UTC),
		Level:      Warn,
		RawLevel:   "warning",
		Message:    "Foydalanuvchi topilmadi 🙂\nsecond line",
		Stack:      "Error: x\n    at f (/a.js:1:2)",
		Fields:     []byte(`{"service":"crm","n":{"a":[1,2]}}`),
		Source:     "backend",
		Path:       "/var/log/app/combined.log",
		ParseError: "",
		Flags:      FlagTruncated | FlagInvalidUTF8,
	}
	b := AppendBinary(nil, &in)
	var out Event
	if err := Decode(b, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip:\n in %+v\nout %+v", in, out)
	}
	var shared Event
	if err := DecodeShared(b, &shared); err != nil || !reflect.DeepEqual(in, shared) {
		t.Fatalf("shared decode: %v\n in %+v\nout %+v", err, in, shared)
	}
	for i := 0; i < len(b); i++ {
		if err := DecodeShared(b[:i], &out); err == nil {
			t.Fatalf("shared decode of %d/%d bytes succeeded", i, len(b))
		}
		if err := Decode(b[:i], &out); err == nil {
			t.Fatalf("decode of %d/%d bytes succeeded", i, len(b))
		}
	}
}

func TestParseLevel(t *testing.T) {
	cases := map[string]Level{"error": Error, "WARN": Warn, "warning": Warn, "http": HTTP,
		"verbose": Verbose, "silly": Silly, "emerg": Emerg, "crit": Crit, "notice": Notice,
		" Info ": Info, "debug": Debug, "alert": Alert}
	for in, want := range cases {
		got, ok := ParseLevel(in)
		if !ok || got != want {
			t.Errorf("ParseLevel(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
	if _, ok := ParseLevel("loud"); ok {
		t.Error("ParseLevel accepted an unknown level")
	}
	if !Error.AtLeast(Warn) || Info.AtLeast(Warn) {
		t.Error("AtLeast ordering is wrong")
	}
}

func TestAppendTimeMatchesLayout(t *testing.T) {
	for _, tm := range []time.Time{
		time.Date(2026, 12, 3, 10, 4, 5, 123456789, time.UTC),
		time.Date(1999, 1, 1, 0, 0, 0, 0, time.FixedZone("x", 5*3600)),
		time.Date(2026, 2, 28, 23, 59, 59, 999999999, time.Local),
		time.Unix(0, 0), {},
		time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC),
	} {
		want := tm.UTC().Format(TimeLayout)
		if got := string(AppendTime(nil, tm)); got != want {
			t.Errorf("AppendTime(%v) = %s, want %s", tm, got, want)
		}
	}
}
