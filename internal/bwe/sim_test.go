package bwe

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/pion/interceptor/pkg/twcc"
	"github.com/pion/rtcp"
)

const (
	ms  = int64(1_000_000)
	sec = 1000 * ms

	simPacket = 1200 // bytes
	// The receiver's clock (µs) is placed so that the 24-bit TWCC reference time wraps
	// three seconds into every simulation.
	recvClockStart = int64(1<<24)*64_000 - 3_000_000
)

// simConfig describes a sender paced at min(Target, source) behind one bottleneck.
type simConfig struct {
	initial  int
	source   float64               // bits/s the sender would like to send
	capacity func(t int64) float64 // bottleneck bits/s at simulated time t
	loss     float64               // random loss probability before the bottleneck
	maxQueue int64                 // queuing delay beyond which the bottleneck tail-drops
	prop     int64                 // one-way propagation delay, both directions
	fbEvery  int64                 // receiver feedback interval
	duration int64
	seed     uint64
	// onSample, if set, is called with the estimator at every sample (every 100 ms).
	onSample func(e *Estimator, now int64)
}

func (c *simConfig) defaults() {
	if c.maxQueue == 0 {
		c.maxQueue = 400 * ms
	}
	if c.prop == 0 {
		c.prop = 25 * ms
	}
	if c.fbEvery == 0 {
		c.fbEvery = 50 * ms
	}
	if c.seed == 0 {
		c.seed = 1
	}
}

type sample struct {
	t      int64
	target int
	queue  int64 // bottleneck queuing delay at t
}

type trace []sample

// at returns the first sample at or after t.
func (tr trace) at(t int64) sample {
	for _, s := range tr {
		if s.t >= t {
			return s
		}
	}
	return tr[len(tr)-1]
}

// firstBelow/firstAbove return the first time the target crosses v, or -1.
func (tr trace) firstBelow(from int64, v int) int64 {
	for _, s := range tr {
		if s.t >= from && s.target < v {
			return s.t
		}
	}
	return -1
}

func (tr trace) firstAbove(from int64, v int) int64 {
	for _, s := range tr {
		if s.t >= from && s.target > v {
			return s.t
		}
	}
	return -1
}

// span returns min, max and mean target and max queuing delay over [from, to).
func (tr trace) span(from, to int64) (lo, hi, mean int, maxQueue int64) {
	lo = 1 << 62
	var sum, n int
	for _, s := range tr {
		if s.t < from || s.t >= to {
			continue
		}
		lo, hi = min(lo, s.target), max(hi, s.target)
		maxQueue = max(maxQueue, s.queue)
		sum += s.target
		n++
	}
	return lo, hi, sum / max(n, 1), maxQueue
}

func (tr trace) String() string {
	var b strings.Builder
	for _, s := range tr {
		if s.t%sec == 0 {
			fmt.Fprintf(&b, "t=%2ds target=%5dk queue=%3dms\n", s.t/sec, s.target/1000, s.queue/ms)
		}
	}
	return b.String()
}

type flight struct {
	seq uint16
	at  int64
}

type delivery struct {
	at  int64
	raw []byte
}

// simulate runs a discrete-event simulation: paced sender -> (random loss) -> FIFO
// bottleneck -> propagation -> pion TWCC recorder -> marshalled feedback -> propagation ->
// Estimator. It samples Target every 100 ms.
func simulate(t *testing.T, cfg simConfig) trace {
	t.Helper()
	cfg.defaults()
	e := New(cfg.initial)
	e.next = 1<<16 + 1<<16 - 500 // wrap the transport-wide sequence number early on
	rng := rand.New(rand.NewPCG(cfg.seed, 42))
	rec := twcc.NewRecorder(1)

	var (
		nextSend, busyUntil int64
		nextFb              = cfg.fbEvery
		nextSample          int64
		inFlight            []flight
		fbs                 []delivery
		tr                  trace
	)
	for {
		now := min(nextSend, nextFb, nextSample)
		if len(inFlight) > 0 {
			now = min(now, inFlight[0].at)
		}
		if len(fbs) > 0 {
			now = min(now, fbs[0].at)
		}
		if now > cfg.duration {
			return tr
		}
		switch {
		case len(inFlight) > 0 && inFlight[0].at == now:
			rec.Record(7, inFlight[0].seq, recvClockStart+now/1000)
			inFlight = inFlight[1:]
		case len(fbs) > 0 && fbs[0].at == now:
			pkts, err := rtcp.Unmarshal(fbs[0].raw)
			if err != nil {
				t.Fatalf("unmarshal feedback: %v", err)
			}
			for _, p := range pkts {
				if fb, ok := p.(*rtcp.TransportLayerCC); ok {
					e.Feedback(fb, now)
				}
			}
			fbs = fbs[1:]
		case nextFb == now:
			for _, p := range rec.BuildFeedbackPacket() {
				raw, err := p.Marshal()
				if err != nil {
					t.Fatalf("marshal feedback: %v", err)
				}
				fbs = append(fbs, delivery{now + cfg.prop, raw})
			}
			nextFb += cfg.fbEvery
		case nextSample == now:
			if cfg.onSample != nil {
				cfg.onSample(e, now)
			}
			tr = append(tr, sample{now, e.Target(), max(busyUntil-now, 0)})
			nextSample += 100 * ms
		default: // nextSend == now
			rate := min(float64(e.Target()), cfg.source)
			seq := e.Sent(simPacket, now)
			nextSend = now + int64(simPacket*8/rate*1e9)
			if rng.Float64() < cfg.loss || busyUntil-now > cfg.maxQueue {
				continue
			}
			start := max(now, busyUntil)
			busyUntil = start + int64(simPacket*8/cfg.capacity(start)*1e9)
			inFlight = append(inFlight, flight{seq, busyUntil + cfg.prop})
		}
	}
}

func constant(bps float64) func(int64) float64 {
	return func(int64) float64 { return bps }
}

func TestOpenLinkRampsUp(t *testing.T) {
	// 8 %/s from 1 Mbit/s needs 9 s to double, so this also checks that nothing (feedback
	// delay, loss accounting, the acknowledged-rate cap) holds the increase back.
	for _, c := range []struct{ fbEvery, prop int64 }{{50 * ms, 25 * ms}, {100 * ms, 10 * ms}, {100 * ms, 50 * ms}} {
		t.Run(fmt.Sprintf("fb%dms_prop%dms", c.fbEvery/ms, c.prop/ms), func(t *testing.T) {
			tr := simulate(t, simConfig{
				initial:  1_000_000,
				source:   2_500_000,
				capacity: constant(100_000_000),
				loss:     0.002,
				fbEvery:  c.fbEvery,
				prop:     c.prop,
				duration: 40 * sec,
			})
			t.Logf("\n%s", tr)
			if at := tr.firstAbove(0, 2_000_000); at < 0 || at > 10*sec {
				t.Errorf("target first above 2 Mbps at %v ms, want within 10 s", at/ms)
			}
			// Source-limited at 2.5 Mbps: the estimate may lead what gets through, but must
			// not run away from it, nor fall back on an uncongested link.
			lo, hi, _, _ := tr.span(20*sec, 40*sec)
			if hi > 4_000_000 {
				t.Errorf("target reached %d while sending at most 2.5 Mbps, want <= 4 Mbps", hi)
			}
			if lo < 2_500_000 {
				t.Errorf("target fell to %d on an uncongested link", lo)
			}
		})
	}
}

func TestBottleneck(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			tr := simulate(t, simConfig{
				initial:  1_000_000,
				source:   1_500_000,
				capacity: constant(400_000),
				loss:     0.005, // a little background loss so seeds differ
				duration: 60 * sec,
				seed:     seed,
			})
			t.Logf("\n%s", tr)
			if at := tr.firstBelow(0, 500_000); at < 0 || at > 4*sec {
				t.Errorf("target first below 500 kbps at %v ms, want within 4 s", at/ms)
			}
			lo, hi, mean, q := tr.span(8*sec, 60*sec)
			if lo < 200_000 || hi > 600_000 {
				t.Errorf("target ranged %d..%d after convergence, want within 200k..600k", lo, hi)
			}
			if mean < 280_000 || mean > 480_000 {
				t.Errorf("mean target %d, want near the 400k capacity", mean)
			}
			// The point of delay-based control: the bottleneck queue stays short instead of
			// filling up to the tail-drop limit.
			if q > 250*ms {
				t.Errorf("queuing delay reached %d ms after convergence", q/ms)
			}
		})
	}
}

func TestCapacityDropAndRecovery(t *testing.T) {
	capacity := func(t int64) float64 {
		if t >= 20*sec && t < 40*sec {
			return 600_000
		}
		return 3_000_000
	}
	tr := simulate(t, simConfig{
		initial:  2_500_000,
		source:   5_000_000,
		capacity: capacity,
		duration: 70 * sec,
	})
	t.Logf("\n%s", tr)
	if lo, hi, _, _ := tr.span(10*sec, 20*sec); lo < 1_800_000 || hi > 4_000_000 {
		t.Errorf("before the drop target ranged %d..%d, want near 3 Mbps", lo, hi)
	}
	if at := tr.firstBelow(20*sec, 800_000); at < 0 || at > 22*sec {
		t.Errorf("target first below 800 kbps at %v ms, want within 2 s of the drop at 20 s", at/ms)
	}
	if lo, hi, _, _ := tr.span(24*sec, 40*sec); lo < 200_000 || hi > 900_000 {
		t.Errorf("during the drop target ranged %d..%d, want near 600 kbps", lo, hi)
	}
	if at := tr.firstAbove(40*sec, 1_500_000); at < 0 || at > 60*sec {
		t.Errorf("target first above 1.5 Mbps at %v ms, want within 20 s of recovery at 40 s", at/ms)
	}
}

func TestRandomLoss(t *testing.T) {
	cfg := simConfig{
		initial:  2_000_000,
		source:   3_000_000,
		capacity: constant(50_000_000),
		duration: 15 * sec,
	}
	clean := simulate(t, cfg)
	cfg.loss = 0.2
	lossy := simulate(t, cfg)
	t.Logf("clean:\n%slossy:\n%s", clean, lossy)
	if got := clean.at(15 * sec).target; got < 2_000_000 {
		t.Fatalf("without loss target is %d, want >= 2 Mbps (control run)", got)
	}
	if got := lossy.at(5 * sec).target; got > 1_000_000 {
		t.Errorf("with 20%% loss target is %d after 5 s, want below 1 Mbps", got)
	}
	if _, hi, _, _ := lossy.span(5*sec, 15*sec); hi > 1_000_000 {
		t.Errorf("with 20%% loss target went back up to %d", hi)
	}
}

func TestLightLossIgnored(t *testing.T) {
	tr := simulate(t, simConfig{
		initial:  1_000_000,
		source:   2_500_000,
		capacity: constant(50_000_000),
		loss:     0.01,
		duration: 15 * sec,
	})
	if got := tr.at(15 * sec).target; got < 2_000_000 {
		t.Errorf("with 1%% loss target is %d after 15 s, want >= 2 Mbps", got)
	}
}

// What the SFU's layer probing relies on: a sender that uses less than the link carries
// sees no congestion; Raise lifts the estimate at once; an estimate raised beyond the
// link's capacity shows congestion and comes back down.
func TestCongestionSignalAndRaise(t *testing.T) {
	var congestedEarly, congestedAfterRaise bool
	var raisedTo int
	tr := simulate(t, simConfig{
		initial:  500_000,
		source:   600_000, // a low simulcast layer: the estimate is capped near it
		capacity: constant(2_000_000),
		duration: 30 * sec,
		onSample: func(e *Estimator, now int64) {
			switch {
			case now == 10*sec:
				congestedEarly = e.CongestedSince(0)
				if e.Acked() < 400_000 || e.Acked() > 800_000 {
					t.Errorf("acknowledged %d bps while sending 600 kbps", e.Acked())
				}
				e.Raise(4_000_000)
				raisedTo = e.Target()
			case now > 10*sec && e.CongestedSince(10*sec):
				congestedAfterRaise = true
			}
		},
	})
	t.Logf("\n%s", tr)
	if _, hi, _, _ := tr.span(5*sec, 10*sec); hi > 1_000_000 {
		t.Errorf("source-limited at 600 kbps the estimate reached %d (capped near what is sent)", hi)
	}
	if congestedEarly {
		t.Error("congestion reported while sending 600 kbps over a 2 Mbps link")
	}
	if raisedTo != 4_000_000 {
		t.Errorf("Raise(4M) left the target at %d", raisedTo)
	}
	// The raised estimate lets the sender use the source's 600 kbps only, so the
	// link is not overrun: no congestion, and the estimate stays up.
	if congestedAfterRaise {
		t.Error("congestion reported after Raise while the sender still sent 600 kbps")
	}
}

func TestRaiseBeyondCapacityComesBackDown(t *testing.T) {
	congested := false
	tr := simulate(t, simConfig{
		initial:  300_000,
		source:   5_000_000,
		capacity: constant(800_000),
		duration: 20 * sec,
		onSample: func(e *Estimator, now int64) {
			if now == 10*sec {
				e.Raise(3_000_000)
			}
			if now > 10*sec && e.CongestedSince(10*sec) {
				congested = true
			}
		},
	})
	t.Logf("\n%s", tr)
	if !congested {
		t.Error("no congestion reported after raising the estimate to 3 Mbps on an 800 kbps link")
	}
	if got := tr.at(14 * sec).target; got > 1_200_000 {
		t.Errorf("4 s after the raise the target is %d, want back near the 800 kbps capacity", got)
	}
}
