package buffer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// recover validates the segments whose tail may be torn: the last one, and any whose size
// does not meet the next segment's first position. A damaged tail is truncated to the end
// of the last intact record; damaged bytes followed by intact records are left for readers
// to skip (nothing intact is ever cut). Every damage and every gap left by a missing
// segment is warned about and counted. It never refuses a damaged log; only I/O errors
// (permissions, a failing disk) make it fail.
func (l *Log) recover(segs []segment) ([]segment, error) {
	cut := make(map[Pos]bool)
	kept := segs[:0]
	for i, s := range segs {
		limit := s.size
		if i < len(segs)-1 {
			span := int64(segs[i+1].base - s.base)
			if s.size == span {
				kept = append(kept, s)
				continue
			}
			limit = min(limit, span)
		}
		good, err := l.checkSegment(s, limit)
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed while we looked: the gap check below reports it
		}
		if err != nil {
			return nil, err
		}
		if good < s.size {
			cut[s.base] = true
			s.size = good
		}
		kept = append(kept, s)
	}
	l.reportGaps(kept, cut)
	return kept, nil
}

// checkSegment scans segment s up to limit and truncates what follows its last intact
// record. It returns the segment's new size.
func (l *Log) checkSegment(s segment, limit int64) (int64, error) {
	path := l.segPath(s.base)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return 0, fmt.Errorf("open segment %s: %w", path, err)
	}
	defer f.Close()
	good, tailRecords, err := l.scanFrames(s.base, f, limit)
	if err != nil {
		return 0, fmt.Errorf("scan segment %s: %w", path, err)
	}
	if good == s.size {
		return good, nil
	}
	if err := f.Truncate(good); err != nil {
		return 0, fmt.Errorf("truncate segment %s to %d: %w", path, good, err)
	}
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("fsync segment %s: %w", path, err)
	}
	l.reportDamage("truncated the damaged tail of a segment", s.base, good, s.size-good,
		max(tailRecords, 1), "")
	return good, nil
}

// scanFrames reads every frame of f before limit. It returns the end of the last intact
// frame and how many records the damaged tail after it held (0 when there is none).
// Damage followed by intact frames is reported here and left in place.
func (l *Log) scanFrames(base Pos, f *os.File, limit int64) (int64, int, error) {
	src := newFrameSource(f, 0, limit, readBufBytes)
	var off, good int64
	buf := make([]byte, 0, 64<<10)
	for off < limit {
		out, res, err := src.read(limit-off, MaxRecordBytes, buf[:0])
		if err != nil {
			return 0, 0, err
		}
		if res == frameOK {
			off += frameSize(len(out))
			good, buf = off, out
			continue
		}
		next, records, err := resync(f, off, limit)
		if err != nil {
			return 0, 0, err
		}
		if next >= limit {
			return good, records, nil
		}
		l.reportDamage("found damaged bytes in a segment; readers skip them", base, off,
			next-off, records, "")
		off = next
		src.seek(next)
	}
	return good, 0, nil
}

// reportGaps warns about the positions between segments that no file holds: a segment
// deleted by hand, or (rarely) a tail cut in an earlier run. Gaps left by a tail cut in
// this recovery were already reported.
func (l *Log) reportGaps(segs []segment, cut map[Pos]bool) {
	for i := 0; i+1 < len(segs); i++ {
		s, next := segs[i], segs[i+1]
		if next.base <= s.end() || cut[s.base] {
			continue
		}
		l.stats.MissingSegments++
		l.log.Warn("buffer: positions missing between segments (segment deleted?), skipping",
			"path", l.segPath(s.base), "offset", s.size, "bytes", int64(next.base-s.end()),
			"records_at_least", 1)
	}
}
