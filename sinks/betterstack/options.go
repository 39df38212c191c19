package betterstack

import (
	"strings"
	"time"

	"github.com/winship/winship/sinks"
	httpsink "github.com/winship/winship/sinks/http"
)

// DefaultEndpoint is BetterStack's shared ingesting host. Each source also shows its own
// ingesting host, which works too.
const DefaultEndpoint = "https://in.logs.betterstack.com"

// Options is the betterstack sink's configuration.
type Options struct {
	// SourceToken is the source's token, sent as "Authorization: Bearer <token>". Required;
	// never printed.
	SourceToken httpsink.Secret `yaml:"source_token"`
	// Endpoint is the ingesting URL; default DefaultEndpoint.
	Endpoint string `yaml:"endpoint"`
	// Timeout bounds one request, from connecting to reading the answer. Default 10s.
	Timeout time.Duration `yaml:"timeout"`
	// QuotaProbe is how long the sink pauses after a 402 (quota or spending limit reached)
	// before it tries again. Default DefaultQuotaProbe.
	QuotaProbe time.Duration `yaml:"quota_probe"`
}

// NewOptions returns Options with the defaults set.
func NewOptions() *Options {
	return &Options{Endpoint: DefaultEndpoint, Timeout: httpsink.DefaultTimeout,
		QuotaProbe: DefaultQuotaProbe}
}

// Validate checks the options and returns a *sinks.KeyError naming the first wrong key.
// No message ever holds the token.
func (o *Options) Validate() error {
	if err := validateToken(string(o.SourceToken)); err != nil {
		return err
	}
	if err := httpsink.ValidateURL("endpoint", o.Endpoint); err != nil {
		return err
	}
	if o.Timeout <= 0 {
		return &sinks.KeyError{Key: "timeout", Msg: "must be a positive duration such as 10s"}
	}
	if o.QuotaProbe <= 0 {
		return &sinks.KeyError{Key: "quota_probe", Msg: "must be a positive duration such as 5m"}
	}
	return nil
}

func validateToken(tok string) error {
	const key = "source_token"
	if tok == "" {
		return &sinks.KeyError{Key: key, Msg: "is empty or missing (if it is ${VAR}, is VAR set?)"}
	}
	if strings.TrimSpace(tok) != tok {
		return &sinks.KeyError{Key: key,
			Msg: "has white space or a line break around it; value not shown"}
	}
	for i := 0; i < len(tok); i++ {
		if c := tok[i]; c <= ' ' || c == 0x7f {
			return &sinks.KeyError{Key: key,
				Msg: "holds a space or control character; value not shown"}
		}
	}
	return nil
}

// Resolve does nothing: the sink has no paths.
func (o *Options) Resolve(string) {}
