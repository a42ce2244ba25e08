package sfu

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"runtime"
	"testing"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"
	"golang.org/x/net/ipv4"

	"github.com/meridian-video/meridian/internal/bwe"
)

// nopWriter is a subscriber connection that accepts every packet and sends nothing, so the
// benchmarks measure the SFU's own forwarding work: the fan-out loop, the per-subscriber
// lock, sequence number and timestamp rewriting, the transport-wide sequence number and its
// send record, the NACK sequencer entry, header copy and metrics.
type nopWriter struct{}

func (nopWriter) WriteRTP(_ *rtp.Header, payload []byte) (int, error) { return len(payload), nil }
func (nopWriter) Write(b []byte) (int, error)                         { return len(b), nil }

var _ webrtc.TrackLocalWriter = nopWriter{}

// readySubscriber is a subscriber whose connection is up.
func readySubscriber() *Participant {
	p := &Participant{bwe: bwe.New(1_000_000)}
	p.subReady.Store(true)
	return p
}

// benchTWCCID is the transport-wide sequence number extension's id on the benchmarks'
// subscriber connections: every forwarded packet carries one, as with a browser.
const benchTWCCID = 5

// benchTrack is a VP8 track with n bound subscribers forwarding layer 0.
func benchTrack(n int) *PublishedTrack {
	t := &PublishedTrack{
		info:      TrackInfo{ID: "track", ParticipantID: "publisher", Kind: "video", MimeType: webrtc.MimeTypeVP8},
		kind:      webrtc.RTPCodecTypeVideo,
		clockRate: 90000,
		metrics:   NewMetrics(nil),
	}
	for i := range n {
		d := newDownTrack(t, readySubscriber())
		d.writer = nopWriter{}
		d.ssrc = uint32(1000 + i)
		d.payloadType = 96
		d.twccID = benchTWCCID
		d.current, d.target = 0, 0
		t.addDown(d)
	}
	return t
}

// benchPacket is a mid-frame VP8 packet as a publisher sends it: MTU-sized payload and two
// header extensions (which the SFU must strip).
func benchPacket() *rtp.Packet {
	pkt := &rtp.Packet{
		Header: rtp.Header{
			Version: 2, PayloadType: 96, SequenceNumber: 1, Timestamp: 3000, SSRC: 0xdecafbad,
		},
		Payload: make([]byte, 1100),
	}
	pkt.Payload[0] = 0x00 // VP8 descriptor: continuation of a frame
	_ = pkt.SetExtension(1, []byte{0x01, 0x02, 0x03})
	_ = pkt.SetExtension(3, []byte{0x04, 0x05})
	return pkt
}

// nextPacket makes pkt the i-th packet after base. Sequence numbers cycle through 2^14
// values: the rewriter drops every packet more than 2^15 after the first of its source
// (rewrite.go, int16(seq-firstSeq) < 0), and a benchmark runs far past that.
func nextPacket(pkt *rtp.Packet, base uint16, i int) {
	pkt.SequenceNumber = base + uint16(i%(1<<14)) + 1
	pkt.Timestamp += 3000
}

// BenchmarkForward measures (*PublishedTrack).forward: one op is one received packet
// handed to every one of N subscribers. ns/pkt-sub and allocs/pkt-sub divide by N.
func BenchmarkForward(b *testing.B) {
	for _, n := range []int{1, 50, 500} {
		b.Run(fmt.Sprintf("subs=%d", n), func(b *testing.B) { benchForward(b, benchTrack(n), n, nil) })
	}
}

// discardWriter is a media socket's system call that sends nothing.
type discardWriter struct{}

func (discardWriter) WriteBatch(ms []ipv4.Message, _ int) (int, error) { return len(ms), nil }

// BenchmarkForwardDirect is BenchmarkForward on subscriber connections with a direct path
// (see startDirectPath), as browsers' are: each packet is also sealed with SRTP (AES-GCM)
// and queued on the media socket, whose writer runs alongside but sends nothing.
func BenchmarkForwardDirect(b *testing.B) {
	for _, n := range []int{1, 50} {
		b.Run(fmt.Sprintf("subs=%d", n), func(b *testing.B) {
			c := newTestBatchConn(b, discardWriter{}, sendCounters{})
			defer c.Close()
			t := benchTrack(n)
			for i, d := range t.downTracks() {
				path := &directPath{keys: srtpKeys{
					key: make([]byte, 16), salt: make([]byte, 12), profile: srtp.ProtectionProfileAeadAes128Gcm,
				}}
				path.route.Store(&route{conn: c, to: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(10000+i))})
				d.subscriber.direct.Store(path)
			}
			benchForward(b, t, n, []*batchConn{c})
		})
	}
}

// benchForward hands t's n subscribers one packet per op, holding the media sockets conns
// around each fan-out as the read loop does.
func benchForward(b *testing.B, t *PublishedTrack, n int, conns []*batchConn) {
	pkt := benchPacket()
	base := pkt.SequenceNumber
	// The first packet starts every subscriber's rewriter.
	t.forward(0, pkt, true, 1)
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	now := int64(1)
	for i := range b.N {
		nextPacket(pkt, base, i)
		now += 33_000_000
		for _, c := range conns {
			c.hold()
		}
		t.forward(0, pkt, false, now)
		releaseSends(conns)
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	perSub := float64(b.N) * float64(n)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/perSub, "ns/pkt-sub")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/perSub, "allocs/pkt-sub")
}

// BenchmarkWriteRTP measures one subscriber's (*downTrack).writeRTP alone.
func BenchmarkWriteRTP(b *testing.B) {
	t := benchTrack(1)
	d := t.downTracks()[0]
	pkt := benchPacket()
	base := pkt.SequenceNumber
	d.writeRTP(t, 0, pkt, true, 1)
	b.ReportAllocs()
	b.ResetTimer()
	now := int64(1)
	for i := range b.N {
		nextPacket(pkt, base, i)
		now += 33_000_000
		if !d.writeRTP(t, 0, pkt, false, now) {
			b.Fatal("packet not forwarded")
		}
	}
}

// TestForwardRewritesHeader checks what the benchmarks exercise: every subscriber gets the
// payload under its own SSRC and payload type, with continuous sequence numbers, and the
// publisher's packet is left as it was.
func TestForwardRewritesHeader(t *testing.T) {
	tr := benchTrack(0)
	var got []rtp.Header
	for i := range 3 {
		d := newDownTrack(tr, readySubscriber())
		d.writer = recordWriter{&got}
		d.ssrc = uint32(500 + i)
		d.payloadType = 100
		d.twccID = benchTWCCID
		d.current, d.target = 0, 0
		tr.addDown(d)
	}
	pkt := benchPacket()
	orig := pkt.Header.Clone()
	tr.forward(0, pkt, true, 1)
	pkt.SequenceNumber++
	tr.forward(0, pkt, false, 2)
	if len(got) != 6 {
		t.Fatalf("%d packets written, want 6", len(got))
	}
	for i, h := range got {
		if h.SSRC != uint32(500+i%3) || h.PayloadType != 100 {
			t.Errorf("packet %d: ssrc %d pt %d", i, h.SSRC, h.PayloadType)
		}
		// The publisher's extensions are gone; the subscriber connection's transport-wide
		// sequence number counts that connection's packets.
		tw := h.GetExtension(benchTWCCID)
		if !h.Extension || len(h.Extensions) != 1 || len(tw) != 2 {
			t.Errorf("packet %d: extensions %v, want only the transport-wide sequence number", i, h.Extensions)
		} else if i >= 3 {
			prev := binary.BigEndian.Uint16(got[i-3].GetExtension(benchTWCCID))
			if n := binary.BigEndian.Uint16(tw); n != prev+1 {
				t.Errorf("packet %d: transport-wide sequence number %d after %d", i, n, prev)
			}
		}
		if want := orig.SequenceNumber + uint16(i/3); h.SequenceNumber != want {
			t.Errorf("packet %d: seq %d, want %d", i, h.SequenceNumber, want)
		}
	}
	if pkt.SSRC != orig.SSRC || pkt.PayloadType != orig.PayloadType || len(pkt.Extensions) != 2 {
		t.Errorf("publisher packet altered: %+v", pkt.Header)
	}
}

type recordWriter struct{ got *[]rtp.Header }

func (w recordWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	*w.got = append(*w.got, h.Clone())
	return len(payload), nil
}
func (w recordWriter) Write(b []byte) (int, error) { return len(b), nil }
