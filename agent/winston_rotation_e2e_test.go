package agent

import (
	"bufio"
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// needNode returns the repository root when node and node_modules are there; otherwise the
// test is skipped, or fails when CI=true.
func needNode(t *testing.T) string {
	t.Helper()
	_, self, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(self), "..")
	_, err := exec.LookPath("node")
	for _, mod := range []string{"winston", "winston-daily-rotate-file"} {
		if _, serr := os.Stat(filepath.Join(root, "node_modules", mod)); serr != nil {
			err = serr
		}
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("node and node_modules are required in CI (npm ci): %v", err)
		}
		t.Skipf("node or node_modules missing (npm ci): %v", err)
	}
	return root
}

var entryNumber = regexp.MustCompile(`"message":"entry (\d+)"`)

// writtenEntries counts the numbered entries the producer left in dir: plain files and
// gzipped ones, not symlinks (they would count the active file twice) nor the audit JSON.
// This is the ground truth: Winston's File transport itself drops entries when it rotates
// under load (a PassThrough's buffer at the switch), and winship cannot ship what was never
// written.
func writtenEntries(t *testing.T, dir string) map[int]int {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := map[int]int{}
	for _, e := range ents {
		if !e.Type().IsRegular() || strings.HasSuffix(e.Name(), "-audit.json") {
			continue
		}
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		var r io.Reader = f
		if strings.HasSuffix(e.Name(), ".gz") {
			if r, err = gzip.NewReader(f); err != nil {
				t.Fatalf("%s: %v", e.Name(), err)
			}
		}
		sc := bufio.NewScanner(r)
		sc.Buffer(nil, 256<<20) // a copytruncate copy can start with megabytes of NULs
		for sc.Scan() {
			if m := entryNumber.FindSubmatch(sc.Bytes()); m != nil {
				k, _ := strconv.Atoi(string(m[1]))
				n[k]++
			}
		}
		f.Close()
	}
	return n
}

// Real producers: Winston with each rotation option, and a copytruncate simulation, write
// numbered entries fast while the agent follows; every entry written arrives exactly once.
func TestWinstonRotationEveryEntryOnce(t *testing.T) {
	root := needNode(t)
	count := 12000
	if testing.Short() {
		count = 3000
	}
	tests := []struct {
		mode, glob string
	}{
		{"maxsize", "combined*.log"},
		{"tailable", "combined*.log"},
		{"daily", "*"}, // the default excludes keep .gz and the audit JSON out
		{"copytruncate", "combined.log"},
		{"copytruncate-noappend", "combined.log"},
	}
	for _, tc := range tests {
		t.Run(tc.mode, func(t *testing.T) {
			dir := t.TempDir()
			logs := filepath.Join(dir, "logs")
			os.MkdirAll(logs, 0o755)
			r := rotStart(t, rotConfig(t, dir, tc.glob, "", archiveSink))
			out := filepath.Join(dir, "out/events.jsonl")

			cmd := exec.Command("node", filepath.Join(root, "testdata/node/rotate.js"), tc.mode,
				logs, strconv.Itoa(count))
			cmd.Dir = root
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("rotate.js %s: %v\n%s", tc.mode, err, b)
			}
			written := writtenEntries(t, logs)
			if lost := count - len(written); lost > 0 {
				t.Logf("%s: Winston itself wrote %d of %d entries", tc.mode, len(written), count)
			}
			if len(written) < count/2 {
				t.Fatalf("the producer wrote only %d of %d entries", len(written), count)
			}
			deadline := time.Now().Add(60 * time.Second)
			for len(readOut(t, out)) < len(written) && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			time.Sleep(300 * time.Millisecond) // a quiet period in which no duplicate may come
			r.stop(t)
			checkEntries(t, readOut(t, out), written)
		})
	}
}

// checkEntries compares the delivered events with the entries in the files.
func checkEntries(t *testing.T, events []outEvent, written map[int]int) {
	t.Helper()
	got := map[int]int{}
	for _, e := range events {
		var k int
		if m := regexp.MustCompile(`^entry (\d+)$`).FindStringSubmatch(e.Message); m != nil {
			k, _ = strconv.Atoi(m[1])
			got[k]++
			continue
		}
		t.Errorf("unexpected event %.80q from %s", e.Message, e.Path)
	}
	var missing, doubled, extra []int
	for k, n := range written {
		switch {
		case got[k] == 0:
			missing = append(missing, k)
		case got[k] > n:
			doubled = append(doubled, k)
		}
	}
	for k := range got {
		if written[k] == 0 {
			extra = append(extra, k)
		}
	}
	if len(missing)+len(doubled)+len(extra) > 0 {
		t.Fatalf("%d events for %d written entries: missing %s; doubled %s; never written %s",
			len(events), len(written), numList(missing), numList(doubled), numList(extra))
	}
}

func numList(ns []int) string {
	if len(ns) == 0 {
		return "none"
	}
	s := make([]string, 0, 10)
	for i, k := range ns {
		if i == 10 {
			s = append(s, "...")
			break
		}
		s = append(s, strconv.Itoa(k))
	}
	return strconv.Itoa(len(ns)) + " (" + strings.Join(s, ",") + ")"
}

// TestStressWinstonRotation runs the real producers with many more entries (make stress).
func TestStressWinstonRotation(t *testing.T) {
	if os.Getenv("WINSHIP_STRESS") == "" {
		t.Skip("set WINSHIP_STRESS=1 to run (make stress)")
	}
	root := needNode(t)
	for _, tc := range []struct{ mode, glob string }{
		{"maxsize", "combined*.log"}, {"tailable", "combined*.log"}, {"daily", "*"},
		{"copytruncate", "combined.log"}, {"copytruncate-noappend", "combined.log"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			for round := range 5 {
				dir := t.TempDir()
				logs := filepath.Join(dir, "logs")
				os.MkdirAll(logs, 0o755)
				r := rotStart(t, rotConfig(t, dir, tc.glob, "", archiveSink))
				out := filepath.Join(dir, "out/events.jsonl")
				cmd := exec.Command("node", filepath.Join(root, "testdata/node/rotate.js"),
					tc.mode, logs, "100000")
				cmd.Dir = root
				if b, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("round %d: rotate.js: %v\n%s", round, err, b)
				}
				written := writtenEntries(t, logs)
				deadline := time.Now().Add(3 * time.Minute)
				for len(readOut(t, out)) < len(written) && time.Now().Before(deadline) {
					time.Sleep(50 * time.Millisecond)
				}
				time.Sleep(300 * time.Millisecond)
				r.stop(t)
				checkEntries(t, readOut(t, out), written)
			}
		})
	}
}
