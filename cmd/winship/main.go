// Command winship ships a Node.js backend's Winston logs to error trackers and log stores,
// and loses nothing on the way. See the README for usage.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/winship/winship/sinks/sentry"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
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
