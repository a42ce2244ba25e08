package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/meridian-video/meridian/client"
	"github.com/meridian-video/meridian/internal/server"
)

// recorder keeps what a client was told: room events, chat and remote tracks.
type recorder struct {
	mu     sync.Mutex
	events []client.Event
	chats  []client.Chat
	tracks []*client.RemoteTrack
}

func (r *recorder) options() client.Options {
	return client.Options{
		OnEvent: func(e client.Event) { r.mu.Lock(); r.events = append(r.events, e); r.mu.Unlock() },
		OnChat:  func(c client.Chat) { r.mu.Lock(); r.chats = append(r.chats, c); r.mu.Unlock() },
		OnTrack: func(t *client.RemoteTrack) { r.mu.Lock(); r.tracks = append(r.tracks, t); r.mu.Unlock() },
	}
}

// last returns the latest event of a type that matches, if any.
func (r *recorder) last(typ string, match func(client.Event) bool) (client.Event, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range slices.Backward(r.events) {
		if e.Type == typ && (match == nil || match(e)) {
			return e, true
		}
	}
	return client.Event{}, false
}

func (r *recorder) counts() (events, chats, tracks int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events), len(r.chats), len(r.tracks)
}

// browser is a guest's cookie jar: the server gives each browser a guest key.
type browser struct {
	t    *testing.T
	srv  *server.Server
	http *http.Client
}

func newBrowser(t *testing.T, srv *server.Server) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, srv: srv, http: &http.Client{Jar: jar}}
}

type joinTicket struct {
	Token    string `json:"token"`
	Identity string `json:"identity"`
	Waiting  bool   `json:"waiting"`
	Code     string `json:"code"`
}

// join asks the REST API for a ticket to a meeting by its join link token.
func (b *browser) join(link, name string) (int, joinTicket) {
	b.t.Helper()
	body, _ := json.Marshal(map[string]string{"link_token": link, "display_name": name})
	resp, err := b.http.Post(b.srv.URL()+"/api/join", "application/json", bytes.NewReader(body))
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var tk joinTicket
	if err := json.Unmarshal(raw, &tk); err != nil {
		b.t.Fatalf("join answer %s: %v", raw, err)
	}
	return resp.StatusCode, tk
}

// hostMeeting signs a host up, schedules a meeting with the defaults (waiting room on),
// starts it and returns the host's token and the join link token.
func hostMeeting(t *testing.T, srv *server.Server) (hostToken, link string) {
	t.Helper()
	auth := signUp(t, srv, "host@example.com", "Hester")
	var m struct {
		ID        string `json:"id"`
		JoinToken string `json:"join_token"`
		JoinURL   string `json:"join_url"`
	}
	apiCall(t, srv, "POST", "/api/meetings", `{"topic":"Moderated"}`, http.StatusCreated, &m, auth...)
	var host joinTicket
	apiCall(t, srv, "POST", "/api/meetings/"+m.ID+"/start", "", http.StatusOK, &host, auth...)
	return host.Token, m.JoinURL
}

func enter(t *testing.T, ctx context.Context, srv *server.Server, tok string, opts client.Options) *client.Client {
	t.Helper()
	opts.URL, opts.Token, opts.LoopbackOnly = srv.URL(), tok, true
	c, err := client.Join(ctx, opts)
	if err != nil {
		t.Fatalf("enter the room: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func isAdmitted(c *client.Client) bool {
	select {
	case <-c.Admitted():
		return true
	default:
		return false
	}
}

func waitDone(t *testing.T, c *client.Client, reason string) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatalf("session not ended (want reason %q)", reason)
	}
	if got := c.CloseReason(); got != reason {
		t.Fatalf("closed with reason %q, want %q", got, reason)
	}
}

// A guest of a meeting with a waiting room is held until the host admits them, and
// learns nothing of the meeting meanwhile: no participants, tracks, media or chat.
func TestWaitingRoomHoldsGuestsUntilAdmitted(t *testing.T) {
	srv := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	hostToken, link := hostMeeting(t, srv)

	var hostRec, guestRec recorder
	host := enter(t, ctx, srv, hostToken, hostRec.options())
	if host.Self().Role != "host" {
		t.Fatalf("host role %q", host.Self().Role)
	}
	publishAV(t, ctx, host, 300_000)

	status, tk := newBrowser(t, srv).join(link, "Grace")
	if status != http.StatusOK || !tk.Waiting {
		t.Fatalf("guest ticket %d %+v", status, tk)
	}
	guest := enter(t, ctx, srv, tk.Token, guestRec.options())
	if isAdmitted(guest) {
		t.Fatal("a guest entered a meeting with a waiting room without being admitted")
	}
	lobby := func() []client.Participant {
		e, _ := hostRec.last("lobby", nil)
		return e.Waiting
	}
	eventually(t, 5*time.Second, "the host sees the guest waiting", func() bool {
		w := lobby()
		return len(w) == 1 && w[0].Name == "Grace" && w[0].Identity == tk.Identity
	})
	// While held: the room talks, and the guest hears nothing of it.
	if err := host.Chat("before the guest is in"); err != nil {
		t.Fatal(err)
	}
	if err := guest.Chat("let me in"); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-guest.Errors():
		if e.Code != "waiting" {
			t.Fatalf("a waiting guest's chat: %v", e)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a waiting guest's chat was not refused")
	}
	time.Sleep(500 * time.Millisecond) // time for anything wrongly sent to arrive
	if ev, ch, tr := guestRec.counts(); ev+ch+tr != 0 {
		t.Fatalf("the waiting guest received %d events, %d chats, %d tracks", ev, ch, tr)
	}
	if _, _, tr := hostRec.counts(); tr != 0 {
		t.Fatal("the host received media from a waiting guest")
	}

	if err := host.Admit(lobby()[0].ID); err != nil {
		t.Fatal(err)
	}
	select {
	case <-guest.Admitted():
	case <-time.After(5 * time.Second):
		t.Fatal("the admitted guest was not let in")
	}
	eventually(t, 5*time.Second, "the lobby empties", func() bool { return len(lobby()) == 0 })
	publishAV(t, ctx, guest, 300_000)
	eventually(t, 10*time.Second, "media both ways", func() bool {
		return receivingFrom(&guestRec, 2) && receivingFrom(&hostRec, 2)
	})
	if _, ch, _ := guestRec.counts(); ch != 0 {
		t.Fatal("the guest received chat sent while they waited")
	}

	// A second guest waits and is turned away.
	status, tk2 := newBrowser(t, srv).join(link, "Mallory")
	if status != http.StatusOK {
		t.Fatalf("second guest %d %+v", status, tk2)
	}
	var deniedRec recorder
	denied := enter(t, ctx, srv, tk2.Token, deniedRec.options())
	eventually(t, 5*time.Second, "the second guest waits", func() bool { return len(lobby()) == 1 })
	if err := host.Deny(lobby()[0].ID); err != nil {
		t.Fatal(err)
	}
	waitDone(t, denied, "denied")
	if ev, ch, tr := deniedRec.counts(); ev+ch+tr != 0 {
		t.Fatalf("the denied guest received %d events, %d chats, %d tracks", ev, ch, tr)
	}
}

// receivingFrom reports whether r has n remote tracks that are all receiving packets.
func receivingFrom(r *recorder, n int) bool {
	r.mu.Lock()
	tracks := slices.Clone(r.tracks)
	r.mu.Unlock()
	if len(tracks) < n {
		return false
	}
	for _, t := range tracks {
		if t.Stats().Packets < 5 {
			return false
		}
	}
	return true
}

// The host's controls over signalling: mute (and the participant unmuting), stop video,
// co-host, lock, remove and keep removed, end for all.
func TestHostControls(t *testing.T) {
	srv := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	hostToken, link := hostMeeting(t, srv)
	var hostRec, guestRec, otherRec recorder
	host := enter(t, ctx, srv, hostToken, hostRec.options())
	publishAV(t, ctx, host, 300_000)

	admit := func(b *browser, name string, rec *recorder) (*client.Client, string) {
		t.Helper()
		status, tk := b.join(link, name)
		if status != http.StatusOK {
			t.Fatalf("%s join %d %+v", name, status, tk)
		}
		c := enter(t, ctx, srv, tk.Token, rec.options())
		eventually(t, 5*time.Second, name+" waits", func() bool {
			e, ok := hostRec.last("lobby", nil)
			return ok && len(e.Waiting) == 1 && e.Waiting[0].Name == name
		})
		e, _ := hostRec.last("lobby", nil)
		if err := host.AdmitAll(); err != nil {
			t.Fatal(err)
		}
		select {
		case <-c.Admitted():
		case <-time.After(10 * time.Second):
			t.Fatalf("%s not admitted", name)
		}
		return c, e.Waiting[0].ID
	}
	guestBrowser := newBrowser(t, srv)
	guest, guestID := admit(guestBrowser, "Grace", &guestRec)
	publishAV(t, ctx, guest, 300_000)
	other, otherID := admit(newBrowser(t, srv), "Olive", &otherRec)
	eventually(t, 10*time.Second, "the host receives the guest", func() bool { return receivingFrom(&hostRec, 2) })

	guestTrack := func(kind string) *client.RemoteTrack {
		hostRec.mu.Lock()
		defer hostRec.mu.Unlock()
		for _, tr := range hostRec.tracks {
			if tr.Info.ParticipantID == guestID && tr.Info.Kind == kind {
				return tr
			}
		}
		t.Fatalf("no %s track of the guest", kind)
		return nil
	}
	stalls := func(tr *client.RemoteTrack) bool {
		before := tr.Stats().Packets
		time.Sleep(400 * time.Millisecond)
		return tr.Stats().Packets == before
	}
	flows := func(tr *client.RemoteTrack) bool {
		before := tr.Stats().Packets
		time.Sleep(200 * time.Millisecond)
		return tr.Stats().Packets > before+3
	}

	// Mute: the guest is told, everyone sees it, and no sound is forwarded.
	if err := host.MuteParticipant(guestID, client.SourceMicrophone); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the guest is told they were muted", func() bool {
		e, ok := guestRec.last("forceMuted", nil)
		return ok && e.Source == client.SourceMicrophone && e.Participant.Role == "host"
	})
	eventually(t, 5*time.Second, "the other participant sees the mute", func() bool {
		_, ok := otherRec.last("trackMuted", func(e client.Event) bool { return e.ParticipantID == guestID && e.Muted })
		return ok
	})
	audio := guestTrack("audio")
	eventually(t, 5*time.Second, "the guest's sound stops", func() bool { return stalls(audio) })
	// The guest may unmute themselves; sound resumes with no gap in sequence numbers.
	if err := guest.Mute(client.SourceMicrophone, false); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the guest's sound resumes", func() bool { return flows(audio) })
	if lost := audio.Stats().Lost(); lost != 0 {
		t.Fatalf("%d audio packets reported lost across the mute", lost)
	}
	// Nobody but a moderator may mute someone else, and nobody may unmute someone else.
	if err := other.MuteParticipant(guestID, client.SourceMicrophone); err != nil {
		t.Fatal(err)
	}
	wantError(t, other, "not_host")

	// Stop video: the picture stops, and starts again on the next keyframe when the
	// guest turns the camera back on.
	video := guestTrack("video")
	if err := host.MuteParticipant(guestID, client.SourceCamera); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the guest's video stops", func() bool { return stalls(video) })
	if err := guest.Mute(client.SourceCamera, false); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the guest's video resumes", func() bool { return flows(video) })

	// Co-host: the guest gets the role and the waiting room; the host's role is the host's.
	if err := host.SetRole(guestID, "cohost"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "everyone sees the new co-host", func() bool {
		_, ok := otherRec.last("participantUpdated", func(e client.Event) bool {
			return e.Participant.ID == guestID && e.Participant.Role == "cohost"
		})
		return ok
	})
	if err := guest.SetRole(otherID, "cohost"); err != nil {
		t.Fatal(err)
	}
	wantError(t, guest, "not_host")

	// Lock: nobody new gets a ticket.
	if err := guest.Lock(true); err != nil { // a co-host may lock
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the room reports the lock", func() bool {
		_, ok := otherRec.last("roomState", func(e client.Event) bool { return e.Locked })
		return ok
	})
	if status, tk := newBrowser(t, srv).join(link, "Late"); status != http.StatusForbidden || tk.Code != "meeting_locked" {
		t.Fatalf("join of a locked meeting: %d %+v", status, tk)
	}
	if err := host.Lock(false); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the meeting unlocks", func() bool {
		status, _ := newBrowser(t, srv).join(link, "Late")
		return status == http.StatusOK
	})

	// Remove: the guest is out and stays out, even with a new ticket from the same browser.
	if err := host.Remove(guestID); err != nil {
		t.Fatal(err)
	}
	waitDone(t, guest, "removed")
	if status, tk := guestBrowser.join(link, "Grace again"); status != http.StatusForbidden || tk.Code != "removed" {
		t.Fatalf("a removed guest asked to rejoin: %d %+v", status, tk)
	}

	// End for all.
	if err := other.EndMeeting(); err != nil {
		t.Fatal(err)
	}
	wantError(t, other, "not_host")
	if err := host.EndMeeting(); err != nil {
		t.Fatal(err)
	}
	waitDone(t, host, "ended")
	waitDone(t, other, "ended")
	if status, tk := newBrowser(t, srv).join(link, "After"); status != http.StatusGone || tk.Code != "meeting_ended" {
		t.Fatalf("join of an ended meeting: %d %+v", status, tk)
	}
}

func wantError(t *testing.T, c *client.Client, code string) {
	t.Helper()
	select {
	case e := <-c.Errors():
		if e.Code != code {
			t.Fatalf("error %v, want %s", e, code)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no %s error", code)
	}
}
