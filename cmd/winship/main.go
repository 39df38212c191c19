// Command winship ships a Node.js backend's Winston logs to error trackers and log stores,
// and loses nothing on the way. See the README for usage.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/winship/winship/sinks/sentry"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// defaultMemoryLimit is the Go runtime's soft memory limit when GOMEMLIMIT is not set:
// the pipeline's live heap is a few MiB, so the collector keeps the resident set near 25 MB
// instead of letting the heap double between collections. It is soft: a larger live heap
// (huge lines) only makes the collector work harder, within the runtime's CPU cap.
const defaultMemoryLimit = 16 << 20

func main() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	if version != "dev" {
		sentry.Version = version
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRootCmd().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "winship:", err)
		os.Exit(1)
	}
}
