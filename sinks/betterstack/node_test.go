package betterstack

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestFreshWinstonOutput runs Winston (Node 20, the repo's node_modules) to write new
// output with Uzbek, Russian, emoji and clashing keys, and checks that every entry arrives
// intact. It skips without node or node_modules, except with CI=true, where it fails.
func TestFreshWinstonOutput(t *testing.T) {
	requireNode(t)
	out := filepath.Join(t.TempDir(), "combined.log")
	cmd := exec.Command("node", "testdata/winston-unicode.js", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("node: %v\n%s", err, b)
	}
	checkWinstonFile(t, out)
}

func requireNode(t *testing.T) {
	t.Helper()
	missing := ""
	if _, err := exec.LookPath("node"); err != nil {
		missing = "node is not installed"
	} else if _, err := os.Stat("../../node_modules/winston"); err != nil {
		missing = "node_modules/winston is missing (npm ci at the repo root)"
	}
	if missing == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal(missing)
	}
	t.Skip(missing)
}
