package admission

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/meridian-video/meridian/internal/sfu"
	"github.com/meridian-video/meridian/internal/token"
)

// fakeRooms stands in for the meeting layer at the Rooms seam: it answers each
// CheckEntry with the next of its answers (the last one repeating).
type fakeRooms struct {
	mu      sync.Mutex
	answers []error
	lasting Lasting
	calls   int
}

func (f *fakeRooms) CheckEntry(_ context.Context, _, _ string, _ time.Time) (Lasting, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	var err error
	if len(f.answers) > 0 {
		err = f.answers[min(f.calls, len(f.answers))-1]
	}
	return f.lasting, err
}

type nopSink struct{}

func (nopSink) Send(sfu.Event) {}

type fixture struct {
	gate  *Gate
	key   token.RegionKey
	iss   *token.Issuer
	rooms *fakeRooms
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	s := sfu.New(sfu.Config{LoopbackOnly: true}, slog.New(slog.DiscardHandler), nil)
	t.Cleanup(s.Close)
	key, err := token.GenerateKey("local")
	if err != nil {
		t.Fatal(err)
	}
	iss := token.NewIssuer(key, nil)
	rooms := &fakeRooms{}
	return &fixture{gate: &Gate{SFU: s, Tokens: iss, Rooms: rooms, Log: slog.New(slog.DiscardHandler)}, key: key, iss: iss, rooms: rooms}
}

func (f *fixture) mint(t *testing.T, room, identity string, g token.Grants) string {
	t.Helper()
	tok, err := f.iss.Mint(room, identity, identity, g, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (f *fixture) enter(path Path, tok, room string) (*Entry, error) {
	return f.gate.Enter(context.Background(), Request{Path: path, Token: tok, Room: room, ID: "id-" + tok[len(tok)-8:], Sink: nopSink{}})
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Code != code || e.Message == "" {
		t.Fatalf("%s: err = %v, want code %s", what, err, code)
	}
}

func TestGateRefusesBadTokensAndGrants(t *testing.T) {
	f := newFixture(t)
	expired, _ := token.NewIssuer(f.key, func() time.Time { return time.Now().Add(-2 * time.Hour) }).
		Mint("r", "a", "", token.Grants{Subscribe: true}, time.Hour)
	viewer := f.mint(t, "r", "a", token.Grants{Subscribe: true})
	for _, c := range []struct {
		what, tok, room, code string
		path                  Path
	}{
		{"no token", "", "r", CodeTokenMissing, PathWHEP},
		{"garbage", "garbage", "r", CodeTokenInvalid, PathWHEP},
		{"expired", expired, "", CodeTokenExpired, PathSignal},
		{"another room", viewer, "other", CodeWrongRoom, PathWHEP},
		{"publish without the grant", viewer, "r", CodeNotAllowed, PathWHIP},
		{"no grants", f.mint(t, "r", "a", token.Grants{}), "", CodeNotAllowed, PathSignal},
		{"unknown path", viewer, "r", CodeNotAllowed, Path("carrier-pigeon")},
	} {
		_, err := f.gate.Enter(context.Background(), Request{Path: c.path, Token: c.tok, Room: c.room, ID: "x", Sink: nopSink{}})
		wantCode(t, c.what, err, c.code)
	}
	if f.rooms.calls != 0 {
		t.Fatal("the meeting layer was asked about a request refused on its token")
	}
	if _, ok := f.gate.SFU.LookupRoom("r"); ok {
		t.Fatal("a refused request made the room")
	}
}

// homes places rooms in regions, or fails as the control plane down does.
type homes struct {
	of  map[string]string
	err error
}

func (h homes) HomeOf(_ context.Context, room string) (string, error) {
	if h.err != nil {
		return "", h.err
	}
	if r, ok := h.of[room]; ok {
		return r, nil
	}
	return "", token.ErrUnknownRoom
}

// A token signed by a region that is not the meeting's home, for a meeting no region
// homes, or whose home cannot be established, is refused with its own code on every
// path, and the meeting layer is not asked.
func TestGateRefusesTokensOfTheWrongRegion(t *testing.T) {
	f := newFixture(t) // the node's region is "local"
	other, err := token.GenerateKey("elsewhere")
	if err != nil {
		t.Fatal(err)
	}
	keys := token.Keys{f.key.Region: f.key.Public(), other.Region: other.Public()}
	placed := homes{of: map[string]string{"m-here": "local", "m-there": "elsewhere"}}
	g := token.Grants{Publish: true, Subscribe: true}
	ours, _ := f.iss.Mint("m-there", "a", "", g, time.Hour)
	gone, _ := f.iss.Mint("m-gone", "a", "", g, time.Hour)
	for _, c := range []struct {
		what  string
		homes homes
		tok   string
		room  string
		code  string
	}{
		{"this region's token for another's meeting", placed, ours, "m-there", CodeWrongRegionKey},
		{"a meeting no region homes", placed, gone, "m-gone", CodeNotAllowed},
		{"control plane down", homes{err: token.ErrHomeUnavailable}, ours, "m-there", CodeControlPlaneUnavailable},
	} {
		f.gate.Tokens = f.iss.Trusting(keys, c.homes)
		for _, path := range []Path{PathSignal, PathWHIP, PathWHEP, PathRelay} {
			room := c.room
			if path == PathSignal {
				room = ""
			}
			_, err := f.enter(path, c.tok, room)
			wantCode(t, c.what+" on "+string(path), err, c.code)
		}
	}
	if f.rooms.calls != 0 {
		t.Fatal("the meeting layer was asked about a token refused for its region")
	}
	f.gate.Tokens = f.iss.Trusting(keys, placed)
	here, _ := f.iss.Mint("m-here", "a", "", g, time.Hour)
	if _, err := f.enter(PathWHEP, here, "m-here"); err != nil {
		t.Fatalf("this region's token for its own meeting: %v", err)
	}
}

// What the meeting layer refuses is refused on every path, before any room is made; a
// failure to decide refuses too.
func TestGateAsksTheMeetingLayer(t *testing.T) {
	f := newFixture(t)
	tok := f.mint(t, "m-1", "guest", token.Grants{Publish: true, Subscribe: true})
	for _, c := range []struct {
		answer error
		code   string
	}{
		{ErrEnded, CodeEnded},
		{ErrRemoved, CodeRemoved},
		{ErrNotAllowed, CodeNotAllowed},
		{errors.New("database is down"), CodeInternal},
	} {
		f.rooms.answers, f.rooms.calls = []error{c.answer}, 0
		for _, path := range []Path{PathSignal, PathWHIP, PathWHEP, PathRelay} {
			room := "m-1"
			if path == PathSignal {
				room = ""
			}
			_, err := f.enter(path, tok, room)
			wantCode(t, string(path), err, c.code)
		}
	}
	if _, ok := f.gate.SFU.LookupRoom("m-1"); ok {
		t.Fatal("a refused request made the room")
	}
}

// The meeting's lock reaches the room: guests are refused, the host enters.
func TestGatePassesTheLastingLock(t *testing.T) {
	f := newFixture(t)
	f.rooms.lasting = Lasting{Locked: true}
	_, err := f.enter(PathWHEP, f.mint(t, "m-2", "guest", token.Grants{Subscribe: true}), "m-2")
	wantCode(t, "guest", err, CodeLocked)
	e, err := f.enter(PathSignal, f.mint(t, "m-2", "host", token.Grants{Publish: true, Host: true}), "")
	if err != nil {
		t.Fatalf("host: %v", err)
	}
	if e.Participant.Role() != sfu.RoleHost || !e.Snapshot.Locked {
		t.Fatalf("host entered as %q, room locked %v", e.Participant.Role(), e.Snapshot.Locked)
	}
}

// A waiting ticket waits on the WebSocket and is refused where no one can wait.
func TestGateWaitingTicket(t *testing.T) {
	f := newFixture(t)
	tok := f.mint(t, "m-3", "guest", token.Grants{Publish: true, Subscribe: true, Waiting: true})
	for _, path := range []Path{PathWHIP, PathWHEP, PathRelay} {
		_, err := f.enter(path, tok, "m-3")
		wantCode(t, string(path), err, CodeWaiting)
	}
	e, err := f.enter(PathSignal, tok, "")
	if err != nil || !e.Snapshot.Held {
		t.Fatalf("signal: %v, held %v", err, e != nil && e.Snapshot.Held)
	}
}

// A meeting that ends between the check and the join does not leave its ticket holder
// alone in a fresh room: the first one in is checked again.
func TestGateChecksAgainWhenAlone(t *testing.T) {
	f := newFixture(t)
	f.rooms.answers = []error{nil, ErrEnded}
	_, err := f.enter(PathWHIP, f.mint(t, "m-4", "guest", token.Grants{Publish: true}), "m-4")
	wantCode(t, "whip", err, CodeEnded)
	if _, ok := f.gate.SFU.LookupRoom("m-4"); ok {
		t.Fatal("the refused participant's room is still open")
	}
}
