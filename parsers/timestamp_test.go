package parsers

import (
	"testing"
	"time"
)

// TestParseCanonicalEveryDay checks the fast path against the time package for every day
// from 1680 to 2260 (leap years, centuries, the epoch), at a varying time of day.
func TestParseCanonicalEveryDay(t *testing.T) {
	start := time.Date(1680, 1, 1, 0, 0, 0, 0, time.UTC)
	for d := 0; d < 581*366; d++ {
		want := start.AddDate(0, 0, d).Add(time.Duration(d%86400)*time.Second +
			time.Duration(d%1000)*time.Millisecond)
		if want.Year() > 2260 {
			break
		}
		text := want.Format(canonicalLayout)
		got, canonical, ok := parseTime([]byte(text))
		if !ok || !canonical || !got.Equal(want) || got.Location() != time.UTC {
			t.Fatalf("%s: got %v %v %v", text, got, canonical, ok)
		}
	}
}

func TestParseCanonicalRejects(t *testing.T) {
	for _, s := range []string{"2026-02-29T00:00:00.000Z", "2024-02-30T00:00:00.000Z",
		"2026-13-01T00:00:00.000Z", "2026-00-01T00:00:00.000Z", "2026-01-00T00:00:00.000Z",
		"2026-04-31T00:00:00.000Z", "2026-01-01T24:00:00.000Z", "2026-01-01T00:60:00.000Z",
		"2026-01-01T00:00:60.000Z", "2026-01-01T00:00:00.00xZ", "0000-01-01T00:00:00.000Z",
		"2026-01-01t00:00:00.000Z", "2026-01-01T00:00:00.000z"} {
		if got, ok := parseCanonical([]byte(s)); ok {
			t.Errorf("%s: accepted as %v", s, got)
		}
	}
	if _, _, ok := parseTime([]byte("2024-02-29T23:59:59.999Z")); !ok {
		t.Error("leap day rejected")
	}
}
