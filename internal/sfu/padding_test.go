package sfu

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// wire is a subscriber's direct path whose datagrams are kept, to be opened as the
// subscriber would.
type wire struct {
	t    *testing.T
	d    *downTrack
	tr   *PublishedTrack
	conn *batchConn
	w    *blockingWriter
	keys srtpKeys
}

func newWire(t *testing.T) *wire {
	t.Helper()
	w := &blockingWriter{release: make(chan struct{})}
	close(w.release)
	c := newTestBatchConn(t, w, sendCounters{})
	keys := srtpKeys{key: bytes.Repeat([]byte{7}, 16), salt: bytes.Repeat([]byte{9}, 12), profile: srtp.ProtectionProfileAeadAes128Gcm}
	tr := benchTrack(1)
	tr.layers[0] = &layer{cache: &packetCache{}}
	d := tr.downTracks()[0]
	path := &directPath{keys: keys}
	path.route.Store(&route{conn: c, to: netip.MustParseAddrPort("127.0.0.1:9")})
	d.subscriber.direct.Store(path)
	return &wire{t: t, d: d, tr: tr, conn: c, w: w, keys: keys}
}

// forward hands the track one packet of layer 0, as the read loop does.
func (w *wire) forward(pkt *rtp.Packet, keyframe bool, now int64) {
	raw, err := pkt.Marshal()
	if err != nil {
		w.t.Fatal(err)
	}
	w.tr.layers[0].cache.store(pkt.SequenceNumber, raw)
	w.conn.hold()
	w.tr.forward(0, pkt, keyframe, now)
	w.conn.release()
}

// received closes the socket (sending what is queued) and opens every datagram sent.
func (w *wire) received() []rtp.Packet {
	w.t.Helper()
	if err := w.conn.Close(); err != nil {
		w.t.Fatal(err)
	}
	ctx, err := srtp.CreateContext(w.keys.key, w.keys.salt, w.keys.profile)
	if err != nil {
		w.t.Fatal(err)
	}
	w.w.mu.Lock()
	defer w.w.mu.Unlock()
	out := make([]rtp.Packet, 0, len(w.w.sent))
	for i, b := range w.w.sent {
		plain, err := ctx.DecryptRTP(nil, b, nil)
		if err != nil {
			w.t.Fatalf("datagram %d does not open: %v", i, err)
		}
		var p rtp.Packet
		if err := p.Unmarshal(plain); err != nil {
			w.t.Fatalf("datagram %d: %v", i, err)
		}
		out = append(out, p)
	}
	return out
}

// mediaPacket is the i-th packet of a publisher's stream of 3-packet frames at 30 fps; its
// payload names it.
func mediaPacket(i int) *rtp.Packet {
	p := &rtp.Packet{
		Header: rtp.Header{
			Version: 2, PayloadType: 96, SSRC: 0xdecafbad,
			SequenceNumber: uint16(1000 + i), Timestamp: uint32(90000 + 3000*(i/3)), Marker: i%3 == 2,
		},
		Payload: make([]byte, 400),
	}
	binary.BigEndian.PutUint32(p.Payload[4:], uint32(i))
	return p
}

func frameTime(i int) int64 { return int64(1e12) + int64(i/3)*33_333_333 }

// While a probe runs, the subscriber's stream carries the padding asked for, after whole
// frames, in packets that continue its sequence numbers without a gap or a repeat, at the
// timestamp of the frame before; the media between them arrives intact and in order.
// A NACK for a packet of padding resends nothing, a packet from before a padding burst that
// arrives late is not sent under a number already used, and when the probe ends the
// padding stops.
func TestProbePaddingOnTheWire(t *testing.T) {
	w := newWire(t)
	const rate = 1_000_000
	w.d.setProbe(rate)
	const frames = 150 // 5 s
	for i := range 3 * frames {
		w.forward(mediaPacket(i), i == 0, frameTime(i))
	}
	// A packet from before the last padding, arriving now (a publisher's retransmission).
	w.forward(mediaPacket(3*frames-2), false, frameTime(3*frames))
	w.d.setProbe(0)
	for i := 3 * frames; i < 3*(frames+30); i++ {
		w.forward(mediaPacket(i), false, frameTime(i))
	}
	got := w.received()

	var padded, media int
	var padBytes int
	for j, p := range got {
		if j > 0 && p.SequenceNumber != got[j-1].SequenceNumber+1 {
			t.Fatalf("packet %d has sequence number %d after %d", j, p.SequenceNumber, got[j-1].SequenceNumber)
		}
		if len(p.Payload) == 0 {
			if !p.Padding || p.Header.PaddingSize != padSize {
				t.Fatalf("packet %d: empty, padding %v of %d bytes", j, p.Padding, p.Header.PaddingSize)
			}
			prev := got[j-1]
			if prev.Timestamp != p.Timestamp || (len(prev.Payload) > 0 && !prev.Marker) {
				t.Fatalf("padding %d follows a packet at ts %d (marker %v), has ts %d", j, prev.Timestamp, prev.Marker, p.Timestamp)
			}
			padded++
			padBytes += padSize
			continue
		}
		if n := int(binary.BigEndian.Uint32(p.Payload[4:])); n != media {
			t.Fatalf("media packet %d is publisher packet %d, want %d", j, n, media)
		}
		if p.Padding {
			t.Fatalf("media packet %d has padding", j)
		}
		media++
	}
	if media != 3*(frames+30) {
		t.Fatalf("%d media packets arrived, want %d", media, 3*(frames+30))
	}
	// Padding starts once the stream has come without a gap for settleTime.
	probed := float64(frameTime(3*frames)-frameTime(0)-int64(settleTime)) / 1e9
	if want := rate / 8 * probed; float64(padBytes) < 0.8*want || float64(padBytes) > 1.2*want {
		t.Fatalf("%d bytes of padding over %.1f s of probing; want %.0f ± 20 %%", padBytes, probed, want)
	}
	for _, p := range got[len(got)-90:] {
		if len(p.Payload) == 0 {
			t.Fatal("padding after the probe ended")
		}
	}
	if n := testutil.ToFloat64(w.tr.metrics.PaddingPackets); int(n) != padded {
		t.Fatalf("padding metric %v, %d packets sent", n, padded)
	}

	// NACKs naming a packet of padding and a media packet: only the media is resent.
	padSeq, _, mediaSeq := lastPaddingAndMedia(got[:len(got)-90])
	resent := w.nacked(padSeq, mediaSeq)
	if len(resent) != 1 || resent[0].SequenceNumber != mediaSeq || len(resent[0].Payload) == 0 {
		t.Fatalf("NACKs for padding %d and media %d resent %d packets, want the media packet", padSeq, mediaSeq, len(resent))
	}
}

// lastPaddingAndMedia finds the last packet of padding and the last media packet in got.
func lastPaddingAndMedia(got []rtp.Packet) (padSeq uint16, padTS uint32, mediaSeq uint16) {
	for _, p := range got {
		if len(p.Payload) == 0 {
			padSeq, padTS = p.SequenceNumber, p.Timestamp
		} else {
			mediaSeq = p.SequenceNumber
		}
	}
	return padSeq, padTS, mediaSeq
}

// nacked sends the subscriber's NACK for seqs, after w.received, and returns what was resent.
func (w *wire) nacked(seqs ...uint16) []rtp.Packet {
	again := newWire(w.t)
	again.keys = w.keys
	w.d.subscriber.direct.Load().route.Store(&route{conn: again.conn, to: netip.MustParseAddrPort("127.0.0.1:9")})
	var pairs []rtcp.NackPair
	for _, s := range seqs {
		pairs = append(pairs, rtcp.NackPair{PacketID: s})
	}
	w.d.retransmit(pairs)
	return again.received()
}

// Where frames are told apart by sequence numbers alone (H.264), a hole left by lost
// padding would hold back every later frame: a NACK for padding is answered, once, with the
// same padding.
func TestLostH264PaddingIsResentOnce(t *testing.T) {
	w := newWire(t)
	w.tr.info.MimeType = webrtc.MimeTypeH264
	w.d = newDownTrack(w.tr, w.d.subscriber) // as made for an H.264 track
	w.d.writer, w.d.ssrc, w.d.payloadType, w.d.twccID, w.d.current, w.d.target = nopWriter{}, 1000, 102, benchTWCCID, 0, 0
	w.tr.downs.Store(&[]*downTrack{w.d})
	w.d.setProbe(1_000_000)
	for i := range 3 * 60 {
		w.forward(mediaPacket(i), i == 0, frameTime(i))
	}
	got := w.received()
	padSeq, padTS, mediaSeq := lastPaddingAndMedia(got)
	if padSeq == 0 {
		t.Fatal("no padding sent")
	}
	resent := w.nacked(padSeq, mediaSeq)
	if len(resent) != 2 {
		t.Fatalf("NACKs for padding %d and media %d resent %d packets, want 2", padSeq, mediaSeq, len(resent))
	}
	if p := resent[0]; p.SequenceNumber != padSeq || p.Timestamp != padTS || len(p.Payload) != 0 || !p.Padding {
		t.Fatalf("padding %d (ts %d) resent as seq %d ts %d, %d payload bytes, padding %v",
			padSeq, padTS, p.SequenceNumber, p.Timestamp, len(p.Payload), p.Padding)
	}
	time.Sleep(2 * resendInterval)
	if again := w.nacked(padSeq); len(again) != 0 {
		t.Fatalf("padding %d resent a second time", padSeq)
	}
}

// A publisher's own padding (browsers pad to probe their uplink) reaches the subscriber as
// it was sent: sealed by the SFU, the padding must still be there and still say its length.
func TestForwardedPaddingIsKept(t *testing.T) {
	w := newWire(t)
	p := mediaPacket(2)
	w.forward(p, true, frameTime(2))
	q := mediaPacket(5)
	q.Padding, q.Header.PaddingSize = true, 20
	w.forward(q, false, frameTime(5))
	got := w.received()
	if len(got) != 2 {
		t.Fatalf("%d packets arrived, want 2", len(got))
	}
	if r := got[1]; !r.Padding || r.Header.PaddingSize != 20 || !bytes.Equal(r.Payload, q.Payload) {
		t.Fatalf("padded packet arrived with padding %v of %d bytes and a %d-byte payload; want 20 and %d",
			r.Padding, r.Header.PaddingSize, len(r.Payload), len(q.Payload))
	}
}

// Padding is never slipped in while a packet the publisher sent may still come (one it
// resends after a loss): that packet would then have no sequence number left and be lost to
// the subscriber for good.
func TestPaddingWaitsForALostPacket(t *testing.T) {
	w := newWire(t)
	w.d.setProbe(1_000_000)
	const lost = 3 * 60 // the first packet of a frame, well after the stream settled
	for i := range 3 * 100 {
		if i == lost {
			continue
		}
		if i == lost+81 { // 0.9 s later, the publisher's second or third try
			w.forward(mediaPacket(lost), false, frameTime(i))
		}
		w.forward(mediaPacket(i), false, frameTime(i))
	}
	// Every sequence number is used once, the late packet's included: it fills the hole
	// its loss left.
	got := w.received()
	seqs := make(map[uint16]bool, len(got))
	seen := false
	for _, p := range got {
		if seqs[p.SequenceNumber] {
			t.Fatalf("sequence number %d sent twice", p.SequenceNumber)
		}
		seqs[p.SequenceNumber] = true
		if len(p.Payload) > 0 && binary.BigEndian.Uint32(p.Payload[4:]) == lost {
			seen = true
		}
	}
	first := got[0].SequenceNumber
	for k := range len(got) {
		if !seqs[first+uint16(k)] {
			t.Fatalf("sequence number %d never sent: a hole", first+uint16(k))
		}
	}
	if !seen {
		t.Fatal("the publisher's late packet never reached the subscriber")
	}
}
