package sfu

import (
	"testing"
	"time"
)

const rwMS = int64(time.Millisecond)

// rewriteStep is one packet handed to the rewriter the way downTrack.writeRTP does: the first
// packet of a source switches to it, then every packet is rewritten.
type rewriteStep struct {
	switchTo bool // this packet is the first (keyframe) packet of a new source
	seq      uint16
	ts       uint32
	at       int64 // unix nanoseconds

	wantSeq uint16
	wantTS  uint32
	wantOK  bool
}

func runRewrite(t *testing.T, r *rewriter, clockRate uint32, steps []rewriteStep) {
	t.Helper()
	for i, s := range steps {
		if s.switchTo {
			r.switchSource(s.seq, s.ts, s.at, clockRate)
		}
		seq, ts, ok := r.rewrite(s.seq, s.ts, s.at)
		if ok != s.wantOK || (ok && (seq != s.wantSeq || ts != s.wantTS)) {
			t.Fatalf("step %d (seq %d ts %d): got (%d, %d, %v), want (%d, %d, %v)",
				i, s.seq, s.ts, seq, ts, ok, s.wantSeq, s.wantTS, s.wantOK)
		}
	}
}

func TestRewriterFirstSourcePassesThrough(t *testing.T) {
	var r rewriter
	t0 := int64(1_000_000_000)
	runRewrite(t, &r, 90000, []rewriteStep{
		{switchTo: true, seq: 1000, ts: 50000, at: t0, wantSeq: 1000, wantTS: 50000, wantOK: true},
		{seq: 1001, ts: 50000, at: t0 + 1*rwMS, wantSeq: 1001, wantTS: 50000, wantOK: true},
		{seq: 1002, ts: 53000, at: t0 + 33*rwMS, wantSeq: 1002, wantTS: 53000, wantOK: true},
		{seq: 1003, ts: 56000, at: t0 + 66*rwMS, wantSeq: 1003, wantTS: 56000, wantOK: true},
	})
}

func TestRewriterContinuousAcrossSwitch(t *testing.T) {
	var r rewriter
	t0 := int64(5_000_000_000)
	runRewrite(t, &r, 90000, []rewriteStep{
		// Source A.
		{switchTo: true, seq: 1000, ts: 50000, at: t0, wantSeq: 1000, wantTS: 50000, wantOK: true},
		{seq: 1001, ts: 53000, at: t0 + 33*rwMS, wantSeq: 1001, wantTS: 53000, wantOK: true},
		{seq: 1002, ts: 56000, at: t0 + 66*rwMS, wantSeq: 1002, wantTS: 56000, wantOK: true},
		// Source B starts 40 rwMS after A's last packet: sequence continues at 1003, the
		// timestamp advances by 40 rwMS at 90 kHz = 3600 ticks.
		{switchTo: true, seq: 30000, ts: 900000, at: t0 + 106*rwMS, wantSeq: 1003, wantTS: 59600, wantOK: true},
		{seq: 30001, ts: 900000, at: t0 + 107*rwMS, wantSeq: 1004, wantTS: 59600, wantOK: true},
		{seq: 30002, ts: 903000, at: t0 + 139*rwMS, wantSeq: 1005, wantTS: 62600, wantOK: true},
		// Packets of B older than its first packet would reuse numbers A already sent.
		{seq: 29999, ts: 897000, at: t0 + 140*rwMS, wantOK: false},
		{seq: 29000, ts: 800000, at: t0 + 141*rwMS, wantOK: false},
		// Back to a third source C 1 s later: 90000 ticks.
		{switchTo: true, seq: 7, ts: 123, at: t0 + 1139*rwMS, wantSeq: 1006, wantTS: 152600, wantOK: true},
		{seq: 8, ts: 3123, at: t0 + 1172*rwMS, wantSeq: 1007, wantTS: 155600, wantOK: true},
	})
}

func TestRewriterSwitchUsesClockRate(t *testing.T) {
	var r rewriter
	t0 := int64(0)
	runRewrite(t, &r, 48000, []rewriteStep{
		{switchTo: true, seq: 10, ts: 1000, at: t0, wantSeq: 10, wantTS: 1000, wantOK: true},
		// 20 rwMS at 48 kHz is 960 ticks.
		{switchTo: true, seq: 500, ts: 777, at: t0 + 20*rwMS, wantSeq: 11, wantTS: 1960, wantOK: true},
	})
}

func TestRewriterSwitchTimestampAlwaysAdvances(t *testing.T) {
	var r rewriter
	t0 := int64(10 * time.Second)
	runRewrite(t, &r, 90000, []rewriteStep{
		{switchTo: true, seq: 100, ts: 9000, at: t0, wantSeq: 100, wantTS: 9000, wantOK: true},
		// Same instant: the timestamp still moves on by one tick.
		{switchTo: true, seq: 200, ts: 1, at: t0, wantSeq: 101, wantTS: 9001, wantOK: true},
		// A clock that went backwards counts as no time.
		{switchTo: true, seq: 300, ts: 1, at: t0 - 5*rwMS, wantSeq: 102, wantTS: 9002, wantOK: true},
	})
}

func TestRewriterReorderWithinSource(t *testing.T) {
	var r rewriter
	t0 := int64(0)
	runRewrite(t, &r, 90000, []rewriteStep{
		{switchTo: true, seq: 100, ts: 1000, at: t0, wantSeq: 100, wantTS: 1000, wantOK: true},
		{switchTo: true, seq: 5000, ts: 70000, at: t0 + 10*rwMS, wantSeq: 101, wantTS: 1900, wantOK: true},
		// 5002 arrives before 5001: both keep their place relative to each other.
		{seq: 5002, ts: 73000, at: t0 + 43*rwMS, wantSeq: 103, wantTS: 4900, wantOK: true},
		{seq: 5001, ts: 70000, at: t0 + 50*rwMS, wantSeq: 102, wantTS: 1900, wantOK: true},
		{seq: 5003, ts: 73000, at: t0 + 51*rwMS, wantSeq: 104, wantTS: 4900, wantOK: true},
		// A late packet does not move the reference for the next switch: 5003 at +51 rwMS
		// is the highest; switch 49 rwMS later (4410 ticks after its timestamp 4900).
		{seq: 5001, ts: 70000, at: t0 + 99*rwMS, wantSeq: 102, wantTS: 1900, wantOK: true},
		{switchTo: true, seq: 9, ts: 0, at: t0 + 100*rwMS, wantSeq: 105, wantTS: 9310, wantOK: true},
	})
}

func TestRewriterSequenceWrap(t *testing.T) {
	var r rewriter
	t0 := int64(0)
	runRewrite(t, &r, 90000, []rewriteStep{
		// The source's own numbers wrap.
		{switchTo: true, seq: 65534, ts: 0, at: t0, wantSeq: 65534, wantTS: 0, wantOK: true},
		{seq: 65535, ts: 0, at: t0 + 1*rwMS, wantSeq: 65535, wantTS: 0, wantOK: true},
		{seq: 0, ts: 3000, at: t0 + 33*rwMS, wantSeq: 0, wantTS: 3000, wantOK: true},
		{seq: 1, ts: 3000, at: t0 + 34*rwMS, wantSeq: 1, wantTS: 3000, wantOK: true},
		// A packet from before the wrap is still in order, not "new".
		{seq: 65535, ts: 0, at: t0 + 35*rwMS, wantSeq: 65535, wantTS: 0, wantOK: true},
		// A switch continues after the wrapped number.
		{switchTo: true, seq: 40000, ts: 0, at: t0 + 44*rwMS, wantSeq: 2, wantTS: 3900, wantOK: true},
	})

	// The output wraps when the offset carries it past 65535.
	var w rewriter
	runRewrite(t, &w, 90000, []rewriteStep{
		{switchTo: true, seq: 65535, ts: 100, at: t0, wantSeq: 65535, wantTS: 100, wantOK: true},
		{switchTo: true, seq: 65530, ts: 0, at: t0 + 10*rwMS, wantSeq: 0, wantTS: 1000, wantOK: true},
		{seq: 65531, ts: 0, at: t0 + 11*rwMS, wantSeq: 1, wantTS: 1000, wantOK: true},
		{seq: 65535, ts: 0, at: t0 + 12*rwMS, wantSeq: 5, wantTS: 1000, wantOK: true},
		{seq: 0, ts: 3000, at: t0 + 13*rwMS, wantSeq: 6, wantTS: 4000, wantOK: true},
		// Older than the source's first packet across the wrap.
		{seq: 65529, ts: 0, at: t0 + 14*rwMS, wantOK: false},
	})

	// The drop test compares sequence numbers modulo 2^16: a source starting at 65535 keeps
	// packets 0, 1... and drops 65534.
	var d rewriter
	runRewrite(t, &d, 90000, []rewriteStep{
		{switchTo: true, seq: 10, ts: 0, at: t0, wantSeq: 10, wantTS: 0, wantOK: true},
		{switchTo: true, seq: 65535, ts: 500, at: t0 + 1*rwMS, wantSeq: 11, wantTS: 90, wantOK: true},
		{seq: 0, ts: 500, at: t0 + 2*rwMS, wantSeq: 12, wantTS: 90, wantOK: true},
		{seq: 65534, ts: 500, at: t0 + 3*rwMS, wantOK: false},
	})
}

func TestRewriterTimestampWrap(t *testing.T) {
	var r rewriter
	t0 := int64(0)
	runRewrite(t, &r, 90000, []rewriteStep{
		{switchTo: true, seq: 1, ts: 0xffff_f000, at: t0, wantSeq: 1, wantTS: 0xffff_f000, wantOK: true},
		// 100 rwMS later: 9000 ticks, which wraps the 32-bit timestamp (0x1000 ticks were left).
		{switchTo: true, seq: 50, ts: 42, at: t0 + 100*rwMS, wantSeq: 2, wantTS: 9000 - 0x1000, wantOK: true},
		{seq: 51, ts: 3042, at: t0 + 133*rwMS, wantSeq: 3, wantTS: 12000 - 0x1000, wantOK: true},
	})
}

// A long stream is never cut: 100,000 packets in order (past the 16-bit wrap) all pass.
func TestRewriterLongStreamNeverDrops(t *testing.T) {
	var r rewriter
	seq := uint16(65000)
	r.switchSource(seq, 0, 0, 90000)
	for i := range 100_000 {
		out, _, ok := r.rewrite(seq, uint32(i)*3000, int64(i))
		if !ok {
			t.Fatalf("packet %d (seq %d) dropped", i, seq)
		}
		if out != seq {
			t.Fatalf("packet %d: out %d, want %d", i, out, seq)
		}
		seq++
	}
}
