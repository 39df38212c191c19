package parsers

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// requireNode skips the test when Node or the repository's node_modules is missing, except
// under CI=true, where the producers must be there and their absence fails the test.
func requireNode(t *testing.T) {
	t.Helper()
	why := ""
	if _, err := exec.LookPath("node"); err != nil {
		why = "node not on PATH"
	} else if _, err := os.Stat(filepath.Join("..", "node_modules", "winston")); err != nil {
		why = "../node_modules/winston missing (run npm ci)"
	}
	if why == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but %s", why)
	}
	t.Skip(why)
}

// runNode runs a Node script with arguments and fails the test on a non-zero exit.
func runNode(t *testing.T, script string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "node", append([]string{script}, args...)...).
		CombinedOutput()
	if err != nil {
		t.Fatalf("node %s: %v\n%s", script, err, out)
	}
}
