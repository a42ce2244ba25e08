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
// Requests inside it wait for its end (keyThrottle), so it is also the longest a joiner
// waits for a keyframe after connecting: 250 ms keeps a join storm's first frames under
// ~300 ms (500 ms doubled them) at the price of at most 4 forced keyframes a second,
// and only while subscribers keep arriving.
const keyframeInterval = 250 * time.Millisecond

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
	prevBytes  int64 // guarded by the room ticker, its only user
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

// requestKeyframe asks the publisher for a keyframe on one layer, at most once per
// keyframeInterval. A request inside the interval is not dropped but deferred to its end,
// where one request serves everyone who asked meanwhile: in a join storm, subscribers who
// connect just after another one's request would otherwise wait for the room tick to ask
// again (0.5–1 s), and then perhaps be throttled once more.
func (t *PublishedTrack) requestKeyframe(rank int) {
	if t.kind != webrtc.RTPCodecTypeVideo || t.muted.Load() {
		return
	}
	l := t.layer(rank)
	if l == nil {
		return
	}
	if !l.keyReq.admit(time.Now().UnixNano(), keyframeInterval, func() { t.requestKeyframe(rank) }) {
		return
	}
	t.metrics.PLIs.Inc()
	t.owner.writePublisherRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: l.ssrc}})
}

// keyThrottle spaces one layer's keyframe requests at least an interval apart, deferring
// (not dropping) what comes too early.
type keyThrottle struct {
	last     atomic.Int64 // unix nanoseconds of the last request admitted
	deferred atomic.Bool  // retry is scheduled for the end of the interval
}

// admit reports whether a request may go now. If not, it schedules retry for when the
// interval ends, unless one is already scheduled: the requests of an interval collapse
// into one.
func (k *keyThrottle) admit(now int64, interval time.Duration, retry func()) bool {
	last := k.last.Load()
	if wait := last + int64(interval) - now; wait > 0 {
		if k.deferred.CompareAndSwap(false, true) {
			time.AfterFunc(time.Duration(wait), func() {
				k.deferred.Store(false)
				retry()
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
		if d.writeRTP(rank, pkt, keyframe, now) {
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
