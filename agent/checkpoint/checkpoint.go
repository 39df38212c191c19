// Package checkpoint remembers how far each file has been read durably, keyed by the file's
// identity rather than its name, so that a renamed (rotated) file is finished from where it
// stopped and a new file that reuses an old inode is read from its start.
//
// The store is one JSON file written atomically (temp file, fsync, rename, fsync of the
// folder). The pipeline saves an offset only after every event before it is durable in the
// disk buffer; this package does not know about events and trusts its caller on that.
package checkpoint

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc64"
	"io"
	"os"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/winship/winship/agent/durable"
)

// HeadBytes is how many leading bytes of a file take part in its identity.
const HeadBytes = 1024

// ID identifies a file: device and inode, the file's birth time where the file system keeps
// one, and a hash of its first HeadLen bytes. The birth time and the hash tell a new file
// that reuses a deleted file's inode from the old one; the inode tells two files with
// identical first bytes (error.log and combined.log often start alike) apart.
//
// HeadLen is below HeadBytes while a file is smaller than that; the follower identifies the
// file again as it grows, so a tiny file's identity does not stay a few bytes long.
type ID struct {
	Dev      uint64 `json:"dev"`
	Ino      uint64 `json:"ino"`
	Birth    int64  `json:"birth,omitempty"` // unix nanoseconds; 0 when unknown
	HeadLen  int    `json:"head_len"`
	HeadHash uint64 `json:"head_hash"`
}

// Entry is the saved state of one file.
type Entry struct {
	ID      ID        `json:"id"`
	Path    string    `json:"path"`   // the name it was last seen under
	Offset  int64     `json:"offset"` // every byte before it is durable
	Updated time.Time `json:"updated"`
}

var table = crc64.MakeTable(crc64.ECMA)

// Identify returns the identity of an open file. It reads up to HeadBytes from offset 0
// with pread, so the file's read position is not moved.
func Identify(f *os.File) (ID, error) {
	fi, err := f.Stat()
	if err != nil {
		return ID{}, fmt.Errorf("stat %s: %w", f.Name(), err)
	}
	id := devIno(fi)
	id.Birth = birthTime(f)
	head := make([]byte, HeadBytes)
	n, err := f.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return ID{}, fmt.Errorf("read head of %s: %w", f.Name(), err)
	}
	id.HeadLen = n
	id.HeadHash = crc64.Checksum(head[:n], table)
	return id, nil
}

func devIno(fi os.FileInfo) ID {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ID{}
	}
	return ID{Dev: uint64(st.Dev), Ino: st.Ino}
}

// SameFile reports whether the file f is the one saved as id: same device and inode, same
// birth time when both are known, and its first id.HeadLen bytes hash the same. A file
// shorter than id.HeadLen is not the same file (it was truncated or replaced).
func SameFile(f *os.File, id ID) (bool, error) {
	fi, err := f.Stat()
	if err != nil {
		return false, fmt.Errorf("stat %s: %w", f.Name(), err)
	}
	if di := devIno(fi); di.Dev != id.Dev || di.Ino != id.Ino {
		return false, nil
	}
	if b := birthTime(f); b != 0 && id.Birth != 0 && b != id.Birth {
		return false, nil
	}
	return SameHead(f, id)
}

// SameHead reports whether the first id.HeadLen bytes of f hash to id.HeadHash, whatever
// f's inode (a copy of the file has the same head).
func SameHead(f *os.File, id ID) (bool, error) {
	head := make([]byte, id.HeadLen)
	n, err := f.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("read head of %s: %w", f.Name(), err)
	}
	return n == id.HeadLen && crc64.Checksum(head, table) == id.HeadHash, nil
}

// Store holds the entries in memory and saves them to a file. It is safe for concurrent
// use: followers look files up while the pipeline's writer sets and saves offsets.
type Store struct {
	mu      sync.Mutex
	path    string
	entries map[ID]*Entry
}

// Open loads the store at path. A missing file is an empty store; an unreadable one is an
// error (the caller decides; silently starting over could resend or skip everything).
func Open(path string) (*Store, error) {
	s := &Store{path: path, entries: map[ID]*Entry{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read checkpoints %s: %w", path, err)
	}
	var list []Entry
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, fmt.Errorf("parse checkpoints %s: %w (move the file away to start over)",
			path, err)
	}
	for i := range list {
		e := list[i]
		s.entries[e.ID] = &e
	}
	return s, nil
}

// Lookup finds the entry whose identity matches the open file f (same device and inode and
// matching head hash), preferring the one with the longest head. It returns nil when there
// is none.
func (s *Store) Lookup(f *os.File) (*Entry, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", f.Name(), err)
	}
	di := devIno(fi)
	s.mu.Lock()
	defer s.mu.Unlock()
	var best *Entry
	for id, e := range s.entries {
		if id.Dev != di.Dev || id.Ino != di.Ino || (best != nil && id.HeadLen <= best.ID.HeadLen) {
			continue
		}
		same, err := SameFile(f, id)
		if err != nil {
			return nil, err
		}
		if same {
			best = e
		}
	}
	if best == nil {
		return nil, nil
	}
	cp := *best
	return &cp, nil
}

// Stale finds the entry of an earlier file on f's device and inode whose content f no
// longer holds (truncated or rewritten while winship was not watching), the one read
// furthest. It returns nil when there is none.
func (s *Store) Stale(f *os.File) (*Entry, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", f.Name(), err)
	}
	di := devIno(fi)
	s.mu.Lock()
	defer s.mu.Unlock()
	var best *Entry
	for id, e := range s.entries {
		if id.Dev != di.Dev || id.Ino != di.Ino || (best != nil && e.Offset <= best.Offset) {
			continue
		}
		same, err := SameFile(f, id)
		if err != nil {
			return nil, err
		}
		if !same || e.Offset > fi.Size() {
			best = e
		}
	}
	if best == nil {
		return nil, nil
	}
	cp := *best
	return &cp, nil
}

// Set records that every byte of the file id before offset is durable. It drops every other
// entry with id's device and inode: one inode is one file at a time, so those entries are
// either this file under an older (shorter-head or pre-truncation) identity or a deleted
// file whose inode was reused, and keeping them could hand their offset to this file.
func (s *Store) Set(id ID, path string, offset int64, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entries[id]
	if e == nil {
		for old := range s.entries {
			if old.Dev == id.Dev && old.Ino == id.Ino {
				delete(s.entries, old)
			}
		}
		e = &Entry{ID: id}
		s.entries[id] = e
	}
	e.Path, e.Offset, e.Updated = path, offset, now
}

// Forget drops the entry of id (a file that is gone for good).
func (s *Store) Forget(id ID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.entries, id)
}

// Entries returns a copy of the entries, sorted by path.
func (s *Store) Entries() []Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := make([]Entry, 0, len(s.entries))
	for _, e := range s.entries {
		list = append(list, *e)
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].Path != list[j].Path {
			return list[i].Path < list[j].Path
		}
		return list[i].ID.Ino < list[j].ID.Ino
	})
	return list
}

// Save writes the store atomically.
func (s *Store) Save() error {
	data, err := json.MarshalIndent(s.Entries(), "", "  ")
	if err != nil {
		return fmt.Errorf("encode checkpoints: %w", err)
	}
	return durable.WriteFile(s.path, data, 0o640)
}
