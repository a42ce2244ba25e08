package sfu

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"
)

// downTrack sends one published track to one subscriber. It is the subscriber connection's
// TrackLocal: it rewrites SSRC, payload type, sequence numbers and timestamps so that layer
// switches are invisible to the receiver, replaces the publisher's header extensions (whose
// ids mean nothing on the subscriber's connection) with the subscriber connection's
// transport-wide sequence number, answers the subscriber's NACKs and counts what it sent for
// sender reports.
//
// It does the work pion's interceptors would do on a sending connection, because there they
// run once per packet per subscriber, the SFU's hottest path: the estimator's per-packet
// bookkeeping alone took a fifth of the server's CPU in a fan-out.
type downTrack struct {
	subscriber *Participant
	kind       webrtc.RTPCodecType
	metrics    *Metrics
	id         string
	streamID   string
	// slot: the downTrack is one of a client offerer's sending slots, whose source changes
	// (see slots.go); otherwise it carries one track for its whole life.
	slot bool

	mu sync.Mutex
	// track is the source forwarded: nil while a slot waits for one. Set under the
	// subscriber's lock too.
	track     *PublishedTrack
	clockRate uint32 // the source's
	// codecs are what the subscriber connection negotiated for the kind, for a slot to
	// pick the payload type of each source it carries.
	codecs      []webrtc.RTPCodecParameters
	writer      webrtc.TrackLocalWriter
	ssrc        uint32
	payloadType uint8
	current     int // layer being forwarded, -1 until the first keyframe
	target      int // layer wanted
	rw          rewriter
	twccID      uint8 // negotiated id of the transport-wide sequence number extension; 0: none
	extBuf      [1]rtp.Extension
	twccBuf     [2]byte

	// On the subscriber's direct path (see startDirectPath): the stream's SRTP context,
	// made on the first packet, and the header SRTP parses each packet into.
	srtp        *srtp.Context
	srtpCryptex bool // the header encryption srtp was last set to
	srtpHdr     rtp.Header
	srtpHdrEx   [1]rtp.Extension

	// sent maps the sequence numbers sent to where they came from, to answer NACKs from the
	// layer's packet cache; nil for audio, which is not retransmitted.
	sent *[packetCacheSize]sentPacket

	// resendCredit counts packets sent toward the next retransmission allowed, in units of
	// 1/sendsPerResend retransmissions.
	resendCredit int

	// resendPadding tells whether a lost packet of padding is resent (once). A receiver that
	// tells frames apart by picture id (VP8, VP9) steps over the hole it leaves; one that
	// tells them apart by sequence numbers alone (H.264, AV1) holds back every later frame
	// until the hole is filled or a keyframe comes. For VP8 and VP9 resending would only
	// spend, on a link a probe has just shown to be full, the budget lost media needs.
	resendPadding bool

	// Padding sent while the subscriber's link is probed (see setProbe): its rate in bits
	// per second, 0 when no probe runs, the bytes it is owed since padAt, and the bytes
	// sent since the probe started.
	padRate int
	padOwed float64
	padAt   int64
	padSent int64
	padHdr  rtp.Header

	// For sender reports.
	packets uint32
	octets  uint32
	lastTS  uint32
	lastAt  int64 // unix nanoseconds of the last packet sent

	sender         *webrtc.RTPSender
	maxHeight      atomic.Int32
	closed         atomic.Bool
	keyframeAsking atomic.Bool // see keyframeRequestedAside
}

func newDownTrack(t *PublishedTrack, sub *Participant) *downTrack {
	d := &downTrack{
		track: t, clockRate: t.clockRate, subscriber: sub, kind: t.kind, metrics: t.metrics,
		id: t.info.ID, streamID: t.info.ParticipantID, current: -1, target: -1,
	}
	if t.kind == webrtc.RTPCodecTypeAudio {
		d.current, d.target = 0, 0
	} else {
		d.sent = new([packetCacheSize]sentPacket)
		d.resendPadding = resendsPadding(t.info.MimeType)
		// A joiner starts with its saving full: its first keyframe is what it can least
		// afford to lose.
		d.resendCredit = resendBurst * sendsPerResend
	}
	return d
}

// resendsPadding tells whether lost padding is resent on a stream of the codec (see
// downTrack.resendPadding).
func resendsPadding(mime string) bool {
	return !strings.EqualFold(mime, webrtc.MimeTypeVP8) && !strings.EqualFold(mime, webrtc.MimeTypeVP9)
}

// source is the track the downTrack forwards, nil for a slot without one.
func (d *downTrack) source() *PublishedTrack {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.track
}

// sentPacket is what a subscriber was sent under one outgoing sequence number.
type sentPacket struct {
	sentAs   uint16 // outgoing sequence number: tells a live entry from an overwritten one
	srcSeq   uint16 // the publisher's sequence number
	ts       uint32 // outgoing timestamp
	rank     int8   // layer
	valid    bool
	padding  bool // a packet of padding (see resendPadding)
	resends  uint8
	resentAt int64
}

// Retransmission limits: a packet is resent at most maxResends times, and not again within
// resendInterval, which absorbs the duplicate NACKs a receiver sends before the first
// retransmission can have arrived. A subscriber earns one retransmission for every
// sendsPerResend packets it is sent, up to resendBurst saved: loss recovery is bounded to a
// quarter of the stream, so that a subscriber on a bad link (or a node that drops because it
// is overloaded) cannot set off a storm of retransmissions that costs everyone else.
const (
	maxResends     = 4
	resendInterval = 20 * time.Millisecond
	sendsPerResend = 4
	resendBurst    = 64
)

// padSize is the payload of a packet of padding: RTP padding is at most 255 bytes, its
// length in its last byte.
const padSize = 255

// Padding is sent in bursts after the end of a video frame, never more than padBurstMax
// packets or padOwedMax of owing at once: a stream whose frames are far apart (a still
// screen share) is not made to send a second's padding at one go.
const (
	padBurstMax = 96
	padOwedMax  = 250 * time.Millisecond
)

// errNoCodec is returned when the subscriber cannot receive the publisher's codec.
var errNoCodec = errors.New("sfu: subscriber does not support the track's codec")

// Bind is called by the subscriber connection once the codec is negotiated. A slot binds
// whatever it carries (nothing yet, say): it takes the first codec negotiated for its kind,
// which is what pion is told it sends, and picks each source's own later (setSource).
func (d *downTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	codecs := ctx.CodecParameters()
	d.mu.Lock()
	defer d.mu.Unlock()
	var c webrtc.RTPCodecParameters
	var ok bool
	switch {
	case d.track != nil:
		c, ok = fitCodec(codecs, d.track.owner.codecOf(d.track))
	case d.slot && len(codecs) > 0:
		c, ok = codecs[0], true
	}
	if !ok {
		return webrtc.RTPCodecParameters{}, errNoCodec
	}
	d.codecs = slices.Clone(codecs)
	d.writer = ctx.WriteStream()
	d.ssrc = uint32(ctx.SSRC())
	d.subscriber.setSending(d.ssrc, d)
	d.payloadType = uint8(c.PayloadType)
	d.twccID = 0
	for _, e := range ctx.HeaderExtensions() {
		if e.URI == sdp.TransportCCURI {
			d.twccID = uint8(e.ID)
		}
	}
	// No keyframe request yet: SRTP is not up, a keyframe now would be lost, and the
	// throttle would then hold back the request made once the connection is up.
	return c, nil
}

// fitCodec is the negotiated codec a stream of codec want is sent as, if any.
func fitCodec(negotiated []webrtc.RTPCodecParameters, want webrtc.RTPCodecParameters) (webrtc.RTPCodecParameters, bool) {
	for _, c := range negotiated {
		if !strings.EqualFold(c.MimeType, want.MimeType) {
			continue
		}
		if strings.EqualFold(want.MimeType, webrtc.MimeTypeH264) && !sameH264Profile(c.SDPFmtpLine, want.SDPFmtpLine) {
			continue
		}
		return c, true
	}
	return webrtc.RTPCodecParameters{}, false
}

// Unbind is called when the subscriber connection stops sending the track.
func (d *downTrack) Unbind(webrtc.TrackLocalContext) error {
	d.mu.Lock()
	d.writer = nil
	d.subscriber.unsetSending(d.ssrc, d)
	d.mu.Unlock()
	return nil
}

func (d *downTrack) ID() string                { return d.id }
func (d *downTrack) RID() string               { return "" }
func (d *downTrack) StreamID() string          { return d.streamID }
func (d *downTrack) Kind() webrtc.RTPCodecType { return d.kind }

// setTarget chooses the layer to forward; the switch happens at that layer's next keyframe.
//
// The keyframe is asked for only once the subscriber's connection is up (then
// requestKeyframes asks): one asked for earlier arrives before the subscriber can receive
// it, and its request holds back, for keyframeInterval, the one made when the connection
// is up. That doubled a late joiner's wait for its first frames.
func (d *downTrack) setTarget(rank int) {
	d.mu.Lock()
	changed := d.target != rank
	d.target = rank
	waiting := d.current != rank
	t := d.track
	d.mu.Unlock()
	if changed && waiting && rank >= 0 && t != nil && d.subscriber.subReady.Load() {
		t.requestKeyframe(rank)
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
	if !d.subscriber.subReady.Load() {
		return
	}
	d.mu.Lock()
	target, waiting, t := d.target, d.target != d.current && d.writer != nil, d.track
	d.mu.Unlock()
	if waiting && target >= 0 && t != nil {
		t.requestKeyframe(target)
	}
}

// setProbe makes the stream carry bitsPerSecond more than its layer, in packets of padding
// that the subscriber's bandwidth estimate counts like media, or stops it (0). Padding
// shows whether the link carries a higher layer without sending that layer: a link that
// does not costs neither picture quality nor a switch there and back, each of which asks
// the publisher for a keyframe.
func (d *downTrack) setProbe(bitsPerSecond int) {
	d.mu.Lock()
	d.padRate, d.padOwed, d.padAt, d.padSent = max(bitsPerSecond, 0), 0, 0, 0
	d.mu.Unlock()
}

// paddingSent is how many bytes of padding went out since the last setProbe.
func (d *downTrack) paddingSent() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.padSent
}

// canProbe reports whether the subscriber's link can be probed through this track: the
// connection reports what arrived (transport-wide feedback), without which a probe shows
// nothing.
func (d *downTrack) canProbe() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.writer != nil && d.twccID != 0
}

// writeRTP forwards one packet of layer rank of track t if it is the layer this subscriber
// receives, switching layers on a keyframe of the target layer. It reports whether it sent.
//
// pkt belongs to the caller's read loop, which hands it to one subscriber after another:
// writeRTP rewrites the packet's header for the write and restores it before returning.
func (d *downTrack) writeRTP(t *PublishedTrack, rank int, pkt *rtp.Packet, keyframe bool, now int64) bool {
	if !d.subscriber.subReady.Load() {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	// A slot's previous source may still hand it a packet it read before the slot moved on.
	if d.writer == nil || d.track != t {
		return false
	}
	if rank != d.current {
		if rank != d.target || !keyframe {
			return false
		}
		d.current = rank
		d.rw.switchSource(pkt.SequenceNumber, pkt.Timestamp, now, d.clockRate)
	} else if !d.rw.started {
		d.rw.switchSource(pkt.SequenceNumber, pkt.Timestamp, now, d.clockRate)
	}
	seq, ts, ok := d.rw.rewrite(pkt.SequenceNumber, pkt.Timestamp, now)
	if !ok {
		return false
	}
	if d.sent != nil {
		d.sent[seq%packetCacheSize] = sentPacket{sentAs: seq, srcSeq: pkt.SequenceNumber, ts: ts, rank: int8(rank), valid: true}
	}
	// Writing a copy of the header would move the copy to the heap (it goes through an
	// interface): one allocation per packet per subscriber. The writer (SRTP) copies what it
	// keeps, so the packet's own header is lent to it instead.
	orig := pkt.Header
	err := d.send(&pkt.Header, pkt.Payload, seq, ts, now)
	pkt.Header = orig
	if err != nil {
		return false
	}
	d.resendCredit = min(d.resendCredit+1, resendBurst*sendsPerResend)
	if d.lastAt == 0 || int32(ts-d.lastTS) >= 0 {
		d.lastTS, d.lastAt = ts, now
	}
	if d.padRate > 0 && pkt.Marker && d.rw.canPad(seq, now) {
		d.sendPadding(now)
	}
	return true
}

// sendPadding sends the padding owed since the last burst, right after the last packet of
// a frame. d.mu is held.
func (d *downTrack) sendPadding(now int64) {
	if d.padAt == 0 {
		d.padAt = now
		return
	}
	elapsed := min(now-d.padAt, int64(padOwedMax))
	d.padAt = now
	d.padOwed += float64(d.padRate) / 8 * float64(elapsed) / float64(time.Second)
	n := 0
	for ; d.padOwed >= padSize && n < padBurstMax; n++ {
		seq, ts, mark := d.rw.pad()
		if d.sendPaddingPacket(seq, ts, now) != nil {
			d.rw.unpad(mark)
			break
		}
		if d.sent != nil {
			d.sent[seq%packetCacheSize] = sentPacket{sentAs: seq, ts: ts, valid: true, padding: true}
		}
		d.padOwed -= padSize
		d.padSent += padSize
	}
	d.padOwed = min(d.padOwed, padSize)
	if n > 0 {
		d.metrics.PaddingPackets.Add(float64(n))
	}
}

// sendPaddingPacket sends one packet of padding under seq and ts. d.mu is held.
func (d *downTrack) sendPaddingPacket(seq uint16, ts uint32, now int64) error {
	d.padHdr = rtp.Header{Version: 2, Padding: true, PaddingSize: padSize}
	return d.send(&d.padHdr, nil, seq, ts, now)
}

// send writes one packet under the subscriber's SSRC, payload type and the given outgoing
// sequence number and timestamp, with the connection's next transport-wide sequence number
// as its only header extension. d.mu is held.
func (d *downTrack) send(hdr *rtp.Header, payload []byte, seq uint16, ts uint32, now int64) error {
	hdr.SequenceNumber = seq
	hdr.Timestamp = ts
	hdr.SSRC = d.ssrc
	hdr.PayloadType = d.payloadType
	hdr.CSRC = nil
	hdr.Extension = false
	hdr.Extensions = d.extBuf[:0]
	if d.twccID != 0 {
		// 12-byte header, 8 for the extension, the payload, its padding and SRTP's
		// authentication tag.
		size := 12 + 8 + len(payload) + 16
		if hdr.Padding {
			size += int(hdr.PaddingSize)
		}
		tw := d.subscriber.bwe.Sent(size, now)
		d.twccBuf = [2]byte{byte(tw >> 8), byte(tw)}
		// Into extBuf's room: no allocation.
		_ = hdr.SetExtension(d.twccID, d.twccBuf[:])
	}
	if err := d.write(hdr, payload); err != nil {
		return err
	}
	d.packets++
	d.octets += uint32(len(payload))
	return nil
}

// write sends one packet on the subscriber's direct path if it has one, else through pion's
// SRTP session. d.mu is held.
func (d *downTrack) write(hdr *rtp.Header, payload []byte) error {
	path := d.subscriber.direct.Load()
	if path == nil {
		_, err := d.writer.WriteRTP(hdr, payload)
		return err
	}
	r := path.route.Load()
	if r == nil {
		return errNoRoute
	}
	if d.srtp == nil {
		ctx, err := path.keys.newContext()
		if err != nil {
			return err
		}
		d.srtp, d.srtpCryptex = ctx, false
	}
	if cryptex := path.cryptex.Load(); cryptex != d.srtpCryptex {
		mode := srtp.CryptexModeDisabled
		if cryptex {
			mode = srtp.CryptexModeEnabled
		}
		if err := d.srtp.UpdateOptions(srtp.Cryptex(mode)); err != nil {
			return fmt.Errorf("srtp header encryption: %w", err)
		}
		d.srtpCryptex = cryptex
	}
	out := r.conn.lend()
	if out == nil {
		return net.ErrClosed
	}
	n, err := hdr.MarshalTo(out.data[:cap(out.data)])
	if err != nil {
		r.conn.unlend(out)
		return fmt.Errorf("marshal rtp header: %w", err)
	}
	plain := append(out.data[:n], payload...)
	if hdr.Padding {
		// The packet's own padding (the publisher's, or a probe's), which pion's
		// unmarshalling took off the payload: zeros, and its length in the last byte.
		pad := int(hdr.PaddingSize)
		if pad == 0 || len(plain)+pad+srtpTagRoom > cap(plain) {
			r.conn.unlend(out)
			return errPadding
		}
		plain = plain[:len(plain)+pad]
		clear(plain[len(plain)-pad:])
		plain[len(plain)-1] = byte(pad)
	}
	// Encrypted in place, in the buffer the socket's writer sends from.
	d.srtpHdr.Extensions = d.srtpHdrEx[:0]
	sealed, err := d.srtp.EncryptRTP(plain, plain, &d.srtpHdr)
	if err != nil {
		r.conn.unlend(out)
		return fmt.Errorf("srtp: %w", err)
	}
	out.data = sealed
	r.conn.queue(out, r.to)
	return nil
}

// srtpTagRoom is what sealing adds to a packet: AES-GCM's tag (AES-CM's is shorter).
const srtpTagRoom = 16

// errPadding is returned for a packet whose padding does not fit a datagram.
var errPadding = errors.New("sfu: packet padding does not fit")

// errNoRoute is returned for a packet to a subscriber whose connection has closed.
var errNoRoute = errors.New("sfu: no route to the subscriber")

// rtcpLoop reads the subscriber's RTCP for this track as pion's SRTCP session hands it
// over: everything on a connection without a direct path, and on one with, what reaches
// pion anyway (see takeRTCP).
func (d *downTrack) rtcpLoop() {
	for {
		pkts, _, err := d.sender.ReadRTCP()
		if err != nil {
			return
		}
		d.metrics.rtcpPion.Inc()
		for _, p := range pkts {
			switch p := p.(type) {
			case *rtcp.TransportLayerCC:
				d.subscriber.bwe.Feedback(p, nowNanos())
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				d.keyframeRequested()
			case *rtcp.TransportLayerNack:
				if p.MediaSSRC == d.ssrcOf() {
					d.nacked(p)
				}
			}
		}
	}
}

// handleRTCP acts on the RTCP a subscriber sent: transport-wide feedback (which arrives on
// whichever stream the receiver names in it) feeds the connection's bandwidth estimate,
// keyframe requests go to the publisher and NACKs are answered from the layers' packet
// caches.
func (p *Participant) handleRTCP(pkts []rtcp.Packet) {
	for _, pkt := range pkts {
		switch pkt := pkt.(type) {
		case *rtcp.TransportLayerCC:
			p.bwe.Feedback(pkt, nowNanos())
		case *rtcp.PictureLossIndication:
			if d := p.sendingAs(pkt.MediaSSRC); d != nil {
				d.keyframeRequestedAside()
			}
		case *rtcp.FullIntraRequest:
			for _, e := range pkt.FIR {
				if d := p.sendingAs(e.SSRC); d != nil {
					d.keyframeRequestedAside()
				}
			}
		case *rtcp.TransportLayerNack:
			if d := p.sendingAs(pkt.MediaSSRC); d != nil {
				d.nacked(pkt)
			}
		}
	}
}

// keyframeRequested relays a subscriber's keyframe request to the publisher of the layer
// it receives (or awaits).
func (d *downTrack) keyframeRequested() {
	d.mu.Lock()
	rank, t := d.current, d.track
	if rank < 0 {
		rank = d.target
	}
	d.mu.Unlock()
	if t != nil {
		t.requestKeyframe(rank)
	}
}

// keyframeRequestedAside is keyframeRequested off the caller's goroutine: the request goes
// out on the publisher's connection, through pion, which may wait, and the caller is the
// media socket's reader. One at a time per downTrack, however many requests a subscriber
// packs into its RTCP: the ones that arrive meanwhile are served by it.
func (d *downTrack) keyframeRequestedAside() {
	if d.keyframeAsking.CompareAndSwap(false, true) {
		go func() {
			defer d.keyframeAsking.Store(false)
			d.keyframeRequested()
		}()
	}
}

// nacked answers a subscriber's NACK.
func (d *downTrack) nacked(nack *rtcp.TransportLayerNack) {
	d.metrics.NACKs.Inc()
	// While the node sends more than the kernel takes, retransmissions would only push
	// fresh media out of the send queue.
	if !d.subscriber.room.sfu.sendsBacklogged() {
		d.retransmit(nack.Nacks)
	}
}

func (d *downTrack) ssrcOf() uint32 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ssrc
}

// retransmit resends the packets a subscriber reports lost, if the layer's cache still holds
// them, under the sequence number and timestamp they were first sent with.
func (d *downTrack) retransmit(nacks []rtcp.NackPair) {
	if d.sent == nil {
		return
	}
	buf := make([]byte, maxPacketSize)
	var pkt rtp.Packet
	for _, pair := range nacks {
		pair.Range(func(seq uint16) bool {
			d.resend(seq, buf, &pkt)
			return true
		})
	}
}

func (d *downTrack) resend(seq uint16, buf []byte, pkt *rtp.Packet) {
	now := nowNanos()
	d.mu.Lock()
	e := &d.sent[seq%packetCacheSize]
	if !e.valid || e.sentAs != seq || e.resends >= maxResends || now-e.resentAt < int64(resendInterval) ||
		d.writer == nil || d.resendCredit < sendsPerResend || (e.padding && (!d.resendPadding || e.resends > 0)) {
		d.mu.Unlock()
		return
	}
	if e.padding {
		// See resendPadding.
		defer d.mu.Unlock()
		d.resendCredit -= sendsPerResend
		e.resends++
		e.resentAt = now
		if d.sendPaddingPacket(seq, e.ts, now) == nil {
			d.metrics.Retransmits.Inc()
		}
		return
	}
	src, rank, ts, t := e.srcSeq, int(e.rank), e.ts, d.track
	d.mu.Unlock()
	if t == nil {
		return
	}
	l := t.layer(rank)
	if l == nil || l.cache == nil {
		return
	}
	n := l.cache.load(src, buf)
	if n == 0 || pkt.Unmarshal(buf[:n]) != nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	// The entry may have been overwritten, or the slot moved to another source, while the
	// lock was released.
	if e.sentAs != seq || e.srcSeq != src || d.writer == nil || d.track != t {
		return
	}
	if d.resendCredit < sendsPerResend {
		return
	}
	d.resendCredit -= sendsPerResend
	e.resends++
	e.resentAt = now
	if d.send(&pkt.Header, pkt.Payload, seq, ts, now) == nil {
		d.metrics.Retransmits.Inc()
	}
}

// senderReport describes what was sent to the subscriber so far, for its lip sync and
// round-trip time, or reports false if nothing was sent yet.
func (d *downTrack) senderReport(now time.Time) (*rtcp.SenderReport, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.packets == 0 || d.writer == nil {
		return nil, false
	}
	// The RTP time that corresponds to now on the stream's clock, extrapolated from the
	// last packet: what the receiver maps to the NTP time to align audio and video.
	elapsed := max(now.UnixNano()-d.lastAt, 0)
	rtpTime := d.lastTS + uint32(uint64(elapsed)*uint64(d.clockRate)/uint64(time.Second))
	return &rtcp.SenderReport{
		SSRC:        d.ssrc,
		NTPTime:     ntpTime(now),
		RTPTime:     rtpTime,
		PacketCount: d.packets,
		OctetCount:  d.octets,
	}, true
}

// ntpTime is t in the 64-bit NTP format of RFC 3550: seconds since 1900 and their fraction.
func ntpTime(t time.Time) uint64 {
	const unixToNTP = 2_208_988_800
	nanos := uint64(t.UnixNano())
	secs := nanos/uint64(time.Second) + unixToNTP
	frac := (nanos % uint64(time.Second)) << 32 / uint64(time.Second)
	return secs<<32 | frac
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
