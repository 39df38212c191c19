package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/winship/winship/agent/buffer"
	"github.com/winship/winship/agent/checkpoint"
	"github.com/winship/winship/agent/config"
	"github.com/winship/winship/agent/source"
	"github.com/winship/winship/sinks"
)

// Options change how Run behaves.
type Options struct {
	// Once ships what the matched files hold at the start, waits until every sink has
	// acknowledged it, and returns.
	Once bool
	// Timeout bounds a Once run; 0 waits as long as it takes.
	Timeout time.Duration
}

// ErrTimeout is returned by a Once run that did not deliver everything within its timeout.
// What was not delivered stays in the buffer for the next run.
var ErrTimeout = errors.New("timed out before every event was delivered")

// Run runs the agent until ctx ends (or, with Once, until everything is delivered).
func Run(ctx context.Context, cfg *config.Config, logger *slog.Logger, opts Options) error {
	a, err := start(cfg, logger)
	if err != nil {
		return err
	}
	return a.run(ctx, opts)
}

type agent struct {
	cfg     *config.Config
	logger  *slog.Logger
	m       *metrics
	lock    *os.File
	log     *buffer.Log
	store   *checkpoint.Store
	first   bool
	workers []*worker
	srcM    *source.Metrics
}

// start opens the state (lock, buffer, checkpoints) and builds the sinks.
func start(cfg *config.Config, logger *slog.Logger) (*agent, error) {
	a := &agent{cfg: cfg, logger: logger, m: newMetrics(), srcM: &source.Metrics{}}
	a.m.reg.MustRegister(newSourceCounters(a.srcM.Snapshot))
	if err := os.MkdirAll(cfg.StateDir, 0o750); err != nil {
		return nil, fmt.Errorf("create state_dir: %w", err)
	}
	lock, err := lockDir(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	a.lock = lock
	cpPath := filepath.Join(cfg.StateDir, "checkpoints.json")
	_, statErr := os.Stat(cpPath)
	a.first = errors.Is(statErr, os.ErrNotExist)
	if a.store, err = checkpoint.Open(cpPath); err != nil {
		a.close()
		return nil, err
	}
	a.log, err = buffer.Open(buffer.Options{Dir: filepath.Join(cfg.StateDir, "buffer"),
		Logger: logger.With("component", "buffer")})
	if err != nil {
		a.close()
		return nil, fmt.Errorf("open disk buffer: %w", err)
	}
	host, _ := os.Hostname()
	for _, sc := range cfg.Sinks {
		w, err := a.buildWorker(sc, host)
		if err != nil {
			a.close()
			return nil, err
		}
		a.workers = append(a.workers, w)
	}
	return a, nil
}

func (a *agent) buildWorker(sc config.Sink, host string) (*worker, error) {
	snk, err := BuildSink(a.cfg, sc, host, a.logger)
	if err != nil {
		return nil, err
	}
	cur, err := a.log.Cursor(sc.Name)
	if err != nil {
		snk.Close()
		return nil, fmt.Errorf("open buffer cursor of sink %s: %w", sc.Name, err)
	}
	dead := newDeadLetters(a.cfg.StateDir, sc.Name, host)
	if c, ok := snk.(sinks.Counters); ok {
		if err := a.m.reg.Register(newSinkCounters(sc.Name, c)); err != nil {
			a.logger.Warn("cannot export the sink's counters", "sink", sc.Name, "err", err)
		}
	}
	return newWorker(sc, snk, cur, dead, a.logger.With("sink", sc.Name), a.m), nil
}

// BuildSink builds one configured sink (also used by `winship test-sink`).
func BuildSink(cfg *config.Config, sc config.Sink, host string, logger *slog.Logger) (
	sinks.Sink, error) {
	dir := filepath.Join(cfg.StateDir, "sinks", safeName(sc.Name))
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create state folder of sink %s: %w", sc.Name, err)
	}
	spec := sinks.Spec{Name: sc.Name, Type: sc.Type, StateDir: dir, Host: host,
		Logger: logger.With("sink", sc.Name)}
	snk, err := sc.Factory.New(spec, sc.Options)
	if err != nil {
		return nil, fmt.Errorf("start sink %s: %w", sc.Name, err)
	}
	return snk, nil
}

// lockDir takes an exclusive lock on state_dir so that two agents never share one buffer.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open state_dir lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("state_dir %s is in use by another winship (lock: %w)", dir, err)
	}
	return f, nil
}

func (a *agent) run(ctx context.Context, opts Options) error {
	defer a.close()
	stopMetrics := a.serveMetrics()
	defer stopMetrics()

	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	workCtx, stopWorkers := context.WithCancel(context.Background())
	defer stopWorkers()
	sendCtx, cancelSends := context.WithCancel(context.Background())
	defer cancelSends()

	var workers sync.WaitGroup
	for _, w := range a.workers {
		workers.Add(1)
		go func() {
			defer workers.Done()
			w.run(workCtx, sendCtx)
		}()
	}

	batches := make(chan source.Batch, 4)
	wr := &writer{log: a.log, store: a.store, workers: a.workers, m: a.m,
		logger: a.logger.With("component", "writer"), fullLog: map[string]time.Time{},
		drops: map[string]dropTally{}}
	wh := &writerHandle{in: batches, done: make(chan struct{})}
	go func() {
		wh.err = wr.run(readCtx, batches)
		close(wh.done)
	}()

	sourcesDone := a.startSources(readCtx, batches, opts.Once)
	a.logger.Info("winship started", "sources", len(a.cfg.Sources), "sinks", len(a.workers),
		"state_dir", a.cfg.StateDir, "once", opts.Once)

	var result error
	if opts.Once {
		result = a.waitOnce(ctx, sourcesDone, wh, opts.Timeout)
	} else {
		<-ctx.Done()
		a.logger.Info("stopping: no new lines are read; delivering what is in flight",
			"shutdown_timeout", a.cfg.ShutdownTimeout)
	}
	stopReading()
	<-sourcesDone
	if err := wh.finish(); err != nil {
		a.logger.Error("cannot save checkpoints at shutdown; some lines will be read again",
			"err", err)
	}
	if errors.Is(result, ErrTimeout) {
		cancelSends() // --timeout is the whole budget: no extra shutdown_timeout
	}
	stopWorkers()
	a.waitWorkers(&workers, cancelSends)
	a.summary()
	return result
}

// writerHandle closes the writer's input once and waits for its final save.
type writerHandle struct {
	in   chan source.Batch
	once sync.Once
	done chan struct{}
	err  error
}

func (h *writerHandle) finish() error {
	h.once.Do(func() { close(h.in) })
	<-h.done
	return h.err
}

func (a *agent) startSources(ctx context.Context, out chan<- source.Batch, once bool) chan struct{} {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for _, sc := range a.cfg.Sources {
		s := source.New(sc, a.store, out, a.logger, a.srcM, a.first, once)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Run(ctx); err != nil {
				a.logger.Error("source stopped", "source", sc.Name, "err", err)
			}
		}()
	}
	go func() {
		wg.Wait()
		close(done)
	}()
	return done
}

// waitOnce waits until the sources have read what the files held, the writer made it
// durable, and every sink acknowledged everything in the buffer.
func (a *agent) waitOnce(ctx context.Context, sourcesDone chan struct{}, wh *writerHandle,
	timeout time.Duration) error {
	var deadline <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		deadline = t.C
	}
	select {
	case <-sourcesDone:
	case <-ctx.Done():
		return nil
	case <-deadline:
		return fmt.Errorf("%w (still reading files after %s)", ErrTimeout, timeout)
	}
	var unreadable error
	if n := a.srcM.Snapshot()["open_errors"]; n > 0 {
		// Finish delivering what could be read, then say that something could not be.
		unreadable = fmt.Errorf("%d matched file(s) could not be opened (see the warnings)", n)
	}
	if err := wh.finish(); err != nil {
		a.logger.Error("cannot save checkpoints", "err", err)
	}
	for {
		acked := a.log.Acked()
		if a.allDelivered() {
			return unreadable
		}
		select {
		case <-acked:
		case <-ctx.Done():
			return nil
		case <-deadline:
			return fmt.Errorf("%w within %s; the rest stays in the buffer for the next run",
				ErrTimeout, timeout)
		}
	}
}

func (a *agent) allDelivered() bool {
	for _, w := range a.workers {
		if w.cursor.Backlog() > 0 {
			return false
		}
	}
	return true
}

// waitWorkers lets in-flight batches finish for up to shutdown_timeout, then cancels them.
func (a *agent) waitWorkers(wg *sync.WaitGroup, cancelSends context.CancelFunc) {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	t := time.NewTimer(a.cfg.ShutdownTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		a.logger.Warn("shutdown_timeout reached; cancelling sends in flight (their events "+
			"stay in the buffer)", "shutdown_timeout", a.cfg.ShutdownTimeout)
		cancelSends()
		<-done
	}
}

func (a *agent) summary() {
	for _, w := range a.workers {
		attrs := []any{"sink", w.cfg.Name, "acknowledged", w.delivered.Load(),
			"backlog_bytes", w.cursor.Backlog()}
		if c, ok := w.sink.(sinks.Counters); ok {
			for what, n := range c.Counters() {
				attrs = append(attrs, what, n)
			}
		}
		a.logger.Info("sink summary", attrs...)
	}
	snap := a.srcM.Snapshot()
	keys := make([]string, 0, len(snap))
	for k := range snap {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	attrs := make([]any, 0, 2*len(keys))
	for _, k := range keys {
		attrs = append(attrs, k, snap[k])
	}
	a.logger.Info("source summary", attrs...)
}

func (a *agent) serveMetrics() func() {
	if a.cfg.MetricsAddr == "" {
		return func() {}
	}
	ln, err := net.Listen("tcp", a.cfg.MetricsAddr)
	if err != nil {
		a.logger.Error("cannot serve metrics", "addr", a.cfg.MetricsAddr, "err", err)
		return func() {}
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(a.m.reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	return func() { srv.Close() }
}

func (a *agent) close() {
	for _, w := range a.workers {
		if err := w.sink.Close(); err != nil {
			a.logger.Warn("closing sink", "sink", w.cfg.Name, "err", err)
		}
		w.dead.close()
	}
	if a.log != nil {
		if err := a.log.Close(); err != nil {
			a.logger.Warn("closing disk buffer", "err", err)
		}
	}
	if a.lock != nil {
		a.lock.Close()
	}
}
