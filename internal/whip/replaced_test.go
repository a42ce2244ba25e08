package whip

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/meridian-video/meridian/internal/admission"
	"github.com/meridian-video/meridian/internal/sfu"
	"github.com/meridian-video/meridian/internal/token"
)

type nopSink struct{}

func (nopSink) Send(sfu.Event) {}

// replacingGate admits each request and, before the handler answers its offer, admits the
// same token once more: as when one ticket opens two sessions at once and the second
// replaces the first while the first is being answered.
type replacingGate struct{ *admission.Gate }

func (g replacingGate) Enter(ctx context.Context, req admission.Request) (*admission.Entry, error) {
	e, err := g.Gate.Enter(ctx, req)
	if err != nil {
		return nil, err
	}
	again := req
	again.ID, again.Sink = req.ID+"-again", nopSink{}
	if _, err := g.Gate.Enter(ctx, again); err != nil {
		return nil, err
	}
	return e, nil
}

// A WHEP session replaced by a newer one of its token while its offer is answered is told
// so (409 replaced), not that its offer was bad.
func TestReplacedWhileAnsweringIsNotBadSDP(t *testing.T) {
	gate, iss := newGate(t)
	h := New(replacingGate{gate}, iss, slog.New(slog.DiscardHandler))
	tok, err := iss.Mint("twice", "viewer", "viewer", token.Grants{Subscribe: true}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	pc, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		t.Fatal(err)
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("POST", "/whep/twice", strings.NewReader(offer.SDP))
	req.Header.Set("Content-Type", "application/sdp")
	req.Header.Set("Authorization", "Bearer "+tok)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), `"code":"replaced"`) {
		t.Fatalf("the replaced session's offer: %d %s, want 409 replaced", w.Code, w.Body)
	}
	r, ok := gate.SFU.LookupRoom("twice")
	if !ok || len(r.Participants()) != 1 {
		t.Fatal("the newer session is not the one in the room")
	}
}
