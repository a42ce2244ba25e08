package browsertest

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/meridian-video/meridian/client"
	"github.com/meridian-video/meridian/internal/account"
	"github.com/meridian-video/meridian/internal/meeting"
	"github.com/meridian-video/meridian/internal/server/servertest"
	"github.com/meridian-video/meridian/internal/store"
)

// The browser app connects to the node the join answer names: a region of two nodes, the
// meeting carried by the first, the guest's page served by the second. The page's
// signalling goes across origins to the carrier, where a Go client receives its camera.
func TestBrowserConnectsToTheCarryingNode(t *testing.T) {
	d := servertest.StartDeployment(t, servertest.Spec{Regions: []string{"us-west:US"}, Nodes: 2})
	carrier, entry := d.Nodes[0], d.Nodes[1] // an empty region's first join goes to the lower id
	e := newBrowserEnv(t)
	e.Server, e.URL, e.DataDir = entry.Server, entry.URL(), entry.Config.DataDir

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a, u, err := entry.Store.CreateAccountWithOwner(ctx, store.Account{Type: account.TypeBusiness, Name: "Acme", Plan: string(account.Business)},
		store.User{Email: "host@example.com", DisplayName: "Hester Host", PasswordHash: "unused"})
	if err != nil {
		t.Fatal(err)
	}
	off := false
	m, err := entry.Meetings.Schedule(ctx, account.Principal{Account: a, User: u},
		meeting.ScheduleInput{Topic: "Across nodes", Passcode: &off, WaitingRoom: &off, JoinBeforeHost: true})
	if err != nil {
		t.Fatal(err)
	}
	var received atomic.Int64 // packets of the guest's camera, as the Go client gets them
	sub, tk, err := client.JoinMeeting(ctx, entry.URL(), client.TicketRequest{MeetingID: m.ID, DisplayName: "Go viewer"},
		client.Options{LoopbackOnly: true, OnTrack: func(rt *client.RemoteTrack) {
			if rt.Info.Kind == "video" {
				rt.SetHandler(func(*rtp.Packet) { received.Add(1) })
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Close() })
	if tk.NodeID != carrier.NodeID() {
		t.Fatalf("the meeting is carried by %s, want %s", tk.NodeID, carrier.NodeID())
	}

	guest := newUser(t, e, "guest")
	guest.Navigate("/j/" + m.JoinToken)
	guest.VideoPlaying("video[data-testid=preview]") // the camera is on before joining
	guest.Fill("display_name", "Grace Guest")
	guest.Click("[data-testid=join-button]")
	guest.WaitVisible("[data-testid=meeting]")
	for deadline := time.Now().Add(15 * time.Second); received.Load() < 30; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the Go client on the carrier got %d packets of the guest's camera", received.Load())
		}
	}
	var seated int
	for deadline := time.Now().Add(10 * time.Second); seated != 2 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		seated = carrier.SFU.Seated()
	}
	if seated != 2 || entry.SFU.Seated() != 0 {
		t.Fatalf("participants: %d on the carrier, %d on the page's node; want 2 and 0", seated, entry.SFU.Seated())
	}
}
