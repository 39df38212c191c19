package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/winship/winship"
	"github.com/winship/winship/agent"
	"github.com/winship/winship/agent/config"
	"github.com/winship/winship/sinks"
	"github.com/winship/winship/sinks/betterstack"
	"github.com/winship/winship/sinks/file"
	httpsink "github.com/winship/winship/sinks/http"
	"github.com/winship/winship/sinks/sentry"
)

// factories are the sink types winship knows.
func factories() map[string]sinks.Factory {
	return map[string]sinks.Factory{
		"file":        file.Factory,
		"http":        httpsink.Factory,
		"betterstack": betterstack.Factory,
		"sentry":      sentry.SentryFactory,
		"glitchtip":   sentry.GlitchTipFactory,
	}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "winship",
		Short: "Ship Winston logs to Sentry, GlitchTip, BetterStack or a file, losing nothing",
		// Usage is for mistakes in the command line, not for runtime errors.
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newRunCmd(), newValidateCmd(), newVersionCmd(), newTestSinkCmd())
	return root
}

// loadConfig loads the file named by -c; without -c it loads the default path, or the
// embedded default when nothing is there.
func loadConfig(path string, explicit bool, stderr io.Writer) (*config.Config, error) {
	if !explicit {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(stderr, "winship: no config at %s; using the embedded default "+
				"(./logs/*.log → ./out/events.jsonl)\n", path)
			wd, err := os.Getwd()
			if err != nil {
				return nil, err
			}
			return config.Parse(winship.DefaultConfig, "embedded default", wd, factories())
		}
	}
	return config.Load(path, factories())
}

func newLogger(level string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lv}))
}

func newRunCmd() *cobra.Command {
	var (
		cfgPath string
		once    bool
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Tail the configured files and ship their entries until SIGINT or SIGTERM",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("timeout") && !once {
				return errors.New("--timeout applies only with --once")
			}
			if timeout < 0 {
				return errors.New("--timeout must not be negative")
			}
			cfg, err := loadConfig(cfgPath, cmd.Flags().Changed("config"), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			logger := newLogger(cfg.LogLevel)
			for _, s := range cfg.Sources {
				for _, p := range s.Paths {
					if d := filepath.Dir(p); !exists(d) {
						logger.Warn("the folder of a source path does not exist yet; "+
							"it is looked for at every rescan", "source", s.Name, "path", d)
					}
				}
			}
			return agent.Run(cmd.Context(), cfg, logger, agent.Options{Once: once,
				Timeout: timeout})
		},
	}
	cmd.Flags().StringVarP(&cfgPath, "config", "c", config.DefaultPath, "config file")
	cmd.Flags().BoolVar(&once, "once", false,
		"ship what the files hold now, wait until it is delivered, and exit")
	cmd.Flags().DurationVar(&timeout, "timeout", 0,
		"with --once: give up after this long (exit 1; the rest stays buffered)")
	return cmd
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func newValidateCmd() *cobra.Command {
	var cfgPath string
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check a config file and print what is wrong, or a summary",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cfgPath, cmd.Flags().Changed("config"), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), cfg.Summary())
			return nil
		},
	}
	cmd.Flags().StringVarP(&cfgPath, "config", "c", config.DefaultPath, "config file")
	return cmd
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print winship's version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), "winship", version)
		},
	}
}

func newTestSinkCmd() *cobra.Command {
	var cfgPath string
	cmd := &cobra.Command{
		Use:   "test-sink NAME",
		Short: "Send one test event to the named sink and print the answer",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(cfgPath, cmd.Flags().Changed("config"), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			return testSink(cmd.Context(), cfg, args[0], cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVarP(&cfgPath, "config", "c", config.DefaultPath, "config file")
	return cmd
}

func testSink(ctx context.Context, cfg *config.Config, name string, w io.Writer) error {
	for _, sc := range cfg.Sinks {
		if sc.Name != name {
			continue
		}
		host, _ := os.Hostname()
		snk, err := agent.BuildSink(cfg, sc, host, newLogger(cfg.LogLevel))
		if err != nil {
			return err
		}
		defer snk.Close()
		t, ok := snk.(sinks.Tester)
		if !ok {
			return fmt.Errorf("sink %s (%s) cannot send a test event", name, sc.Type)
		}
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		return t.TestSend(ctx, w)
	}
	return fmt.Errorf("no sink named %q in %s", name, cfg.File)
}
