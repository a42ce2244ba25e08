package bwe

import "github.com/pion/rtcp"

// report is what one feedback packet says about one of our packets.
type report struct {
	seq      uint16
	received bool
	timed    bool  // received with a delta, so arrival is known
	arrival  int64 // receiver time in µs after the feedback's reference time

	// Filled in from the send history by resolve.
	sendAt int64
	size   int
}

// A 16-bit delta of 250 µs units cannot exceed this; anything larger was not decoded from
// the wire and is treated as malformed.
const maxRecvDelta = 8_192_000

// decode appends to dst one report per packet status in fb, in sequence order. It trusts
// nothing: it stops at the first inconsistency (a received symbol without a delta, a nil
// or unknown chunk, an impossible symbol or delta) and keeps what it decoded before. It
// covers at most histSize statuses, since anything further back cannot be in the history.
func decode(dst []report, fb *rtcp.TransportLayerCC) []report {
	d := decoder{dst: dst, deltas: fb.RecvDeltas, left: min(int(fb.PacketStatusCount), histSize), seq: fb.BaseSequenceNumber}
	for _, c := range fb.PacketChunks {
		switch c := c.(type) {
		case *rtcp.RunLengthChunk:
			if c == nil {
				return d.dst
			}
			for range c.RunLength {
				if !d.symbol(c.PacketStatusSymbol) {
					return d.dst
				}
			}
		case *rtcp.StatusVectorChunk:
			if c == nil {
				return d.dst
			}
			for _, s := range c.SymbolList {
				if !d.symbol(s) {
					return d.dst
				}
			}
		default:
			return d.dst
		}
	}
	return d.dst
}

type decoder struct {
	dst    []report
	deltas []*rtcp.RecvDelta
	left   int    // statuses still expected
	seq    uint16 // sequence number of the next status
	t      int64  // running arrival time, µs after the reference time
}

// symbol consumes one packet status and reports whether decoding may continue.
func (d *decoder) symbol(s uint16) bool {
	if d.left == 0 {
		return false // status vectors are padded past the count; the padding means nothing
	}
	r := report{seq: d.seq}
	switch s {
	case rtcp.TypeTCCPacketNotReceived:
	case rtcp.TypeTCCPacketReceivedSmallDelta, rtcp.TypeTCCPacketReceivedLargeDelta:
		if len(d.deltas) == 0 || d.deltas[0] == nil {
			return false
		}
		delta := d.deltas[0].Delta
		if delta > maxRecvDelta || delta < -maxRecvDelta {
			return false
		}
		d.deltas = d.deltas[1:]
		d.t += delta
		r.received, r.timed, r.arrival = true, true, d.t
	case rtcp.TypeTCCPacketReceivedWithoutDelta:
		r.received = true
	default:
		return false
	}
	d.dst = append(d.dst, r)
	d.left--
	d.seq++
	return true
}
