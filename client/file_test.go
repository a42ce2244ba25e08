package client

import (
	"bytes"
	"context"
	"encoding/binary"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/ivfwriter"
	"github.com/pion/webrtc/v4/pkg/media/oggwriter"

	"github.com/meridian-video/meridian/internal/admission"
	"github.com/meridian-video/meridian/internal/sfu"
	msignal "github.com/meridian-video/meridian/internal/signal"
	"github.com/meridian-video/meridian/internal/token"
)

// testVP8Frame returns a synthetic VP8 frame: a keyframe header (frame tag, start code,
// dimensions) or an interframe tag, then filler that tells frames apart.
func testVP8Frame(key bool, w, h int, n byte) []byte {
	var f []byte
	if key {
		f = []byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0, 0, 0, 0}
		binary.LittleEndian.PutUint16(f[6:], uint16(w))
		binary.LittleEndian.PutUint16(f[8:], uint16(h))
	} else {
		f = []byte{0x01, 0x02, 0x00}
	}
	for i := range 20 {
		f = append(f, n+byte(i))
	}
	return f
}

// writeTestIVF writes frames (one RTP packet each, VP8 payload descriptor 0x10 in front) with
// ivfwriter at the given RTP timestamps, and returns the frames as the file holds them.
func writeTestIVF(t *testing.T, path string, timestamps []uint32, keyEvery int, opts ...ivfwriter.Option) [][]byte {
	t.Helper()
	w, err := ivfwriter.New(path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	var frames [][]byte
	for i, ts := range timestamps {
		f := testVP8Frame(keyEvery > 0 && i%keyEvery == 0, 320, 180, byte(i*7))
		pkt := &rtp.Packet{
			Header:  rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: uint16(100 + i), Timestamp: ts, Marker: true},
			Payload: append([]byte{0x10}, f...),
		}
		if err := w.WriteRTP(pkt); err != nil {
			t.Fatal(err)
		}
		frames = append(frames, f)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return frames
}

// writeTestOgg writes Opus packets with oggwriter, one page each.
func writeTestOgg(t *testing.T, path string, packets [][]byte) {
	t.Helper()
	w, err := oggwriter.New(path, 48000, 2)
	if err != nil {
		t.Fatal(err)
	}
	ts := uint32(1000)
	for i, p := range packets {
		pkt := &rtp.Packet{
			Header:  rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: uint16(i), Timestamp: ts},
			Payload: p,
		}
		ts += 960
		if err := w.WriteRTP(pkt); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// testOpusPacket is a synthetic Opus packet: a TOC byte (and frame count byte for code 3),
// then filler.
func testOpusPacket(toc byte, n byte, extra ...byte) []byte {
	p := append([]byte{toc}, extra...)
	for i := range 12 {
		p = append(p, n+byte(i))
	}
	return p
}

// collectSamples runs t with pacing disabled and returns every sample it wrote.
func collectSamples(t *testing.T, ft *FileTrack) []media.Sample {
	t.Helper()
	var samples []media.Sample
	ft.onSample = func(s media.Sample) {
		samples = append(samples, media.Sample{Data: append([]byte(nil), s.Data...), Duration: s.Duration})
	}
	ft.wait = func(context.Context, time.Duration) error { return nil }
	if err := ft.Run(context.Background()); err != nil {
		t.Fatalf("Run: %v", err)
	}
	return samples
}

func TestNewFileTrackPicksCodec(t *testing.T) {
	dir := t.TempDir()
	vp8 := filepath.Join(dir, "vp8.ivf")
	writeTestIVF(t, vp8, []uint32{0, 3000}, 1)
	vp9 := filepath.Join(dir, "vp9.ivf")
	writeTestIVF(t, vp9, nil, 0, ivfwriter.WithCodec(webrtc.MimeTypeVP9))
	av1 := filepath.Join(dir, "av1.ivf")
	writeTestIVF(t, av1, nil, 0, ivfwriter.WithCodec(webrtc.MimeTypeAV1))
	opus := filepath.Join(dir, "a.ogg")
	writeTestOgg(t, opus, [][]byte{testOpusPacket(0xf8, 1)})

	for _, c := range []struct {
		path, source string
		mime         string
		kind         webrtc.RTPCodecType
		wantSource   string
	}{
		{vp8, "", webrtc.MimeTypeVP8, webrtc.RTPCodecTypeVideo, SourceCamera},
		{vp8, SourceScreen, webrtc.MimeTypeVP8, webrtc.RTPCodecTypeVideo, SourceScreen},
		{vp9, "", webrtc.MimeTypeVP9, webrtc.RTPCodecTypeVideo, SourceCamera},
		{av1, "", webrtc.MimeTypeAV1, webrtc.RTPCodecTypeVideo, SourceCamera},
		{opus, "", webrtc.MimeTypeOpus, webrtc.RTPCodecTypeAudio, SourceMicrophone},
		{opus, SourceScreenAudio, webrtc.MimeTypeOpus, webrtc.RTPCodecTypeAudio, SourceScreenAudio},
	} {
		ft, err := NewFileTrack(c.path, c.source)
		if err != nil {
			t.Fatalf("%s: %v", filepath.Base(c.path), err)
		}
		codec := ft.Track.Codec()
		if codec.MimeType != c.mime || ft.Track.Kind() != c.kind || ft.Source != c.wantSource {
			t.Errorf("%s (source %q): got %s %s source %q, want %s %s source %q", filepath.Base(c.path), c.source,
				codec.MimeType, ft.Track.Kind(), ft.Source, c.mime, c.kind, c.wantSource)
		}
		if ft.Path != c.path || ft.Loop || ft.ID() == "" || ft.ID() != ft.Track.ID() {
			t.Errorf("%s: path %q loop %v id %q", filepath.Base(c.path), ft.Path, ft.Loop, ft.ID())
		}
	}
	if codec := mustFileTrack(t, opus).Track.Codec(); codec.ClockRate != 48000 || codec.Channels != 2 {
		t.Errorf("opus codec %+v, want 48 kHz stereo", codec)
	}
	if codec := mustFileTrack(t, vp9).Track.Codec(); codec.ClockRate != 90000 {
		t.Errorf("vp9 codec %+v, want 90 kHz", codec)
	}
}

func mustFileTrack(t *testing.T, path string) *FileTrack {
	t.Helper()
	ft, err := NewFileTrack(path, "")
	if err != nil {
		t.Fatal(err)
	}
	return ft
}

func TestNewFileTrackRejects(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	h264 := filepath.Join(dir, "h264.ivf")
	writeTestIVF(t, h264, []uint32{0}, 1)
	b, err := os.ReadFile(h264)
	if err != nil {
		t.Fatal(err)
	}
	copy(b[8:12], "H264")
	write("h264.ivf", b)
	vorbis := oggTestPage(0x02, 0, 7, 0, [][]byte{append([]byte("\x01vorbis"), make([]byte, 23)...)})

	for name, path := range map[string]string{
		"missing":              filepath.Join(dir, "nope.ivf"),
		"empty":                write("empty", nil),
		"text":                 write("text", []byte("hello, this is not media at all")),
		"IVF of another codec": h264,
		"truncated IVF":        write("short.ivf", []byte("DKIF\x00\x00\x20\x00VP80")),
		"Ogg Vorbis":           write("v.ogg", vorbis),
		"truncated Ogg":        write("short.ogg", []byte("OggS\x00\x02")),
	} {
		if ft, err := NewFileTrack(path, ""); err == nil {
			t.Errorf("%s: NewFileTrack accepted it as %s", name, ft.Track.Codec().MimeType)
		}
	}
}

func TestFileTrackIVFReadsEveryFrame(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v.ivf")
	// RTP timestamps at 90 kHz written as they are (a 1/90000 time base): 33.3 ms apart
	// with one 66.7 ms gap.
	ts := []uint32{0, 3000, 6000, 12000, 15000, 18000, 21000, 24000, 27000, 30000}
	frames := writeTestIVF(t, path, ts, 5, ivfwriter.WithFrameRate(1, 90000), ivfwriter.WithDirectPTS())
	ft := mustFileTrack(t, path)

	samples := collectSamples(t, ft)
	if len(samples) != len(frames) {
		t.Fatalf("Run wrote %d samples, want %d", len(samples), len(frames))
	}
	frame := time.Duration(33_333_333)
	want := []time.Duration{frame, frame, 66_666_666, frame, frame, frame, frame, frame, frame, frame}
	for i, s := range samples {
		if !bytes.Equal(s.Data, frames[i]) {
			t.Errorf("sample %d: % x, want % x", i, s.Data, frames[i])
		}
		if s.Duration != want[i] {
			t.Errorf("sample %d: duration %v, want %v", i, s.Duration, want[i])
		}
	}
}

func TestFileTrackIVFFrameTimebase(t *testing.T) {
	// A 1/30 time base with frame numbers as timestamps, as ffmpeg writes a 30 fps file.
	path := filepath.Join(t.TempDir(), "v.ivf")
	frames := writeTestIVF(t, path, []uint32{0, 1, 2, 3, 4}, 1, ivfwriter.WithFrameRate(1, 30), ivfwriter.WithDirectPTS())
	samples := collectSamples(t, mustFileTrack(t, path))
	if len(samples) != len(frames) {
		t.Fatalf("Run wrote %d samples, want %d", len(samples), len(frames))
	}
	for i, s := range samples {
		if s.Duration != 33_333_333 {
			t.Errorf("sample %d: duration %v, want 33.333333ms", i, s.Duration)
		}
	}
}

func TestFileTrackOggReadsEveryPacket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.ogg")
	packets := [][]byte{
		testOpusPacket(0xf8, 1),       // CELT 20 ms, one frame
		testOpusPacket(0xf1, 2),       // CELT 10 ms, two frames
		testOpusPacket(0x18, 3),       // SILK 60 ms, one frame
		testOpusPacket(0xe3, 4, 0x08), // CELT 2.5 ms, code 3 with 8 frames
		testOpusPacket(0x78, 5),       // hybrid 20 ms
		testOpusPacket(0xf8, 6),
	}
	writeTestOgg(t, path, packets)
	samples := collectSamples(t, mustFileTrack(t, path))
	if len(samples) != len(packets) {
		t.Fatalf("Run wrote %d samples, want %d", len(samples), len(packets))
	}
	want := []time.Duration{20, 20, 60, 20, 20, 20}
	for i, s := range samples {
		if !bytes.Equal(s.Data, packets[i]) {
			t.Errorf("sample %d: % x, want % x", i, s.Data, packets[i])
		}
		if s.Duration != want[i]*time.Millisecond {
			t.Errorf("sample %d: duration %v, want %v", i, s.Duration, want[i]*time.Millisecond)
		}
	}
}

// oggTestPage builds one Ogg page (RFC 3533) holding whole packets; oggTestPageRaw takes the lacing
// values as given, for packets that span pages.
func oggTestPage(headerType byte, granule uint64, serial, seq uint32, packets [][]byte) []byte {
	var lacing, body []byte
	for _, p := range packets {
		n := len(p)
		for n >= 255 {
			lacing = append(lacing, 255)
			n -= 255
		}
		lacing = append(lacing, byte(n))
		body = append(body, p...)
	}
	return oggTestPageRaw(headerType, granule, serial, seq, lacing, body)
}

func oggTestPageRaw(headerType byte, granule uint64, serial, seq uint32, lacing, body []byte) []byte {
	h := make([]byte, 27, 27+len(lacing)+len(body))
	copy(h, "OggS")
	h[5] = headerType
	binary.LittleEndian.PutUint64(h[6:], granule)
	binary.LittleEndian.PutUint32(h[14:], serial)
	binary.LittleEndian.PutUint32(h[18:], seq)
	h[26] = byte(len(lacing))
	page := append(append(h, lacing...), body...)
	binary.LittleEndian.PutUint32(page[22:], oggTestCRC(page))
	return page
}

// oggTestCRC is the Ogg page checksum: CRC-32, polynomial 0x04c11db7, no reflection, zero
// initial value, computed with the checksum field zeroed.
func oggTestCRC(b []byte) uint32 {
	var crc uint32
	for _, v := range b {
		crc ^= uint32(v) << 24
		for range 8 {
			if crc&0x80000000 != 0 {
				crc = crc<<1 ^ 0x04c11db7
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

func testOpusHead() []byte {
	h := make([]byte, 19)
	copy(h, "OpusHead")
	h[8], h[9] = 1, 2
	binary.LittleEndian.PutUint16(h[10:], 312)
	binary.LittleEndian.PutUint32(h[12:], 48000)
	return h
}

func TestFileTrackOggPacketsSplitByLacing(t *testing.T) {
	const serial = 0x1234
	tags := append([]byte("OpusTags"), 0, 0, 0, 0, 0, 0, 0, 0)
	a := testOpusPacket(0xf8, 10)       // 20 ms
	b := testOpusPacket(0xf0, 20)       // 10 ms
	c := testOpusPacket(0xe3, 30, 0x04) // 4 x 2.5 ms
	long := make([]byte, 300)           // spans two pages: 255 on one, 45 on the next
	long[0] = 0xf9                      // 2 x 20 ms
	for i := 1; i < len(long); i++ {
		long[i] = byte(i)
	}
	d := testOpusPacket(0x18, 40) // 60 ms
	other := testOpusPacket(0xf8, 99)

	var file []byte
	file = append(file, oggTestPage(0x02, 0, serial, 0, [][]byte{testOpusHead()})...)
	file = append(file, oggTestPage(0x00, 0, serial, 1, [][]byte{tags})...)
	// Three packets on one page.
	file = append(file, oggTestPage(0x00, 2400, serial, 2, [][]byte{a, b, c})...)
	// A page of another logical stream is ignored.
	file = append(file, oggTestPage(0x02, 0, serial+1, 0, [][]byte{other})...)
	// The long packet: 255 bytes end this page (lacing 255, so it goes on)...
	file = append(file, oggTestPageRaw(0x00, 2400, serial, 3, []byte{255}, long[:255])...)
	// ...and 45 bytes start the next, flagged as a continuation, followed by d.
	file = append(file, oggTestPageRaw(0x01, 9120, serial, 4, []byte{45, byte(len(d))}, append(append([]byte(nil), long[255:]...), d...))...)
	path := filepath.Join(t.TempDir(), "laced.ogg")
	if err := os.WriteFile(path, file, 0o600); err != nil {
		t.Fatal(err)
	}

	samples := collectSamples(t, mustFileTrack(t, path))
	want := []struct {
		data []byte
		dur  time.Duration
	}{
		{a, 20 * time.Millisecond},
		{b, 10 * time.Millisecond},
		{c, 10 * time.Millisecond},
		{long, 40 * time.Millisecond},
		{d, 60 * time.Millisecond},
	}
	if len(samples) != len(want) {
		t.Fatalf("Run wrote %d samples, want %d", len(samples), len(want))
	}
	for i, s := range samples {
		if !bytes.Equal(s.Data, want[i].data) || s.Duration != want[i].dur {
			t.Errorf("sample %d: %d bytes starting % x, %v; want %d bytes starting % x, %v",
				i, len(s.Data), s.Data[:1], s.Duration, len(want[i].data), want[i].data[:1], want[i].dur)
		}
	}
}

func TestFileTrackOggSkipsOrphanContinuation(t *testing.T) {
	const serial = 9
	a := testOpusPacket(0xf8, 1)
	var file []byte
	file = append(file, oggTestPage(0x02, 0, serial, 0, [][]byte{testOpusHead()})...)
	file = append(file, oggTestPage(0x00, 0, serial, 1, [][]byte{append([]byte("OpusTags"), make([]byte, 8)...)})...)
	// A continued page whose packet start was never seen: its first packet is dropped.
	file = append(file, oggTestPageRaw(0x01, 960, serial, 2, []byte{5, byte(len(a))}, append([]byte{1, 2, 3, 4, 5}, a...))...)
	path := filepath.Join(t.TempDir(), "orphan.ogg")
	if err := os.WriteFile(path, file, 0o600); err != nil {
		t.Fatal(err)
	}
	samples := collectSamples(t, mustFileTrack(t, path))
	if len(samples) != 1 || !bytes.Equal(samples[0].Data, a) {
		t.Fatalf("got %d samples, want only packet a", len(samples))
	}
}

func TestFileTrackEmptyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty.ivf")
	writeTestIVF(t, path, nil, 0)
	ft := mustFileTrack(t, path)
	ft.Loop = true
	ft.wait = func(context.Context, time.Duration) error { return nil }
	if err := ft.Run(context.Background()); err == nil {
		t.Fatal("Run of a file without frames returned nil")
	}
}

func TestFileTrackLoops(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v.ivf")
	frames := writeTestIVF(t, path, []uint32{0, 3000, 6000, 9000}, 4, ivfwriter.WithFrameRate(1, 90000), ivfwriter.WithDirectPTS())
	ft := mustFileTrack(t, path)
	ft.Loop = true
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got [][]byte
	ft.onSample = func(s media.Sample) {
		got = append(got, append([]byte(nil), s.Data...))
		if len(got) == 10 {
			cancel()
		}
	}
	ft.wait = func(ctx context.Context, _ time.Duration) error { return ctx.Err() }
	if err := ft.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(got) != 10 {
		t.Fatalf("wrote %d samples before the context ended, want 10", len(got))
	}
	for i, g := range got {
		if !bytes.Equal(g, frames[i%len(frames)]) {
			t.Errorf("sample %d is not frame %d of the file", i, i%len(frames))
		}
	}
}

func TestFileTrackPacesInRealTime(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.ogg")
	var packets [][]byte
	for i := range 10 {
		packets = append(packets, testOpusPacket(0xf8, byte(i))) // 10 x 20 ms
	}
	writeTestOgg(t, path, packets)
	ft := mustFileTrack(t, path)
	var at []time.Time
	ft.onSample = func(media.Sample) { at = append(at, time.Now()) }
	start := time.Now()
	if err := ft.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	if len(at) != 10 {
		t.Fatalf("wrote %d samples, want 10", len(at))
	}
	// Sample i is due 20*i ms after the first; Run returns when the last one has played.
	for i, a := range at {
		if due := time.Duration(i) * 20 * time.Millisecond; a.Sub(at[0]) < due-2*time.Millisecond {
			t.Errorf("sample %d sent %v after the first, before it was due at %v", i, a.Sub(at[0]), due)
		}
	}
	if elapsed < 195*time.Millisecond || elapsed > 2*time.Second {
		t.Errorf("200 ms of audio took %v", elapsed)
	}

	// Cancelling stops a paced Run promptly, without an error.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	ft.Loop = true
	ft.onSample = nil
	start = time.Now()
	if err := ft.Run(ctx); err != nil {
		t.Fatalf("Run after cancel: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Run took %v to notice its context ended", d)
	}
}

func TestOpusPacketDuration(t *testing.T) {
	for _, c := range []struct {
		pkt  []byte
		want time.Duration
	}{
		{[]byte{0x00}, 10 * time.Millisecond},        // SILK NB 10 ms
		{[]byte{0x08}, 20 * time.Millisecond},        // SILK NB 20 ms
		{[]byte{0x10}, 40 * time.Millisecond},        // SILK NB 40 ms
		{[]byte{0x18}, 60 * time.Millisecond},        // SILK NB 60 ms
		{[]byte{0x19}, 120 * time.Millisecond},       // 2 x 60 ms
		{[]byte{0x60}, 10 * time.Millisecond},        // hybrid SWB 10 ms
		{[]byte{0x68}, 20 * time.Millisecond},        // hybrid SWB 20 ms
		{[]byte{0x80}, 2500 * time.Microsecond},      // CELT NB 2.5 ms
		{[]byte{0x88}, 5 * time.Millisecond},         // CELT NB 5 ms
		{[]byte{0xfa, 0x01}, 40 * time.Millisecond},  // code 2: two frames
		{[]byte{0xfb, 0x03}, 60 * time.Millisecond},  // code 3: three frames
		{[]byte{0xfb, 0x83}, 60 * time.Millisecond},  // code 3 with VBR flag
		{[]byte{0x1b, 0x03}, 120 * time.Millisecond}, // 3 x 60 ms capped at 120
		{[]byte{0xfb}, 20 * time.Millisecond},        // code 3 without count
		{[]byte{0xfb, 0x00}, 20 * time.Millisecond},  // code 3 with zero frames
		{nil, 20 * time.Millisecond},
	} {
		if got := opusPacketDuration(c.pkt); got != c.want {
			t.Errorf("opusPacketDuration(% x) = %v, want %v", c.pkt, got, c.want)
		}
	}
}

func TestPublishFileRejectsEmptyTrack(t *testing.T) {
	var c Client
	if err := c.PublishFile(context.Background(), &FileTrack{}); err == nil {
		t.Fatal("PublishFile accepted a track without a sample track")
	}
	if err := c.PublishFile(context.Background(), nil); err == nil {
		t.Fatal("PublishFile accepted nil")
	}
}

// TestPublishFileEndToEnd publishes an IVF and an Ogg file through a real SFU and checks a
// second participant receives both, with the declared sources.
func TestPublishFileEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	log := slog.New(slog.DiscardHandler)
	s := sfu.New(sfu.Config{LoopbackOnly: true}, log, nil)
	defer s.Close()
	key, err := token.GenerateKey("local")
	if err != nil {
		t.Fatal(err)
	}
	issuer := token.NewIssuer(key, nil)
	mux := http.NewServeMux()
	gate := &admission.Gate{SFU: s, Tokens: issuer, Rooms: admission.NoLastingState{}, Log: log}
	mux.Handle("GET /ws", &msignal.Handler{Admission: gate, Log: log})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	mint := func(id string) string {
		tok, err := issuer.Mint("files", id, id, token.Grants{Publish: true, Subscribe: true}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}

	dir := t.TempDir()
	vpath := filepath.Join(dir, "v.ivf")
	var ts []uint32
	for i := range 15 {
		ts = append(ts, uint32(i*3000))
	}
	writeTestIVF(t, vpath, ts, 1, ivfwriter.WithFrameRate(1, 90000), ivfwriter.WithDirectPTS())
	apath := filepath.Join(dir, "a.ogg")
	var packets [][]byte
	for i := range 25 {
		packets = append(packets, testOpusPacket(0xf8, byte(i)))
	}
	writeTestOgg(t, apath, packets)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var mu sync.Mutex
	got := map[string]*RemoteTrack{}
	sub, err := Join(ctx, Options{URL: srv.URL, Token: mint("sub"), LoopbackOnly: true, OnTrack: func(rt *RemoteTrack) {
		mu.Lock()
		got[rt.Info.Kind] = rt
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	pub, err := Join(ctx, Options{URL: srv.URL, Token: mint("pub"), LoopbackOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()

	video, err := NewFileTrack(vpath, SourceScreen)
	if err != nil {
		t.Fatal(err)
	}
	audio, err := NewFileTrack(apath, "")
	if err != nil {
		t.Fatal(err)
	}
	video.Loop, audio.Loop = true, true
	for _, ft := range []*FileTrack{video, audio} {
		if err := pub.PublishFile(ctx, ft); err != nil {
			t.Fatalf("PublishFile %s: %v", ft.Path, err)
		}
	}
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, ft := range []*FileTrack{video, audio} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := ft.Run(runCtx); err != nil {
				t.Errorf("Run %s: %v", ft.Path, err)
			}
		}()
	}
	defer func() { stop(); wg.Wait() }()

	for {
		mu.Lock()
		v, a := got["video"], got["audio"]
		mu.Unlock()
		if v != nil && a != nil && v.Stats().Packets >= 20 && a.Stats().Packets >= 20 {
			if v.Info.MimeType != webrtc.MimeTypeVP8 || v.Info.Source != SourceScreen {
				t.Errorf("video received as %s from %q, want %s from %q", v.Info.MimeType, v.Info.Source, webrtc.MimeTypeVP8, SourceScreen)
			}
			if a.Info.MimeType != webrtc.MimeTypeOpus || a.Info.Source != SourceMicrophone {
				t.Errorf("audio received as %s from %q, want %s from %q", a.Info.MimeType, a.Info.Source, webrtc.MimeTypeOpus, SourceMicrophone)
			}
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("tracks not received: video %v audio %v", v != nil, a != nil)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
