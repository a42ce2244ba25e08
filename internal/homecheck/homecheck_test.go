package homecheck

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/meridian-video/meridian/internal/admission"
	"github.com/meridian-video/meridian/internal/bus"
	"github.com/meridian-video/meridian/internal/bus/bustest"
)

// meetings stands in for the home region's meeting layer at the Checker seam: what each
// meeting answers, and who asked.
type meetings struct {
	mu     sync.Mutex
	answer map[string]error
	locked map[string]bool
	asked  []string
}

func (m *meetings) CheckEntry(_ context.Context, id, identity string, issuedAt time.Time) (admission.Lasting, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.asked = append(m.asked, id+"/"+identity+"/"+issuedAt.UTC().Format(time.RFC3339))
	if err, ok := m.answer[id]; ok {
		return admission.Lasting{}, err
	}
	return admission.Lasting{Locked: m.locked[id]}, nil
}

func start(t testing.TB) (eu, us *bus.Bus) {
	t.Helper()
	buses := bustest.StartAll(t, bustest.Supercluster(t, t.TempDir(), "eu-central", "us-west"))
	return buses[0], buses[1]
}

// waitAnswered asks until eu's service is reachable from us (gateway interest spreads in
// the background), so that what follows tests answers, not start-up.
func waitAnswered(t testing.TB, c *Client) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := c.CheckEntry(context.Background(), "eu-central", "warmup", "nobody", time.Now())
		if !errors.Is(err, admission.ErrControlPlane) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("eu-central never answered: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A node of one region asks the home region of a meeting, which answers from its meeting
// layer: go on (with the lock), or the refusal it decided.
func TestCheckAskedOfTheHomeRegion(t *testing.T) {
	eu, us := start(t)
	m := &meetings{
		answer: map[string]error{"ended": admission.ErrEnded, "removed": admission.ErrRemoved,
			"gone": admission.ErrNotAllowed, "broken": errors.New("database is down")},
		locked: map[string]bool{"locked": true},
	}
	svc, err := Serve(eu, m, bustest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	c := NewClient(us)
	waitAnswered(t, c)

	iat := time.Date(2026, 12, 4, 19, 0, 0, 0, time.UTC)
	ctx := context.Background()
	if l, err := c.CheckEntry(ctx, "eu-central", "open", "u_1", iat); err != nil || l.Locked {
		t.Fatalf("open meeting: %+v, %v", l, err)
	}
	if l, err := c.CheckEntry(ctx, "eu-central", "locked", "guest-abc", iat); err != nil || !l.Locked {
		t.Fatalf("locked meeting: %+v, %v", l, err)
	}
	for id, want := range map[string]string{"ended": admission.CodeEnded, "removed": admission.CodeRemoved,
		"gone": admission.CodeNotAllowed, "broken": admission.CodeInternal} {
		_, err := c.CheckEntry(ctx, "eu-central", id, "u_1", iat)
		var ae *admission.Error
		switch {
		case want == admission.CodeInternal && (err == nil || errors.As(err, &ae)):
			t.Errorf("%s: err = %v, want a failure to decide (internal)", id, err)
		case want != admission.CodeInternal && (!errors.As(err, &ae) || ae.Code != want):
			t.Errorf("%s: err = %v, want %s", id, err, want)
		}
	}
	m.mu.Lock()
	if !slices.Contains(m.asked, "open/u_1/2026-12-04T19:00:00Z") {
		t.Errorf("the home region was asked %v", m.asked)
	}
	m.mu.Unlock()

	// The home region gone: refused, not let in.
	if err := svc.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CheckEntry(ctx, "eu-central", "open", "u_1", iat); !errors.Is(err, admission.ErrControlPlane) {
		t.Fatalf("home region not answering: err = %v, want control_plane_unavailable", err)
	}
	// A region that has no service at all: the same.
	if _, err := c.CheckEntry(ctx, "cn-north", "open", "u_1", iat); !errors.Is(err, admission.ErrControlPlane) {
		t.Fatalf("unknown region: err = %v", err)
	}
}

// What crosses the gateway is ids only: an identity that is not one is never sent, and
// the request holds exactly the meeting id, the identity and the issue time.
func TestCheckCarriesOnlyIDs(t *testing.T) {
	eu, us := start(t)
	m := &meetings{}
	if _, err := Serve(eu, m, bustest.Logger(t)); err != nil {
		t.Fatal(err)
	}
	c := NewClient(us)
	waitAnswered(t, c)
	seen := make(chan []byte, 16)
	sub, err := eu.Conn().Subscribe("meridian.entry.eu-central", func(msg *nats.Msg) { seen <- msg.Data })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Unsubscribe() })
	if err := eu.Conn().Flush(); err != nil {
		t.Fatal(err)
	}
	// Wait for the watcher's interest to cross the gateway too.
	for len(seen) == 0 {
		if _, err := c.CheckEntry(context.Background(), "eu-central", "m1", "u_1", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	var fields map[string]any
	if err := json.Unmarshal(<-seen, &fields); err != nil {
		t.Fatal(err)
	}
	if keys := slices.Sorted(maps.Keys(fields)); !slices.Equal(keys, []string{"iat", "identity", "meeting", "v"}) {
		t.Fatalf("request fields %v", keys)
	}
	for len(seen) > 0 {
		<-seen
	}
	m.mu.Lock()
	before := len(m.asked)
	m.mu.Unlock()
	for _, id := range []string{"alice@example.com", "Alice Smith", ""} {
		if _, err := c.CheckEntry(context.Background(), "eu-central", "m1", id, time.Now()); !errors.Is(err, ErrBadIdentity) {
			t.Errorf("identity %q: err = %v, want it refused before sending", id, err)
		}
	}
	if _, err := c.CheckEntry(context.Background(), "eu-central", "m.1>", "u_1", time.Now()); !errors.Is(err, admission.ErrNotAllowed) {
		t.Errorf("meeting id with subject characters: err = %v", err)
	}
	m.mu.Lock()
	after := len(m.asked)
	m.mu.Unlock()
	if after != before || len(seen) != 0 {
		t.Fatalf("refused checks reached the home region (%d asked, %d seen)", after-before, len(seen))
	}
}

// BenchmarkRemoteCheck is one entry check from a US node answered by the EU region, across
// the gateway, on loopback.
func BenchmarkRemoteCheck(b *testing.B) {
	eu, us := start(b)
	if _, err := Serve(eu, &meetings{}, bustest.Logger(b)); err != nil {
		b.Fatal(err)
	}
	c := NewClient(us)
	waitAnswered(b, c)
	ctx := context.Background()
	now := time.Now()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.CheckEntry(ctx, "eu-central", "m1", "u_1", now); err != nil {
			b.Fatal(err)
		}
	}
}
