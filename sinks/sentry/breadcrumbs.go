package sentry

import (
	"encoding/json"
	"sync"
	"time"

	sentrygo "github.com/getsentry/sentry-go"

	"github.com/winship/winship/agent/event"
)

// Bounds on what one breadcrumb keeps, so that a chatty source cannot grow the sink and
// an error with 20 breadcrumbs stays far below Sentry's 1 MiB (200 KB gzipped) event cap.
const (
	// maxCrumbMessage bounds a breadcrumb's message in bytes, cutMark included.
	maxCrumbMessage = 1024
	// maxCrumbFields bounds a breadcrumb's data: larger fields keep their keys in order
	// with big values cut (see boundedContext) until the JSON fits.
	maxCrumbFields = 2048
	// cutMark ends a breadcrumb message that was cut, so the reader sees it is not whole.
	cutMark = "…"
	// crumbHistory is how many entries per wanted breadcrumb a source keeps. An error is
	// sent some time after it was written, while later entries keep arriving; keeping more
	// than N lets the error still find the N entries written before it.
	crumbHistory = 8
)

// crumb is a copy of what a breadcrumb needs from an entry below min_level.
type crumb struct {
	time    time.Time
	level   event.Level
	source  string
	message string
	fields  []byte
}

// crumbRing keeps the latest entries of one source, oldest overwritten first.
type crumbRing struct {
	items []crumb
	next  int // where the next entry goes
	full  bool
}

// breadcrumbs records entries below min_level per source and hands the ones written just
// before an error to that error. Safe for concurrent use.
type breadcrumbs struct {
	max    int
	window time.Duration

	mu      sync.Mutex
	sources map[string]*crumbRing
}

func newBreadcrumbs(max int, window time.Duration) *breadcrumbs {
	return &breadcrumbs{max: max, window: window, sources: map[string]*crumbRing{}}
}

// observe records e. It copies what it keeps: e may be reused after it returns.
func (b *breadcrumbs) observe(e *event.Event) {
	if b.max == 0 {
		return
	}
	c := crumb{time: e.Time, level: e.Level, source: e.Source,
		message: cloneMarked(e.Message, maxCrumbMessage), fields: crumbFields(e.Fields)}
	b.mu.Lock()
	defer b.mu.Unlock()
	r := b.sources[e.Source]
	if r == nil {
		r = &crumbRing{items: make([]crumb, b.max*crumbHistory)}
		b.sources[e.Source] = r
	}
	r.items[r.next] = c
	r.next++
	if r.next == len(r.items) {
		r.next, r.full = 0, true
	}
}

// before returns up to max breadcrumbs of source written at or before t and no earlier
// than t minus the window, oldest first.
func (b *breadcrumbs) before(source string, t time.Time) []*sentrygo.Breadcrumb {
	if b.max == 0 {
		return nil
	}
	var picked []crumb
	b.mu.Lock()
	if r := b.sources[source]; r != nil {
		picked = r.newestBefore(t, t.Add(-b.window), b.max)
	}
	b.mu.Unlock()
	if len(picked) == 0 {
		return nil
	}
	out := make([]*sentrygo.Breadcrumb, len(picked))
	for i := range picked {
		out[len(picked)-1-i] = breadcrumbFrom(&picked[i])
	}
	return out
}

// newestBefore walks from the newest entry back and collects up to n entries whose time
// lies in [from, to], newest first.
func (r *crumbRing) newestBefore(to, from time.Time, n int) []crumb {
	size := r.next
	if r.full {
		size = len(r.items)
	}
	var out []crumb
	for k := 0; k < size && len(out) < n; k++ {
		i := (r.next - 1 - k + len(r.items)) % len(r.items)
		c := r.items[i]
		if c.time.After(to) {
			continue
		}
		if c.time.Before(from) {
			break
		}
		out = append(out, c)
	}
	return out
}

// cloneMarked copies s (so the copy does not pin a larger buffer) cut to at most n bytes,
// ending in cutMark when it was cut.
func cloneMarked(s string, n int) string {
	if len(s) <= n {
		return string(append([]byte(nil), s...))
	}
	return cutUTF8(s, n-len(cutMark)) + cutMark
}

// crumbFields copies the entry's fields for a breadcrumb. Fields over maxCrumbFields are
// decoded and bounded (values cut, keys past the limit counted), which costs a decode
// only for the rare large entry.
func crumbFields(raw []byte) []byte {
	if len(raw) <= maxCrumbFields {
		return append([]byte(nil), raw...)
	}
	fields, _ := decodeFields(raw)
	b, err := json.Marshal(boundedContext(fields, maxCrumbFields))
	if err != nil {
		return nil
	}
	return b
}
