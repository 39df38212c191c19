package betterstack

import (
	"testing"
	"time"

	httpsink "github.com/winship/winship/sinks/http"
)

func httpsinkSecret(s string) httpsink.Secret { return httpsink.Secret(s) }

// shortTimeout returns a client like the sink's own, with a 200 ms timeout.
func shortTimeout(t *testing.T, url string) *httpsink.Client {
	c, err := httpsink.NewClient(httpsink.ClientConfig{
		URL: url, ContentType: "application/json", Gzip: true,
		Header:  map[string]httpsink.Secret{"Authorization": httpsink.Secret("Bearer " + token)},
		Timeout: 200 * time.Millisecond, Classify: Classify,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdle)
	return c
}
