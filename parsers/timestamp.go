package parsers

import (
	"math"
	"strconv"
	"time"
)

// canonicalLayout is how Winston's timestamp() writes time (Date.toISOString): UTC, RFC 3339,
// milliseconds. A timestamp written exactly so is fully recovered from Event.Time.
const canonicalLayout = "2006-01-02T15:04:05.000Z07:00"

// parseTime reads a timestamp written as text. It accepts RFC 3339 (any fraction, any
// offset), "YYYY-MM-DD HH:mm:ss[.SSS]" as local time (Winston's common custom format), with
// an optional offset, and a decimal number of Unix milliseconds. canonical reports that s is
// exactly Event.Time rendered with canonicalLayout, so the text can be dropped.
func parseTime(s []byte) (t time.Time, canonical, ok bool) {
	if t, ok := parseCanonical(s); ok {
		return t, true, true
	}
	t, canonical, ok = parseOtherTime(s)
	if !ok || !inRange(t) {
		return time.Time{}, false, false
	}
	return t, canonical, true
}

func parseOtherTime(s []byte) (t time.Time, canonical, ok bool) {
	str := string(s)
	for _, layout := range [...]string{time.RFC3339, "2006-01-02 15:04:05Z07:00"} {
		if t, err := time.Parse(layout, str); err == nil {
			t = t.UTC()
			return t, t.Format(canonicalLayout) == str, true
		}
	}
	if t, err := time.ParseInLocation(time.DateTime, str, time.Local); err == nil {
		return t.UTC(), false, true
	}
	if t, ok := parseUnixMilli(s); ok {
		return t, false, true
	}
	return time.Time{}, false, false
}

// parseCanonical is the fast path for "YYYY-MM-DDTHH:MM:SS.mmmZ". It rejects dates that
// time.Date would normalise (Feb 30), so that a success always renders back to s, and years
// outside inRange.
func parseCanonical(s []byte) (time.Time, bool) {
	if len(s) != 24 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
		s[16] != ':' || s[19] != '.' || s[23] != 'Z' {
		return time.Time{}, false
	}
	year, ok1 := atoiN(s[0:4])
	month, ok2 := atoiN(s[5:7])
	day, ok3 := atoiN(s[8:10])
	hour, ok4 := atoiN(s[11:13])
	minute, ok5 := atoiN(s[14:16])
	sec, ok6 := atoiN(s[17:19])
	ms, ok7 := atoiN(s[20:23])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7) || year < minYear ||
		year > maxYear || month < 1 || month > 12 || day < 1 || day > daysIn(year, month) ||
		hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	secs := unixDays(year, month, day)*86400 + int64(hour*3600+minute*60+sec)
	return time.Unix(secs, int64(ms)*1e6).UTC(), true
}

// unixDays returns the days from 1970-01-01 to the given date of the proleptic Gregorian
// calendar (year >= 1), counting years from March so that leap days come last.
func unixDays(year, month, day int) int64 {
	if month <= 2 {
		year--
	}
	era := year / 400
	yoe := year - era*400                          // year of the 400-year era
	doy := (153*((month+9)%12)+2)/5 + day - 1      // day of the March-based year
	doe := yoe*365 + yoe/4 - yoe/100 + doy         // day of the era
	return int64(era)*146097 + int64(doe) - 719468 // 719468: days from 0000-03-01 to 1970
}

func atoiN(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// maxUnixMilli keeps a number of milliseconds inside what Event.Time's UnixNano encoding
// holds (years 1678 to 2262).
const maxUnixMilli = 9e12

// inRange reports whether t survives the event codec, which stores UnixNano. A timestamp
// outside is treated as unparseable, so its text is kept in Fields.
func inRange(t time.Time) bool {
	y := t.Year()
	return y >= minYear && y <= maxYear
}

const minYear, maxYear = 1679, 2261

// parseUnixMilli reads a JSON number (or decimal text) as Unix milliseconds.
func parseUnixMilli(b []byte) (time.Time, bool) {
	if len(b) == 0 || len(b) > 40 {
		return time.Time{}, false
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsNaN(f) || math.Abs(f) > maxUnixMilli {
		return time.Time{}, false
	}
	ms := math.Floor(f)
	ns := int64(math.Round((f - ms) * 1e6))
	return time.UnixMilli(int64(ms)).Add(time.Duration(ns)).UTC(), true
}
