package sfu

import (
	"fmt"
	"slices"

	"github.com/pion/webrtc/v4"
)

// Sending slots. A client that offers (WHEP) negotiates once and never again, so what it
// receives cannot follow the room by renegotiation as what the SFU offers does. Instead,
// every audio and video section it offers gets a slot when it is answered: a downTrack with
// an SSRC and the section's negotiated codecs, sending nothing until it has a source. A
// slot without one takes the best-ranked published track of its kind that no other slot
// of the participant carries and that was negotiated (fillSlots): right after the answer,
// whenever a track is published, and when the track it carries is unpublished. Its
// rewriter continues the outgoing sequence numbers and timestamps from one source to the
// next as across simulcast layers, and a keyframe is asked for at once, so a player that
// starts before the stream, or keeps playing while the encoder reconnects, plays without
// reconnecting.

// newSlot returns a slot for a media section of kind, in the session's stream streamID.
func newSlot(sub *Participant, kind webrtc.RTPCodecType, streamID string) *downTrack {
	d := &downTrack{
		subscriber: sub, kind: kind, metrics: sub.room.sfu.metrics, slot: true,
		id: newID(), streamID: streamID, current: -1, target: -1,
	}
	if kind == webrtc.RTPCodecTypeVideo {
		d.sent = new([packetCacheSize]sentPacket)
		d.resendCredit = resendBurst * sendsPerResend
	}
	return d
}

// addSlots gives every audio and video section of the client's offer, which pc has applied,
// a slot, before the answer is made: the answer then sends on each.
func (p *Participant) addSlots(pc *webrtc.PeerConnection) error {
	stream := newID()
	for _, tr := range pc.GetTransceivers() {
		kind := tr.Kind()
		if (kind != webrtc.RTPCodecTypeAudio && kind != webrtc.RTPCodecTypeVideo) || tr.Sender() != nil {
			continue
		}
		// A section with no codec in common is rejected in the answer, which it could not be
		// with something to send.
		if r := tr.Receiver(); r == nil || len(r.GetParameters().Codecs) == 0 {
			continue
		}
		d := newSlot(p, kind, stream)
		sender, err := pc.AddTrack(d)
		if err != nil {
			return fmt.Errorf("%w: %s section: %v", ErrBadSDP, kind, err)
		}
		d.sender = sender
		p.mu.Lock()
		p.slots = append(p.slots, d)
		p.mu.Unlock()
		go d.rtcpLoop()
	}
	return nil
}

// fillSlots gives each slot without a source the best-ranked published track it can carry:
// camera and microphone before screen share, and of a codec negotiated for the slot.
func (p *Participant) fillSlots() {
	tracks := p.room.publishedTracks()
	slices.SortStableFunc(tracks, func(a, b *PublishedTrack) int { return sourceRank(a.info.Source) - sourceRank(b.info.Source) })
	var started []*downTrack
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	for _, d := range p.slots {
		if !d.free() {
			continue
		}
		for _, t := range tracks {
			// A track being unpublished is marked gone before its subscribers are told, under
			// their lock, so that it is never bound after it has been taken off them.
			if t.kind != d.kind || t.owner == p || t.gone.Load() || p.downs[t.info.ID] != nil {
				continue
			}
			if !d.setSource(t) {
				p.room.sfu.log.Info("WHEP slot cannot carry a track: its codec was not negotiated",
					"participant", p.info.ID, "track", t.info.ID, "codec", t.info.MimeType)
				continue
			}
			p.downs[t.info.ID] = d
			t.addDown(d)
			started = append(started, d)
			break
		}
	}
	p.mu.Unlock()
	for _, d := range started {
		if t := d.source(); t != nil && t.kind == webrtc.RTPCodecTypeVideo {
			d.setTarget(p.initialLayer(t)) // which asks for the keyframe it starts on
		}
	}
}

// free reports whether a slot is negotiated and without a source.
func (d *downTrack) free() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.track == nil && d.writer != nil
}

// setSource makes a slot forward t from its next keyframe (any audio packet is one), in the
// payload type negotiated for t's codec, or stop forwarding (nil). It reports false, and
// changes nothing, if no negotiated codec fits t or the connection has stopped sending it.
func (d *downTrack) setSource(t *PublishedTrack) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if t == nil {
		d.track, d.current, d.target = nil, -1, -1
		return true
	}
	if d.writer == nil {
		return false
	}
	c, ok := fitCodec(d.codecs, t.owner.codecOf(t))
	if !ok {
		return false
	}
	d.track, d.clockRate, d.payloadType = t, t.clockRate, uint8(c.PayloadType)
	// current -1 makes the first packet taken a switch of source for the rewriter.
	d.current, d.target = -1, -1
	if t.kind == webrtc.RTPCodecTypeAudio {
		d.target = 0
	}
	if d.sent != nil {
		// What was sent from the last source cannot be resent from this one's cache.
		clear(d.sent[:])
		d.resendPadding = resendsPadding(t.info.MimeType)
	}
	return true
}
