package agent

import (
	"math/rand/v2"
	"time"
)

// backoff is capped exponential backoff with full jitter: the n-th wait is drawn uniformly
// from [0, min(max, initial·2ⁿ)]. A wait the server asked for replaces the draw.
type backoff struct {
	initial, max time.Duration
	attempt      int
}

func (b *backoff) next(serverAsked time.Duration) time.Duration {
	ceil := b.initial << min(b.attempt, 30)
	if ceil <= 0 || ceil > b.max {
		ceil = b.max
	}
	b.attempt++
	if serverAsked > 0 {
		return serverAsked
	}
	return time.Duration(rand.Int64N(int64(ceil) + 1))
}

func (b *backoff) reset() { b.attempt = 0 }
