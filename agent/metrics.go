package agent

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/winship/winship/sinks"
)

// metrics are the agent's Prometheus series. Labels are sink and source names from the
// config, never URLs, DSNs or tokens.
type metrics struct {
	reg *prometheus.Registry

	buffered     prometheus.Counter
	bufferErrors prometheus.Counter
	sent         *prometheus.CounterVec // sink
	deadLettered *prometheus.CounterVec // sink
	dropped      *prometheus.CounterVec // sink, reason: drop_oldest
	filtered     *prometheus.CounterVec // sink, reason: level | source | dedupe
	sendErrors   *prometheus.CounterVec // sink, kind
	backlog      *prometheus.GaugeVec   // sink
	paused       *prometheus.GaugeVec   // sink
}

func newMetrics() *metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(
		collectors.ProcessCollectorOpts{}))
	m := &metrics{
		reg: reg,
		buffered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "winship_events_buffered_total",
			Help: "Events written durably to the disk buffer."}),
		bufferErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "winship_buffer_write_errors_total",
			Help: "Failed writes to the disk buffer (each is retried; reading waits)."}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "winship_events_sent_total",
			Help: "Events a sink acknowledged."}, []string{"sink"}),
		deadLettered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "winship_events_dead_lettered_total",
			Help: "Events a sink rejected for good, written to its dead-letter file."},
			[]string{"sink"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "winship_events_dropped_total",
			Help: "Events removed from a sink's backlog by its when_full: drop_oldest policy."},
			[]string{"sink", "reason"}),
		filtered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "winship_events_filtered_total",
			Help: "Events not routed to a sink (below min_level, other source, duplicate)."},
			[]string{"sink", "reason"}),
		sendErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "winship_send_errors_total",
			Help: "Failed send attempts by kind (retry, pause, too_large, reject)."},
			[]string{"sink", "kind"}),
		backlog: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "winship_buffer_backlog_bytes",
			Help: "Bytes in the disk buffer not yet acknowledged by the sink."}, []string{"sink"}),
		paused: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "winship_sink_paused",
			Help: "1 while the sink is paused by its destination (401/402/403)."},
			[]string{"sink"}),
	}
	reg.MustRegister(m.buffered, m.bufferErrors, m.sent, m.deadLettered, m.dropped, m.filtered,
		m.sendErrors, m.backlog, m.paused)
	return m
}

// sinkCounters exports a sink's own counts (sinks.Counters) at scrape time.
type sinkCounters struct {
	name string
	src  sinks.Counters
	desc *prometheus.Desc
}

func newSinkCounters(name string, src sinks.Counters) *sinkCounters {
	return &sinkCounters{name: name, src: src, desc: prometheus.NewDesc(
		"winship_sink_events_total",
		"Counts a sink keeps itself, by what (held_back_quota, truncated, ...).",
		[]string{"sink", "what"}, nil)}
}

func (c *sinkCounters) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *sinkCounters) Collect(ch chan<- prometheus.Metric) {
	for what, n := range c.src.Counters() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(n),
			c.name, what)
	}
}

// sourceCounters exports the followers' counters (lines, bytes, partial, truncations,
// copy_recovered_bytes, ...) at scrape time as winship_source_total{what}.
type sourceCounters struct {
	snap func() map[string]int64
	desc *prometheus.Desc
}

func newSourceCounters(snap func() map[string]int64) *sourceCounters {
	return &sourceCounters{snap: snap, desc: prometheus.NewDesc("winship_source_total",
		"What the followers read and handled, by what (lines, bytes, partial, truncated, "+
			"truncations, files_opened, copy_recovered_bytes, open_errors, ...).",
		[]string{"what"}, nil)}
}

func (c *sourceCounters) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *sourceCounters) Collect(ch chan<- prometheus.Metric) {
	for what, n := range c.snap() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(n), what)
	}
}
