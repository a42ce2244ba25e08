package sfu

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"
)

// joinAs joins room as identity with opts and a sink that records what the session is told.
func joinAs(t *testing.T, r *Room, identity string, opts JoinOptions) (*Participant, *peer, error) {
	t.Helper()
	pr := newPeer(t, identity)
	p, _, err := r.Join(ParticipantInfo{ID: newID(), Identity: identity, Name: identity}, opts, pr)
	return p, pr, err
}

func mustJoin(t *testing.T, r *Room, identity string, opts JoinOptions) (*Participant, *peer) {
	t.Helper()
	p, pr, err := joinAs(t, r, identity, opts)
	if err != nil {
		t.Fatalf("%s join: %v", identity, err)
	}
	return p, pr
}

// closedWith waits for the Closed event a session is told.
func closedWith(t *testing.T, pr *peer) string {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev := <-pr.events:
			if c, ok := ev.(Closed); ok {
				return c.Reason
			}
		case <-timeout:
			t.Fatalf("%s: not closed", pr.name)
			return ""
		}
	}
}

// One identity holds one seat however many sessions it opens; the limit counts every
// session, the waiting room's too; the host is never refused.
func TestSeatsCountIdentitiesNotConnections(t *testing.T) {
	r := testSFU(t).Room("seats")
	guest := JoinOptions{CanSubscribe: true, Seats: 3}
	mustJoin(t, r, "host", JoinOptions{CanPublish: true, Role: RoleHost, Seats: 3})
	first, firstPeer := mustJoin(t, r, "alice", guest)
	var last *Participant
	for range 20 {
		last, _ = mustJoin(t, r, "alice", guest)
	}
	if reason := closedWith(t, firstPeer); reason != "replaced by a new session" {
		t.Fatalf("the replaced session was closed with %q", reason)
	}
	if n := r.Occupancy(); n != 2 {
		t.Fatalf("occupancy %d after 21 sessions of one identity, want 2", n)
	}
	if info, ok := r.Lookup(last.Info().ID); !ok || info.Identity != "alice" {
		t.Fatal("the newest session of alice is not the one in the room")
	}
	if _, ok := r.Lookup(first.Info().ID); ok {
		t.Fatal("the first session of alice is still in the room")
	}
	// A waiting guest takes the last seat; the next is refused, waiting or not.
	mustJoin(t, r, "bob", JoinOptions{CanSubscribe: true, Waiting: true, Seats: 3})
	if _, _, err := joinAs(t, r, "carol", guest); !errors.Is(err, ErrFull) {
		t.Fatalf("a join past the seats: %v, want ErrFull", err)
	}
	if _, _, err := joinAs(t, r, "dave", JoinOptions{CanSubscribe: true, Waiting: true, Seats: 3}); !errors.Is(err, ErrFull) {
		t.Fatalf("a waiting join past the seats: %v, want ErrFull", err)
	}
	// Alice reconnecting takes her own seat back; the host enters past the limit.
	mustJoin(t, r, "alice", guest)
	mustJoin(t, r, "host", JoinOptions{CanPublish: true, Role: RoleHost, Seats: 3})
	if n := r.Occupancy(); n != 3 {
		t.Fatalf("occupancy %d, want 3", n)
	}
	mustJoin(t, r, "second-host", JoinOptions{Role: RoleHost, Seats: 3})
	if n := r.Occupancy(); n != 4 {
		t.Fatalf("occupancy %d, want 4", n)
	}
}

// A session that cannot wait (WHIP, WHEP) is refused where it would be held, without
// taking the place of the identity's waiting session; once admitted it enters.
func TestCannotWaitIsRefusedUntilAdmitted(t *testing.T) {
	r := testSFU(t).Room("lobby")
	host, _ := mustJoin(t, r, "host", JoinOptions{Role: RoleHost})
	waiting, waitingPeer := mustJoin(t, r, "guest", JoinOptions{CanSubscribe: true, Waiting: true})
	whep := JoinOptions{CanSubscribe: true, ClientOffers: true, NoTrickle: true, Waiting: true, CannotWait: true}
	if _, _, err := joinAs(t, r, "guest", whep); !errors.Is(err, ErrHeld) {
		t.Fatalf("a held join that cannot wait: %v, want ErrHeld", err)
	}
	if _, ok := r.Lookup(waiting.Info().ID); !ok || !waiting.Held() {
		t.Fatal("the refused join disturbed the guest's waiting session")
	}
	if err := host.Admit(waiting.Info().ID); err != nil {
		t.Fatal(err)
	}
	p, _ := mustJoin(t, r, "guest", whep)
	if p.Held() {
		t.Fatal("an admitted identity was held")
	}
	if reason := closedWith(t, waitingPeer); reason != "replaced by a new session" {
		t.Fatalf("the earlier session was closed with %q", reason)
	}
}

// A guest turned away from the waiting room stays away while the room lasts, on every
// way in.
func TestDeniedIdentityStaysOut(t *testing.T) {
	r := testSFU(t).Room("deny")
	host, _ := mustJoin(t, r, "host", JoinOptions{Role: RoleHost})
	w, wp := mustJoin(t, r, "guest", JoinOptions{CanSubscribe: true, Waiting: true})
	if err := host.Deny(w.Info().ID); err != nil {
		t.Fatal(err)
	}
	if reason := closedWith(t, wp); reason != "denied" {
		t.Fatalf("closed with %q", reason)
	}
	for _, opts := range []JoinOptions{
		{CanSubscribe: true, Waiting: true},
		{CanSubscribe: true, Waiting: true, CannotWait: true},
		{CanPublish: true},
	} {
		if _, _, err := joinAs(t, r, "guest", opts); !errors.Is(err, ErrDenied) {
			t.Fatalf("denied guest joins with %+v: %v, want ErrDenied", opts, err)
		}
	}
}

// A lock kept outside the room (a meeting's) refuses as the room's own does, lets
// moderators in, and a refused join leaves no room behind.
func TestLockedOptionRefusesAndLeavesNoRoom(t *testing.T) {
	s := testSFU(t)
	if _, _, err := joinAs(t, s.Room("kept"), "guest", JoinOptions{CanSubscribe: true, Locked: true}); !errors.Is(err, ErrLocked) {
		t.Fatalf("join of a locked room: %v, want ErrLocked", err)
	}
	if _, ok := s.LookupRoom("kept"); ok {
		t.Fatal("a refused join left its room open")
	}
	r := s.Room("kept")
	mustJoin(t, r, "host", JoinOptions{Role: RoleHost, Locked: true})
	if _, _, err := joinAs(t, r, "guest", JoinOptions{CanSubscribe: true}); !errors.Is(err, ErrLocked) {
		t.Fatalf("a room made for a locked meeting does not start locked: %v", err)
	}
}

// roster is a sink that keeps who its participant has been told is in the room and in
// the waiting room, as a client's participant list and lobby do.
type roster struct {
	mu      sync.Mutex
	in      map[string]string // participant id -> identity
	waiting []ParticipantInfo
}

func (r *roster) Send(ev Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch e := ev.(type) {
	case ParticipantJoined:
		r.in[e.Participant.ID] = e.Participant.Identity
	case ParticipantLeft:
		delete(r.in, e.ParticipantID)
	case LobbyChanged:
		r.waiting = e.Waiting
	}
}

type discard struct{}

func (discard) Send(Event) {}

// However many sessions of one identity join at once, each replacing the one before, the
// others are told of one participant per identity in the room: a replaced session's
// arrival never reaches them after its departure (which left it in their list for good).
// The same holds for the waiting room the moderators are shown.
func TestOthersSeeOneSessionPerIdentity(t *testing.T) {
	r := testSFU(t).Room("crowd")
	seen := &roster{in: map[string]string{}}
	if _, _, err := r.Join(ParticipantInfo{ID: newID(), Identity: "host", Name: "host"}, JoinOptions{Role: RoleHost}, seen); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			identity := fmt.Sprintf("guest-%d", i%4)
			opts := JoinOptions{CanSubscribe: true, Seats: 100}
			if i%2 == 1 {
				identity, opts.Waiting = fmt.Sprintf("waiting-%d", i%6), true
			}
			_, _, err := r.Join(ParticipantInfo{ID: newID(), Identity: identity, Name: identity}, opts, discard{})
			if err != nil {
				t.Errorf("%s: %v", identity, err)
			}
		}()
	}
	wg.Wait()

	want := map[string]string{}
	for _, p := range r.Participants() {
		if p.Identity != "host" {
			want[p.ID] = p.Identity
		}
	}
	seen.mu.Lock()
	defer seen.mu.Unlock()
	if !maps.Equal(seen.in, want) {
		t.Errorf("the host was told the room holds %d sessions %v; it holds %d: %v", len(seen.in), seen.in, len(want), want)
	}
	var lobby []string
	for _, w := range seen.waiting {
		lobby = append(lobby, w.ID)
	}
	r.mu.Lock()
	var waiting []string
	for _, w := range r.waiting {
		waiting = append(waiting, w.info.ID)
	}
	r.mu.Unlock()
	if !slices.Equal(lobby, waiting) {
		t.Errorf("the host was shown the waiting room %v; it holds %v", lobby, waiting)
	}
}
