package sentry

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// Reasons an event is held back instead of sent.
const (
	reasonQuota = "quota"
	reasonSpike = "spike"
)

const (
	// maxHeldGroups bounds the groups whose held-back counts are remembered, in memory
	// and in the state file; the group held back least recently goes first.
	maxHeldGroups = 4096
	// maxSpikeGroups bounds the issues with a spike window of the current minute.
	maxSpikeGroups = 1024
	// maxQuotaChunk bounds how many events one write of the state file reserves.
	maxQuotaChunk = 100
)

// errGuardClosed is returned by admit after close: nothing may be reserved any more.
var errGuardClosed = errors.New("sentry guard closed")

// guard decides whether an event may be sent under the quota and the spike limit.
//
// A send first takes a ticket (admit), which reserves a place in both limits, and then
// either commits it (the server accepted the event: the place is counted) or releases it
// (the send failed: the place is given back, in memory). Only accepted events count.
//
// The quota is reserved ahead in the state file (write-ahead): before an event may use a
// place that the file does not yet cover, admit raises the file's reservation by a chunk
// (a thousandth of max_events, 1 to 100) and writes it durably. A restart counts the whole
// saved reservation as used, so a crash at any instant never lets the quota be exceeded;
// it leaves at most one chunk unused. Held-back counts and the accepted count are saved
// at most once a second and on close. Spike windows are kept in memory only: a restart
// starts a fresh minute for every issue, and those events still count against the quota.
//
// Safe for concurrent use. Writes of the state file happen under the guard's lock.
type guard struct {
	maxEvents int
	period    time.Duration
	chunk     int
	spikeMax  int
	now       func() time.Time
	log       *slog.Logger
	path      string // guard state file; "" keeps the state in memory only

	mu          sync.Mutex
	start       time.Time // start of the current quota period
	count       int       // events of the period the server accepted
	inflight    int       // events of the period admitted and not answered yet
	reserved    int       // events of the period the state file allows; count+inflight <= reserved
	warnedStart time.Time // quota period whose first overflow was logged
	spikes      map[string]*spikeWindow
	held        *heldBacks
	dirty       bool
	lastSave    time.Time // wall clock of the last write, for the save timer
	saveTimer   *time.Timer
	closed      bool

	evicted    atomic.Int64 // held-back groups evicted to keep maxHeldGroups
	saveErrors atomic.Int64 // failed writes of the state file (reservations included)
}

// spikeWindow counts one issue's events in one minute.
type spikeWindow struct {
	start    time.Time
	count    int // accepted
	inflight int // admitted and not answered yet
	warned   bool
}

// ticket is an admitted send.
type ticket struct {
	group    string
	heldBack int64        // held-back events of the group this send reports
	quota    bool         // counts against the quota of period
	period   time.Time    // the quota period it was admitted in
	window   *spikeWindow // the spike window it was admitted in, nil when the guard is off
}

func newGuard(q Quota, s Spike, stateDir string, now func() time.Time, log *slog.Logger) *guard {
	g := &guard{maxEvents: q.MaxEvents, period: q.Period, chunk: quotaChunk(q.MaxEvents),
		spikeMax: s.MaxPerMinute, now: now, log: log, spikes: map[string]*spikeWindow{},
		held: newHeldBacks(maxHeldGroups)}
	if stateDir != "" {
		g.path = filepath.Join(stateDir, guardStateFile)
	}
	g.load()
	return g
}

// quotaChunk is how many events one reservation write covers: a thousandth of the quota,
// 1 to maxQuotaChunk, so a period takes at most about a thousand writes.
func quotaChunk(maxEvents int) int {
	return min(max(maxEvents/1000, 1), maxQuotaChunk)
}

// admit asks to send one event of group. It returns a ticket to commit or release; or the
// reason the event is held back (it is then counted for its group); or an error when the
// quota could not be reserved in the state file, and the event must not be sent now.
func (g *guard) admit(group string) (ticket, string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return ticket{}, "", errGuardClosed
	}
	now := g.now()
	var w *spikeWindow
	if g.spikeMax > 0 {
		w = g.spikeWindow(group, now)
		if w.count+w.inflight >= g.spikeMax {
			g.holdBack(group)
			g.warnSpike(group, w)
			return ticket{}, reasonSpike, nil
		}
	}
	if g.maxEvents > 0 {
		g.rollPeriod(now)
		if g.count+g.inflight >= g.maxEvents {
			g.holdBack(group)
			g.warnQuota()
			return ticket{}, reasonQuota, nil
		}
		if err := g.reserve(); err != nil {
			return ticket{}, "", err
		}
		g.inflight++
	}
	t := ticket{group: group, quota: g.maxEvents > 0, period: g.start, window: w}
	if w != nil {
		w.inflight++
	}
	if t.heldBack = g.held.take(group); t.heldBack > 0 {
		g.markDirty()
	}
	return t, "", nil
}

// reserve makes sure the state file allows one more event of the period before it is
// sent: when count+inflight has reached the saved reservation, the reservation grows by
// a chunk and the file is written, fsynced, before admit returns.
func (g *guard) reserve() error {
	if g.count+g.inflight < g.reserved {
		return nil
	}
	old := g.reserved
	g.reserved = min(g.maxEvents, g.count+g.inflight+g.chunk)
	if err := g.writeLocked(); err != nil {
		// The file holds old or more; either way it covers every event admitted so far.
		g.reserved = old
		g.saveErrors.Add(1)
		return fmt.Errorf("reserve sentry quota: %w", err)
	}
	return nil
}

// holdBack counts one held-back event of group.
func (g *guard) holdBack(group string) {
	g.addHeld(group, 1)
}

func (g *guard) addHeld(group string, n int64) {
	if g.held.add(group, n) {
		g.evicted.Add(1)
	}
	g.markDirty()
}

func (g *guard) warnSpike(group string, w *spikeWindow) {
	if w.warned {
		return
	}
	w.warned = true
	g.log.Warn("spike guard is holding back events of one issue for the rest of the minute",
		"group", group, "max_per_minute", g.spikeMax)
}

func (g *guard) warnQuota() {
	if g.warnedStart.Equal(g.start) {
		return
	}
	g.warnedStart = g.start
	g.log.Warn("sentry quota reached: events are held back, counted and written to the "+
		"overflow file until the period ends", "max_events", g.maxEvents,
		"period_ends", g.start.Add(g.period).UTC().Format(time.RFC3339))
}

// spikeWindow returns group's window for the current minute. A new window replaces an
// old one; tickets of the old one keep their own pointer, so they cannot disturb it.
func (g *guard) spikeWindow(group string, now time.Time) *spikeWindow {
	w := g.spikes[group]
	if w != nil && now.Sub(w.start) < time.Minute {
		return w
	}
	if w == nil && len(g.spikes) >= maxSpikeGroups {
		g.sweepSpikes(now)
	}
	w = &spikeWindow{start: now}
	g.spikes[group] = w
	return w
}

// sweepSpikes drops the windows of past minutes and, when more than maxSpikeGroups issues
// are active within one minute, the oldest window (that minute starts over).
func (g *guard) sweepSpikes(now time.Time) {
	oldest := ""
	for k, w := range g.spikes {
		switch {
		case now.Sub(w.start) >= time.Minute:
			delete(g.spikes, k)
		case oldest == "" || w.start.Before(g.spikes[oldest].start):
			oldest = k
		}
	}
	if len(g.spikes) >= maxSpikeGroups {
		delete(g.spikes, oldest)
	}
}

// rollPeriod starts a new quota period when the current one has ended. Periods follow
// each other from the first start, so a restart does not move them. Tickets of the old
// period are answered against it and do not touch the new one.
func (g *guard) rollPeriod(now time.Time) {
	if g.period <= 0 || now.Before(g.start.Add(g.period)) {
		return
	}
	n := now.Sub(g.start) / g.period
	g.start = g.start.Add(n * g.period)
	g.count, g.inflight, g.reserved = 0, 0, 0
	g.markDirty()
}

// commit counts an admitted send that the server accepted.
func (g *guard) commit(t ticket) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if t.window != nil {
		t.window.inflight--
		t.window.count++
	}
	if t.quota && t.period.Equal(g.start) {
		g.inflight--
		g.count++
		g.markDirty()
	}
}

// release gives back an admitted send that failed: its place is free again (the saved
// reservation still covers it) and its held-back count waits for the group's next send.
func (g *guard) release(t ticket) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if t.window != nil {
		t.window.inflight--
	}
	if t.quota && t.period.Equal(g.start) {
		g.inflight--
	}
	if t.heldBack > 0 {
		g.addHeld(t.group, t.heldBack)
	}
}

// quotaCount returns the accepted events in the current period (for tests and status).
func (g *guard) quotaCount() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.count
}
