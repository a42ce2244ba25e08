package bwe

import (
	"slices"
	"testing"

	"github.com/pion/interceptor/pkg/twcc"
	"github.com/pion/rtcp"
)

const lost = -1

// arrivals maps sequence numbers, in order, to receive times in µs (lost for not received).
type arrivals []struct {
	seq uint16
	at  int64
}

// recorderFeedback builds feedback with pion's TWCC encoder, both as the encoder's struct
// and as it comes off the wire.
func recorderFeedback(t *testing.T, pkts arrivals) (direct, wire *rtcp.TransportLayerCC) {
	t.Helper()
	rec := twcc.NewRecorder(1)
	for _, p := range pkts {
		if p.at != lost {
			rec.Record(2, p.seq, p.at)
		}
	}
	out := rec.BuildFeedbackPacket()
	if len(out) != 1 {
		t.Fatalf("recorder built %d feedback packets, want 1", len(out))
	}
	direct = out[0].(*rtcp.TransportLayerCC)
	raw, err := direct.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := rtcp.Unmarshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	return direct, parsed[0].(*rtcp.TransportLayerCC)
}

// expected turns a pattern into the reports decode should produce for feedback whose
// reference time is ref (64 ms units). The recorder omits trailing losses.
func expected(pkts arrivals, ref uint32) []report {
	var want []report
	for _, p := range pkts {
		r := report{seq: p.seq}
		if p.at != lost {
			r.received, r.timed, r.arrival = true, true, p.at-int64(ref&(1<<24-1))*64_000
		}
		want = append(want, r)
	}
	for len(want) > 0 && !want[len(want)-1].received {
		want = want[:len(want)-1]
	}
	return want
}

func chunkKinds(fb *rtcp.TransportLayerCC) (runLength, vector bool) {
	for _, c := range fb.PacketChunks {
		switch c.(type) {
		case *rtcp.RunLengthChunk:
			runLength = true
		case *rtcp.StatusVectorChunk:
			vector = true
		}
	}
	return runLength, vector
}

func TestDecodeRecorderFeedback(t *testing.T) {
	// Multiples of 250 µs so that the encoder's rounding is exact.
	const base = 3_600_001_000
	mixed := arrivals{
		{65532, base}, {65533, lost}, {65534, base + 1_000}, {65535, lost}, {0, lost},
		{1, base + 71_000}, // large delta: more than 63.75 ms
		{2, base + 71_000}, // zero delta
		{3, base + 60_000}, // negative delta: reordered on the path
		{4, lost}, {5, base + 62_000}, {6, base + 62_250},
	}
	// 30 back-to-back arrivals and a 40-packet gap make the encoder use run-length chunks.
	var runs arrivals
	for i := range 30 {
		runs = append(runs, struct {
			seq uint16
			at  int64
		}{uint16(100 + i), base + int64(i)*2_000})
	}
	for i := range 40 {
		runs = append(runs, struct {
			seq uint16
			at  int64
		}{uint16(130 + i), lost})
	}
	runs = append(runs, struct {
		seq uint16
		at  int64
	}{170, base + 200_000})

	for name, pkts := range map[string]arrivals{"mixed": mixed, "runs": runs} {
		t.Run(name, func(t *testing.T) {
			direct, wire := recorderFeedback(t, pkts)
			rl, sv := chunkKinds(wire)
			if name == "runs" && !rl || name == "mixed" && !sv {
				t.Fatalf("encoder did not produce the intended chunk kind (run-length %v, vector %v)", rl, sv)
			}
			for _, fb := range []*rtcp.TransportLayerCC{direct, wire} {
				got := decode(nil, fb)
				if want := expected(pkts, fb.ReferenceTime); !slices.Equal(got, want) {
					t.Errorf("decode:\n got %+v\nwant %+v", got, want)
				}
			}
		})
	}
}

func deltas(us ...int64) []*rtcp.RecvDelta {
	out := make([]*rtcp.RecvDelta, len(us))
	for i, d := range us {
		typ := rtcp.TypeTCCPacketReceivedSmallDelta
		if d < 0 || d > 63_750 {
			typ = rtcp.TypeTCCPacketReceivedLargeDelta
		}
		out[i] = &rtcp.RecvDelta{Type: typ, Delta: d}
	}
	return out
}

func rx(seq uint16, at int64) report {
	return report{seq: seq, received: true, timed: true, arrival: at}
}
func lx(seq uint16) report { return report{seq: seq} }

func TestDecodeHandcrafted(t *testing.T) {
	const (
		small  = rtcp.TypeTCCPacketReceivedSmallDelta
		large  = rtcp.TypeTCCPacketReceivedLargeDelta
		none   = rtcp.TypeTCCPacketNotReceived
		nodelt = rtcp.TypeTCCPacketReceivedWithoutDelta
	)
	oneBit := func(s ...uint16) *rtcp.StatusVectorChunk {
		return &rtcp.StatusVectorChunk{Type: rtcp.TypeTCCStatusVectorChunk, SymbolSize: rtcp.TypeTCCSymbolSizeOneBit, SymbolList: s}
	}
	twoBit := func(s ...uint16) *rtcp.StatusVectorChunk {
		return &rtcp.StatusVectorChunk{Type: rtcp.TypeTCCStatusVectorChunk, SymbolSize: rtcp.TypeTCCSymbolSizeTwoBit, SymbolList: s}
	}
	run := func(sym, n uint16) *rtcp.RunLengthChunk {
		return &rtcp.RunLengthChunk{Type: rtcp.TypeTCCRunLengthChunk, PacketStatusSymbol: sym, RunLength: n}
	}
	tests := []struct {
		name   string
		base   uint16
		count  uint16
		chunks []rtcp.PacketStatusChunk
		deltas []*rtcp.RecvDelta
		want   []report
	}{{
		name:  "all chunk kinds across the wrap, vector padding ignored",
		base:  65534,
		count: 12,
		chunks: []rtcp.PacketStatusChunk{
			run(small, 2),
			twoBit(large, nodelt, none, small, none, none, none),
			// Only 3 of these 14 statuses are within the count; the fourth would consume
			// the spare delta if padding were decoded.
			oneBit(0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
		},
		deltas: deltas(1_000, 250, -2_000, 500, 750, 250),
		want: []report{
			rx(65534, 1_000), rx(65535, 1_250),
			rx(0, -750), {seq: 1, received: true}, lx(2), rx(3, -250), lx(4), lx(5), lx(6),
			lx(7), rx(8, 500), lx(9),
		},
	}, {
		name:   "received without delta counts as received, untimed",
		count:  3,
		chunks: []rtcp.PacketStatusChunk{twoBit(small, nodelt, small, 0, 0, 0, 0)},
		deltas: deltas(250, 750),
		want:   []report{rx(0, 250), {seq: 1, received: true}, rx(2, 1_000)},
	}, {
		name:   "fewer deltas than received symbols stops at the first missing one",
		count:  5,
		chunks: []rtcp.PacketStatusChunk{run(small, 5)},
		deltas: deltas(250, 250, 250),
		want:   []report{rx(0, 250), rx(1, 500), rx(2, 750)},
	}, {
		name:   "no deltas at all",
		count:  3,
		chunks: []rtcp.PacketStatusChunk{run(none, 1), run(large, 2)},
		want:   []report{lx(0)},
	}, {
		name:   "nil delta",
		count:  3,
		chunks: []rtcp.PacketStatusChunk{run(small, 3)},
		deltas: []*rtcp.RecvDelta{{Delta: 250}, nil, {Delta: 250}},
		want:   []report{rx(0, 250)},
	}, {
		name:   "delta no wire format can carry",
		count:  2,
		chunks: []rtcp.PacketStatusChunk{run(large, 2)},
		deltas: deltas(-1_000, 9_000_000),
		want:   []report{rx(0, -1_000)},
	}, {
		name:   "nil chunk",
		count:  4,
		chunks: []rtcp.PacketStatusChunk{run(none, 2), (*rtcp.RunLengthChunk)(nil), run(none, 2)},
		want:   []report{lx(0), lx(1)},
	}, {
		name:   "impossible symbol",
		count:  4,
		chunks: []rtcp.PacketStatusChunk{twoBit(none, 9, none, none)},
		want:   []report{lx(0)},
	}, {
		name:   "count larger than the chunks",
		count:  100,
		chunks: []rtcp.PacketStatusChunk{run(none, 2)},
		want:   []report{lx(0), lx(1)},
	}, {
		name:   "zero count",
		chunks: []rtcp.PacketStatusChunk{run(small, 2)},
		deltas: deltas(250, 250),
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fb := &rtcp.TransportLayerCC{
				BaseSequenceNumber: tc.base,
				PacketStatusCount:  tc.count,
				PacketChunks:       tc.chunks,
				RecvDeltas:         tc.deltas,
			}
			if got := decode(nil, fb); !slices.Equal(got, tc.want) {
				t.Errorf("decode:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestDecodeBoundsHugeCounts(t *testing.T) {
	fb := &rtcp.TransportLayerCC{PacketStatusCount: 65535}
	for range 8 {
		fb.PacketChunks = append(fb.PacketChunks, &rtcp.RunLengthChunk{RunLength: 8191})
	}
	if got := len(decode(nil, fb)); got != histSize {
		t.Errorf("decoded %d statuses, want at most the history size %d", got, histSize)
	}
}

func TestDecodeReusesScratch(t *testing.T) {
	_, fb := recorderFeedback(t, arrivals{{10, 1_000}, {11, lost}, {12, 3_000}})
	scratch := make([]report, 0, 16)
	if n := testing.AllocsPerRun(100, func() { scratch = decode(scratch[:0], fb) }); n != 0 {
		t.Errorf("decode allocated %v times per call with a big enough scratch slice", n)
	}
}

func TestReferenceTimeUnwrap(t *testing.T) {
	e := New(1_000_000)
	// The 24-bit field wraps after 0xFFFFFF; a step back must stay a step back.
	steps := []struct {
		ref  uint32
		want int64
	}{{0xFFFFFE, 0xFFFFFE}, {0xFFFFFF, 0xFFFFFF}, {0x1000000, 0x1000000}, {1, 0x1000001}, {0xFFFFFF, 0xFFFFFF}, {5, 0x1000005}}
	for _, s := range steps {
		if got := e.refTime(s.ref); got != s.want*64_000_000 {
			t.Errorf("refTime(%#x) = %d units, want %#x", s.ref, got/64_000_000, s.want)
		}
	}
}
