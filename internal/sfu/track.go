package sfu

import (
	"errors"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// maxLayers is the number of simulcast layers a track may have.
const maxLayers = 3

// keyframeInterval is the least time between two keyframe requests sent to a publisher for
// one layer, however many subscribers ask: a keyframe costs the whole room bandwidth.
// Requests made while a requested keyframe is still on its way are served by it and not
// sent at all (see keyThrottle), so the interval only spaces keyframes for subscribers who
// connect just after one went by: they wait for its end, at most 150 ms, and a join storm
// costs the publisher at most ~7 keyframes a second for as long as it lasts.
const keyframeInterval = 150 * time.Millisecond

// keyframeTimeout is how long a requested keyframe is waited for before another request may
// go: the request or its answer may have been lost.
const keyframeTimeout = 400 * time.Millisecond

// PublishedTrack is one track a participant publishes: one RTP stream, or up to three
// simulcast layers of the same source.
type PublishedTrack struct {
	info      TrackInfo
	remoteID  string // the publisher's own id for the track (msid)
	owner     *Participant
	kind      webrtc.RTPCodecType
	clockRate uint32
	metrics   *Metrics

	mu     sync.Mutex
	layers [maxLayers]*layer

	// muted: the publisher or a moderator turned the track off; nothing is forwarded.
	muted atomic.Bool
	// gone: the track is being unpublished (see fillSlots).
	gone atomic.Bool

	// downs is replaced, never mutated, so the forwarding path reads it without a lock.
	downs atomic.Pointer[[]*downTrack]
}

// layer is one received RTP stream of a track.
type layer struct {
	rank       int
	remote     *webrtc.TrackRemote
	ssrc       uint32 // the publisher's, for keyframe requests
	audioExtID uint8
	cache      *packetCache // video only: what subscribers' NACKs are answered from
	packets    atomic.Int64
	bytes      atomic.Int64
	lastPacket atomic.Int64 // unix nanoseconds
	keyReq     keyThrottle
	height     atomic.Int32
	levelSum   atomic.Int64 // sum of loudness (127 - dBov) over the current window
	levelCount atomic.Int64
	rate       rateMeter // guarded by the room ticker, its only user
	bitrate    atomic.Int64
}

// Info describes the track.
func (t *PublishedTrack) Info() TrackInfo {
	i := t.info
	i.Muted = t.muted.Load()
	return i
}

func (t *PublishedTrack) addDown(d *downTrack) {
	for {
		old := t.downs.Load()
		var n []*downTrack
		if old != nil {
			n = make([]*downTrack, 0, len(*old)+1)
			n = append(n, *old...)
		}
		n = append(n, d)
		if t.downs.CompareAndSwap(old, &n) {
			return
		}
	}
}

func (t *PublishedTrack) removeDown(d *downTrack) {
	for {
		old := t.downs.Load()
		if old == nil {
			return
		}
		n := make([]*downTrack, 0, len(*old))
		for _, x := range *old {
			if x != d {
				n = append(n, x)
			}
		}
		if t.downs.CompareAndSwap(old, &n) {
			return
		}
	}
}

func (t *PublishedTrack) downTracks() []*downTrack {
	if p := t.downs.Load(); p != nil {
		return *p
	}
	return nil
}

// layerStates samples what is known of each layer for layer selection.
func (t *PublishedTrack) layerStates(now int64) []layerState {
	var states [maxLayers]layerState
	n := 0
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, l := range t.layers {
		if l == nil {
			continue
		}
		n = i + 1
		states[i] = layerState{
			active:  now-l.lastPacket.Load() < int64(time.Second),
			height:  int(l.height.Load()),
			bitrate: int(l.bitrate.Load()),
		}
	}
	return states[:n]
}

func (t *PublishedTrack) layerList() []*layer {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]*layer, 0, maxLayers)
	for _, l := range t.layers {
		if l != nil {
			out = append(out, l)
		}
	}
	return out
}

func (t *PublishedTrack) layer(rank int) *layer {
	t.mu.Lock()
	defer t.mu.Unlock()
	if rank < 0 || rank >= maxLayers {
		return nil
	}
	return t.layers[rank]
}

// requestKeyframe asks the publisher for a keyframe on one layer for a subscriber ready to
// receive it (see keyThrottle).
func (t *PublishedTrack) requestKeyframe(rank int) {
	if t.kind != webrtc.RTPCodecTypeVideo || t.muted.Load() {
		return
	}
	l := t.layer(rank)
	if l == nil {
		return
	}
	if !l.keyReq.admit(time.Now().UnixNano(), func() { t.requestKeyframe(rank) }) {
		return
	}
	t.metrics.PLIs.Inc()
	t.owner.writePublisherRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: l.ssrc}})
}

// keyThrottle decides which of one layer's keyframe requests reach the publisher. Requests
// come only from subscribers ready to receive (see downTrack.setTarget), so:
//   - while a requested keyframe is on its way (requested, not yet seen, within
//     keyframeTimeout), it serves every new request too: nothing is sent;
//   - otherwise a request goes at once if the last one is keyframeInterval old, else it is
//     deferred to the end of the interval — one retry for all who asked meanwhile, skipped
//     if a keyframe went by after the last of them asked.
type keyThrottle struct {
	last     atomic.Int64 // unix ns of the last request admitted
	keyframe atomic.Int64 // unix ns of the last keyframe received
	wanted   atomic.Int64 // unix ns of the latest request deferred
	deferred atomic.Bool  // a retry is scheduled for the end of the interval
}

// sawKeyframe records that a keyframe arrived.
func (k *keyThrottle) sawKeyframe(now int64) { k.keyframe.Store(now) }

// admit reports whether a request made at now may go to the publisher. If it must wait,
// retry is called at the end of the interval, unless a keyframe has come by then.
func (k *keyThrottle) admit(now int64, retry func()) bool {
	last := k.last.Load()
	if last != 0 && last > k.keyframe.Load() && now-last < int64(keyframeTimeout) {
		return false // the keyframe on its way serves this request
	}
	if wait := last + int64(keyframeInterval) - now; wait > 0 {
		k.wanted.Store(now)
		if k.deferred.CompareAndSwap(false, true) {
			time.AfterFunc(time.Duration(wait), func() {
				k.deferred.Store(false)
				if k.keyframe.Load() < k.wanted.Load() {
					retry()
				}
			})
		}
		return false
	}
	// Losing the race means another request was admitted just now: this one is served.
	return k.last.CompareAndSwap(last, now)
}

// readLoop receives one layer until its connection closes and forwards every packet.
func (t *PublishedTrack) readLoop(l *layer) {
	buf := make([]byte, 1500)
	var pkt rtp.Packet
	mime := l.remote.Codec().MimeType
	isVideo := t.kind == webrtc.RTPCodecTypeVideo
	isVP8 := strings.EqualFold(mime, webrtc.MimeTypeVP8)
	node := t.owner.room.sfu
	for {
		n, _, err := l.remote.Read(buf)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.owner.room.sfu.log.Debug("track read ended", "track", t.info.ID, "err", err)
			}
			return
		}
		if err := pkt.Unmarshal(buf[:n]); err != nil {
			continue
		}
		if l.cache != nil {
			l.cache.store(pkt.SequenceNumber, buf[:n])
		}
		start := time.Now()
		now := start.UnixNano()
		l.packets.Add(1)
		l.bytes.Add(int64(len(pkt.Payload)))
		l.lastPacket.Store(now)
		t.metrics.PacketsIn.Inc()
		t.metrics.BytesIn.Add(float64(len(pkt.Payload)))
		if t.muted.Load() {
			continue
		}
		// Every audio packet is a place where a subscriber may start or resume.
		keyframe := !isVideo
		if isVideo {
			keyframe = isKeyframe(mime, pkt.Payload)
			if keyframe {
				l.keyReq.sawKeyframe(now)
			}
			if keyframe && isVP8 {
				if h := vp8Height(pkt.Payload); h > 0 {
					l.height.Store(int32(h))
				}
			}
		} else if l.audioExtID != 0 {
			if ext := pkt.GetExtension(l.audioExtID); len(ext) > 0 {
				l.levelSum.Add(int64(127 - ext[0]&0x7f))
				l.levelCount.Add(1)
			}
		}
		held := node.holdSends()
		t.forward(l.rank, &pkt, keyframe, now)
		releaseSends(held)
		t.metrics.ForwardLatency.Observe(time.Since(start).Seconds())
	}
}

// forward hands one received packet to every subscriber of the track.
func (t *PublishedTrack) forward(rank int, pkt *rtp.Packet, keyframe bool, now int64) {
	sent := 0
	for _, d := range t.downTracks() {
		if d.writeRTP(t, rank, pkt, keyframe, now) {
			sent++
		}
	}
	if sent > 0 {
		t.metrics.PacketsOut.Add(float64(sent))
		t.metrics.BytesOut.Add(float64(sent * len(pkt.Payload)))
	}
}

// vp8Height reads the frame height from a VP8 keyframe's uncompressed header (RFC 6386
// section 9.1), which follows the payload descriptor; 0 if the packet does not hold it.
func vp8Height(p []byte) int {
	i := 1
	if len(p) > 1 && p[0]&0x80 != 0 {
		ext := p[1]
		i = 2
		if ext&0x80 != 0 {
			if len(p) > i && p[i]&0x80 != 0 {
				i += 2
			} else {
				i++
			}
		}
		if ext&0x40 != 0 {
			i++
		}
		if ext&0x30 != 0 {
			i++
		}
	}
	if len(p) < i+10 || p[i+3] != 0x9d || p[i+4] != 0x01 || p[i+5] != 0x2a {
		return 0
	}
	return int(uint16(p[i+8])|uint16(p[i+9])<<8) & 0x3fff
}

func nowNanos() int64 { return time.Now().UnixNano() }
