package sfu

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// downTrack sends one published track to one subscriber. It is the subscriber connection's
// TrackLocal: it rewrites SSRC, payload type, sequence numbers and timestamps so that layer
// switches are invisible to the receiver, and strips the publisher's header extensions,
// whose ids mean nothing on the subscriber's connection.
type downTrack struct {
	track      *PublishedTrack
	subscriber *Participant
	id         string
	streamID   string

	mu          sync.Mutex
	writer      webrtc.TrackLocalWriter
	ssrc        uint32
	payloadType uint8
	current     int // layer being forwarded, -1 until the first keyframe
	target      int // layer wanted
	rw          rewriter
	extBuf      [2]rtp.Extension

	sender    *webrtc.RTPSender
	maxHeight atomic.Int32
	closed    atomic.Bool
}

func newDownTrack(t *PublishedTrack, sub *Participant) *downTrack {
	d := &downTrack{track: t, subscriber: sub, id: t.info.ID, streamID: t.info.ParticipantID, current: -1, target: -1}
	if t.kind == webrtc.RTPCodecTypeAudio {
		d.current, d.target = 0, 0
	}
	return d
}

// errNoCodec is returned when the subscriber cannot receive the publisher's codec.
var errNoCodec = errors.New("sfu: subscriber does not support the track's codec")

// Bind is called by the subscriber connection once the codec is negotiated.
func (d *downTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	want := d.track.owner.codecOf(d.track)
	for _, c := range ctx.CodecParameters() {
		if !strings.EqualFold(c.MimeType, want.MimeType) {
			continue
		}
		if strings.EqualFold(want.MimeType, webrtc.MimeTypeH264) && !sameH264Profile(c.SDPFmtpLine, want.SDPFmtpLine) {
			continue
		}
		d.mu.Lock()
		d.writer = ctx.WriteStream()
		d.ssrc = uint32(ctx.SSRC())
		d.payloadType = uint8(c.PayloadType)
		d.mu.Unlock()
		// No keyframe request yet: SRTP is not up, a keyframe now would be lost, and the
		// throttle would then hold back the request made once the connection is up.
		return c, nil
	}
	return webrtc.RTPCodecParameters{}, errNoCodec
}

// Unbind is called when the subscriber connection stops sending the track.
func (d *downTrack) Unbind(webrtc.TrackLocalContext) error {
	d.mu.Lock()
	d.writer = nil
	d.mu.Unlock()
	return nil
}

func (d *downTrack) ID() string                { return d.id }
func (d *downTrack) RID() string               { return "" }
func (d *downTrack) StreamID() string          { return d.streamID }
func (d *downTrack) Kind() webrtc.RTPCodecType { return d.track.kind }

// setTarget chooses the layer to forward; the switch happens at that layer's next keyframe.
func (d *downTrack) setTarget(rank int) {
	d.mu.Lock()
	changed := d.target != rank
	d.target = rank
	waiting := d.current != rank
	d.mu.Unlock()
	if changed && waiting && rank >= 0 {
		d.track.requestKeyframe(rank)
	}
}

// pause stops forwarding until the next place the subscriber can resume from: a
// keyframe of the target layer, or any audio packet. The rewriter then continues the
// sequence numbers without a gap, so the subscriber does not ask for packets that were
// never sent.
func (d *downTrack) pause() {
	d.mu.Lock()
	d.current = -1
	d.mu.Unlock()
}

// keepWaiting asks again for the keyframe a subscriber waits for to start or switch
// layers, in case the earlier request or its keyframe was lost.
func (d *downTrack) keepWaiting() {
	d.mu.Lock()
	target, waiting := d.target, d.target != d.current && d.writer != nil
	d.mu.Unlock()
	if waiting && target >= 0 {
		d.track.requestKeyframe(target)
	}
}

// writeRTP forwards one packet of layer rank if it is the layer this subscriber receives,
// switching layers on a keyframe of the target layer. It reports whether it sent.
//
// pkt belongs to the caller's read loop, which hands it to one subscriber after another:
// writeRTP rewrites the packet's header for the write and restores it before returning.
func (d *downTrack) writeRTP(rank int, pkt *rtp.Packet, keyframe bool, now int64) bool {
	if !d.subscriber.subReady.Load() {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.writer == nil {
		return false
	}
	if rank != d.current {
		if rank != d.target || !keyframe {
			return false
		}
		d.current = rank
		d.rw.switchSource(pkt.SequenceNumber, pkt.Timestamp, now, d.track.clockRate)
	} else if !d.rw.started {
		d.rw.switchSource(pkt.SequenceNumber, pkt.Timestamp, now, d.track.clockRate)
	}
	seq, ts, ok := d.rw.rewrite(pkt.SequenceNumber, pkt.Timestamp, now)
	if !ok {
		return false
	}
	// Writing a copy of the header would move the copy to the heap (it goes through an
	// interface): one allocation per packet per subscriber. The writer (pion's interceptors,
	// then SRTP) copies what it keeps, so the packet's own header is lent to it instead.
	orig := pkt.Header
	hdr := &pkt.Header
	hdr.SequenceNumber = seq
	hdr.Timestamp = ts
	hdr.SSRC = d.ssrc
	hdr.PayloadType = d.payloadType
	hdr.Extension = false
	hdr.Extensions = d.extBuf[:0]
	hdr.CSRC = nil
	_, err := d.writer.WriteRTP(hdr, pkt.Payload)
	pkt.Header = orig
	return err == nil
}

// rtcpLoop reads the subscriber's RTCP for this track: keyframe requests go to the
// publisher; NACKs are answered by the connection's responder from its packet cache.
func (d *downTrack) rtcpLoop() {
	for {
		pkts, _, err := d.sender.ReadRTCP()
		if err != nil {
			return
		}
		for _, p := range pkts {
			switch p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				d.mu.Lock()
				rank := d.current
				if rank < 0 {
					rank = d.target
				}
				d.mu.Unlock()
				d.track.requestKeyframe(rank)
			case *rtcp.TransportLayerNack:
				d.track.metrics.NACKs.Inc()
			}
		}
	}
}

// sameH264Profile compares the profile (not the level) of two H.264 fmtp lines, which is
// what decides whether a decoder can take the stream.
func sameH264Profile(a, b string) bool {
	pa, pb := fmtpValue(a, "profile-level-id"), fmtpValue(b, "profile-level-id")
	pm := fmtpValue(a, "packetization-mode") == fmtpValue(b, "packetization-mode")
	if len(pa) < 4 || len(pb) < 4 {
		return pm
	}
	return pm && strings.EqualFold(pa[:4], pb[:4])
}

func fmtpValue(line, key string) string {
	for _, kv := range strings.Split(line, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if ok && strings.EqualFold(k, key) {
			return v
		}
	}
	return ""
}
