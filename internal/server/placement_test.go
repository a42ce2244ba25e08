package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/meridian-video/meridian/client"
	"github.com/meridian-video/meridian/internal/account"
	"github.com/meridian-video/meridian/internal/config"
	"github.com/meridian-video/meridian/internal/devcluster"
	"github.com/meridian-video/meridian/internal/meeting"
	"github.com/meridian-video/meridian/internal/server/servertest"
	"github.com/meridian-video/meridian/internal/store"
	"github.com/meridian-video/meridian/internal/topology"
)

// usHost is the owner of a business account homed in us-west (created through a us-west
// node's store), whose meetings are allowed us-west alone.
func usHost(t testing.TB, n *devcluster.Node, email string) account.Principal {
	t.Helper()
	a, u, err := n.Store.CreateAccountWithOwner(t.Context(), store.Account{Type: account.TypeBusiness, Name: "Acme", Plan: string(account.Business)},
		store.User{Email: email, DisplayName: "Host", PasswordHash: "unused"})
	if err != nil {
		t.Fatal(err)
	}
	if a.Region != "us-west" {
		t.Fatalf("account homed in %q", a.Region)
	}
	return account.Principal{Account: a, User: u}
}

// openMeeting schedules a meeting anyone may join by id alone, before its host too.
func openMeeting(t testing.TB, n *devcluster.Node, host account.Principal) meeting.Meeting {
	t.Helper()
	off := false
	m, err := n.Meetings.Schedule(t.Context(), host, meeting.ScheduleInput{Passcode: &off, WaitingRoom: &off, JoinBeforeHost: true})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// fromCN joins as a participant whose join came in through the cn-north node.
var fromCN = topology.Origin{Region: "cn-north"}

func connect(t *testing.T, ctx context.Context, tk meeting.Ticket) *client.Client {
	t.Helper()
	c := connectFor(t, ctx, tk)
	t.Cleanup(func() { c.Close() })
	return c
}

// connectFor is connect for a client that outlives the (sub)test connecting it: its
// caller closes it.
func connectFor(t *testing.T, ctx context.Context, tk meeting.Ticket) *client.Client {
	t.Helper()
	c, err := client.Join(ctx, client.Options{URL: tk.Node.SignalURL, Token: tk.Token, LoopbackOnly: true})
	if err != nil {
		t.Fatalf("connect to %s: %v", tk.Node.SignalURL, err)
	}
	return c
}

// waitLoad waits until every node of d hears node id announce load participants.
func waitLoad(t *testing.T, d *servertest.Deployment, id string, load int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok := true
		for _, n := range d.Nodes {
			if h, found := n.Registry.Node(id); n.Bus.Ready() && (!found || h.Load != load) {
				ok = false
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s never announced load %d", id, load)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func joinAPI(t *testing.T, base, meetingID string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(base+"/api/join", "application/json",
		strings.NewReader(`{"meeting_id":"`+meetingID+`","display_name":"Guest"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

// Placement never spills, end to end on real nodes of three regions: three nodes in
// us-west, each taking two participants, one in eu-central and one in cn-north. The steps
// share the deployment and run in order.
func TestPlacementNeverSpills(t *testing.T) {
	d := servertest.StartDeployment(t, servertest.Spec{
		Regions: []string{"us-west:US", "eu-central:EU", "cn-north:CN"}, RegionNodes: map[string]int{"us-west": 3},
		Configure: func(c *config.Config) {
			if c.Region == "us-west" {
				c.Capacity = 2
			}
		},
	})
	ctx, cancel := testContext(t)
	defer cancel()
	usw := d.Region("us-west")
	host := usHost(t, usw[0], "host@example.com")
	var meetingA meeting.Meeting
	var carrierA string
	var others []*client.Client // in the meetings filling the other us-west nodes
	// The steps' participants stay connected from step to step (a subtest's cleanup would
	// close them as it ends, emptying the nodes a later step counts on being full).
	var kept []*client.Client
	t.Cleanup(func() {
		for _, c := range kept {
			c.Close()
		}
	})
	keep := func(c *client.Client) *client.Client { kept = append(kept, c); return c }
	full := map[string]bool{}
	// fill starts a meeting and puts two participants in it, on a node that is not full.
	fill := func(t *testing.T) {
		m := openMeeting(t, usw[0], host)
		tk, err := usw[0].Meetings.Join(ctx, meeting.JoinInput{MeetingID: m.ID, Principal: &host, Origin: fromCN})
		if err != nil {
			t.Fatal(err)
		}
		if tk.Node.Region != "us-west" || full[tk.Node.ID] {
			t.Fatalf("placed on %+v, want a us-west node not full (full: %v)", tk.Node, full)
		}
		others = append(others, keep(connectFor(t, ctx, tk)))
		gt, err := usw[0].Meetings.Join(ctx, meeting.JoinInput{MeetingID: m.ID, DisplayName: "Guest", Origin: fromCN})
		if err != nil || gt.Node.ID != tk.Node.ID {
			t.Fatalf("guest: %+v %v, want the carrier %s", gt.Node, err, tk.Node.ID)
		}
		others = append(others, keep(connectFor(t, ctx, gt)))
		waitLoad(t, d, tk.Node.ID, 2)
		full[tk.Node.ID] = true
	}

	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"entering through cn-north, a us-west meeting is placed in us-west", func(t *testing.T) {
			meetingA = openMeeting(t, usw[0], host)
			tk, err := usw[0].Meetings.Join(ctx, meeting.JoinInput{MeetingID: meetingA.ID, Principal: &host, Origin: fromCN})
			if err != nil {
				t.Fatal(err)
			}
			if tk.Node.Region != "us-west" || d.Node(tk.Node.ID) == nil || tk.Node.SignalURL != "ws://"+d.Node(tk.Node.ID).Addr()+"/ws" {
				t.Fatalf("placed on %+v, want a us-west node", tk.Node)
			}
			carrierA = tk.Node.ID
			keep(connectFor(t, ctx, tk))
			// A guest asking the other us-west node's API goes to the carrier, and the Go
			// client connects there.
			other := usw[0]
			if other.NodeID() == carrierA {
				other = usw[1]
			}
			c, gt, err := client.JoinMeeting(ctx, other.URL(), client.TicketRequest{MeetingID: meetingA.ID, DisplayName: "Guest"},
				client.Options{LoopbackOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			keep(c)
			if gt.NodeID != carrierA || gt.Region != "us-west" || gt.URL() != tk.Node.SignalURL {
				t.Fatalf("guest's ticket names %s (%s), want the carrier %s", gt.NodeID, gt.URL(), carrierA)
			}
			waitLoad(t, d, carrierA, 2)
		}},
		{"with the carrier full, new meetings go to the other us-west nodes", func(t *testing.T) {
			full[carrierA] = true
			fill(t)
			fill(t)
		}},
		{"with us-west full, a join is refused and not placed in cn-north, which has room", func(t *testing.T) {
			c := openMeeting(t, usw[0], host)
			_, err := usw[0].Meetings.Join(ctx, meeting.JoinInput{MeetingID: c.ID, Principal: &host, Origin: fromCN})
			var e *meeting.Error
			if !errors.As(err, &e) || e.Code != meeting.CodeNoAllowedCapacity || len(e.Tried) != 1 ||
				e.Tried[0].Region != "us-west" || e.Tried[0].Reason != topology.ReasonAllFull {
				t.Fatalf("join with us-west full: %v (%+v)", err, e)
			}
			status, body := joinAPI(t, usw[1].URL(), c.ID)
			tried, _ := body["tried"].([]any)
			if status != http.StatusServiceUnavailable || body["code"] != "no_allowed_capacity" || len(tried) != 1 ||
				tried[0].(map[string]any)["region"] != "us-west" || strings.Contains(body["message"].(string), "cn-north") {
				t.Fatalf("POST /api/join with us-west full: %d %v", status, body)
			}
			for _, n := range d.Region("cn-north") {
				if h, _ := usw[0].Registry.Node(n.NodeID()); h.Load != 0 {
					t.Fatalf("cn-north node %s carries %d participants", n.NodeID(), h.Load)
				}
			}
		}},
		{"a killed carrier: rejoining through the API lands on another allowed node", func(t *testing.T) {
			for _, c := range others {
				c.Close()
			}
			for id := range full {
				if id != carrierA {
					waitLoad(t, d, id, 0)
				}
			}
			if err := d.Node(carrierA).Close(); err != nil {
				t.Fatal(err)
			}
			entry := usw[0]
			if entry.NodeID() == carrierA {
				entry = usw[1]
			}
			var status int
			var body map[string]any
			deadline := time.Now().Add(20 * time.Second)
			for {
				// Until the registry counts the dead node down (3 s), the answer still
				// names it; a client that cannot reach it asks again.
				status, body = joinAPI(t, entry.URL(), meetingA.ID)
				if id, _ := body["node_id"].(string); status == http.StatusOK && id != carrierA {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("rejoin after the carrier died: %d %v", status, body)
				}
				time.Sleep(200 * time.Millisecond)
			}
			newCarrier := body["node_id"].(string)
			if body["region"] != "us-west" || d.Node(newCarrier) == nil {
				t.Fatalf("failed over to %v", body)
			}
			c, err := client.Join(ctx, client.Options{URL: body["signal_url"].(string), Token: body["token"].(string), LoopbackOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			if m, err := entry.Directory.Meeting(ctx, meetingA.ID); err != nil || m.Node != newCarrier {
				t.Fatalf("directory after failover: %+v %v", m, err)
			}
			carrierA = newCarrier
		}},
		{"draining nodes keep their live meeting and get no new one", func(t *testing.T) {
			dctx, stop := context.WithCancel(ctx)
			defer stop()
			var live []*devcluster.Node
			for _, n := range usw {
				if n.Ready() {
					live = append(live, n)
					go n.Drain(dctx)
				}
			}
			deadline := time.Now().Add(20 * time.Second)
			for _, n := range live {
				for h, _ := live[0].Registry.Node(n.NodeID()); !h.Draining; h, _ = live[0].Registry.Node(n.NodeID()) {
					if time.Now().After(deadline) {
						t.Fatalf("%s never announced draining", n.NodeID())
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
			fresh := openMeeting(t, live[0], host)
			_, err := live[0].Meetings.Join(ctx, meeting.JoinInput{MeetingID: fresh.ID, Principal: &host})
			if e := (*meeting.Error)(nil); !errors.As(err, &e) || e.Code != meeting.CodeNoAllowedCapacity ||
				len(e.Tried) != 1 || e.Tried[0].Draining != len(live) {
				t.Fatalf("new meeting with us-west draining or down: %v %+v", err, e)
			}
			tk, err := live[0].Meetings.Join(ctx, meeting.JoinInput{MeetingID: meetingA.ID, DisplayName: "Late"})
			if err != nil || tk.Node.ID != carrierA {
				t.Fatalf("joining a draining node's live meeting: %+v %v, want %s", tk.Node, err, carrierA)
			}
		}},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			t.FailNow()
		}
	}
}

// A node whose control plane is down places nothing: joins are refused, not placed
// anywhere (fail closed).
func TestJoinRefusedWithoutControlPlane(t *testing.T) {
	srv := startServer(t)
	ctx := t.Context()
	a, u, err := srv.Store.CreateAccountWithOwner(ctx, store.Account{Type: account.TypeBusiness, Name: "Acme", Plan: string(account.Business)},
		store.User{Email: "ada@example.com", DisplayName: "Ada", PasswordHash: "unused"})
	if err != nil {
		t.Fatal(err)
	}
	host := account.Principal{Account: a, User: u}
	off := false
	m, err := srv.Meetings.Schedule(ctx, host, meeting.ScheduleInput{Passcode: &off, WaitingRoom: &off, JoinBeforeHost: true})
	if err != nil {
		t.Fatal(err)
	}
	srv.Bus.Close()
	resp, err := http.Post(srv.URL()+"/api/join", "application/json", strings.NewReader(`{"meeting_id":"`+m.ID+`","display_name":"Guest"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Code, Message string }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusServiceUnavailable || body.Code != "control_plane_unavailable" {
		t.Fatalf("join with the control plane down: %s %+v %v", resp.Status, body, err)
	}
	if _, err := srv.Meetings.Start(ctx, host, m.ID); !errors.Is(err, meeting.ErrControlPlaneUnavailable) {
		t.Fatalf("start with the control plane down: %v", err)
	}
}

// A meeting ended through a node that does not carry it (the host's API call went there)
// ends for those in its room on the carrier too.
func TestEndingOnAnotherNodeClosesTheRoom(t *testing.T) {
	d := servertest.StartDeployment(t, servertest.Spec{Regions: []string{"us-west:US"}, Nodes: 2})
	ctx, cancel := testContext(t)
	defer cancel()
	carrier, other := d.Nodes[0], d.Nodes[1] // an empty region's first join goes to the lower id
	host := usHost(t, other, "host@example.com")
	m := openMeeting(t, other, host)
	tk, err := other.Meetings.Join(ctx, meeting.JoinInput{MeetingID: m.ID, Principal: &host})
	if err != nil || tk.Node.ID != carrier.NodeID() {
		t.Fatalf("placed on %+v %v, want %s", tk.Node, err, carrier.NodeID())
	}
	c := connect(t, ctx, tk)
	if _, err := other.Meetings.End(ctx, host, m.ID); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("the carrier's room stayed open after the meeting ended on another node")
	}
}
