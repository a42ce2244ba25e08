// Package bwe estimates the bandwidth toward one receiver from transport-wide congestion
// control feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01), in the manner of
// Google congestion control (draft-ietf-rmcat-gcc-02): a delay-based controller that
// watches the one-way queuing delay trend and backs off before the bottleneck queue
// overflows, capped by a loss-based controller that reacts to packets actually dropped.
//
// An Estimator owns everything for one subscriber connection: the transport-wide sequence
// numbers written into outgoing packets, the send history those numbers index, and the
// estimation state fed by the receiver's feedback. It exists because pion's GCC interceptor
// spends a map insert and delete per packet and allocates per feedback, which showed up as a
// fifth of the SFU's CPU. Here the send path is a ring-buffer store under one short lock and
// feedback processing reuses a scratch slice, so neither allocates in steady state.
//
// All times are passed in by the caller as unix nanoseconds (the receiver's arrival times
// come from the feedback itself), so an Estimator is a deterministic function of its inputs.
package bwe

import (
	"math"
	"sync"
	"sync/atomic"

	"github.com/pion/rtcp"
)

const (
	minBitrate = 30_000
	maxBitrate = 50_000_000

	// The history must outlive the feedback interval at the highest rate: 4096 packets is
	// about 800 ms at 50 Mbit/s with 1200-byte packets, several feedback intervals.
	histSize = 1 << 12
	histMask = histSize - 1
)

// Feedback state of a packet in the send history. Remembering it lets duplicated or
// overlapping feedback be ignored instead of counting bytes or losses twice.
const (
	unreported uint8 = iota
	reportedLost
	reportedReceived
)

type sentPacket struct {
	at int64 // send time, unix ns
	// Low 32 bits of the unwrapped sequence number: a slot whose seq differs holds a packet
	// from another lap of the ring, or nothing at all.
	seq   uint32
	size  uint16
	state uint8
}

// Estimator is a send-side bandwidth estimator for one receiver. Its methods are safe for
// concurrent use.
type Estimator struct {
	// sendMu guards only the sequence counter and the history so that Sent never waits for
	// feedback processing, which holds it just long enough to look packets up.
	sendMu sync.Mutex
	next   int64 // unwrapped number of the next packet; starts at 1<<16 so no slot's zero value matches
	hist   [histSize]sentPacket

	target       atomic.Int64
	ackedBitrate atomic.Int64 // acknowledged bitrate at the last feedback, 0 while unknown
	// congestedAt is the time (the caller's clock) of the last feedback that showed
	// overuse or loss above lossLow; math.MinInt64: never.
	congestedAt atomic.Int64

	mu      sync.Mutex // serialises Feedback; acquired before sendMu
	scratch []report
	refSet  bool
	ref     uint32 // last 24-bit reference time
	refAbs  int64  // ref unwrapped across the 24-bit wrap, in 64 ms units
	delay   delayDetector
	acked   ackedRate
	aimd    aimd
	loss    lossControl
}

// New returns an Estimator whose estimate starts at initialBitrate bits per second.
func New(initialBitrate int) *Estimator {
	r := clampRate(float64(initialBitrate))
	e := &Estimator{next: 1 << 16}
	e.delay.reset()
	e.aimd.rate = r
	e.target.Store(int64(r))
	e.congestedAt.Store(math.MinInt64)
	return e
}

// Sent assigns the next transport-wide sequence number to a packet of size bytes (the
// whole RTP packet as sent) leaving at `at` (unix nanoseconds), records it, and returns
// the number to write into the packet's transport-wide-cc header extension.
func (e *Estimator) Sent(size int, at int64) uint16 {
	size = min(max(size, 0), math.MaxUint16)
	e.sendMu.Lock()
	s := e.next
	e.next++
	e.hist[s&histMask] = sentPacket{at: at, seq: uint32(s), size: uint16(size)}
	e.sendMu.Unlock()
	return uint16(s)
}

// Target is the current estimate in bits per second.
func (e *Estimator) Target() int {
	return int(e.target.Load())
}

// Feedback takes one TWCC feedback packet from the receiver, arrived at `at` (unix ns).
func (e *Estimator) Feedback(fb *rtcp.TransportLayerCC, at int64) {
	if fb == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()

	reps := e.resolve(decode(e.scratch[:0], fb))
	e.scratch = reps[:0]
	if len(reps) == 0 {
		// Nothing we sent and had not heard about yet: no new information, so the rate
		// controllers must not advance either.
		return
	}
	base := e.refTime(fb.ReferenceTime)
	var lost, received int
	for i := range reps {
		r := &reps[i]
		if !r.received {
			lost++
			continue
		}
		received++
		if !r.timed {
			continue
		}
		arrival := base + r.arrival*1000
		e.acked.add(arrival, r.size)
		e.delay.add(r.sendAt, arrival)
	}
	acked := e.acked.rate()
	rate := e.aimd.update(e.delay.signal, acked, at)
	rate, lossy := e.loss.update(lost, received, rate, at)
	if lossy && rate < e.aimd.rate {
		// A rate that lost packets is no base to grow from: the delay-based rate must
		// not wait above it, untested, for the loss limit to lift (a policer drops
		// without ever queuing, so the delay signal alone would never lower it).
		e.aimd.rate = rate
	}
	e.target.Store(int64(rate))
	e.ackedBitrate.Store(int64(acked))
	if lossy || e.delay.signal == overusing {
		e.congestedAt.Store(at)
	}
}

// Acked is the bitrate the receiver acknowledged over the last half second, 0 while
// unknown.
func (e *Estimator) Acked() int {
	return int(e.ackedBitrate.Load())
}

// CongestedSince reports whether feedback arriving at or after `since` (unix ns) showed
// the link queuing up or losing packets.
func (e *Estimator) CongestedSince(since int64) bool {
	return e.congestedAt.Load() >= since
}

// Raise lifts the estimate to at least rate bits per second. The estimator only grows
// toward rates the sender has actually used (see aimd): a sender that has just shown the
// link carries more, by sending more without congestion, uses Raise to make that known
// at once instead of after seconds of gradual increase.
func (e *Estimator) Raise(rate int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r := clampRate(float64(rate))
	if r <= e.aimd.rate {
		return
	}
	e.aimd.rate = r
	e.loss.cap = max(e.loss.cap, r)
	e.target.Store(int64(clampRate(min(e.aimd.rate, e.loss.cap))))
}

// resolve matches decoded reports with the send history, dropping those for packets that
// are unknown, too old, or already reported, and returns the survivors in place.
func (e *Estimator) resolve(reps []report) []report {
	e.sendMu.Lock()
	defer e.sendMu.Unlock()
	last := e.next - 1
	out := reps[:0]
	for _, r := range reps {
		// Feedback refers to recent packets, so take the unwrapped number nearest the last sent.
		s := last + int64(int16(r.seq-uint16(last)))
		p := &e.hist[s&histMask]
		if p.seq != uint32(s) || p.state == reportedReceived || (!r.received && p.state == reportedLost) {
			continue
		}
		if r.received {
			p.state = reportedReceived
		} else {
			p.state = reportedLost
		}
		r.sendAt, r.size = p.at, int(p.size)
		out = append(out, r)
	}
	return out
}

// refTime unwraps the feedback's 24-bit reference time (64 ms units, wrapping every
// ~12.4 days) relative to the previous one and returns it in receiver-clock nanoseconds.
func (e *Estimator) refTime(ref uint32) int64 {
	ref &= 1<<24 - 1
	if e.refSet {
		e.refAbs += int64(int32((ref-e.ref)<<8) >> 8) // sign-extended 24-bit difference
	}
	// Hostile feedback could walk the unwrapped time toward overflow; restart the receiver
	// clock instead, forgetting everything measured against the old one.
	if !e.refSet || e.refAbs > 1<<36 || e.refAbs < -(1<<36) {
		e.refSet = true
		e.refAbs = int64(ref)
		e.delay.reset()
		e.acked = ackedRate{}
	}
	e.ref = ref
	return e.refAbs * 64_000_000
}

func clampRate(r float64) float64 {
	return min(max(r, minBitrate), maxBitrate)
}
