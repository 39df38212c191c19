// Package agent runs winship's pipeline:
//
//	files → followers (agent/source) → parsers → writer → disk buffer (agent/buffer)
//	      → one worker per sink: route (sources, min_level, dedupe) → batch → send → ack
//
// # Guarantees
//
//  1. A file offset is saved only after the events before it are durable. The writer is the
//     only goroutine that appends to the buffer; it moves a file's checkpoint offset only
//     after the fsync that made the file's events durable (writer.commit).
//  2. An event leaves the buffer for a sink only when that sink acknowledged it, or when a
//     counted policy removed it: the dead-letter file (permanent rejections, fsynced before
//     the acknowledgement), when_full: drop_oldest, or a filter the user configured
//     (min_level, sources, dedupe). A worker acknowledges batches in log order, so its
//     cursor never passes a batch that is still in flight.
//  3. After a kill -9 at any instant, a restart delivers every line at least once: lines not
//     yet durable are read again (their offsets were not saved), and durable events not yet
//     acknowledged are sent again. Duplicates are bounded by what was in flight: the
//     batches being sent, and the last checkpoint interval (50 ms) of reading.
//
// # Shutdown order
//
// Sources stop first (no new lines are read); the writer then makes what it holds durable
// and saves the checkpoints; the workers stop starting new batches and let the batches in
// flight finish for up to shutdown_timeout, after which the sends are cancelled and their
// events stay in the buffer for the next start; last, the sinks and the buffer are closed.
// Stopping in this order means nothing read is ever only in memory when the process exits.
package agent
