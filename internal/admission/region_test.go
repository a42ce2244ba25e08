package admission

import (
	"fmt"
	"testing"

	"github.com/meridian-video/meridian/internal/token"
)

var pubSub = token.Grants{Publish: true, Subscribe: true}

// A node refuses, on every path, a meeting's token whose allowed regions do not include
// its own region, and admits one whose regions do, or a token naming no regions.
func TestGateRefusesAMeetingOutsideItsRegion(t *testing.T) {
	f := newFixture(t)
	f.gate.Region = "cn-north"
	usOnly := pubSub
	usOnly.Regions = []string{"us-west"}
	for _, path := range []Path{PathSignal, PathWHIP, PathWHEP} {
		room := ""
		if path != PathSignal {
			room = "meeting-1"
		}
		_, err := f.enter(path, f.mint(t, "meeting-1", "ada-"+string(path), usOnly), room)
		wantCode(t, string(path)+" with regions [us-west] on a cn-north node", err, CodeRegionNotAllowed)
	}
	if f.rooms.calls != 0 {
		t.Fatalf("the meeting layer was asked %d times for a token refused by region", f.rooms.calls)
	}
	both := pubSub
	both.Regions = []string{"cn-north", "us-west"}
	if e, err := f.enter(PathSignal, f.mint(t, "meeting-1", "bob", both), ""); err != nil {
		t.Fatalf("regions [cn-north us-west] on a cn-north node: %v", err)
	} else {
		e.Participant.Close("")
	}
	if e, err := f.enter(PathSignal, f.mint(t, "room-x", "cy", pubSub), ""); err != nil {
		t.Fatalf("a token naming no regions: %v", err)
	} else {
		e.Participant.Close("")
	}
}

// A node of a region run by a partner admits a meeting's token only when its channel,
// signed by the meeting's home region, is that partner, on every path; a token naming no
// channel is refused (fail closed). Its own region's hand-minted rooms enter as before.
func TestPartnerNodeAdmitsOnlyThePartnersCustomers(t *testing.T) {
	f := newFixture(t)
	key, err := token.GenerateKey("cn-lotus")
	if err != nil {
		t.Fatal(err)
	}
	f.iss = token.NewIssuer(key, nil)
	f.gate.Tokens, f.gate.Region, f.gate.Partner = f.iss, "cn-lotus", "lotus-bridge"
	meetingOf := func(channel string) token.Grants {
		g := pubSub
		g.Regions, g.Channel = []string{"cn-lotus", "us-west"}, channel
		return g
	}
	for _, channel := range []string{"direct", "", "jade-harbor", "lotus-bridge-2"} {
		for _, path := range []Path{PathSignal, PathWHIP, PathWHEP} {
			room := ""
			if path != PathSignal {
				room = "meeting-1"
			}
			_, err := f.enter(path, f.mint(t, "meeting-1", "ada-"+channel+string(path), meetingOf(channel)), room)
			wantCode(t, fmt.Sprintf("%s, channel %q, on lotus-bridge's node", path, channel), err, CodeRegionNotAllowed)
		}
	}
	if f.rooms.calls != 0 {
		t.Fatalf("the meeting layer was asked %d times for tokens refused by channel", f.rooms.calls)
	}
	for i, path := range []Path{PathSignal, PathWHIP, PathWHEP} {
		room := ""
		if path != PathSignal {
			room = "meeting-1"
		}
		e, err := f.enter(path, f.mint(t, "meeting-1", fmt.Sprint("bob-", i), meetingOf("lotus-bridge")), room)
		if err != nil {
			t.Fatalf("%s: the partner's customer's meeting: %v", path, err)
		}
		e.Participant.Close("")
	}
	// A room of this region's own hand-minted token (no regions, signed here).
	if e, err := f.enter(PathSignal, f.mint(t, "room-x", "cy", pubSub), ""); err != nil {
		t.Fatalf("a hand-minted room of the partner's own region: %v", err)
	} else {
		e.Participant.Close("")
	}
	// The same on the operator's node: no channel needed.
	f.gate.Partner = ""
	if e, err := f.enter(PathSignal, f.mint(t, "meeting-1", "dan", meetingOf("direct")), ""); err != nil {
		t.Fatalf("a direct meeting on the operator's node: %v", err)
	} else {
		e.Participant.Close("")
	}
}
