package admission

import (
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
