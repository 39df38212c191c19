package sentry

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Reasons an event is held back instead of sent.
const (
	reasonQuota = "quota"
	reasonSpike = "spike"
)

const (
	guardStateFile = "guard.json"
	// saveEvery bounds how often the guard state is written: a crash forgets at most
	// this much of the count, never more.
	saveEvery = time.Second
	// maxHeldGroups bounds the groups whose held-back counts are remembered.
	maxHeldGroups = 4096
	// maxSpikeGroups is when old spike windows are swept from memory.
	maxSpikeGroups = 1024
)

// guard decides whether an event may be sent under the quota and the spike limit.
//
// A send first takes a ticket (admit), which reserves a place in both limits, and then
// either commits it (the server accepted the event: the place is counted) or releases it
// (the send failed: the place is given back). Only accepted events count. Safe for
// concurrent use.
type guard struct {
	maxEvents int
	period    time.Duration
	spikeMax  int
	now       func() time.Time
	log       *slog.Logger
	path      string // guard state file; "" keeps the state in memory only

	mu          sync.Mutex
	start       time.Time // start of the current quota period
	count       int       // accepted events in the current period
	reserved    int       // events admitted and in flight
	warnedStart time.Time // quota period whose first overflow was logged
	spikes      map[string]*spikeWindow
	held        map[string]int64 // group -> events held back since its last sent event
	dirty       bool
	lastSave    time.Time
	saveTimer   *time.Timer
	closed      bool
}

type spikeWindow struct {
	start    time.Time
	count    int
	reserved int
	warned   bool
}

// ticket is an admitted send.
type ticket struct {
	group    string
	heldBack int64 // held-back events of the group this send reports
	quota    bool
	spike    bool
}

// guardState is what survives a restart.
type guardState struct {
	PeriodStart time.Time        `json:"period_start"`
	Count       int              `json:"count"`
	Held        map[string]int64 `json:"held,omitempty"`
}

func newGuard(q Quota, s Spike, stateDir string, now func() time.Time, log *slog.Logger) *guard {
	g := &guard{maxEvents: q.MaxEvents, period: q.Period, spikeMax: s.MaxPerMinute,
		now: now, log: log, spikes: map[string]*spikeWindow{}, held: map[string]int64{}}
	if stateDir != "" {
		g.path = filepath.Join(stateDir, guardStateFile)
	}
	g.load()
	return g
}

// load reads the saved state; a missing file starts afresh, a broken one is logged.
func (g *guard) load() {
	g.start = g.now()
	if g.path == "" {
		return
	}
	b, err := os.ReadFile(g.path)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	var st guardState
	if err == nil {
		err = json.Unmarshal(b, &st)
	}
	if err != nil {
		g.log.Warn("sentry guard state unreadable; quota count starts again from zero",
			"path", g.path, "err", err)
		return
	}
	if !st.PeriodStart.IsZero() && !st.PeriodStart.After(g.now()) {
		g.start, g.count = st.PeriodStart, st.Count
	}
	for k, v := range st.Held {
		if v > 0 && len(g.held) < maxHeldGroups {
			g.held[k] = v
		}
	}
}

// admit reserves a send of group. When a limit is reached it returns the reason instead,
// counts the event as held back for its group and logs the first overflow of a period.
func (g *guard) admit(group string) (ticket, string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	t := ticket{group: group}
	if g.spikeMax > 0 {
		w := g.spikeWindow(group, now)
		if w.count+w.reserved >= g.spikeMax {
			g.holdBack(group)
			if !w.warned {
				w.warned = true
				g.log.Warn("spike guard is holding back events of one issue for the rest of "+
					"the minute", "group", group, "max_per_minute", g.spikeMax)
			}
			return ticket{}, reasonSpike
		}
		w.reserved++
		t.spike = true
	}
	if g.maxEvents > 0 {
		g.rollPeriod(now)
		if g.count+g.reserved >= g.maxEvents {
			g.releaseLocked(t, now)
			g.holdBack(group)
			g.warnQuota()
			return ticket{}, reasonQuota
		}
		g.reserved++
		t.quota = true
	}
	t.heldBack = g.held[group]
	delete(g.held, group)
	return t, ""
}

func (g *guard) holdBack(group string) {
	if _, ok := g.held[group]; ok || len(g.held) < maxHeldGroups {
		g.held[group]++
		g.markDirty()
	}
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

// spikeWindow returns group's window for the current minute, sweeping stale ones.
func (g *guard) spikeWindow(group string, now time.Time) *spikeWindow {
	w := g.spikes[group]
	if w == nil || now.Sub(w.start) >= time.Minute {
		if len(g.spikes) >= maxSpikeGroups {
			g.sweepSpikes(now)
		}
		reserved := 0
		if w != nil {
			reserved = w.reserved
		}
		w = &spikeWindow{start: now, reserved: reserved}
		g.spikes[group] = w
	}
	return w
}

func (g *guard) sweepSpikes(now time.Time) {
	for k, w := range g.spikes {
		if now.Sub(w.start) >= time.Minute && w.reserved == 0 {
			delete(g.spikes, k)
		}
	}
}

// rollPeriod starts a new quota period when the current one has ended. Periods follow
// each other from the first start, so a restart does not move them.
func (g *guard) rollPeriod(now time.Time) {
	if g.period <= 0 || now.Before(g.start.Add(g.period)) {
		return
	}
	n := now.Sub(g.start) / g.period
	g.start = g.start.Add(n * g.period)
	g.count = 0
	g.markDirty()
}

// commit counts an admitted send that the server accepted.
func (g *guard) commit(t ticket) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	if t.spike {
		w := g.spikeWindow(t.group, now)
		w.reserved--
		w.count++
	}
	if t.quota {
		g.rollPeriod(now)
		g.reserved--
		g.count++
		g.markDirty()
	}
	if t.heldBack > 0 {
		g.markDirty()
	}
}

// release gives back an admitted send that failed; its held-back count is kept for the
// next send of the group.
func (g *guard) release(t ticket) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.releaseLocked(t, g.now())
	if t.heldBack > 0 {
		g.held[t.group] += t.heldBack
	}
}

func (g *guard) releaseLocked(t ticket, now time.Time) {
	if t.spike {
		g.spikeWindow(t.group, now).reserved--
	}
	if t.quota {
		g.reserved--
	}
}

// markDirty schedules a save of the state, at most once per saveEvery.
func (g *guard) markDirty() {
	if g.path == "" || g.closed {
		return
	}
	g.dirty = true
	if g.saveTimer != nil {
		return
	}
	wait := saveEvery - g.now().Sub(g.lastSave)
	if wait < 0 {
		wait = 0
	}
	g.saveTimer = time.AfterFunc(wait, g.saveNow)
}

func (g *guard) saveNow() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.saveTimer = nil
	if err := g.saveLocked(); err != nil {
		g.log.Warn("save sentry guard state", "path", g.path, "err", err)
	}
}

// saveLocked writes the state to a temporary file and renames it into place.
func (g *guard) saveLocked() error {
	if !g.dirty || g.path == "" {
		return nil
	}
	st := guardState{PeriodStart: g.start, Count: g.count, Held: g.held}
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encode guard state: %w", err)
	}
	tmp := g.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, g.path); err != nil {
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	g.dirty = false
	g.lastSave = g.now()
	return nil
}

// close stops the save timer and writes what is pending.
func (g *guard) close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.saveTimer != nil {
		g.saveTimer.Stop()
		g.saveTimer = nil
	}
	g.closed = true
	return g.saveLocked()
}

// quotaCount returns the accepted events in the current period (for tests and status).
func (g *guard) quotaCount() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.count
}
