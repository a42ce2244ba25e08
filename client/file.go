package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/ivfreader"
	"github.com/pion/webrtc/v4/pkg/media/oggreader"
)

// Codec capabilities of the files a FileTrack plays, beside VP8 and Opus.
var (
	VP9 = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP9, ClockRate: 90000, SDPFmtpLine: "profile-id=0"}
	AV1 = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeAV1, ClockRate: 90000}
)

// SourceScreenAudio is the source of a screen share's sound, as the server names it.
const SourceScreenAudio = "screen_audio"

// FileSource names a media file and whether it plays in a loop.
type FileSource struct {
	Path string
	// Loop starts the file over when it ends, until Run's context ends.
	Loop bool
}

// FileTrack publishes a media file at its natural pace: an IVF file (VP8, VP9 or AV1),
// paced by its frame timestamps, or an Ogg Opus file, paced by the duration of each Opus
// packet. A file cannot make a keyframe on request: a subscriber that joins mid-file sees
// video from the file's next keyframe.
type FileTrack struct {
	FileSource
	// Source is what the track is declared as: SourceCamera, SourceMicrophone, SourceScreen
	// or SourceScreenAudio.
	Source string
	// Track is the track a peer connection sends; Run writes the file's samples into it.
	Track *webrtc.TrackLocalStaticSample

	ogg bool // an Ogg Opus file, else IVF

	// Test hooks: onSample sees every sample written; wait replaces the pacing sleep.
	onSample func(media.Sample)
	wait     func(ctx context.Context, d time.Duration) error
}

// Limits that keep a damaged file from exhausting memory or stalling Run for ever.
const (
	fileMaxIVFFrame  = 32 << 20
	fileMaxGap       = 10 * time.Second
	fileDefaultFrame = time.Second / 30
	// fileMaxLag is how far Run may fall behind its schedule (a paused process, a slow
	// disk) before it stops catching up in a burst and restarts the schedule.
	fileMaxLag = time.Second
)

// NewFileTrack inspects the file at path and returns a track of its codec. source is the
// declared source; empty means SourceCamera for video and SourceMicrophone for audio.
func NewFileTrack(path, source string) (*FileTrack, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	magic, _ := br.Peek(4)
	var codec webrtc.RTPCodecCapability
	ogg := false
	switch string(magic) {
	case "DKIF":
		_, h, err := ivfreader.NewWith(br)
		if err != nil {
			return nil, fmt.Errorf("client: %s: %w", path, err)
		}
		switch h.FourCC {
		case "VP80":
			codec = VP8
		case "VP90":
			codec = VP9
		case "AV01":
			codec = AV1
		default:
			return nil, fmt.Errorf("client: %s: IVF codec %q is not VP8, VP9 or AV1", path, h.FourCC)
		}
	case "OggS":
		if _, _, err := oggreader.NewWith(br); err != nil {
			return nil, fmt.Errorf("client: %s: not an Ogg Opus file: %w", path, err)
		}
		codec, ogg = Opus, true
	default:
		return nil, fmt.Errorf("client: %s: neither an IVF nor an Ogg file", path)
	}
	if source == "" {
		source = SourceCamera
		if ogg {
			source = SourceMicrophone
		}
	}
	tr, err := webrtc.NewTrackLocalStaticSample(codec, "f-"+randomID(), "s-"+randomID())
	if err != nil {
		return nil, err
	}
	return &FileTrack{FileSource: FileSource{Path: path}, Source: source, Track: tr, ogg: ogg}, nil
}

// ID is the track's id on this client's side.
func (t *FileTrack) ID() string { return t.Track.ID() }

// Run writes the file's samples into the track at their natural pace until the file ends
// (or, with Loop, until ctx ends). It returns nil when ctx ends or the file has been played,
// and an error if the file cannot be read, holds no frames, or the track cannot be written.
// Samples written before the track is negotiated are dropped, so start Run after
// PublishFile. Run must not be called twice at once.
func (t *FileTrack) Run(ctx context.Context) error {
	p := &filePacer{wait: t.wait}
	if p.wait == nil {
		p.wait = fileSleep
	}
	for {
		var n int
		var err error
		if t.ogg {
			n, err = t.playOgg(ctx, p)
		} else {
			n, err = t.playIVF(ctx, p)
		}
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			return fmt.Errorf("client: play %s: %w", t.Path, err)
		case n == 0:
			return fmt.Errorf("client: %s holds no frames", t.Path)
		case !t.Loop:
			return nil
		}
	}
}

// filePacer holds the schedule on which samples are sent.
type filePacer struct {
	wait func(context.Context, time.Duration) error
	next time.Time
}

// write sends one sample and waits until the next one is due.
func (t *FileTrack) write(ctx context.Context, p *filePacer, data []byte, d time.Duration) error {
	s := media.Sample{Data: data, Duration: d}
	if err := t.Track.WriteSample(s); err != nil {
		return err
	}
	if t.onSample != nil {
		t.onSample(s)
	}
	now := time.Now()
	if p.next.IsZero() || now.Sub(p.next) > fileMaxLag {
		p.next = now
	}
	p.next = p.next.Add(d)
	return p.wait(ctx, p.next.Sub(now))
}

func fileSleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// playIVF sends every frame of an IVF file once and returns how many it sent. A frame
// lasts until the next frame's timestamp; the last one as long as the one before it.
func (t *FileTrack) playIVF(ctx context.Context, p *filePacer) (int, error) {
	f, err := os.Open(t.Path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	r, h, err := ivfreader.NewWith(br)
	if err != nil {
		return 0, err
	}
	// The header holds the time base as rate (bytes 16-19, which ivfreader calls the
	// denominator) and scale (bytes 20-23): a frame timestamp is pts * scale / rate seconds.
	scale, rate := float64(h.TimebaseNumerator), float64(h.TimebaseDenominator)
	toDuration := func(ticks uint64) time.Duration {
		return time.Duration(float64(ticks) * scale * float64(time.Second) / rate)
	}

	frame, pts, err := nextIVFFrame(br, r)
	if err != nil {
		return 0, err
	}
	n := 0
	last := fileDefaultFrame
	for frame != nil {
		next, nextPTS, err := nextIVFFrame(br, r)
		if err != nil {
			return n, err
		}
		d := last
		if next != nil && nextPTS > pts {
			if dd := toDuration(nextPTS - pts); dd > 0 {
				d = min(dd, fileMaxGap)
			}
		}
		last = d
		if err := t.write(ctx, p, frame, d); err != nil {
			return n, err
		}
		n++
		frame, pts = next, nextPTS
	}
	return n, nil
}

// nextIVFFrame reads one frame and its raw presentation timestamp, which ivfreader only
// returns rescaled; nil at the end of the file.
func nextIVFFrame(br *bufio.Reader, r *ivfreader.IVFReader) ([]byte, uint64, error) {
	hdr, err := br.Peek(12)
	if len(hdr) == 0 && errors.Is(err, io.EOF) {
		return nil, 0, nil
	}
	if len(hdr) < 12 {
		return nil, 0, fmt.Errorf("truncated frame header: %w", io.ErrUnexpectedEOF)
	}
	if size := binary.LittleEndian.Uint32(hdr[0:4]); size > fileMaxIVFFrame {
		return nil, 0, fmt.Errorf("frame of %d bytes is larger than %d", size, fileMaxIVFFrame)
	}
	pts := binary.LittleEndian.Uint64(hdr[4:12])
	frame, _, err := r.ParseNextFrame()
	if err != nil {
		return nil, 0, err
	}
	return frame, pts, nil
}

// playOgg sends every Opus packet of an Ogg file once and returns how many it sent. Pages
// may hold several packets and packets may span pages; the packets are split by the page's
// segment table (RFC 3533), which oggreader reads but does not return.
func (t *FileTrack) playOgg(ctx context.Context, p *filePacer) (int, error) {
	f, err := os.Open(t.Path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	first, err := br.Peek(27)
	if err != nil {
		return 0, err
	}
	serial := binary.LittleEndian.Uint32(first[14:18])
	r, _, err := oggreader.NewWith(br) // reads the OpusHead page
	if err != nil {
		return 0, err
	}
	n := 0
	var packet []byte // the packet being assembled, nil between packets
	for {
		hdr, err := br.Peek(27)
		if len(hdr) == 0 && errors.Is(err, io.EOF) {
			return n, nil
		}
		if len(hdr) < 27 {
			return n, fmt.Errorf("truncated page header: %w", io.ErrUnexpectedEOF)
		}
		continued := hdr[5]&0x01 != 0
		full, err := br.Peek(27 + int(hdr[26]))
		if err != nil {
			return n, fmt.Errorf("truncated segment table: %w", io.ErrUnexpectedEOF)
		}
		lacing := append([]byte(nil), full[27:]...)
		payload, ph, err := r.ParseNextPage()
		if err != nil {
			return n, err
		}
		if ph.Serial != serial {
			continue // another logical stream
		}
		// A packet left unfinished by the previous page is lost if this page does not
		// continue it; a continuation of a packet whose start was never seen is skipped.
		skip := continued && packet == nil
		if !continued {
			packet = nil
		}
		off := 0
		for _, l := range lacing {
			if !skip {
				packet = append(packet, payload[off:off+int(l)]...)
			}
			off += int(l)
			if l == 255 {
				continue // the packet goes on in the next segment
			}
			pkt := packet
			packet = nil
			if skip {
				skip = false
				continue
			}
			if len(pkt) == 0 || bytes.HasPrefix(pkt, []byte("OpusTags")) || bytes.HasPrefix(pkt, []byte("OpusHead")) {
				continue
			}
			if err := t.write(ctx, p, pkt, opusPacketDuration(pkt)); err != nil {
				return n, err
			}
			n++
		}
	}
}

// opusPacketDuration is how much audio an Opus packet holds, from its TOC byte (RFC 6716
// section 3.1); 20 ms for a packet too short to tell.
func opusPacketDuration(pkt []byte) time.Duration {
	if len(pkt) == 0 {
		return 20 * time.Millisecond
	}
	config := pkt[0] >> 3
	var frame time.Duration
	switch {
	case config < 12: // SILK: 10, 20, 40, 60 ms
		frame = [...]time.Duration{10, 20, 40, 60}[config%4] * time.Millisecond
	case config < 16: // hybrid: 10, 20 ms
		frame = [...]time.Duration{10, 20}[config%2] * time.Millisecond
	default: // CELT: 2.5, 5, 10, 20 ms
		frame = [...]time.Duration{2500, 5000, 10000, 20000}[config%4] * time.Microsecond
	}
	frames := 1
	switch pkt[0] & 0x03 {
	case 1, 2:
		frames = 2
	case 3:
		if len(pkt) < 2 || pkt[1]&0x3f == 0 {
			return 20 * time.Millisecond
		}
		frames = int(pkt[1] & 0x3f)
	}
	return min(time.Duration(frames)*frame, 120*time.Millisecond)
}

// PublishFile adds a file track to the publisher connection, declares its source and
// negotiates. Start the track's Run afterwards.
func (c *Client) PublishFile(ctx context.Context, t *FileTrack) error {
	if t == nil || t.Track == nil {
		return errors.New("client: file track has no track")
	}
	pc, err := c.publisherPC()
	if err != nil {
		return err
	}
	tr, err := pc.AddTransceiverFromTrack(t.Track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		return fmt.Errorf("add file track: %w", err)
	}
	go drainFileRTCP(tr.Sender())
	if err := c.send(message{Type: "sources", Sources: map[string]string{t.ID(): t.Source}}); err != nil {
		return err
	}
	return c.negotiatePublisher(ctx, false)
}

// drainFileRTCP reads a sender's RTCP so that its interceptors (NACK responder, reports)
// run. Keyframe requests are dropped: a file cannot honour them.
func drainFileRTCP(s *webrtc.RTPSender) {
	for {
		if _, _, err := s.ReadRTCP(); err != nil {
			return
		}
	}
}
