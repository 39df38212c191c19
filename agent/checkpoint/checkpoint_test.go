package checkpoint

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, path, content string) *os.File {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestIdentityFollowsTheHead(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.log")
	long := strings.Repeat("0123456789abcdef", 100) // over HeadBytes
	f := writeFile(t, p, long)
	id, err := Identify(f)
	if err != nil {
		t.Fatal(err)
	}
	if id.HeadLen != HeadBytes || id.Ino == 0 {
		t.Fatalf("identity %+v", id)
	}
	for _, tc := range []struct {
		name, content string
		same          bool
	}{
		{"appended", long + "more", true},
		{"head rewritten", "X" + long[1:], false},
		{"truncated below the head", long[:100], false},
		{"emptied", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(p, []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			same, err := SameFile(f, id)
			if err != nil || same != tc.same {
				t.Fatalf("SameFile = %v, %v; want %v", same, err, tc.same)
			}
		})
	}
}

// A file that reuses a deleted file's inode with the very same content is another file
// where the file system records birth times.
func TestBirthTimeTellsInodeReuse(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.log")
	f := writeFile(t, p, "same content\n")
	id, err := Identify(f)
	if err != nil {
		t.Fatal(err)
	}
	if id.Birth == 0 {
		t.Skip("no birth time on this file system")
	}
	f.Close()
	os.Remove(p)
	for i := range 100 {
		time.Sleep(time.Millisecond) // a later birth time than the deleted file's
		q := filepath.Join(dir, fmt.Sprintf("b%d.log", i))
		g := writeFile(t, q, "same content\n")
		gi, err := Identify(g)
		if err != nil {
			t.Fatal(err)
		}
		if gi.Ino != id.Ino {
			continue
		}
		if same, err := SameFile(g, id); err != nil || same {
			t.Fatalf("a new file on a reused inode is taken for the old one (%v)", err)
		}
		return
	}
	t.Skip("the inode was not reused")
}

// Set keeps one entry per inode; Lookup finds it through a grown identity; the store
// survives Save and Open.
func TestStoreKeepsOneEntryPerInode(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.log")
	f := writeFile(t, p, "tiny\n")
	small, err := Identify(f)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(filepath.Join(dir, "checkpoints.json"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	s.Set(small, p, 5, now)

	if err := os.WriteFile(p, []byte("tiny\n"+strings.Repeat("x", 2000)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e, err := s.Lookup(f)
	if err != nil || e == nil || e.Offset != 5 {
		t.Fatalf("lookup of the grown file: %+v, %v", e, err)
	}
	full, err := Identify(f)
	if err != nil {
		t.Fatal(err)
	}
	s.Set(full, p, 2006, now)
	if n := len(s.Entries()); n != 1 {
		t.Fatalf("%d entries after the identity grew, want 1: %+v", n, s.Entries())
	}
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(filepath.Join(dir, "checkpoints.json"))
	if err != nil {
		t.Fatal(err)
	}
	if e, err := s2.Lookup(f); err != nil || e == nil || e.Offset != 2006 || e.ID != full {
		t.Fatalf("after reopening: %+v, %v", e, err)
	}
	s2.Forget(full)
	if e, _ := s2.Lookup(f); e != nil {
		t.Fatalf("forgotten entry still found: %+v", e)
	}
}

func TestOpenRejectsACorruptStore(t *testing.T) {
	p := filepath.Join(t.TempDir(), "checkpoints.json")
	os.WriteFile(p, []byte("{not json"), 0o644)
	if _, err := Open(p); err == nil || !strings.Contains(err.Error(), "parse checkpoints") {
		t.Fatalf("err = %v", err)
	}
}
