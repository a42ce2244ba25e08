package signal

import (
	"errors"
	"strings"
	"testing"

	"github.com/meridian-video/meridian/internal/admission"
)

func TestDecodeRejectsBadMessages(t *testing.T) {
	cases := map[string]string{
		"not json":         `hello`,
		"array":            `[1,2]`,
		"no type":          `{}`,
		"unknown type":     `{"type":"launch"}`,
		"join no token":    `{"type":"join"}`,
		"offer no sdp":     `{"type":"offer"}`,
		"offer on sub":     `{"type":"offer","target":"subscriber","sdp":"v=0"}`,
		"cand no target":   `{"type":"candidate","candidate":{"candidate":"x"}}`,
		"trailing":         `{"type":"ping"} {"type":"ping"}`,
		"oversize":         `{"type":"chat","text":"` + strings.Repeat("a", MaxMessageSize) + `"}`,
		"wrong field type": `{"type":"chat","text":5}`,
		"negative height":  `{"type":"videoPreference","trackId":"t","maxHeight":-1}`,
	}
	for name, in := range cases {
		_, err := Decode([]byte(in))
		var pe *ProtocolError
		if !errors.As(err, &pe) || pe.Code != CodeBadMessage || pe.Message == "" {
			t.Errorf("%s: err = %v, want a bad_message protocol error", name, err)
		}
	}
}

func TestDecodeAcceptsValidMessages(t *testing.T) {
	for _, in := range []string{
		`{"type":"join","token":"abc"}`,
		`{"type":"offer","sdp":"v=0"}`,
		`{"type":"answer","target":"subscriber","sdp":"v=0"}`,
		`{"type":"candidate","target":"publisher","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host"}}`,
		`{"type":"chat","text":"hi"}`,
		`{"type":"ping"}`,
	} {
		if _, err := Decode([]byte(in)); err != nil {
			t.Errorf("%s: %v", in, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"type":"join","token":"a"}`, `{"type":"offer","sdp":"v=0"}`, `{"type":"chat","text":"x"}`, `{`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Decode(data)
		if err != nil {
			var pe *ProtocolError
			if !errors.As(err, &pe) || pe.Code == "" {
				t.Fatalf("error without a code: %v", err)
			}
			return
		}
		if r.validate() != nil {
			t.Fatal("decoded message does not validate")
		}
	})
}

// Every refusal of admission reaches the client with its code as is, so each must be one
// of this protocol's codes.
func TestAdmissionCodesAreProtocolCodes(t *testing.T) {
	protocol := map[string]bool{
		CodeTokenInvalid: true, CodeTokenExpired: true, CodeNotAllowed: true, CodeRoomClosed: true,
		CodeWaiting: true, CodeRemoved: true, CodeLocked: true, CodeDenied: true, CodeFull: true,
		CodeEnded: true, CodeInternal: true,
	}
	for _, code := range []string{
		admission.CodeTokenInvalid, admission.CodeTokenExpired, admission.CodeNotAllowed, admission.CodeRoomClosed,
		admission.CodeWaiting, admission.CodeRemoved, admission.CodeLocked, admission.CodeDenied, admission.CodeFull,
		admission.CodeEnded, admission.CodeInternal,
	} {
		if !protocol[code] {
			t.Errorf("admission code %q is not a signalling code", code)
		}
	}
}
