package agent

import "time"

// batchPolicy decides when a sink's batch is complete. It does no I/O and reads no clock:
// callers pass the time in, which keeps it trivially testable.
type batchPolicy struct {
	maxEvents int
	maxBytes  int
	maxWait   time.Duration

	n     int
	size  int
	first time.Time
}

// add counts one event of size bytes and reports whether the batch is now full.
func (p *batchPolicy) add(size int, now time.Time) bool {
	if p.n == 0 {
		p.first = now
	}
	p.n++
	p.size += size
	return p.full()
}

func (p *batchPolicy) full() bool {
	return p.n >= p.maxEvents || p.size >= p.maxBytes
}

// room returns how many more events and bytes fit (at least one event of any size fits in
// an empty batch).
func (p *batchPolicy) room() (events, bytes int) {
	return max(p.maxEvents-p.n, 1), max(p.maxBytes-p.size, 1)
}

// deadline is when the batch must be flushed even if not full; zero when it is empty.
func (p *batchPolicy) deadline() time.Time {
	if p.n == 0 {
		return time.Time{}
	}
	return p.first.Add(p.maxWait)
}

// due reports whether the batch is full or has waited long enough.
func (p *batchPolicy) due(now time.Time) bool {
	return p.n > 0 && (p.full() || !now.Before(p.deadline()))
}

func (p *batchPolicy) reset() { p.n, p.size, p.first = 0, 0, time.Time{} }
