package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/webrtc/v4"

	"github.com/meridian-video/meridian/client"
	"github.com/meridian-video/meridian/internal/server"
)

// startMeeting signs a host up, schedules a meeting with the given settings (JSON), starts
// it, and returns the host's ticket token, the join link and the meeting's room.
func startMeeting(t *testing.T, srv *server.Server, email, settings string) (hostToken, link, room string) {
	t.Helper()
	auth := signUp(t, srv, email, "Hester")
	var m struct {
		ID      string `json:"id"`
		JoinURL string `json:"join_url"`
	}
	apiCall(t, srv, "POST", "/api/meetings", settings, http.StatusCreated, &m, auth...)
	var host struct {
		Token string `json:"token"`
		Room  string `json:"room"`
	}
	apiCall(t, srv, "POST", "/api/meetings/"+m.ID+"/start", "", http.StatusOK, &host, auth...)
	t.Cleanup(func() { endMeeting(t, srv, m.ID, auth) })
	return host.Token, m.JoinURL, host.Room
}

// endMeeting ends a meeting over the REST API (so that its ending is not left to the
// server's Close).
func endMeeting(t *testing.T, srv *server.Server, id string, auth []string) {
	req, _ := http.NewRequest("POST", srv.URL()+"/api/meetings/"+id+"/end", nil)
	for i := 0; i+1 < len(auth); i += 2 {
		req.Header.Set(auth[i], auth[i+1])
	}
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
}

func guestTicket(t *testing.T, srv *server.Server, link, name string) joinTicket {
	t.Helper()
	status, tk := newBrowser(t, srv).join(link, name)
	if status != http.StatusOK {
		t.Fatalf("%s's ticket: %d %+v", name, status, tk)
	}
	return tk
}

// offerSDP is a real WHEP-style offer (receive audio and video), all candidates in.
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
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	return offer.SDP
}

// post sends an offer to /{kind}/{room} with the Authorization header auth and returns the
// status and error code.
func post(t *testing.T, srv *server.Server, kind, room, auth, sdp string) (int, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "POST", srv.URL()+"/"+kind+"/"+room, strings.NewReader(sdp))
	req.Header.Set("Content-Type", "application/sdp")
	req.Header.Set("Authorization", auth)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var e struct{ Code string }
	_ = json.Unmarshal(body, &e)
	return resp.StatusCode, e.Code
}

// wantRefusedEverywhere checks that tok is refused with code on the WebSocket, and with
// status and code on WHIP and WHEP.
func wantRefusedEverywhere(t *testing.T, ctx context.Context, srv *server.Server, room, tok string, status int, code string) {
	t.Helper()
	c, err := client.Join(ctx, client.Options{URL: srv.URL(), Token: tok, LoopbackOnly: true})
	if err == nil {
		c.Close()
	}
	var e *client.Error
	if !errors.As(err, &e) || e.Code != code {
		t.Errorf("WebSocket join: %v, want %s", err, code)
	}
	sdp := offerSDP(t)
	for _, kind := range []string{"whip", "whep"} {
		if got, c := post(t, srv, kind, room, "Bearer "+tok, sdp); got != status || c != code {
			t.Errorf("%s: %d %s, want %d %s", kind, got, c, status, code)
		}
	}
}

// wsJoin opens a raw signalling connection and joins with tok; it returns the connection
// and the type of the server's first answer.
func wsJoin(t *testing.T, ctx context.Context, srv *server.Server, tok string) (*websocket.Conn, string) {
	t.Helper()
	conn, _, err := websocket.Dial(ctx, "ws://"+srv.Addr()+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.CloseNow() })
	if err := conn.Write(ctx, websocket.MessageText, []byte(`{"type":"join","token":"`+tok+`"}`)); err != nil {
		t.Fatal(err)
	}
	var m struct{ Type, Code, Reason string }
	readJSON(t, ctx, conn, &m)
	if m.Type == "error" {
		return conn, m.Code
	}
	return conn, m.Type
}

func readJSON(t *testing.T, ctx context.Context, conn *websocket.Conn, v any) {
	t.Helper()
	_, b, err := conn.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

// A guest whose ticket says wait gets neither the meeting's media over WHEP nor a way to
// publish into it over WHIP.
func TestWaitingTicketGetsNoWHIPOrWHEP(t *testing.T) {
	srv := startServer(t)
	ctx, cancel := testContext(t)
	defer cancel()
	hostToken, link, room := startMeeting(t, srv, "host@example.com", `{"topic":"Held"}`)
	var hostRec recorder
	host := enter(t, ctx, srv, hostToken, hostRec.options())
	publishAV(t, ctx, host, 300_000)
	eventually(t, 10*time.Second, "the host's tracks", func() bool {
		r, ok := srv.SFU.LookupRoom(room)
		return ok && r.TrackCount() == 2
	})
	guest := guestTicket(t, srv, link, "Grace")
	if !guest.Waiting {
		t.Fatal("the guest's ticket does not say wait")
	}

	got := make(chan struct{}, 4)
	_, err := client.PlayWHEP(ctx, srv.URL()+"/whep/"+room, guest.Token, true, func(*webrtc.TrackRemote) { got <- struct{}{} })
	var e *client.Error
	if !errors.As(err, &e) || e.Code != "waiting" {
		t.Fatalf("WHEP with a waiting ticket: %v, want waiting", err)
	}
	v, _ := client.NewLocalTrack(client.VP8, client.SourceCamera)
	if _, err := client.PublishWHIP(ctx, srv.URL()+"/whip/"+room, guest.Token, true, v); !errors.As(err, &e) || e.Code != "waiting" {
		t.Fatalf("WHIP with a waiting ticket: %v, want waiting", err)
	}
	sdp := offerSDP(t)
	for _, kind := range []string{"whip", "whep"} {
		if status, code := post(t, srv, kind, room, "Bearer "+guest.Token, sdp); status != http.StatusForbidden || code != "waiting" {
			t.Errorf("%s: %d %s, want 403 waiting", kind, status, code)
		}
	}
	time.Sleep(500 * time.Millisecond) // time for anything wrongly let in to show
	select {
	case <-got:
		t.Fatal("the waiting guest received a track over WHEP")
	default:
	}
	r, _ := srv.SFU.LookupRoom(room)
	if n, tracks := len(r.Participants()), r.TrackCount(); n != 1 || tracks != 2 {
		t.Fatalf("the room has %d participants and %d tracks, want the host's 1 and 2", n, tracks)
	}
	if _, _, tr := hostRec.counts(); tr != 0 {
		t.Fatal("the host received media from the waiting guest")
	}
}

// The Authorization scheme is case-insensitive (RFC 9110): "bearer" and "BEARER" work,
// for POST and for DELETE.
func TestWHEPBearerSchemeAnyCase(t *testing.T) {
	srv := startServer(t)
	tok := mint(t, srv, "cases", "viewer", pubSub)
	for _, scheme := range []string{"bearer", "BEARER"} {
		req, _ := http.NewRequestWithContext(t.Context(), "POST", srv.URL()+"/whep/cases", strings.NewReader(offerSDP(t)))
		req.Header.Set("Content-Type", "application/sdp")
		req.Header.Set("Authorization", scheme+" "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("%s: %d %s", scheme, resp.StatusCode, body)
		}
		del, _ := http.NewRequestWithContext(t.Context(), "DELETE", srv.URL()+resp.Header.Get("Location"), nil)
		del.Header.Set("Authorization", scheme+" "+tok)
		resp, err = http.DefaultClient.Do(del)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: DELETE: %d", scheme, resp.StatusCode)
		}
	}
}

// A guest the host turned away, removed, or who comes to a locked meeting is refused with
// the same code on the WebSocket, WHIP and WHEP.
func TestDeniedRemovedLockedOnEveryPath(t *testing.T) {
	srv := startServer(t)
	ctx, cancel := testContext(t)
	defer cancel()
	hostToken, link, room := startMeeting(t, srv, "host@example.com", `{"topic":"Guarded"}`)
	var hostRec recorder
	host := enter(t, ctx, srv, hostToken, hostRec.options())
	lobby := func(n int) []client.Participant {
		t.Helper()
		eventually(t, 5*time.Second, "the waiting room", func() bool {
			e, ok := hostRec.last("lobby", nil)
			return ok && len(e.Waiting) == n
		})
		e, _ := hostRec.last("lobby", nil)
		return e.Waiting
	}

	denied := guestTicket(t, srv, link, "Dora")
	dc := enter(t, ctx, srv, denied.Token, client.Options{})
	if err := host.Deny(lobby(1)[0].ID); err != nil {
		t.Fatal(err)
	}
	waitDone(t, dc, "denied")
	lobby(0)
	wantRefusedEverywhere(t, ctx, srv, room, denied.Token, http.StatusForbidden, "denied")

	removed := guestTicket(t, srv, link, "Remy")
	rc := enter(t, ctx, srv, removed.Token, client.Options{})
	id := lobby(1)[0].ID
	if err := host.Admit(id); err != nil {
		t.Fatal(err)
	}
	<-rc.Admitted()
	if err := host.Remove(id); err != nil {
		t.Fatal(err)
	}
	waitDone(t, rc, "removed")
	wantRefusedEverywhere(t, ctx, srv, room, removed.Token, http.StatusForbidden, "removed")

	late := guestTicket(t, srv, link, "Lena") // issued before the lock
	if err := host.Lock(true); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the lock", func() bool {
		_, ok := hostRec.last("roomState", func(e client.Event) bool { return e.Locked })
		return ok
	})
	wantRefusedEverywhere(t, ctx, srv, room, late.Token, http.StatusForbidden, "locked")
}

// After the host ends the meeting, a ticket issued before the end enters by no way.
func TestEndedMeetingRefusesEarlierTickets(t *testing.T) {
	srv := startServer(t)
	ctx, cancel := testContext(t)
	defer cancel()
	auth := signUp(t, srv, "host@example.com", "Hester")
	var m struct {
		ID      string `json:"id"`
		JoinURL string `json:"join_url"`
	}
	apiCall(t, srv, "POST", "/api/meetings", `{"topic":"Over","waiting_room":false}`, http.StatusCreated, &m, auth...)
	var host joinTicket
	apiCall(t, srv, "POST", "/api/meetings/"+m.ID+"/start", "", http.StatusOK, &host, auth...)
	guest := guestTicket(t, srv, m.JoinURL, "Grace")
	apiCall(t, srv, "POST", "/api/meetings/"+m.ID+"/end", "", http.StatusOK, nil, auth...)
	for _, tok := range []string{guest.Token, host.Token} {
		wantRefusedEverywhere(t, ctx, srv, "m-"+m.ID, tok, http.StatusGone, "ended")
	}
	if _, ok := srv.SFU.LookupRoom("m-" + m.ID); ok {
		t.Fatal("a refused ticket opened the ended meeting's room")
	}
}

// One ticket is one seat: opened 110 times over the WebSocket and 30 times over WHEP it
// holds one seat of the plan's 100. Other guests fill the meeting to its limit; the next
// ticket is refused full on every way in; the host still enters.
func TestOneTicketOneSeat(t *testing.T) {
	srv := startServer(t)
	ctx, cancel := testContext(t)
	defer cancel()
	const limit = 100 // the free plan's participants
	hostToken, link, room := startMeeting(t, srv, "host@example.com", `{"topic":"Crowded","waiting_room":false}`)
	abuserBrowser := newBrowser(t, srv)
	status, abuser := abuserBrowser.join(link, "Abe")
	if status != http.StatusOK {
		t.Fatalf("Abe's ticket: %d %+v", status, abuser)
	}
	late := guestTicket(t, srv, link, "Late") // issued while there is room
	occupancy := func() int {
		r, ok := srv.SFU.LookupRoom(room)
		if !ok {
			return 0
		}
		return r.Occupancy()
	}

	first, answer := wsJoin(t, ctx, srv, abuser.Token)
	if answer != "joined" {
		t.Fatalf("first session: %s", answer)
	}
	for i := range 109 {
		if conn, answer := wsJoin(t, ctx, srv, abuser.Token); answer != "joined" {
			t.Fatalf("session %d: %s", i+2, answer)
		} else if i < 108 {
			conn.CloseNow()
		}
	}
	for {
		var m struct{ Type, Reason string }
		readJSON(t, ctx, first, &m)
		if m.Type == "closed" {
			if m.Reason != "replaced by a new session" {
				t.Fatalf("the first session was closed with %q", m.Reason)
			}
			break
		}
	}
	eventually(t, 5*time.Second, "one seat for 110 sessions", func() bool { return occupancy() == 1 })
	for i := range 30 {
		s, err := client.PlayWHEP(ctx, srv.URL()+"/whep/"+room, abuser.Token, true, func(*webrtc.TrackRemote) {})
		if err != nil {
			t.Fatalf("WHEP session %d: %v", i+1, err)
		}
		t.Cleanup(func() { s.PC.Close() })
	}
	if n := occupancy(); n != 1 {
		t.Fatalf("one ticket holds %d seats after 110 WebSocket and 30 WHEP sessions", n)
	}

	for i := 1; i < limit; i++ {
		tk := guestTicket(t, srv, link, "Guest")
		if conn, answer := wsJoin(t, ctx, srv, tk.Token); answer != "joined" {
			t.Fatalf("guest %d of %d: %s", i+1, limit, answer)
		} else {
			t.Cleanup(func() { conn.CloseNow() })
		}
	}
	if n := occupancy(); n != limit {
		t.Fatalf("occupancy %d, want %d", n, limit)
	}
	wantRefusedEverywhere(t, ctx, srv, room, late.Token, http.StatusForbidden, "full")
	// Asking for a ticket: someone new is refused, someone in the meeting (reconnecting)
	// gets one, since it takes their own seat.
	if status, tk := newBrowser(t, srv).join(link, "One more"); status != http.StatusForbidden || tk.Code != "meeting_full" {
		t.Fatalf("a new guest's ticket to a full meeting: %d %+v", status, tk)
	}
	if status, tk := abuserBrowser.join(link, "Abe"); status != http.StatusOK {
		t.Fatalf("a guest in a full meeting asked for a new ticket: %d %+v", status, tk)
	}
	if _, answer := wsJoin(t, ctx, srv, hostToken); answer != "joined" {
		t.Fatalf("the host in a full meeting: %s", answer)
	}
	if n := occupancy(); n != limit+1 {
		t.Fatalf("occupancy %d with the host, want %d", n, limit+1)
	}
}
