package server_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/meridian-video/meridian/internal/account"
	"github.com/meridian-video/meridian/internal/config"
	"github.com/meridian-video/meridian/internal/devcluster"
	"github.com/meridian-video/meridian/internal/meeting"
	"github.com/meridian-video/meridian/internal/server/servertest"
	"github.com/meridian-video/meridian/internal/store"
	"github.com/meridian-video/meridian/internal/token"
	"github.com/meridian-video/meridian/internal/topology"
)

// businessOf creates a business account of channel homed in n's region, with its owner:
// what the partner's provisioning (or the operator's) makes.
func businessOf(t *testing.T, n *devcluster.Node, email, channel string) account.Principal {
	t.Helper()
	a, u, err := n.Store.CreateAccountWithOwner(t.Context(), store.Account{Type: account.TypeBusiness, Name: "Acme",
		Plan: string(account.Business), Channel: channel}, store.User{Email: email, DisplayName: "Host", PasswordHash: "unused"})
	if err != nil {
		t.Fatal(err)
	}
	return account.Principal{Account: a, User: u}
}

// A region run by a partner carries its customers' meetings and no one else's, on real
// nodes: us-west (the operator's, one seat) and jp-east (run by lotus-bridge). With
// us-west full, a direct account's meeting is refused, naming us-west alone, although
// jp-east has room; the partner's customers' meetings are carried on jp-east; and the
// jp-east node refuses entry to a direct account's meeting even with a token whose
// regions name jp-east.
func TestPartnerRegionCarriesOnlyItsCustomers(t *testing.T) {
	d := servertest.StartDeployment(t, servertest.Spec{
		Regions: []string{"us-west:US", "jp-east:JP"}, Partners: map[string]string{"jp-east": "lotus-bridge"},
		Configure: func(c *config.Config) {
			if c.Region == "us-west" {
				c.Capacity = 1
			}
		},
	})
	ctx, cancel := testContext(t)
	defer cancel()
	us, jp := d.Node("us-west-1"), d.Node("jp-east-1")
	direct := businessOf(t, us, "direct@example.com", store.ChannelDirect)
	customer := businessOf(t, us, "li@lotus.example", "lotus-bridge")
	homedWithPartner := businessOf(t, jp, "wu@lotus.example", "lotus-bridge")

	// us-west's one seat is taken.
	first := openMeeting(t, us, direct)
	tk, err := us.Meetings.Join(ctx, meeting.JoinInput{MeetingID: first.ID, Principal: &direct})
	if err != nil || tk.Node.ID != "us-west-1" {
		t.Fatalf("the first direct meeting: %+v, %v", tk.Node, err)
	}
	connect(t, ctx, tk)
	waitLoad(t, d, "us-west-1", 1)

	// A direct account's next meeting: refused, us-west alone tried, never jp-east.
	refused := openMeeting(t, us, direct)
	_, err = us.Meetings.Join(ctx, meeting.JoinInput{MeetingID: refused.ID, Principal: &direct})
	var e *meeting.Error
	if !errors.As(err, &e) || e.Code != meeting.CodeNoAllowedCapacity || len(e.Tried) != 1 ||
		e.Tried[0].Region != "us-west" || e.Tried[0].Reason != topology.ReasonAllFull || strings.Contains(e.Message, "jp-east") {
		t.Fatalf("direct meeting with us-west full: %v (%+v)", err, e)
	}
	status, body := joinAPI(t, jp.URL(), refused.ID)
	if tried, _ := body["tried"].([]any); status != http.StatusServiceUnavailable || body["code"] != meeting.CodeNoAllowedCapacity ||
		len(tried) != 1 || strings.Contains(body["message"].(string), "jp-east") {
		t.Fatalf("the same through jp-east's API: %d %v", status, body)
	}
	// Nor can the direct account put jp-east in its regions.
	_, err = us.Accounts.SetRegions(ctx, direct, account.RegionsInput{Allowed: []string{"us-west", "jp-east"}})
	if code, _ := account.CodeOf(err); code != topology.CodePartnerRegion {
		t.Fatalf("a direct account choosing jp-east: %v", err)
	}

	// The partner's customer homed in us-west: its meetings may use the partner's region by
	// default, and go there while us-west is full.
	if set, err := us.Accounts.AllowedRegions(ctx, customer.Account); err != nil || set.String() != "jp-east,us-west" {
		t.Fatalf("the partner's customer's regions: %v, %v", set, err)
	}
	theirs := openMeeting(t, us, customer)
	ctk, err := us.Meetings.Join(ctx, meeting.JoinInput{MeetingID: theirs.ID, Principal: &customer})
	if err != nil || ctk.Node.ID != "jp-east-1" {
		t.Fatalf("the partner's customer's meeting: %+v, %v; want jp-east-1", ctk.Node, err)
	}
	waitMeetingFact(t, jp, theirs.ID)
	connect(t, ctx, ctk)
	gt, err := us.Meetings.Join(ctx, meeting.JoinInput{MeetingID: theirs.ID, DisplayName: "Guest"})
	if err != nil || gt.Node.ID != "jp-east-1" {
		t.Fatalf("a guest of it: %+v, %v", gt.Node, err)
	}
	connect(t, ctx, gt)

	// The partner's customer homed in the partner's region: carried there.
	home := openMeeting(t, jp, homedWithPartner)
	htk, err := jp.Meetings.Join(ctx, meeting.JoinInput{MeetingID: home.ID, Principal: &homedWithPartner})
	if err != nil || htk.Node.ID != "jp-east-1" {
		t.Fatalf("a meeting homed in the partner's region: %+v, %v", htk.Node, err)
	}
	connect(t, ctx, htk)

	// A token for the direct meeting whose regions name jp-east, correctly signed by its
	// home region (as a home region breaking the rules would make it): the partner's node
	// refuses it on every way in, with the direct channel or none.
	waitMeetingFact(t, jp, refused.ID)
	room := meeting.Room(refused.ID)
	for _, channel := range []string{store.ChannelDirect, ""} {
		tok, err := us.Tokens.Mint(room, direct.User.ID, "Host", token.Grants{Publish: true, Subscribe: true,
			Regions: []string{"jp-east", "us-west"}, Channel: channel}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		wantRefusedEverywhere(t, ctx, jp.Server, room, tok, http.StatusForbidden, "region_not_allowed")
	}
}

// waitMeetingFact waits until n reads meeting id's routing fact (where its home is).
func waitMeetingFact(t *testing.T, n *devcluster.Node, id string) {
	t.Helper()
	eventually(t, 10*time.Second, n.NodeID()+" to read meeting "+id, func() bool {
		_, err := n.Directory.Meeting(t.Context(), id)
		return err == nil
	})
}
