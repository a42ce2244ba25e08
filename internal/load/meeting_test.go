package load_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/meridian-video/meridian/internal/account"
	"github.com/meridian-video/meridian/internal/load"
	"github.com/meridian-video/meridian/internal/meeting"
	"github.com/meridian-video/meridian/internal/server/servertest"
	"github.com/meridian-video/meridian/internal/store"
)

// With a meeting, every client joins through the API of the node it is given and
// connects to the node carrying the meeting, here the other node of the region.
func TestRunJoinsAMeetingWhereverItIsCarried(t *testing.T) {
	d := servertest.StartDeployment(t, servertest.Spec{Regions: []string{"us-west:US"}, Nodes: 2})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	entry, carrier := d.Nodes[1], d.Nodes[0] // an empty region's first join goes to the lower id
	a, u, err := entry.Store.CreateAccountWithOwner(ctx, store.Account{Type: account.TypeBusiness, Name: "Acme", Plan: string(account.Business)},
		store.User{Email: "host@example.com", DisplayName: "Host", PasswordHash: "unused"})
	if err != nil {
		t.Fatal(err)
	}
	off := false
	m, err := entry.Meetings.Schedule(ctx, account.Principal{Account: a, User: u},
		meeting.ScheduleInput{Passcode: &off, WaitingRoom: &off, JoinBeforeHost: true})
	if err != nil {
		t.Fatal(err)
	}
	var progress strings.Builder
	res, err := load.Run(ctx, load.Options{
		URL: entry.URL(), Meeting: m.ID, Rooms: 1, Publishers: 1, Subscribers: 2,
		Duration: 2 * time.Second, VideoBitrate: 300_000, LoopbackOnly: true, Progress: &progress,
	})
	if err != nil {
		t.Fatalf("run: %v\n%s", err, progress.String())
	}
	if res.Clients != 3 || res.ClientsReceiving != 3 || res.JoinFailures != 0 {
		t.Fatalf("clients %d, receiving %d, failures %d; want 3, 3, 0\n%s", res.Clients, res.ClientsReceiving, res.JoinFailures, progress.String())
	}
	if e, err := entry.Directory.Meeting(ctx, m.ID); err != nil || e.Node != carrier.NodeID() {
		t.Fatalf("carrier %+v %v, want %s", e, err, carrier.NodeID())
	}
}
