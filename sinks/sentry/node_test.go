package sentry

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// repoRoot walks up from the test's folder to the folder holding go.mod.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test folder")
		}
		dir = parent
	}
}

// needNode returns the repository root when node and @sentry/core are available. It skips
// the test when they are not, except under CI=true, where their absence is a failure.
func needNode(t testing.TB) string {
	t.Helper()
	root := repoRoot(t)
	missing := ""
	if _, err := exec.LookPath("node"); err != nil {
		missing = "node is not on PATH"
	} else if _, err := os.Stat(filepath.Join(root, "node_modules", "@sentry", "core")); err != nil {
		missing = "node_modules/@sentry/core is not installed (npm ci)"
	}
	if missing == "" {
		return root
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s; CI=true requires it", missing)
	}
	t.Skip(missing)
	return ""
}

// runNode runs a script of testdata/node with the repository root as its folder, feeding
// stdin, and returns its standard output.
func runNode(t testing.TB, script string, stdin []byte, args ...string) []byte {
	t.Helper()
	root := needNode(t)
	path := filepath.Join(root, "sinks", "sentry", "testdata", "node", script)
	cmd := exec.Command("node", append([]string{path}, args...)...)
	cmd.Dir = root
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node %s: %v\n%s", script, err, stderr.String())
	}
	return out
}
