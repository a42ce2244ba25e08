package sfu

import (
	"bytes"
	"testing"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

func TestPacketCacheKeepsRecentPackets(t *testing.T) {
	var c packetCache
	buf := make([]byte, maxPacketSize)
	c.store(65535, []byte{1, 2, 3})
	c.store(0, []byte{4, 5})
	if n := c.load(65535, buf); !bytes.Equal(buf[:n], []byte{1, 2, 3}) {
		t.Fatalf("seq 65535: %v", buf[:n])
	}
	if n := c.load(0, buf); !bytes.Equal(buf[:n], []byte{4, 5}) {
		t.Fatalf("seq 0 after the wrap: %v", buf[:n])
	}
	if n := c.load(1, buf); n != 0 {
		t.Fatalf("never stored: %d bytes", n)
	}
	// A packet packetCacheSize numbers later takes the slot: the old one is gone, not
	// returned under the wrong number.
	c.store(packetCacheSize, []byte{9})
	if n := c.load(0, buf); n != 0 {
		t.Fatalf("overwritten packet still returned: %v", buf[:n])
	}
	c.store(7, make([]byte, maxPacketSize+1))
	if n := c.load(7, buf); n != 0 {
		t.Fatal("an oversize datagram was cached")
	}
}

// A subscriber's NACK is answered with the packet it lost, under the sequence number and
// timestamp it was first sent with — also after a layer switch, when the outgoing numbers no
// longer match the publisher's — and a duplicate NACK right after does not resend it again.
func TestNACKResendsWhatWasSent(t *testing.T) {
	tr := benchTrack(0)
	tr.info.Simulcast = true
	for rank := range 2 {
		tr.layers[rank] = &layer{rank: rank, cache: &packetCache{}}
	}
	var got []rtp.Header
	var payloads [][]byte
	d := newDownTrack(tr, readySubscriber())
	d.writer = recordPayloads{&got, &payloads}
	d.ssrc, d.payloadType, d.twccID = 77, 100, benchTWCCID
	d.target = 0
	tr.addDown(d)

	// The publisher's packets as the read loop sees them: cached, then forwarded.
	send := func(rank int, seq uint16, ts uint32, keyframe bool, body byte) {
		pkt := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: ts, SSRC: uint32(10 + rank)}, Payload: []byte{body, body, body}}
		raw, err := pkt.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		tr.layers[rank].cache.store(seq, raw)
		tr.forward(rank, pkt, keyframe, int64(seq)*1e6)
	}
	send(0, 1000, 9000, true, 'a')
	send(0, 1001, 9000, false, 'b')
	d.target = 1                    // what setTarget does, without asking the (absent) publisher for a keyframe
	send(1, 5000, 70000, true, 'c') // switch: outgoing 1002
	for i := range 8 {
		send(1, 5001+uint16(i), 70000, false, 'd')
	}
	if len(got) != 11 {
		t.Fatalf("%d packets forwarded, want 11", len(got))
	}
	first := got[0].SequenceNumber
	sentTS := map[uint16]uint32{}
	for _, h := range got {
		sentTS[h.SequenceNumber] = h.Timestamp
	}

	nack := &rtcp.TransportLayerNack{MediaSSRC: 77, Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{first + 1, first + 2})}
	d.retransmit(nack.Nacks)
	if len(got) != 13 {
		t.Fatalf("%d packets after the NACK, want 13", len(got))
	}
	for i, want := range []byte{'b', 'c'} {
		h, p := got[11+i], payloads[11+i]
		seq := first + 1 + uint16(i)
		if h.SequenceNumber != seq || h.Timestamp != sentTS[seq] || h.SSRC != 77 || h.PayloadType != 100 {
			t.Errorf("resent packet %d: seq %d ts %d ssrc %d pt %d, want seq %d ts %d", i, h.SequenceNumber, h.Timestamp, h.SSRC, h.PayloadType, seq, sentTS[seq])
		}
		if !bytes.Equal(p, []byte{want, want, want}) {
			t.Errorf("resent packet %d: payload %q, want %c", i, p, want)
		}
		if len(h.GetExtension(benchTWCCID)) != 2 {
			t.Errorf("resent packet %d has no transport-wide sequence number of its own", i)
		}
	}
	if a, b := got[11].GetExtension(benchTWCCID), got[10].GetExtension(benchTWCCID); bytes.Equal(a, b) {
		t.Error("a retransmission reused a transport-wide sequence number")
	}

	d.retransmit(nack.Nacks)
	if len(got) != 13 {
		t.Fatalf("a duplicate NACK right after was answered again (%d packets)", len(got))
	}
	// Numbers never sent, or too old to be remembered, are ignored.
	d.retransmit(rtcp.NackPairsFromSequenceNumbers([]uint16{first + 20, first - packetCacheSize}))
	if len(got) != 13 {
		t.Fatalf("resent a packet that was never sent (%d packets)", len(got))
	}
}

// Retransmissions are bounded: a subscriber that reports everything lost gets resendBurst
// packets again at once (a joiner too, before it has been sent anything), then one per
// sendsPerResend packets it is sent, not a multiple of the stream.
func TestNACKRetransmissionsAreBudgeted(t *testing.T) {
	tr := benchTrack(0)
	tr.layers[0] = &layer{rank: 0, cache: &packetCache{}}
	var got []rtp.Header
	var payloads [][]byte
	d := newDownTrack(tr, readySubscriber())
	d.writer = recordPayloads{&got, &payloads}
	d.ssrc, d.payloadType, d.twccID = 77, 100, benchTWCCID
	d.current, d.target = 0, 0
	tr.addDown(d)
	next := uint16(100)
	// sendAndLose forwards n packets and NACKs all of them at once; it returns how many
	// were resent.
	sendAndLose := func(n int) int {
		before := len(got)
		for range n {
			pkt := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: next, Timestamp: 3000, SSRC: 10}, Payload: []byte{1}}
			raw, _ := pkt.Marshal()
			tr.layers[0].cache.store(pkt.SequenceNumber, raw)
			tr.forward(0, pkt, next == 100, int64(next)*1e6)
			next++
		}
		var seqs []uint16
		for _, h := range got[before:] {
			seqs = append(seqs, h.SequenceNumber)
		}
		sent := len(got)
		d.retransmit(rtcp.NackPairsFromSequenceNumbers(seqs))
		return len(got) - sent
	}
	if resent := sendAndLose(3); resent != 3 {
		t.Fatalf("a joiner's first 3 packets reported lost: %d resent, want all 3", resent)
	}
	if resent := sendAndLose(400); resent != resendBurst {
		t.Fatalf("400 packets reported lost: %d resent, want the saved %d", resent, resendBurst)
	}
	if resent := sendAndLose(40); resent != 40/sendsPerResend {
		t.Fatalf("40 more reported lost: %d resent, want %d", resent, 40/sendsPerResend)
	}
}

type recordPayloads struct {
	got      *[]rtp.Header
	payloads *[][]byte
}

func (w recordPayloads) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	*w.got = append(*w.got, h.Clone())
	*w.payloads = append(*w.payloads, bytes.Clone(payload))
	return len(payload), nil
}
func (w recordPayloads) Write(b []byte) (int, error) { return len(b), nil }
