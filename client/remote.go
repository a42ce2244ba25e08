package client

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// RemoteTrack is a track received from another participant.
type RemoteTrack struct {
	Info   TrackInfo
	Remote *webrtc.TrackRemote
	client *Client

	handler atomic.Pointer[func(*rtp.Packet)]

	mu      sync.Mutex
	stats   TrackStats
	seen    []uint64 // bitmap of sequence numbers received, by extended sequence number
	baseSeq uint64
	maxSeq  uint64
	lastSeq uint16
	started bool
	latency Histogram
}

// TrackStats are a remote track's receive statistics.
type TrackStats struct {
	Packets, Bytes  int64
	Duplicates      int64
	Corrupt         int64 // synthetic payloads whose checksum failed
	Expected        int64 // sequence numbers from the first to the highest received
	FirstPacket     time.Duration
	FirstKeyframe   time.Duration // since Join began; 0 until one arrives
	FirstKeyframeAt time.Time
}

// Lost is how many packets never arrived, even after retransmission.
func (s TrackStats) Lost() int64 { return max(0, s.Expected-(s.Packets-s.Duplicates)) }

// SetHandler has fn called with every packet, in arrival order, before statistics.
func (t *RemoteTrack) SetHandler(fn func(*rtp.Packet)) { t.handler.Store(&fn) }

// Stats returns the track's statistics so far.
func (t *RemoteTrack) Stats() TrackStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.stats
}

// Latency returns the distribution of send-to-receive times of synthetic payloads.
func (t *RemoteTrack) Latency() Histogram {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.latency
}

func (c *Client) onTrack(remote *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	var tr *webrtc.RTPTransceiver
	c.mu.Lock()
	if c.sub != nil {
		for _, x := range c.sub.GetTransceivers() {
			if x.Receiver() == recv {
				tr = x
			}
		}
	}
	info := TrackInfo{ID: remote.ID(), ParticipantID: remote.StreamID(), Kind: remote.Kind().String(), MimeType: remote.Codec().MimeType}
	if tr != nil {
		if id, ok := c.midTracks[tr.Mid()]; ok {
			info.ID = id
		}
	}
	if ti, ok := c.trackInfo[info.ID]; ok {
		info = ti
	}
	t := &RemoteTrack{Info: info, Remote: remote, client: c, seen: make([]uint64, 1024)}
	c.remotes = append(c.remotes, t)
	c.mu.Unlock()
	if c.opts.OnTrack != nil {
		c.opts.OnTrack(t)
	}
	go func() {
		buf := make([]byte, 1500)
		for {
			if _, _, err := recv.Read(buf); err != nil {
				return
			}
		}
	}()
	t.readLoop()
}

// RemoteTracks lists the tracks received so far.
func (c *Client) RemoteTracks() []*RemoteTrack {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*RemoteTrack(nil), c.remotes...)
}

// keyframeRetry is how often a video track that has not yet had the start of a keyframe
// asks for one.
const keyframeRetry = 250 * time.Millisecond

func (t *RemoteTrack) readLoop() {
	buf := make([]byte, 1500)
	var pkt rtp.Packet
	isVideo := t.Remote.Kind() == webrtc.RTPCodecTypeVideo
	var asked time.Time
	for {
		n, _, err := t.Remote.Read(buf)
		if err != nil {
			return
		}
		if pkt.Unmarshal(buf[:n]) != nil {
			continue
		}
		now := time.Now()
		if h := t.handler.Load(); h != nil {
			(*h)(&pkt)
		}
		// Video that did not begin with a keyframe cannot be decoded until one comes: its
		// start was lost, and no NACK can name packets from before the first one received.
		// Ask, as a browser's decoder does, rather than wait for the publisher's next one.
		if !t.record(&pkt, now, isVideo) && isVideo && now.Sub(asked) >= keyframeRetry {
			asked = now
			t.client.requestKeyframe(uint32(t.Remote.SSRC()))
		}
	}
}

// record counts a received packet and reports whether the track has had the start of a
// keyframe (always true for audio).
func (t *RemoteTrack) record(pkt *rtp.Packet, now time.Time, isVideo bool) (keyframeSeen bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := &t.stats
	s.Packets++
	s.Bytes += int64(len(pkt.Payload))
	if s.Packets == 1 {
		s.FirstPacket = now.Sub(t.client.joined)
	}
	if isVideo && s.FirstKeyframeAt.IsZero() && len(pkt.Payload) > 1+3 && pkt.Payload[0]&0x10 != 0 && pkt.Payload[1]&0x01 == 0 {
		s.FirstKeyframeAt = now
		s.FirstKeyframe = now.Sub(t.client.joined)
	}
	keyframeSeen = !isVideo || !s.FirstKeyframeAt.IsZero()
	if m, ok := ParseMarker(pkt.Payload); ok {
		if !m.Intact {
			s.Corrupt++
		}
		t.latency.Record(now.Sub(m.Sent))
	}

	// Extended sequence numbers, relative to the highest so far, survive the 16-bit wrap.
	seq := pkt.SequenceNumber
	if !t.started {
		t.started = true
		t.baseSeq = 1 << 32
		t.maxSeq = t.baseSeq
		t.lastSeq = seq
	}
	d := int16(seq - t.lastSeq)
	ext := uint64(int64(t.maxSeq) + int64(d))
	if d > 0 {
		t.maxSeq, t.lastSeq = ext, seq
	}
	if ext < t.baseSeq {
		return // older than the first packet seen
	}
	idx := ext - t.baseSeq
	for idx/64 >= uint64(len(t.seen)) {
		t.seen = append(t.seen, make([]uint64, len(t.seen))...)
	}
	word, bit := idx/64, idx%64
	if t.seen[word]&(1<<bit) != 0 {
		s.Duplicates++
	}
	t.seen[word] |= 1 << bit
	s.Expected = int64(t.maxSeq - t.baseSeq + 1)
	return keyframeSeen
}
