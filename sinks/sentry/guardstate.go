package sentry

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/winship/winship/agent/durable"
)

const (
	guardStateFile = "guard.json"
	// saveEvery bounds how often the held-back counts and the accepted count are written;
	// quota reservations are written when they are needed, before the events they cover.
	saveEvery = time.Second
)

// guardState is what survives a restart, in guard.json in the sink's state folder.
type guardState struct {
	PeriodStart time.Time `json:"period_start"`
	// Reserved is how many events of the period may have been sent: it is written before
	// they are sent, and a restart counts all of it as used.
	Reserved int `json:"reserved"`
	// Count is how many the server had accepted when the file was written.
	Count int `json:"count"`
	// HeldBack is each group's held-back count, least recently held first.
	HeldBack []heldGroup `json:"held_back,omitempty"`
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
	if !st.PeriodStart.IsZero() {
		// Every reserved place may have been used before the process stopped.
		g.count = max(st.Count, st.Reserved)
		g.reserved = g.count
		g.start = st.PeriodStart
		if g.start.After(g.now()) {
			// The clock went back: keep the count for a period starting now rather than
			// wait for a start that may lie far ahead.
			g.start = g.now()
		}
	}
	for _, h := range st.HeldBack {
		if h.N > 0 && h.Group != "" {
			g.held.add(h.Group, h.N)
		}
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
	wait := max(saveEvery-time.Since(g.lastSave), 0)
	g.saveTimer = time.AfterFunc(wait, g.saveNow)
}

func (g *guard) saveNow() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.saveTimer = nil
	if g.closed || !g.dirty {
		return
	}
	if err := g.writeLocked(); err != nil {
		g.saveErrors.Add(1)
		g.log.Warn("save sentry guard state", "path", g.path, "err", err)
	}
}

// writeLocked writes the whole state durably; g.mu is held.
func (g *guard) writeLocked() error {
	if g.path == "" {
		return nil
	}
	st := guardState{PeriodStart: g.start, Reserved: g.reserved, Count: g.count,
		HeldBack: g.held.list()}
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encode guard state: %w", err)
	}
	if err := durable.WriteFile(g.path, b, 0o600); err != nil {
		return err
	}
	g.dirty = false
	g.lastSave = time.Now()
	return nil
}

// close stops the save timer and writes what is pending. Later admits fail.
func (g *guard) close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.saveTimer != nil {
		g.saveTimer.Stop()
		g.saveTimer = nil
	}
	if g.closed || !g.dirty {
		g.closed = true
		return nil
	}
	g.closed = true
	if err := g.writeLocked(); err != nil {
		g.saveErrors.Add(1)
		return fmt.Errorf("save sentry guard state: %w", err)
	}
	return nil
}
