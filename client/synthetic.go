package client

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"hash/crc32"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// Synthetic payloads carry a marker so a receiver can measure latency and check integrity
// without decoding: magic, send time, frame number, CRC-32 of the filler that follows.
const (
	markerMagic = "MRDN"
	markerSize  = 4 + 8 + 4 + 4
	// vp8KeyHeaderSize is the VP8 keyframe frame tag, start code and dimensions.
	vp8KeyHeaderSize = 10
	// mtuPayload is the largest payload a synthetic packet carries.
	mtuPayload = 1100
)

// Marker is what a receiver learns from a synthetic payload.
type Marker struct {
	Sent   time.Time
	Frame  uint32
	Intact bool // the filler matched its checksum
}

// PutMarker writes a marker at the start of b covering the rest of b, which must hold at
// least the marker's 20 bytes: a sender of its own packets uses it to let receivers check
// latency and integrity.
func PutMarker(b []byte, sent time.Time, frame uint32) {
	copy(b, markerMagic)
	binary.BigEndian.PutUint64(b[4:], uint64(sent.UnixNano()))
	binary.BigEndian.PutUint32(b[12:], frame)
	binary.BigEndian.PutUint32(b[16:], crc32.ChecksumIEEE(b[markerSize:]))
}

// ParseMarker finds the marker in a synthetic payload: after a VP8 payload descriptor
// (and keyframe header), or at the start of an audio payload.
func ParseMarker(p []byte) (Marker, bool) {
	for _, off := range [...]int{0, 1, 1 + vp8KeyHeaderSize} {
		if len(p) >= off+markerSize && string(p[off:off+4]) == markerMagic {
			b := p[off:]
			return Marker{
				Sent:   time.Unix(0, int64(binary.BigEndian.Uint64(b[4:]))),
				Frame:  binary.BigEndian.Uint32(b[12:]),
				Intact: binary.BigEndian.Uint32(b[16:]) == crc32.ChecksumIEEE(b[markerSize:]),
			}, true
		}
	}
	return Marker{}, false
}

// VideoSource generates VP8 RTP at a steady bitrate: frames split into MTU-sized packets
// with valid VP8 payload descriptors, a keyframe (with a valid keyframe header) every
// KeyframeInterval and whenever the server asks for one.
type VideoSource struct {
	Track            *LocalTrack
	FPS              int
	Bitrate          int // of the top layer, bits per second; lower layers get 1/4 and 1/16
	KeyframeInterval time.Duration
	Width, Height    int
}

// Run sends until ctx ends or the track is closed.
func (v *VideoSource) Run(ctx context.Context) error {
	fps := v.FPS
	if fps <= 0 {
		fps = 30
	}
	kfi := v.KeyframeInterval
	if kfi <= 0 {
		kfi = 3 * time.Second
	}
	w, h := v.Width, v.Height
	if w == 0 {
		w, h = 1280, 720
	}
	n := len(v.Track.Layers)
	type layerState struct {
		seq   uint16
		size  int
		w, h  int
		frame []byte
	}
	layers := make([]layerState, n)
	for i := range layers {
		shift := uint(2 * (n - 1 - i))
		layers[i] = layerState{
			seq:  uint16(randUint32()),
			size: max(200, v.Bitrate>>shift/8/fps),
			w:    w >> (shift / 2), h: h >> (shift / 2),
		}
		layers[i].frame = make([]byte, 4*layers[i].size+mtuPayload)
	}
	ts := randUint32()
	tick := time.NewTicker(time.Second / time.Duration(fps))
	defer tick.Stop()
	lastKey := time.Time{}
	var frameNo uint32
	var pkt rtp.Packet
	pkt.Version = 2
	pkt.PayloadType = 96
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		now := time.Now()
		key := now.Sub(lastKey) >= kfi
		select {
		case <-v.Track.keyframe:
			key = true
		default:
		}
		if key {
			lastKey = now
		}
		frameNo++
		ts += 90000 / uint32(fps)
		for i := range layers {
			l := &layers[i]
			size := l.size
			if key {
				size *= 3
			}
			for off, first := 0, true; off < size; first = false {
				chunk := min(mtuPayload, size-off)
				hdr := 1
				if key && first {
					hdr += vp8KeyHeaderSize
				}
				p := l.frame[:hdr+markerSize+chunk]
				p[0] = 0
				if first {
					p[0] = 0x10 // S: start of partition 0
				}
				if key && first {
					k := p[1:]
					k[0], k[1], k[2] = 0x10, 0x02, 0x00 // frame tag: keyframe, version 0, shown
					k[3], k[4], k[5] = 0x9d, 0x01, 0x2a
					binary.LittleEndian.PutUint16(k[6:], uint16(l.w))
					binary.LittleEndian.PutUint16(k[8:], uint16(l.h))
				} else if first {
					p[1] = 0x01 // frame tag: interframe
				}
				body := p[hdr:]
				for j := markerSize; j < len(body); j++ {
					body[j] = byte(frameNo) + byte(j)
				}
				PutMarker(body, time.Now(), frameNo)
				off += chunk
				pkt.SequenceNumber = l.seq
				pkt.Timestamp = ts
				pkt.Marker = off >= size
				pkt.Payload = p
				l.seq++
				if err := v.Track.WriteRTP(i, &pkt); err != nil {
					return err
				}
			}
		}
	}
}

// AudioSource generates Opus-sized RTP packets every 20 ms at the given bitrate.
type AudioSource struct {
	Track   *LocalTrack
	Bitrate int // bits per second; 32 kbps when zero
	// Level is the audio level each packet announces, in -dBov (0 loudest, 127 silence),
	// through the audio level header extension; the SFU's active speaker detection reads it.
	Level uint8
}

// Run sends until ctx ends or the track is closed.
func (a *AudioSource) Run(ctx context.Context) error {
	rate := a.Bitrate
	if rate <= 0 {
		rate = 32000
	}
	size := max(markerSize+4, rate/50/8)
	payload := make([]byte, size)
	var pkt rtp.Packet
	pkt.Version = 2
	pkt.PayloadType = 111
	pkt.SequenceNumber = uint16(randUint32())
	pkt.Timestamp = randUint32()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var n uint32
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		n++
		for j := markerSize; j < size; j++ {
			payload[j] = byte(n) ^ byte(j)
		}
		PutMarker(payload, time.Now(), n)
		pkt.Payload = payload
		if id := a.Track.audioLevelExtensionID(); id != 0 {
			if err := pkt.SetExtension(id, []byte{a.Level & 0x7f}); err != nil {
				return err
			}
		}
		pkt.SequenceNumber++
		pkt.Timestamp += 960
		if err := a.Track.WriteRTP(0, &pkt); err != nil {
			return err
		}
	}
}

// VP8 and Opus codec capabilities for NewLocalTrack.
var (
	VP8  = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
	Opus = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}
)

func randUint32() uint32 {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return binary.BigEndian.Uint32(b[:])
}

func randomID() string {
	var b [9]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
