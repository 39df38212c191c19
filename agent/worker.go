package agent

import (
	"context"
	"errors"
	"hash/maphash"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/winship/winship/agent/buffer"
	"github.com/winship/winship/agent/config"
	"github.com/winship/winship/agent/event"
	"github.com/winship/winship/sinks"
)

// worker delivers one sink's share of the buffer. Its reader goroutine reads the sink's
// cursor, routes each event (sources, min_level, dedupe), and cuts batches by the sink's
// policy; up to concurrency sender goroutines deliver batches; an acker acknowledges them in
// log order, so the cursor never passes a batch that is still in flight.
type worker struct {
	cfg      config.Sink
	sink     sinks.Sink
	observer sinks.Observer
	cursor   *buffer.Cursor
	dead     *deadLetters
	dedupe   *dedupe
	sources  map[string]bool
	logger   *slog.Logger
	m        *metrics

	maxEvents, maxBytes, concurrency int
	maxWait                          time.Duration

	delivered atomic.Int64 // events acknowledged by the sink

	// Counters resolved once: a label lookup per event costs more than the routing itself.
	cSent, cUndecodable, cSource, cLevel, cDedupe prometheus.Counter

	// inflight holds the end position of every record read from the cursor but not yet
	// acknowledged, oldest first. drop_oldest may move the cursor past some of them; they
	// are still delivered if they can be, and counted as dropped only if they never are.
	inflightMu sync.Mutex
	inflight   []buffer.Pos
	lastPause  atomic.Int64 // unix nanos of the last pause error logged
	lastRetry  atomic.Int64 // unix nanos of the last retry warning logged

	// stop is closed when the agent stops: waits between attempts end at once (only a
	// request already on the wire gets the shutdown_timeout).
	stop <-chan struct{}

	pauseMu     sync.Mutex
	pauseReason string // what the destination said when it paused the sink; "" when not paused
}

func newWorker(cfg config.Sink, sink sinks.Sink, cursor *buffer.Cursor, dead *deadLetters,
	logger *slog.Logger, m *metrics) *worker {
	d := cfg.Defaults
	w := &worker{cfg: cfg, sink: sink, cursor: cursor, dead: dead, logger: logger, m: m,
		maxEvents:   pick(cfg.Batch.MaxEvents, d.MaxEvents, 1000),
		maxBytes:    pick(int(cfg.Batch.MaxBytes), d.MaxBytes, 1<<20),
		maxWait:     time.Duration(pick(int(cfg.Batch.MaxWait), int(d.MaxWait), int(time.Second))),
		concurrency: pick(cfg.Concurrency, d.Concurrency, 1),
	}
	w.observer, _ = sink.(sinks.Observer)
	w.cSent = m.sent.WithLabelValues(cfg.Name)
	w.cUndecodable = m.filtered.WithLabelValues(cfg.Name, "undecodable")
	w.cSource = m.filtered.WithLabelValues(cfg.Name, "source")
	w.cLevel = m.filtered.WithLabelValues(cfg.Name, "level")
	w.cDedupe = m.filtered.WithLabelValues(cfg.Name, "dedupe")
	if len(cfg.Sources) > 0 {
		w.sources = map[string]bool{}
		for _, s := range cfg.Sources {
			w.sources[s] = true
		}
	}
	if (cfg.Dedupe == nil && d.Dedupe) || (cfg.Dedupe != nil && *cfg.Dedupe) {
		w.dedupe = newDedupe(1 << 13) // copies arrive close together: both files are read at once
	}
	return w
}

func pick(vals ...int) int {
	for _, v := range vals {
		if v > 0 {
			return v
		}
	}
	return 0
}

// job is one batch: the events to send and the log position just after its last record.
type job struct {
	seq    uint64
	end    buffer.Pos
	events []*event.Event
}

// run delivers until readCtx ends (then no new batch is started) and the batches in flight
// are resolved or sendCtx ends. It returns when all its goroutines have.
func (w *worker) run(readCtx, sendCtx context.Context) {
	w.stop = readCtx.Done()
	jobs := make(chan *job)
	done := make(chan *job, w.concurrency)
	var senders sync.WaitGroup
	for range w.concurrency {
		senders.Add(1)
		go func() {
			defer senders.Done()
			for j := range jobs {
				if w.send(sendCtx, j.events) {
					done <- j
				}
			}
		}()
	}
	acked := make(chan struct{})
	go func() {
		defer close(acked)
		w.ackInOrder(done)
	}()
	w.read(readCtx, jobs)
	close(jobs)
	senders.Wait()
	close(done)
	<-acked
	w.countLostInFlight()
}

// settle forgets the in-flight records up to end, which was acknowledged.
func (w *worker) settle(end buffer.Pos) {
	w.inflightMu.Lock()
	defer w.inflightMu.Unlock()
	i := 0
	for i < len(w.inflight) && w.inflight[i] <= end {
		i++
	}
	w.inflight = append(w.inflight[:0], w.inflight[i:]...)
}

// dropOldest applies when_full: drop_oldest, leaving at most limit bytes of backlog. It
// counts exactly: records the reader already has are being sent and are not counted now;
// they are delivered, or counted by countLostInFlight if they never are.
func (w *worker) dropOldest(limit int64) (dropped int, bytes int64, err error) {
	_, unread, bytes, err := w.cursor.DropOldestUnread(limit)
	if unread > 0 {
		w.m.dropped.WithLabelValues(w.cfg.Name, "drop_oldest").Add(float64(unread))
	}
	return unread, bytes, err
}

// countLostInFlight runs when the worker has stopped: records that drop_oldest moved the
// cursor past while they were being sent, and that were not delivered, are gone from the
// buffer now; they are counted and logged as dropped.
func (w *worker) countLostInFlight() {
	w.inflightMu.Lock()
	defer w.inflightMu.Unlock()
	acked := w.cursor.Acked()
	lost := 0
	for _, p := range w.inflight {
		if p <= acked {
			lost++
		}
	}
	if lost > 0 {
		w.m.dropped.WithLabelValues(w.cfg.Name, "drop_oldest").Add(float64(lost))
		w.logger.Warn("events dropped by when_full: drop_oldest while being sent were "+
			"not delivered before shutdown", "events", lost)
	}
	w.inflight = nil
}

// ackInOrder acknowledges finished jobs in sequence; a job finished early waits for the
// ones before it.
func (w *worker) ackInOrder(done <-chan *job) {
	next := uint64(0)
	finished := map[uint64]*job{}
	for j := range done {
		finished[j.seq] = j
		for {
			f, ok := finished[next]
			if !ok {
				break
			}
			delete(finished, next)
			next++
			if err := w.cursor.Ack(f.end); err != nil {
				w.logger.Error("cannot save the sink's buffer position; "+
					"its events may be sent again after a restart", "err", err)
			}
			w.settle(f.end)
			w.m.backlog.WithLabelValues(w.cfg.Name).Set(float64(w.cursor.Backlog()))
		}
	}
}

// read cuts batches from the cursor until ctx ends.
func (w *worker) read(ctx context.Context, jobs chan<- *job) {
	pol := batchPolicy{maxEvents: w.maxEvents, maxBytes: w.maxBytes, maxWait: w.maxWait}
	var (
		cur  []*event.Event
		end  buffer.Pos
		seq  uint64
		fail backoff = backoff{initial: 100 * time.Millisecond, max: 5 * time.Second}
	)
	flush := func() bool {
		j := &job{seq: seq, end: end, events: cur}
		select {
		case jobs <- j:
		case <-ctx.Done():
			return false
		}
		seq++
		cur = nil
		pol.reset()
		return true
	}
	for ctx.Err() == nil {
		nctx, cancel := ctx, context.CancelFunc(func() {})
		if dl := pol.deadline(); !dl.IsZero() {
			nctx, cancel = context.WithDeadline(ctx, dl)
		}
		maxRecs, maxBytes := pol.room()
		recs, err := w.cursor.Next(nctx, maxRecs, maxBytes)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if pol.due(time.Now()) {
				if !flush() {
					return
				}
				continue
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				w.logger.Error("cannot read the disk buffer", "err", err)
				sleepCtx(ctx, fail.next(0))
			}
			continue
		}
		fail.reset()
		now := time.Now()
		w.inflightMu.Lock()
		for _, r := range recs {
			w.inflight = append(w.inflight, r.Next)
		}
		w.inflightMu.Unlock()
		evs := make([]event.Event, len(recs)) // one allocation for the lot; they alias recs
		for i, r := range recs {
			end = r.Next
			if w.route(r.Data, &evs[i]) {
				cur = append(cur, &evs[i])
			}
			pol.add(len(r.Data), now)
		}
		if pol.due(now) && !flush() {
			return
		}
	}
}

// route decodes a record into e and reports whether this sink sends it. e aliases data
// (the slab Next returned, which nothing else reuses). Events below min_level go to the
// sink's Observer (breadcrumbs), which must copy what it keeps.
func (w *worker) route(data []byte, e *event.Event) bool {
	if err := event.DecodeShared(data, e); err != nil {
		w.logger.Warn("skipping a buffer record that does not decode", "err", err)
		w.cUndecodable.Inc()
		return false
	}
	if w.sources != nil && !w.sources[e.Source] {
		w.cSource.Inc()
		return false
	}
	if w.cfg.HasLevel && !e.Level.AtLeast(w.cfg.Level) {
		if w.observer != nil {
			w.observer.Observe(e)
		}
		w.cLevel.Inc()
		return false
	}
	if w.dedupe != nil && w.dedupe.seen(e) {
		w.cDedupe.Inc()
		return false
	}
	return true
}

// send delivers events, splitting and dead-lettering as the sink's answers say. It returns
// false only when ctx ended before every event was resolved.
func (w *worker) send(ctx context.Context, events []*event.Event) bool {
	bo := backoff{initial: w.cfg.Retry.InitialBackoff, max: w.cfg.Retry.MaxBackoff}
	for len(events) > 0 {
		err := w.sink.Send(ctx, events)
		if err == nil {
			w.acknowledged(len(events))
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		var pe *sinks.PartialError
		if errors.As(err, &pe) && len(pe.Errs) == len(events) {
			var worst *sinks.Error
			events, worst = w.partial(ctx, events, pe)
			if len(events) > 0 && !w.wait(ctx, &bo, worst) {
				return false
			}
			continue
		}
		ce := sinks.Classify(err)
		w.m.sendErrors.WithLabelValues(w.cfg.Name, ce.Kind.String()).Inc()
		switch ce.Kind {
		case sinks.TooLarge, sinks.Reject:
			if len(events) == 1 {
				return w.deadLetter(ctx, events, ce)
			}
			h := len(events) / 2
			return w.send(ctx, events[:h]) && w.send(ctx, events[h:])
		default:
			if !w.wait(ctx, &bo, ce) {
				return false
			}
		}
	}
	return true
}

// partial handles per-event outcomes: delivered ones are counted, rejected ones
// dead-lettered, and the rest returned for another try with the error to wait on.
func (w *worker) partial(ctx context.Context, events []*event.Event,
	pe *sinks.PartialError) ([]*event.Event, *sinks.Error) {
	var retry []*event.Event
	var worst *sinks.Error
	delivered := 0
	for i, err := range pe.Errs {
		if err == nil {
			delivered++
			continue
		}
		ce := sinks.Classify(err)
		w.m.sendErrors.WithLabelValues(w.cfg.Name, ce.Kind.String()).Inc()
		if ce.Kind == sinks.TooLarge || ce.Kind == sinks.Reject {
			if !w.deadLetter(ctx, events[i:i+1], ce) {
				retry = append(retry, events[i])
			}
			continue
		}
		retry = append(retry, events[i])
		if worst == nil || ce.Kind == sinks.Pause || ce.After > worst.After {
			worst = ce
		}
	}
	w.acknowledged(delivered)
	if worst == nil {
		worst = &sinks.Error{Kind: sinks.Retry}
	}
	return retry, worst
}

func (w *worker) acknowledged(n int) {
	w.delivered.Add(int64(n))
	w.cSent.Add(float64(n))
	w.pauseMu.Lock()
	was := w.pauseReason
	w.pauseReason = ""
	w.pauseMu.Unlock()
	if was != "" {
		w.m.paused.WithLabelValues(w.cfg.Name).Set(0)
		w.logger.Info("sink resumed: its destination accepts events again", "was", was)
	}
}

// notePause reports whether a pause should be logged now: when its reason changed, or a
// minute after the last time.
func (w *worker) notePause(ce *sinks.Error, now time.Time) bool {
	reason := ce.Error()
	w.pauseMu.Lock()
	changed := reason != w.pauseReason
	w.pauseReason = reason
	w.pauseMu.Unlock()
	if changed {
		w.lastPause.Store(now.UnixNano())
		return true
	}
	return logEvery(&w.lastPause, now, time.Minute)
}

// deadLetter writes rejected events to the sink's dead-letter file; until that works they
// are kept (retried), never dropped.
func (w *worker) deadLetter(ctx context.Context, events []*event.Event, ce *sinks.Error) bool {
	bo := backoff{initial: time.Second, max: time.Minute}
	for {
		err := w.dead.write(events, ce, time.Now())
		if err == nil {
			w.m.deadLettered.WithLabelValues(w.cfg.Name).Add(float64(len(events)))
			w.logger.Warn("sink rejected an event for good; written to its dead-letter file",
				"reason", ce.Error(), "path", w.dead.path, "events", len(events))
			return true
		}
		w.logger.Error("cannot write the dead-letter file; keeping the events", "err", err)
		if !w.sleep(ctx, bo.next(0)) {
			return false
		}
	}
}

// wait sleeps before the next attempt, logging a paused sink at most once a minute and a
// retrying one at most every ten seconds.
func (w *worker) wait(ctx context.Context, bo *backoff, ce *sinks.Error) bool {
	d := bo.next(ce.After)
	now := time.Now()
	if ce.Kind == sinks.Pause {
		w.m.paused.WithLabelValues(w.cfg.Name).Set(1)
		if w.notePause(ce, now) {
			w.logger.Error("sink paused by its destination; its events are kept and "+
				"it is probed again", "err", ce.Error(), "retry_in", d.Round(time.Millisecond))
		}
	} else if logEvery(&w.lastRetry, now, 10*time.Second) {
		w.logger.Warn("send failed; retrying", "err", ce.Error(),
			"retry_in", d.Round(time.Millisecond))
	}
	return w.sleep(ctx, d)
}

// sleep waits d, or until ctx ends or the agent stops; it reports whether the full wait
// passed.
func (w *worker) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-w.stop:
		return false
	}
}

func logEvery(last *atomic.Int64, now time.Time, every time.Duration) bool {
	prev := last.Load()
	if now.UnixNano()-prev < int64(every) {
		return false
	}
	return last.CompareAndSwap(prev, now.UnixNano())
}

// sleepCtx waits d or until ctx ends; it reports whether the full wait passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// dedupe remembers the last n entries a sink sent, by content (time, level, message, stack),
// so the copy of an entry that Winston wrote to both error.log and combined.log is sent
// once. It is bounded and in memory: a copy read after a restart is sent again (the Sentry
// sink's content-derived event_id makes the server drop it).
type dedupe struct {
	seed maphash.Seed
	ring []uint64
	set  map[uint64]struct{}
	next int
}

func newDedupe(n int) *dedupe {
	return &dedupe{seed: maphash.MakeSeed(), ring: make([]uint64, n), set: map[uint64]struct{}{}}
}

func (d *dedupe) seen(e *event.Event) bool {
	var h maphash.Hash
	h.SetSeed(d.seed)
	var ts [9]byte
	n := e.Time.UnixNano()
	for i := range 8 {
		ts[i] = byte(n >> (8 * i))
	}
	ts[8] = byte(e.Level)
	h.Write(ts[:])
	h.WriteString(e.Message)
	h.WriteByte(0)
	h.WriteString(e.Stack)
	k := h.Sum64()
	if _, ok := d.set[k]; ok {
		return true
	}
	if old := d.ring[d.next]; old != 0 {
		delete(d.set, old)
	}
	d.ring[d.next] = k
	d.set[k] = struct{}{}
	d.next = (d.next + 1) % len(d.ring)
	return false
}
