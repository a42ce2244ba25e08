package sfu

import (
	"encoding/hex"
	"testing"
)

type keyframeCase struct {
	name    string
	payload []byte
	want    bool
}

func runKeyframeCases(t *testing.T, mime string, cases []keyframeCase) {
	t.Helper()
	for _, c := range cases {
		if got := isKeyframe(mime, c.payload); got != c.want {
			t.Errorf("%s %s: isKeyframe(% x) = %v, want %v", mime, c.name, c.payload, got, c.want)
		}
	}
}

func TestIsKeyframeVP8(t *testing.T) {
	runKeyframeCases(t, "video/VP8", []keyframeCase{
		// Descriptor 0x10 (S=1, PID=0), then the frame tag; bit 0 of the tag is the inverse
		// key frame flag.
		{"keyframe with full header", []byte{0x10, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01}, true},
		{"keyframe, tag only", []byte{0x10, 0x00}, true},
		{"interframe", []byte{0x10, 0x01, 0x00, 0x00}, false},
		{"continuation packet (S=0)", []byte{0x00, 0x00, 0x00}, false},
		{"start of partition 1", []byte{0x11, 0x00, 0x00}, false},
		{"start of partition 7", []byte{0x17, 0x00}, false},
		{"no partition start with X", []byte{0x80, 0x00, 0x00}, false},

		// X=1, extension byte with no optional fields.
		{"X, no optional fields, key", []byte{0x90, 0x00, 0x00}, true},
		{"X, no optional fields, inter", []byte{0x90, 0x00, 0x01}, false},

		// I=1 with a 7-bit picture id (M=0): the tag is at index 3. Reading a 15-bit id
		// would land on index 4 (odd tag byte) and answer false.
		{"7-bit picture id, key", []byte{0x90, 0x80, 0x05, 0x00, 0x01}, true},
		{"7-bit picture id, inter", []byte{0x90, 0x80, 0x05, 0x01, 0x00}, false},
		// I=1 with a 15-bit picture id (M=1): the tag is at index 4. Reading a 7-bit id
		// would land on 0x23 (odd) and answer false.
		{"15-bit picture id, key", []byte{0x90, 0x80, 0x81, 0x23, 0x00}, true},
		{"15-bit picture id, inter", []byte{0x90, 0x80, 0x81, 0x22, 0x01}, false},

		// I, L, T and K all present: picture id (2), TL0PICIDX (1), TID/KEYIDX (1).
		{"I+L+T+K, key", []byte{0x90, 0xf0, 0x85, 0x12, 0x07, 0x21, 0x00}, true},
		{"I+L+T+K, inter", []byte{0x90, 0xf0, 0x85, 0x12, 0x06, 0x20, 0x01}, false},
		// Only L: one TL0PICIDX byte.
		{"L only, key", []byte{0x90, 0x40, 0x03, 0x00}, true},
		// Only K (no T): still one TID/KEYIDX byte.
		{"K only, key", []byte{0x90, 0x10, 0x01, 0x00}, true},
		{"T only, key", []byte{0x90, 0x20, 0x41, 0x00}, true},

		// Truncated payloads never read out of range.
		{"empty", []byte{}, false},
		{"nil", nil, false},
		{"descriptor only", []byte{0x10}, false},
		{"X without extension byte", []byte{0x90}, false},
		{"I without picture id", []byte{0x90, 0x80}, false},
		{"15-bit id cut short", []byte{0x90, 0x80, 0x81}, false},
		{"15-bit id without tag", []byte{0x90, 0x80, 0x81, 0x23}, false},
		{"all fields, no tag", []byte{0x90, 0xf0, 0x85, 0x12, 0x07, 0x20}, false},
	})
}

func TestIsKeyframeH264(t *testing.T) {
	runKeyframeCases(t, "video/H264", []keyframeCase{
		{"single NAL IDR slice", []byte{0x65, 0x88, 0x84, 0x00}, true},
		{"single NAL SPS", []byte{0x67, 0x42, 0xc0, 0x1f}, true},
		{"single NAL PPS", []byte{0x68, 0xce, 0x3c, 0x80}, false},
		{"single NAL non-IDR slice", []byte{0x41, 0x9a, 0x02}, false},
		{"single NAL SEI", []byte{0x06, 0x05, 0xff}, false},
		{"access unit delimiter", []byte{0x09, 0xf0}, false},

		// STAP-A (type 24): 16-bit size, NAL unit, repeated.
		{"STAP-A SPS+PPS", []byte{0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xce}, true},
		{"STAP-A SEI then IDR", []byte{0x78, 0x00, 0x02, 0x06, 0x05, 0x00, 0x02, 0x65, 0x88}, true},
		{"STAP-A PPS then non-IDR", []byte{0x78, 0x00, 0x02, 0x68, 0xce, 0x00, 0x02, 0x41, 0x9a}, false},
		{"STAP-A size skips past an IDR-looking byte", []byte{0x78, 0x00, 0x03, 0x41, 0x65, 0x67, 0x00, 0x01, 0x41}, false},

		// FU-A (type 28): FU header S bit 0x80, original type in the low bits.
		{"FU-A start of IDR", []byte{0x7c, 0x85, 0x88, 0x84}, true},
		{"FU-A middle of IDR", []byte{0x7c, 0x05, 0x11}, false},
		{"FU-A end of IDR", []byte{0x7c, 0x45, 0x11}, false},
		{"FU-A start of non-IDR", []byte{0x5c, 0x81, 0x9a}, false},

		{"empty", []byte{}, false},
		{"nil", nil, false},
		{"FU-A without FU header", []byte{0x7c}, false},
		{"STAP-A without units", []byte{0x78}, false},
		{"STAP-A with size only", []byte{0x78, 0x00, 0x02}, false},
		{"STAP-A truncated second unit", []byte{0x78, 0x00, 0x02, 0x68, 0xce, 0x00}, false},
		{"STAP-A size beyond the end", []byte{0x78, 0xff, 0xff, 0x41, 0x00}, false},
	})
}

func TestIsKeyframeVP9(t *testing.T) {
	runKeyframeCases(t, "video/VP9", []keyframeCase{
		// Descriptor bits: I P L F B E V Z.
		{"begin of non-inter frame", []byte{0x08, 0x00}, true},
		{"whole non-inter frame with V", []byte{0x0e, 0x00}, true},
		{"inter frame", []byte{0x48, 0x00}, false},
		{"not the beginning of a frame", []byte{0x04, 0x00}, false},
		{"inter, not begin", []byte{0x40}, false},

		// L=1: layer indices TID(3) U SID(3) D; only spatial layer 0 is a keyframe start.
		{"L, SID 0", []byte{0x28, 0x00}, true},
		{"L, SID 1", []byte{0x28, 0x02}, false},
		{"L, TID 2 SID 0", []byte{0x28, 0x40}, true},
		// I=1 with a 7-bit picture id: the layer byte is at index 2.
		{"7-bit picture id, SID 0", []byte{0xa8, 0x05, 0x00}, true},
		{"7-bit picture id, SID 2", []byte{0xa8, 0x05, 0x04}, false},
		// I=1 with a 15-bit picture id: the layer byte is at index 3. A 7-bit read would
		// take 0x23 (SID 1) and answer false.
		{"15-bit picture id, SID 0", []byte{0xa8, 0x81, 0x23, 0x00}, true},
		{"15-bit picture id, SID 1", []byte{0xa8, 0x81, 0x00, 0x02}, false},
		// I=1 without L: no layer indices to check.
		{"picture id without L", []byte{0x88, 0x05}, true},

		{"empty", []byte{}, false},
		{"nil", nil, false},
		{"L without layer byte", []byte{0x28}, false},
		{"I+L without picture id", []byte{0xa8}, false},
		{"15-bit id cut short", []byte{0xa8, 0x81}, false},
		{"15-bit id without layer byte", []byte{0xa8, 0x81, 0x23}, false},
	})
}

func TestIsKeyframeAV1(t *testing.T) {
	runKeyframeCases(t, "video/AV1", []keyframeCase{
		// Aggregation header: Z Y W W N - - -.
		{"N set", []byte{0x08, 0x0a, 0x0b}, true},
		{"N set with W=1", []byte{0x18, 0x0a}, true},
		{"N clear", []byte{0x10, 0x32}, false},
		{"continuation, N clear", []byte{0xd0, 0x00}, false},
		{"empty", []byte{}, false},
		{"nil", nil, false},
	})
}

func TestIsKeyframeMimeTypes(t *testing.T) {
	vp8Key := []byte{0x10, 0x00}
	h264Key := []byte{0x65, 0x88}
	for _, c := range []struct {
		mime    string
		payload []byte
		want    bool
	}{
		{"video/VP8", vp8Key, true},
		{"video/vp8", vp8Key, true},
		{"VIDEO/VP8", vp8Key, true},
		{"video/h264", h264Key, true},
		{"video/H264", vp8Key, false}, // 0x10 is NAL type 16
		{"video/vp9", []byte{0x08}, true},
		{"video/av1", []byte{0x08}, true},
		{"audio/opus", vp8Key, false},
		{"video/H265", h264Key, false},
		{"", vp8Key, false},
	} {
		if got := isKeyframe(c.mime, c.payload); got != c.want {
			t.Errorf("isKeyframe(%q, % x) = %v, want %v", c.mime, c.payload, got, c.want)
		}
	}
}

func TestVP8Height(t *testing.T) {
	for _, c := range []struct {
		name    string
		payload string // hex
		want    int
	}{
		{"640x360", "10" + "100200" + "9d012a" + "8002" + "6801", 360},
		{"1280x720 with trailing data", "10" + "100200" + "9d012a" + "0005" + "d002" + "ffff", 720},
		{"scale bits are masked", "10" + "100200" + "9d012a" + "8002" + "6841", 360},
		{"15-bit picture id", "90" + "80" + "8123" + "100200" + "9d012a" + "4001" + "b400", 180},
		{"7-bit picture id", "90" + "80" + "05" + "100200" + "9d012a" + "4001" + "b400", 180},
		{"all extension fields", "90" + "f0" + "8512" + "07" + "20" + "100200" + "9d012a" + "4001" + "b400", 180},
		{"K only", "90" + "10" + "01" + "100200" + "9d012a" + "4001" + "b400", 180},
		{"L only", "90" + "40" + "01" + "100200" + "9d012a" + "4001" + "b400", 180},
		{"no start code", "10" + "100200" + "9d012b" + "8002" + "6801", 0},
		{"one byte short", "10" + "100200" + "9d012a" + "8002" + "68", 0},
		{"empty", "", 0},
		{"descriptor only", "90", 0},
	} {
		p, err := hex.DecodeString(c.payload)
		if err != nil {
			t.Fatal(err)
		}
		if got := vp8Height(p); got != c.want {
			t.Errorf("%s: vp8Height(% x) = %d, want %d", c.name, p, got, c.want)
		}
	}
}

// FuzzIsKeyframe feeds arbitrary payloads to every codec's keyframe check and to the VP8
// height reader: none may panic, and the height stays within its 14 bits.
func FuzzIsKeyframe(f *testing.F) {
	for _, s := range []string{
		"", "10", "1000", "90", "9080", "908081", "90f0851207210", "100200009d012a80026801",
		"65", "78", "7800", "780002", "7800026742", "7c", "7c85",
		"08", "28", "a8", "a881", "a88123", "18",
	} {
		if len(s)%2 == 1 {
			s += "0"
		}
		b, _ := hex.DecodeString(s)
		f.Add(b)
	}
	mimes := []string{"video/VP8", "video/H264", "video/VP9", "video/AV1", "audio/opus"}
	f.Fuzz(func(t *testing.T, payload []byte) {
		for _, m := range mimes {
			_ = isKeyframe(m, payload)
		}
		if h := vp8Height(payload); h < 0 || h > 0x3fff {
			t.Fatalf("vp8Height(% x) = %d, outside 0..16383", payload, h)
		}
	})
}
