package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/winship/winship/agent/event"
)

// readSize is the chunk a follower reads at once. Buffers come from a pool and go back at
// end of file, so a thousand idle followers hold no read buffers.
const readSize = 128 << 10

// maxBatchEvents bounds the events in one Batch handed to the writer.
const maxBatchEvents = 1024

// tailCheckBytes is how many bytes before the read offset are remembered and compared on
// every wake-up: if they changed, the file was truncated and rewritten even if it is already
// longer again than where we were ("> file" followed by fast appends).
const tailCheckBytes = 32

// seekData is lseek's SEEK_DATA: the next offset at or after the given one that holds data
// rather than a hole.
const seekData = 3

var bufPool = sync.Pool{New: func() any { b := make([]byte, readSize); return &b }}

// readAvailable reads from the read position to the end of the file, feeding complete
// lines to the parser and handing batches over as they fill. It reports whether anything
// was read.
func (f *follower) readAvailable(ctx context.Context) (bool, error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	grew := false
	for {
		if f.maybeHole && len(f.carry) == 0 && !f.skipping {
			f.skipHole()
		}
		start := f.pos()
		n, err := f.file.ReadAt(buf, start)
		if n > 0 && !f.unchangedBefore() {
			// Truncated and rewritten between the check and this read: the chunk may be
			// the middle of the new content. The next step handles the truncation.
			f.wake()
			return grew, nil
		}
		if n > 0 {
			grew = true
			f.maybeHole = buf[n-1] == 0 // (an empty file just truncated keeps it set)
			f.src.metrics.bytes.Add(int64(n))
			if err := f.consume(ctx, buf[:n], start); err != nil {
				return grew, err
			}
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return grew, fmt.Errorf("read %s at offset %d: %w", f.path, start, err)
		}
		if n < len(buf) || ctx.Err() != nil {
			return grew, nil
		}
		if f.target >= 0 && f.pos() >= f.target {
			return grew, nil
		}
	}
}

// unchangedBefore reports whether the file still holds, just before the read position, the
// bytes read there before (the end of the last line and the held fragment). Checked after
// each read and before its bytes are used, it closes the window between the truncation check
// and the read: a chunk read after a truncation is never taken for the old file's next bytes.
func (f *follower) unchangedBefore() bool {
	held := f.carry[:min(len(f.carry), tailCheckBytes)]
	size := len(f.lastSeen) + len(held)
	if size == 0 {
		return true
	}
	got := f.scratch[:size] // no allocation: this runs after every read
	n, _ := f.file.ReadAt(got, f.readOff-int64(len(f.lastSeen)))
	return n == size && bytes.Equal(got[:len(f.lastSeen)], f.lastSeen) &&
		bytes.Equal(got[len(f.lastSeen):], held)
}

// skipHole jumps over a sparse hole (the run of NUL bytes copytruncate leaves when the writer
// keeps its offset) without reading it. It is tried after a truncation and when a full chunk
// ended in NULs at a line start.
func (f *follower) skipHole() {
	next, err := f.file.Seek(f.readOff, seekData)
	if err != nil || next <= f.readOff {
		return // no data after it (ENXIO), or the file system cannot tell: read on
	}
	f.src.metrics.nulBytes.Add(next - f.readOff)
	f.readOff = next
	_ = f.rememberTail()
}

// consume splits data, the file's bytes from offset start (which follow carry), into lines.
func (f *follower) consume(ctx context.Context, data []byte, start int64) error {
	chunk := data
	now := time.Now()
	maxLine := int(f.src.cfg.MaxLineBytes)
	for len(data) > 0 {
		if data[0] == 0 && len(f.carry) == 0 && !f.skipping {
			n := nulRun(data)
			f.readOff += int64(n)
			f.src.metrics.nulBytes.Add(int64(n))
			data = data[n:]
			continue
		}
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return f.hold(ctx, data, maxLine, now, chunk, start)
		}
		lineLen := len(f.carry) + i + 1
		var line []byte
		if len(f.carry) > 0 {
			f.carry = append(f.carry, data[:i]...)
			line = f.carry
		} else {
			line = data[:i]
		}
		off := f.readOff
		f.readOff += int64(lineLen)
		if f.skipping {
			f.skipping = false // the over-long line ends here; its head was shipped already
		} else if err := f.feed(ctx, line, off, now, maxLine); err != nil {
			return err
		}
		f.carry = f.carry[:0]
		data = data[i+1:]
	}
	f.noteTail(chunk, start)
	return nil
}

func nulRun(data []byte) int {
	i := 0
	for i < len(data) && data[i] == 0 {
		i++
	}
	return i
}

// hold keeps an incomplete line; an over-long one is shipped truncated now and the rest of
// it discarded until its newline.
func (f *follower) hold(ctx context.Context, data []byte, maxLine int, now time.Time,
	chunk []byte, start int64) error {
	defer f.noteTail(chunk, start)
	if f.skipping {
		f.readOff += int64(len(data)) // the discarded middle of an over-long line
		return nil
	}
	f.carry = append(f.carry, data...)
	if len(f.carry) <= maxLine {
		return nil
	}
	if err := f.feed(ctx, f.carry, f.readOff, now, maxLine); err != nil {
		return err
	}
	f.readOff += int64(len(f.carry))
	f.carry = f.carry[:0]
	f.skipping = true
	return nil
}

// feed parses one line (without its newline).
func (f *follower) feed(ctx context.Context, line []byte, off int64, now time.Time,
	maxLine int) error {
	line = trimLine(line)
	if len(line) == 0 {
		return nil
	}
	truncated := false
	if len(line) > maxLine {
		line, truncated = line[:maxLine], true
		f.src.metrics.truncated.Add(1)
		f.logger.Warn("line longer than max_line_bytes shipped truncated", "path", f.path,
			"offset", off, "max_line_bytes", maxLine)
	}
	n := len(f.batch)
	f.batch = f.parser.Feed(f.batch, line, off, now)
	if truncated {
		for i := n; i < len(f.batch); i++ {
			f.batch[i].Flags |= event.FlagTruncated
		}
	}
	f.src.metrics.lines.Add(1)
	if len(f.batch) >= maxBatchEvents {
		return f.flushBatch(ctx)
	}
	return nil
}

// trimLine drops a trailing CR and leading NUL bytes.
func trimLine(line []byte) []byte {
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line[nulRun(line):]
}

// noteTail remembers the bytes just before readOff, from the chunk just consumed (the
// file's bytes from offset start) when it holds them, else with a small pread.
func (f *follower) noteTail(chunk []byte, start int64) {
	if f.readOff == 0 {
		f.lastSeen = f.lastSeen[:0]
		return
	}
	end := f.readOff - start
	if end >= tailCheckBytes && end <= int64(len(chunk)) {
		f.lastSeen = append(f.lastSeen[:0], chunk[end-tailCheckBytes:end]...)
		return
	}
	_ = f.rememberTail()
}

// rememberTail keeps the bytes before readOff for the truncation check.
func (f *follower) rememberTail() error {
	n := min(f.readOff, tailCheckBytes)
	buf := make([]byte, n)
	m, err := f.file.ReadAt(buf, f.readOff-n)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read %s at offset %d: %w", f.path, f.readOff-n, err)
	}
	f.lastSeen = buf[:m]
	return nil
}
