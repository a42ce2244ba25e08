package bwe

import (
	"sync"
	"testing"

	"github.com/pion/interceptor/pkg/twcc"
	"github.com/pion/rtcp"
)

func (a *ackedRate) totalBytes() (n int64) {
	for _, b := range a.bins {
		n += b.bytes
	}
	return n
}

func inBounds(t *testing.T, e *Estimator) {
	t.Helper()
	if got := e.Target(); got < minBitrate || got > maxBitrate {
		t.Fatalf("Target() = %d, outside [%d, %d]", got, minBitrate, maxBitrate)
	}
}

func TestNewClampsInitialBitrate(t *testing.T) {
	for in, want := range map[int]int{0: minBitrate, -5: minBitrate, 1_000_000: 1_000_000, 1 << 40: maxBitrate} {
		if got := New(in).Target(); got != want {
			t.Errorf("New(%d).Target() = %d, want %d", in, got, want)
		}
	}
}

func TestSentNumbersConsecutivelyAndWraps(t *testing.T) {
	e := New(1_000_000)
	for i := range 70_000 {
		if got := e.Sent(1200, int64(i)); got != uint16(i) {
			t.Fatalf("packet %d got sequence number %d", i, got)
		}
	}
}

// sendPaced sends n packets 4 ms apart starting at sequence number seq0 = e's next one.
func sendPaced(e *Estimator, n int, t0 int64) {
	for i := range n {
		e.Sent(1000, t0+int64(i)*4*ms)
	}
}

// feedbackFor builds wire-format feedback acknowledging seqs, arriving 4 ms apart.
func feedbackFor(t *testing.T, seqs ...uint16) *rtcp.TransportLayerCC {
	t.Helper()
	var pkts arrivals
	for i, s := range seqs {
		pkts = append(pkts, struct {
			seq uint16
			at  int64
		}{s, 1_000_000 + int64(i)*4_000})
	}
	_, fb := recorderFeedback(t, pkts)
	return fb
}

func seqRange(from uint16, n int) []uint16 {
	out := make([]uint16, n)
	for i := range out {
		out[i] = from + uint16(i)
	}
	return out
}

func TestFeedbackForUnknownPacketsIsIgnored(t *testing.T) {
	e := New(1_000_000)
	sendPaced(e, 50, 0)
	e.Feedback(feedbackFor(t, seqRange(1000, 50)...), sec) // never sent
	if e.aimd.started || e.acked.started || e.Target() != 1_000_000 {
		t.Fatalf("feedback for unsent packets changed state: target %d", e.Target())
	}
	e.Feedback(feedbackFor(t, seqRange(0, 50)...), sec)
	if got := e.acked.totalBytes(); got != 50*1000 {
		t.Fatalf("acknowledged %d bytes, want %d", got, 50*1000)
	}
}

func TestDuplicateFeedbackIsIgnored(t *testing.T) {
	e := New(1_000_000)
	sendPaced(e, 40, 0)
	// 0..19 received, 20 and 21 lost, 22..39 received.
	fb := feedbackFor(t, append(seqRange(0, 20), seqRange(22, 18)...)...)
	e.Feedback(fb, sec)
	bytes, lostCount, total := e.acked.totalBytes(), e.loss.lost, e.loss.total
	if bytes != 38*1000 || lostCount != 2 || total != 40 {
		t.Fatalf("after first feedback: %d bytes, %d lost of %d; want 38000, 2 of 40", bytes, lostCount, total)
	}
	e.Feedback(fb, sec+50*ms)
	if e.acked.totalBytes() != bytes || e.loss.lost != lostCount || e.loss.total != total {
		t.Errorf("duplicate feedback counted again: %d bytes, %d lost of %d", e.acked.totalBytes(), e.loss.lost, e.loss.total)
	}
	// A packet first reported lost and then received (reordering) counts as received once.
	e.Feedback(feedbackFor(t, 20), sec+100*ms)
	if got := e.acked.totalBytes(); got != bytes+1000 {
		t.Errorf("late arrival of a packet reported lost: %d bytes, want %d", got, bytes+1000)
	}
}

func TestFeedbackAcrossSequenceWrap(t *testing.T) {
	e := New(1_000_000)
	e.next = 1<<16 + 65530
	sendPaced(e, 12, 0) // 65530..65535, 0..5
	e.Feedback(feedbackFor(t, seqRange(65530, 12)...), sec)
	if got := e.acked.totalBytes(); got != 12*1000 {
		t.Errorf("acknowledged %d bytes across the wrap, want %d", got, 12*1000)
	}
}

func TestStaleHistoryIsNotMatched(t *testing.T) {
	e := New(1_000_000)
	sendPaced(e, histSize+100, 0)
	// 0..99 were overwritten by histSize..histSize+99: their slots now hold other packets.
	e.Feedback(feedbackFor(t, seqRange(0, 100)...), sec)
	if e.acked.started {
		t.Errorf("feedback for overwritten history entries was accepted")
	}
}

func TestHostileFeedback(t *testing.T) {
	run := func(sym, n uint16) *rtcp.RunLengthChunk {
		return &rtcp.RunLengthChunk{PacketStatusSymbol: sym, RunLength: n}
	}
	many := make([]rtcp.PacketStatusChunk, 20)
	for i := range many {
		many[i] = run(rtcp.TypeTCCPacketReceivedSmallDelta, 8191)
	}
	bigDeltas := make([]*rtcp.RecvDelta, 5000)
	for i := range bigDeltas {
		bigDeltas[i] = &rtcp.RecvDelta{Delta: 8_191_750}
	}
	cases := []*rtcp.TransportLayerCC{
		nil,
		{},
		{PacketStatusCount: 65535, PacketChunks: many},
		{PacketStatusCount: 65535, PacketChunks: many, RecvDeltas: bigDeltas, ReferenceTime: 0xFFFFFFFF},
		{BaseSequenceNumber: 65000, PacketStatusCount: 65535, PacketChunks: many, RecvDeltas: bigDeltas},
		{PacketStatusCount: 3, PacketChunks: []rtcp.PacketStatusChunk{nil, run(1, 3)}},
		{PacketStatusCount: 30, PacketChunks: []rtcp.PacketStatusChunk{&rtcp.StatusVectorChunk{SymbolList: make([]uint16, 1000)}}},
		{PacketStatusCount: 30, PacketChunks: []rtcp.PacketStatusChunk{(*rtcp.StatusVectorChunk)(nil)}},
		{PacketStatusCount: 4, PacketChunks: []rtcp.PacketStatusChunk{run(2, 4)}, RecvDeltas: []*rtcp.RecvDelta{{Delta: -1 << 62}, {Delta: 1 << 62}}},
	}
	e := New(1_000_000)
	e.next = 1<<16 + 65000 // so that the wrap is in the history
	for round := range 50 {
		sendPaced(e, 700, int64(round)*3*sec)
		for i, fb := range cases {
			e.Feedback(fb, int64(round)*3*sec+int64(i)*ms)
			inBounds(t, e)
		}
	}
}

// Feedback whose reference times jump by the most the 24-bit field allows, in the same
// direction, must not overflow the receiver clock into nonsense.
func TestReferenceTimeRunaway(t *testing.T) {
	e := New(1_000_000)
	ref := uint32(0)
	for i := range 40_000 {
		seq := e.Sent(1000, int64(i)*ms)
		ref = (ref + 1<<23 - 1) & (1<<24 - 1)
		e.Feedback(&rtcp.TransportLayerCC{
			BaseSequenceNumber: seq,
			PacketStatusCount:  1,
			ReferenceTime:      ref,
			PacketChunks:       []rtcp.PacketStatusChunk{&rtcp.RunLengthChunk{PacketStatusSymbol: 1, RunLength: 1}},
			RecvDeltas:         []*rtcp.RecvDelta{{Delta: 250}},
		}, int64(i)*ms)
		if e.refAbs > 1<<36 || e.refAbs < -(1<<36) {
			t.Fatalf("unwrapped reference time ran away to %d", e.refAbs)
		}
	}
	inBounds(t, e)
}

func FuzzFeedback(f *testing.F) {
	rec := twcc.NewRecorder(1)
	for i := range 200 {
		if i%7 != 3 {
			rec.Record(2, uint16(65500+i), int64(1_000_000+i*3_000+(i%5)*20_000))
		}
	}
	for _, p := range rec.BuildFeedbackPacket() {
		raw, err := p.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
		f.Add(raw[:len(raw)-3])
	}
	f.Add([]byte{0x8f, 0xcd, 0x00, 0x05, 0, 0, 0, 1, 0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0x20, 0x05})
	f.Fuzz(func(t *testing.T, data []byte) {
		pkts, err := rtcp.Unmarshal(data)
		if err != nil {
			return
		}
		e := New(1_000_000)
		e.next = 1<<16 + 65400 // history spans the wrap, where the seed feedback points
		sendPaced(e, 300, 0)
		for i, p := range pkts {
			if fb, ok := p.(*rtcp.TransportLayerCC); ok {
				e.Feedback(fb, sec+int64(i)*ms)
				e.Feedback(fb, 2*sec+int64(i)*ms)
				inBounds(t, e)
			}
		}
	})
}

func TestConcurrentUse(t *testing.T) {
	const senders, perSender = 4, 10_000
	e := New(1_000_000)

	// Feedback acknowledging numbers that the senders are handing out right now.
	var fbs []*rtcp.TransportLayerCC
	for first := 0; first < senders*perSender; first += 100 {
		fbs = append(fbs, feedbackFor(t, seqRange(uint16(first), 100)...))
	}

	seqs := make([][]uint16, senders)
	var wg sync.WaitGroup
	done := make(chan struct{})
	for g := range senders {
		wg.Go(func() {
			for i := range perSender {
				seqs[g] = append(seqs[g], e.Sent(1200, int64(i)*ms))
			}
		})
	}
	var readers sync.WaitGroup
	readers.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			e.Feedback(fbs[i%len(fbs)], int64(i)*ms)
		}
	})
	readers.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			if r := e.Target(); r < minBitrate || r > maxBitrate {
				t.Errorf("Target() = %d out of bounds", r)
				return
			}
		}
	})
	wg.Wait()
	close(done)
	readers.Wait()

	seen := make(map[uint16]bool, senders*perSender)
	for _, s := range seqs {
		for _, n := range s {
			if seen[n] {
				t.Fatalf("sequence number %d handed out twice", n)
			}
			seen[n] = true
		}
	}
	if len(seen) != senders*perSender {
		t.Fatalf("%d distinct sequence numbers, want %d", len(seen), senders*perSender)
	}
}

func TestSentDoesNotAllocate(t *testing.T) {
	e := New(1_000_000)
	var at int64
	if n := testing.AllocsPerRun(1000, func() { at++; e.Sent(1200, at) }); n != 0 {
		t.Errorf("Sent allocated %v times per call", n)
	}
}

func BenchmarkSent(b *testing.B) {
	e := New(1_000_000)
	b.ReportAllocs()
	var at int64
	for b.Loop() {
		at += 4 * ms
		e.Sent(1200, at)
	}
}

// BenchmarkFeedback measures one feedback packet acknowledging 64 packets (about 100 ms at
// 6 Mbit/s), including the 64 Sent calls that precede it.
func BenchmarkFeedback(b *testing.B) {
	const perFeedback = 64
	const cycle = 1 << 16 / perFeedback
	// One lap of the sequence number space, paced at 1.5 ms with some jitter and 1 % loss.
	rec := twcc.NewRecorder(1)
	fbs := make([]*rtcp.TransportLayerCC, 0, cycle)
	for i := range 1 << 16 {
		if i%100 != 17 {
			rec.Record(2, uint16(i), int64(i)*1_500+int64(i%3)*250)
		}
		if i%perFeedback == perFeedback-1 {
			out := rec.BuildFeedbackPacket()
			if len(out) != 1 {
				b.Fatalf("recorder built %d packets", len(out))
			}
			raw, _ := out[0].Marshal()
			p, err := rtcp.Unmarshal(raw)
			if err != nil {
				b.Fatal(err)
			}
			fbs = append(fbs, p[0].(*rtcp.TransportLayerCC))
		}
	}
	e := New(1_000_000)
	var seq, at int64
	b.ReportAllocs()
	for b.Loop() {
		for range perFeedback {
			at += 1_500_000
			e.Sent(1200, at)
		}
		e.Feedback(fbs[(seq/perFeedback)%cycle], at+30*ms)
		seq += perFeedback
	}
}
