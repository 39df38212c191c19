package betterstack

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/winship/winship/agent/event"
	"github.com/winship/winship/sinks"
	"github.com/winship/winship/sinks/betterstack/bsfake"
	"github.com/winship/winship/sinks/http/httpfake"
)

// driver mimics the pipeline's policy, to prove the sink and the fake script together:
// Retry and Pause send again (with no wait, recording the wait asked for), TooLarge splits,
// Reject bisects down to one event and dead-letters it, a PartialError re-drives the
// failed runs of events. The real policy lives in agent/.
type driver struct {
	sink sinks.Sink

	mu     sync.Mutex
	dead   []*event.Event
	kinds  map[sinks.Kind]int
	afters []time.Duration
}

func newDriver(s sinks.Sink) *driver { return &driver{sink: s, kinds: map[sinks.Kind]int{}} }

func (d *driver) deliver(ctx context.Context, batch []*event.Event) error {
	for try := 0; ; try++ {
		if ctx.Err() != nil || try > 10_000 {
			return errors.New("driver gave up")
		}
		err := d.sink.Send(ctx, batch)
		if err == nil {
			return nil
		}
		var pe *sinks.PartialError
		if errors.As(err, &pe) {
			return d.partial(ctx, batch, pe)
		}
		se := d.note(err)
		switch se.Kind {
		case sinks.Retry, sinks.Pause:
			time.Sleep(time.Millisecond) // a backoff, not a synchronisation
		case sinks.TooLarge, sinks.Reject:
			if len(batch) == 1 {
				d.mu.Lock()
				d.dead = append(d.dead, batch[0])
				d.mu.Unlock()
				return nil
			}
			mid := len(batch) / 2
			if err := d.deliver(ctx, batch[:mid]); err != nil {
				return err
			}
			return d.deliver(ctx, batch[mid:])
		}
	}
}

func (d *driver) partial(ctx context.Context, batch []*event.Event, pe *sinks.PartialError) error {
	for i := 0; i < len(batch); {
		if pe.Errs[i] == nil {
			i++
			continue
		}
		j := i + 1
		for j < len(batch) && pe.Errs[j] == pe.Errs[i] {
			j++
		}
		d.note(pe.Errs[i])
		if err := d.deliver(ctx, batch[i:j]); err != nil {
			return err
		}
		i = j
	}
	return nil
}

func (d *driver) note(err error) *sinks.Error {
	se := sinks.Classify(err)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.kinds[se.Kind]++
	if se.After > 0 {
		d.afters = append(d.afters, se.After)
	}
	return se
}

// seqKey identifies an event by its seq field, for delivery counts.
func seqKey(e httpfake.Event) string { return e.Map["seq"].(json.Number).String() }

func seqFake(t *testing.T, edit func(*httpfake.Config)) *bsfake.Server {
	return bsfake.New(t, token, func(c *httpfake.Config) {
		c.Key = seqKey
		if edit != nil {
			edit(c)
		}
	})
}

// onceEach checks that events 0..n-1 but skip each arrived exactly once.
func onceEach(t *testing.T, fake *bsfake.Server, n int, skip ...int) {
	t.Helper()
	counts := fake.DeliveryCounts()
	skipped := map[int]bool{}
	for _, s := range skip {
		skipped[s] = true
	}
	for i := 0; i < n; i++ {
		want := 1
		if skipped[i] {
			want = 0
		}
		if got := counts[strconv.Itoa(i)]; got != want {
			t.Errorf("event %d delivered %d times, want %d", i, got, want)
		}
	}
	if p := fake.Problems(); len(p) > 0 {
		t.Errorf("problems: %v", p)
	}
}

func TestDriverRetriesUntilAccepted(t *testing.T) {
	fake := seqFake(t, nil)
	fake.Queue(httpfake.Answer{Status: 500}, httpfake.Answer{Status: 500})
	d := newDriver(newSink(t, fake.URL, token))
	if err := d.deliver(context.Background(), numbered(100)); err != nil {
		t.Fatal(err)
	}
	onceEach(t, fake, 100)
	if d.kinds[sinks.Retry] != 2 || fake.Stats().Requests != 3 {
		t.Errorf("kinds %v, %d requests", d.kinds, fake.Stats().Requests)
	}
}

func TestDriverSplitsOn413(t *testing.T) {
	const limit = 16 << 10
	fake := seqFake(t, func(c *httpfake.Config) { c.MaxBodyBytes = limit })
	d := newDriver(newSink(t, fake.URL, token))
	if err := d.deliver(context.Background(), randomEvents(t, 64, 1<<10)); err != nil {
		t.Fatal(err)
	}
	onceEach(t, fake, 64)
	for _, r := range fake.Requests() {
		if r.Status == 202 && r.WireBytes > limit {
			t.Errorf("accepted a request of %d bytes", r.WireBytes)
		}
	}
	if d.kinds[sinks.TooLarge] == 0 || len(d.dead) != 0 {
		t.Errorf("kinds %v, %d dead", d.kinds, len(d.dead))
	}
}

func TestDriverDeadLettersPoison(t *testing.T) {
	for _, status := range []int{400, 406} {
		fake := seqFake(t, nil)
		fake.Poison(status, func(e httpfake.Event) bool { return e.Str("message") == "line 37" })
		d := newDriver(newSink(t, fake.URL, token))
		if err := d.deliver(context.Background(), numbered(100)); err != nil {
			t.Fatal(err)
		}
		onceEach(t, fake, 100, 37)
		if len(d.dead) != 1 || d.dead[0].Message != "line 37" {
			t.Errorf("%d: dead letters %v", status, d.dead)
		}
	}
}

func TestDriverPausesOnQuotaThenDelivers(t *testing.T) {
	fake := seqFake(t, nil)
	fake.Quota(4)
	d := newDriver(newSink(t, fake.URL, token))
	if err := d.deliver(context.Background(), numbered(50)); err != nil {
		t.Fatal(err)
	}
	onceEach(t, fake, 50)
	if d.kinds[sinks.Pause] != 4 || len(d.afters) != 4 || d.afters[0] != DefaultQuotaProbe {
		t.Errorf("kinds %v, waits %v", d.kinds, d.afters)
	}
}

func TestDriverOutageWithConcurrentSenders(t *testing.T) {
	fake := seqFake(t, nil)
	fake.Down(httpfake.Answer{Status: 503, RetryAfter: "1"})
	s := newSink(t, fake.URL, token)
	d := newDriver(s)
	all := numbered(1000)
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for b := 0; b < 10; b++ {
		wg.Add(1)
		go func(batch []*event.Event) {
			defer wg.Done()
			errs <- d.deliver(context.Background(), batch)
		}(all[b*100 : (b+1)*100])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := fake.Wait(ctx, func(st httpfake.Stats) bool { return st.Requests >= 30 }); err != nil {
		t.Fatal(err)
	}
	fake.Up()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	onceEach(t, fake, 1000)
}

// Random failures, lost answers included: everything arrives at least once, and the
// duplicates the fake counts are exactly the events whose answers were lost.
func TestDriverRandomFailures(t *testing.T) {
	fake := seqFake(t, nil)
	rng := rand.New(rand.NewPCG(1, 2))
	var lost int
	fake.Script(func(int) *httpfake.Answer {
		switch r := rng.IntN(10); {
		case r < 2:
			return &httpfake.Answer{Status: 500}
		case r < 3:
			return &httpfake.Answer{Status: 429, RetryAfter: "1"}
		case r < 4:
			return &httpfake.Answer{Reset: true}
		case r < 5:
			lost++
			return &httpfake.Answer{LoseAnswer: true}
		}
		return nil
	})
	d := newDriver(newSink(t, fake.URL, token))
	all := numbered(500)
	for b := 0; b < 500; b += 50 {
		if err := d.deliver(context.Background(), all[b:b+50]); err != nil {
			t.Fatal(err)
		}
	}
	st := fake.Stats()
	if st.Distinct != 500 || st.Duplicates != 50*lost {
		t.Errorf("stats %+v, %d answers lost", st, lost)
	}
	t.Logf("%d requests, %d lost answers, %d duplicates", st.Requests, lost, st.Duplicates)
}
