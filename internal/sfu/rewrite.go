package sfu

import "time"

// rewriter maps the sequence numbers and timestamps of whichever source stream (simulcast
// layer) a subscriber receives onto one continuous outgoing stream, so that the subscriber's
// jitter buffer sees neither a gap nor a jump when the SFU switches layers.
type rewriter struct {
	started   bool
	guard     bool // packets older than firstSeq are still possible and must be dropped
	seqOffset uint16
	tsOffset  uint32
	firstSeq  uint16 // first source sequence number of the current source
	lastSeq   uint16 // highest outgoing sequence number so far
	lastTS    uint32 // outgoing timestamp of lastSeq
	lastAt    int64  // when lastSeq was sent, unix nanoseconds
	gapAt     int64  // when the source started or last skipped a sequence number, unix ns
}

// guardWindow is how far past its first packet a source must get before late packets from
// before the switch are no longer expected.
const guardWindow = 1024

// switchSource starts mapping a new source stream whose first forwarded packet has the
// given sequence number and timestamp. The timestamp advances by the wall-clock time since
// the last packet so the playout timeline stays monotonic across the switch.
func (r *rewriter) switchSource(seq uint16, ts uint32, now int64, clockRate uint32) {
	r.firstSeq, r.guard, r.gapAt = seq, true, now
	if !r.started {
		r.started = true
		r.seqOffset, r.tsOffset = 0, 0
		r.lastSeq, r.lastTS, r.lastAt = seq-1, ts, now
		return
	}
	elapsed := now - r.lastAt
	if elapsed < 0 {
		elapsed = 0
	}
	delta := uint32(uint64(elapsed) * uint64(clockRate) / 1e9)
	if delta == 0 {
		delta = 1
	}
	r.seqOffset = r.lastSeq + 1 - seq
	r.tsOffset = r.lastTS + delta - ts
}

// rewrite returns the outgoing sequence number and timestamp of a source packet, and false
// when the packet predates the current source and must be dropped (it would collide with
// numbers already used by the previous source).
func (r *rewriter) rewrite(seq uint16, ts uint32, now int64) (uint16, uint32, bool) {
	// The guard lasts until the source is well past its first packet: a 16-bit comparison
	// with firstSeq would otherwise turn false for half of every wrap of the counter.
	if r.guard {
		switch d := int16(seq - r.firstSeq); {
		case d < 0:
			return 0, 0, false
		case d > guardWindow:
			r.guard = false
		}
	}
	outSeq := seq + r.seqOffset
	outTS := ts + r.tsOffset
	if d := int16(outSeq - r.lastSeq); d > 0 {
		if d > 1 {
			r.gapAt = now // the packets skipped may still come, resent by the publisher
		}
		r.lastSeq, r.lastTS, r.lastAt = outSeq, outTS, now
	}
	return outSeq, outTS, true
}

// settleTime is how long after the source last skipped a sequence number padding waits: a
// packet the publisher resends after a loss comes within a few round trips of it, and
// pion's NACK generator, which asks for it, gives up well inside this.
const settleTime = time.Second

// canPad reports whether a packet of padding may follow seq, the packet just sent at now: it
// is the highest so far and no packet before it is still on its way.
func (r *rewriter) canPad(seq uint16, now int64) bool {
	return r.started && seq == r.lastSeq && now-r.gapAt >= int64(settleTime)
}

// padMark is the rewriter's state before pad, for unpad.
type padMark struct {
	firstSeq uint16
	guard    bool
}

// pad takes the next outgoing sequence number for a packet of padding, with the timestamp
// of the last packet sent. The source's later packets shift up by one; any earlier one
// arriving now would collide with a number already used and is dropped, as after a switch.
func (r *rewriter) pad() (uint16, uint32, padMark) {
	m := padMark{r.firstSeq, r.guard}
	r.lastSeq++
	r.seqOffset++
	r.firstSeq, r.guard = r.lastSeq-r.seqOffset+1, true
	return r.lastSeq, r.lastTS, m
}

// unpad gives back the sequence number of a padding packet that could not be sent, which
// pad took last, so that it leaves no hole.
func (r *rewriter) unpad(m padMark) {
	r.lastSeq--
	r.seqOffset--
	r.firstSeq, r.guard = m.firstSeq, m.guard
}
