package agent

import (
	"context"
	"log/slog"
	"time"

	"github.com/winship/winship/agent/buffer"
	"github.com/winship/winship/agent/checkpoint"
	"github.com/winship/winship/agent/event"
	"github.com/winship/winship/agent/source"
)

const (
	// groupRecords and groupBytes bound one group commit: the batches that are waiting
	// are appended together and made durable with one fsync.
	groupRecords = 2048
	groupBytes   = 2 << 20
	// saveEvery bounds how often the checkpoint file is rewritten; offsets are set in
	// memory at every group commit and saved at most this often, and at shutdown.
	saveEvery = 50 * time.Millisecond
)

// writer is the only goroutine that appends to the disk buffer. For each group of batches
// it encodes the events, waits for room (sinks whose when_full is block), appends, fsyncs,
// and only then moves the files' checkpoint offsets: invariant 1 (an offset is saved only
// after the events before it are durable) holds because Set follows Sync.
type writer struct {
	log     *buffer.Log
	store   *checkpoint.Store
	workers []*worker
	logger  *slog.Logger
	m       *metrics

	buf      []byte
	recs     [][]byte
	lastSave time.Time
	dirty    bool
	fullLog  map[string]time.Time // when "buffer full" was last logged, by sink
	drops    map[string]dropTally // drop_oldest removals not logged yet, by sink
}

// run appends what the followers send until in is closed. Once ctx has ended it stops
// appending and only drains in: batches not made durable are read again at the next start,
// because their offsets were never saved.
func (w *writer) run(ctx context.Context, in <-chan source.Batch) error {
	// The save timer runs only while offsets wait to be saved: an idle agent does not wake.
	save := time.NewTimer(saveEvery)
	save.Stop()
	armed := false
	for {
		select {
		case b, ok := <-in:
			if !ok {
				return w.save()
			}
			if ctx.Err() != nil {
				continue
			}
			w.commitRetrying(ctx, w.collect(b, in))
			if w.dirty && !armed {
				save.Reset(saveEvery)
				armed = true
			}
		case <-save.C:
			armed = false
			if w.dirty {
				if err := w.save(); err != nil {
					w.logger.Error("cannot save checkpoints; will retry", "err", err)
					save.Reset(saveEvery)
					armed = true
				}
			}
		}
	}
}

// collect takes b and whatever else is already waiting, within the group limits.
func (w *writer) collect(b source.Batch, in <-chan source.Batch) []source.Batch {
	group := []source.Batch{b}
	n := len(b.Events)
	for n < groupRecords {
		select {
		case more, ok := <-in:
			if !ok {
				return group
			}
			group = append(group, more)
			n += len(more.Events)
		default:
			return group
		}
	}
	return group
}

// commitRetrying commits a group, retrying until it works or ctx ends. A group must never
// be skipped while later groups of the same files are committed: their offsets would cover
// the skipped events.
func (w *writer) commitRetrying(ctx context.Context, group []source.Batch) {
	bo := backoff{initial: 500 * time.Millisecond, max: 30 * time.Second}
	for {
		err := w.commit(ctx, group)
		if err == nil || ctx.Err() != nil {
			return
		}
		w.logger.Error("cannot commit events to the disk buffer; retrying", "err", err)
		if !sleepCtx(ctx, bo.next(0)) {
			return
		}
	}
}

// commit makes a group durable and then records the offsets it covers.
func (w *writer) commit(ctx context.Context, group []source.Batch) error {
	w.buf, w.recs = w.buf[:0], w.recs[:0]
	var ends []int
	for gi := range group {
		for i := range group[gi].Events {
			w.buf = event.AppendBinary(w.buf, &group[gi].Events[i])
			ends = append(ends, len(w.buf))
		}
	}
	start := 0
	for _, end := range ends {
		w.recs = append(w.recs, w.buf[start:end:end])
		start = end
	}
	if len(w.recs) > 0 {
		size := int64(len(w.buf) + buffer.FrameOverhead*len(w.recs)) // as Backlog counts
		if err := w.makeRoom(ctx, size); err != nil {
			return err
		}
		if err := w.appendDurably(ctx); err != nil {
			return err
		}
		w.m.buffered.Add(float64(len(w.recs)))
	}
	now := time.Now()
	for _, b := range group {
		w.store.Set(b.ID, b.Path, b.Offset, now)
	}
	w.dirty = true
	if len(w.buf) > groupBytes*2 {
		w.buf = nil // do not keep a huge buffer after a burst of long lines
	}
	if now.Sub(w.lastSave) >= saveEvery {
		if err := w.save(); err != nil {
			// The events are durable; only the offsets wait for the next save.
			w.logger.Error("cannot save checkpoints; will retry", "err", err)
		}
	}
	return nil
}

// appendDurably appends and fsyncs the encoded records, retrying on errors such as a full
// disk: the buffer cuts a failed append back to its last durable end, so a retry is clean.
// Reading waits meanwhile, which loses nothing while the log files stay on disk.
func (w *writer) appendDurably(ctx context.Context) error {
	bo := backoff{initial: 500 * time.Millisecond, max: 30 * time.Second}
	var lastLog time.Time
	for {
		err := w.log.Append(w.recs...)
		if err == nil {
			_, err = w.log.Sync()
		}
		if err == nil {
			return nil
		}
		w.m.bufferErrors.Inc()
		// A full disk may be held by a segment every sink has already taken.
		if rerr := w.log.Reclaim(); rerr != nil {
			w.logger.Debug("cannot reclaim the active buffer segment", "err", rerr)
		}
		if time.Since(lastLog) >= time.Minute {
			lastLog = time.Now()
			w.logger.Warn("cannot write the disk buffer (is the disk under state_dir full?); "+
				"reading is paused and the write retried", "err", err)
		}
		if !sleepCtx(ctx, bo.next(0)) {
			return ctx.Err()
		}
	}
}

// makeRoom applies each sink's when_full policy before incoming bytes are appended: block
// waits until the sink's backlog is below buffer.max_bytes; drop_oldest removes that sink's
// oldest events, counts them and warns.
func (w *writer) makeRoom(ctx context.Context, incoming int64) error {
	for _, wk := range w.workers {
		limit := int64(wk.cfg.Buffer.MaxBytes)
		if wk.cfg.Buffer.WhenFull == "drop_oldest" {
			if wk.cursor.Backlog()+incoming <= limit {
				continue
			}
			recs, bytes, err := wk.dropOldest(max(limit-incoming, 0))
			if err != nil {
				return err
			}
			w.noteDropped(wk.cfg.Name, recs, bytes)
			continue
		}
		for wk.cursor.Backlog() >= limit {
			if t := w.fullLog[wk.cfg.Name]; time.Since(t) >= time.Minute {
				w.fullLog[wk.cfg.Name] = time.Now()
				w.logger.Warn("buffer full for sink; reading paused until it drains "+
					"(when_full: block)", "sink", wk.cfg.Name, "max_bytes", limit)
			}
			acked := w.log.Acked()
			if wk.cursor.Backlog() < limit {
				break
			}
			select {
			case <-acked:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return nil
}

// noteDropped logs events dropped by drop_oldest: at once for the first drop, then at most
// every ten seconds with the totals since, so a long outage does not flood the log. The
// exact count is always in winship_events_dropped_total.
func (w *writer) noteDropped(sink string, recs int, bytes int64) {
	if recs == 0 {
		return
	}
	d := w.drops[sink]
	d.events += recs
	d.bytes += bytes
	if time.Since(d.logged) >= 10*time.Second {
		w.logger.Warn("buffer full: dropped the sink's oldest events (when_full: drop_oldest)",
			"sink", sink, "events", d.events, "bytes", d.bytes)
		d = dropTally{logged: time.Now()}
	}
	w.drops[sink] = d
}

// dropTally is what drop_oldest removed since it was last logged.
type dropTally struct {
	events int
	bytes  int64
	logged time.Time
}

func (w *writer) save() error {
	if err := w.store.Save(); err != nil {
		return err
	}
	w.lastSave, w.dirty = time.Now(), false
	return nil
}
