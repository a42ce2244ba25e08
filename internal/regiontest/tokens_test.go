//go:build linux

package regiontest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/meridian-video/meridian/client"
	"github.com/meridian-video/meridian/internal/netlab"
	"github.com/meridian-video/meridian/internal/token"
)

// tokensAcrossRegions: from host h, join tokens of region A's meeting (a) and tokens
// forged with A's key for region B's meeting (b) are refused by B's node, on the
// signalling WebSocket, WHIP and WHEP, with the codes docs/regions.md gives; B's own token
// for its meeting enters there, so the refusals are of the tokens. nodeA, nodeB and nodeC
// are the nodes of A, B and the third region.
func tokensAcrossRegions(t *testing.T, ctx context.Context, d *deployment, bin string, h *netlab.Host, a, b *resident, nodeA, nodeB, nodeC *netlab.Node) {
	var aTicket, bTicket ticket
	join := func(n *netlab.Node, r *resident, out *ticket) {
		api := &apiClient{t: t, http: h.HTTPClient(), base: n.URL}
		api.call("POST", "/api/join", map[string]string{"meeting_id": r.meetingID, "passcode": r.passcode, "display_name": "Tess Tokens"}, http.StatusOK, out)
	}
	join(nodeA, a, &aTicket) // a real join through A's own API, for A's meeting
	join(nodeB, b, &bTicket)

	// B's own token enters its meeting on B's node (WHEP; the WebSocket is proven by the
	// meeting's participants).
	status, code, loc := offer(t, h, nodeB, "whep", bTicket.Room, bTicket.Token)
	if status != http.StatusCreated {
		t.Fatalf("B's own token on B's node, WHEP: %d %s, want 201", status, code)
	}
	endSession(t, h, nodeB, loc)

	t.Run("A's ticket on B's node", func(t *testing.T) {
		// Its meeting allows A alone (the token's regions claim): B's node refuses to carry
		// it, on every way in.
		wantRefused(t, ctx, h, nodeB, aTicket.Room, aTicket.Token, http.StatusForbidden, "region_not_allowed")
		// Presented for B's meeting, it is for another room.
		for _, kind := range []string{"whip", "whep"} {
			if status, code, _ := offer(t, h, nodeB, kind, bTicket.Room, aTicket.Token); status != http.StatusForbidden || code != "wrong_room" {
				t.Errorf("A's ticket for B's room, %s: %d %s, want 403 wrong_room", kind, status, code)
			}
		}
	})

	// `meridian token` with A's key file, as an operator of A (or anyone holding its key)
	// would, for B's meeting: A's key, kid and home claim. Every node refuses it, B's as
	// well as A's own and the third region's: B's key alone authorizes entry to B's
	// meetings.
	out, err := exec.CommandContext(ctx, bin, "token", "--region", a.region, "--region-key", d.keyFile(a.region),
		"--room", bTicket.Room, "--identity", "forger", "--name", "Forger", "--publish", "--subscribe", "--host").Output()
	if err != nil {
		t.Fatalf("meridian token: %v", err)
	}
	minted := strings.TrimSpace(string(out))
	for _, n := range []*netlab.Node{nodeB, nodeA, nodeC} {
		t.Run("minted by A for B's meeting, on "+n.Host.Name, func(t *testing.T) {
			wantRefused(t, ctx, h, n, bTicket.Room, minted, http.StatusForbidden, "wrong_region_key")
		})
	}

	// A's key posing as B's (kid and home claim B, B's allowed set): the signature is not
	// B's.
	key, err := token.ReadRegionKey(d.keyFile(a.region), b.region)
	if err != nil {
		t.Fatal(err)
	}
	posing, err := token.NewIssuer(key, nil).Mint(bTicket.Room, "forger", "Forger",
		token.Grants{Publish: true, Subscribe: true, Host: true, Regions: []string{b.region}}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("A's key posing as B's, on B's node", func(t *testing.T) {
		wantRefused(t, ctx, h, nodeB, bTicket.Room, posing, http.StatusUnauthorized, "token_invalid")
	})
}

// wantRefused checks that tok is refused by n with code on the signalling WebSocket, and
// with status and code on WHIP and WHEP for room.
func wantRefused(t *testing.T, ctx context.Context, h *netlab.Host, n *netlab.Node, room, tok string, status int, code string) {
	t.Helper()
	pionNet, err := h.Net()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.Join(ctx, client.Options{URL: signalURL(n), Token: tok, Net: pionNet, HTTPClient: h.HTTPClient()})
	if err == nil {
		c.Close()
	}
	var e *client.Error
	if !errors.As(err, &e) || e.Code != code {
		t.Errorf("WebSocket join on %s: %v, want %s", n.Host.Name, err, code)
	}
	for _, kind := range []string{"whip", "whep"} {
		if got, c, loc := offer(t, h, n, kind, room, tok); got != status || c != code {
			t.Errorf("%s on %s: %d %s, want %d %s", kind, n.Host.Name, got, c, status, code)
			endSession(t, h, n, loc)
		}
	}
}

// offer posts an SDP offer to n's /{kind}/{room} from inside h with tok, returning the
// status, the error code of a refusal and the session's Location when one was made.
func offer(t *testing.T, h *netlab.Host, n *netlab.Node, kind, room, tok string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "POST", n.URL+"/"+kind+"/"+room, strings.NewReader(offerSDP(t)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/sdp")
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := h.HTTPClient().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", kind, n.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var e struct{ Code string }
	_ = json.Unmarshal(body, &e)
	return resp.StatusCode, e.Code, resp.Header.Get("Location")
}

// endSession ends a WHIP or WHEP session at its Location, if there is one.
func endSession(t *testing.T, h *netlab.Host, n *netlab.Node, loc string) {
	t.Helper()
	if loc == "" {
		return
	}
	req, err := http.NewRequestWithContext(t.Context(), "DELETE", n.URL+loc, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := h.HTTPClient().Do(req)
	if err != nil {
		t.Fatalf("end the session %s: %v", loc, err)
	}
	resp.Body.Close()
}

// offerSDP is an offer to receive audio and video, made without a network: the
// refusals come before the offer is read.
func offerSDP(t *testing.T) string {
	t.Helper()
	pc, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			t.Fatal(err)
		}
	}
	o, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	return o.SDP
}
