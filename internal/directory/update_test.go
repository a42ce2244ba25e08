package directory_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/meridian-video/meridian/internal/bus"
	"github.com/meridian-video/meridian/internal/bus/bustest"
	"github.com/meridian-video/meridian/internal/directory"
	"github.com/meridian-video/meridian/internal/topology"
)

// openOneRegion is the directory of a one-node us-west deployment.
func openOneRegion(t *testing.T) *directory.Directory {
	t.Helper()
	b, err := bus.Start(context.Background(), bus.Config{NodeID: "us-west-1", Region: "us-west",
		StoreDir: filepath.Join(t.TempDir(), "nats"), Secret: bustest.Secret}, bustest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	d, err := directory.Open(context.Background(), b,
		directory.Config{Deployment: topology.Deployment{Regions: deployment().Regions[:1]}}, bustest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := d.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	return d
}

// Two writers that read the same revision of a meeting's entry: one write wins, the other
// gets ErrConflict and, reading again, sees the winner.
func TestUpdateMeetingIsCompareAndSet(t *testing.T) {
	d := openOneRegion(t)
	ctx := t.Context()
	set, err := topology.NewAllowedSet("us-west")
	if err != nil {
		t.Fatal(err)
	}
	if _, rev, err := d.MeetingForUpdate(ctx, "12345678901"); !errors.Is(err, directory.ErrNotFound) || rev != 0 {
		t.Fatalf("absent meeting: rev %d, %v", rev, err)
	}
	// Both create from "absent" at once: one wins.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, node := range []string{"us-west-1", "us-west-2"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = d.UpdateMeeting(ctx, directory.Meeting{ID: "12345678901", HomeRegion: "us-west", Allowed: set, Node: node}, 0)
		}()
	}
	wg.Wait()
	if (errs[0] == nil) == (errs[1] == nil) {
		t.Fatalf("two creates from absent: %v, %v; want exactly one to win", errs[0], errs[1])
	}
	loser := 0
	if errs[1] != nil {
		loser = 1
	}
	if !errors.Is(errs[loser], directory.ErrConflict) {
		t.Fatalf("loser's error %v, want ErrConflict", errs[loser])
	}
	m, rev, err := d.MeetingForUpdate(ctx, "12345678901")
	if err != nil || rev == 0 || m.Node != []string{"us-west-1", "us-west-2"}[1-loser] {
		t.Fatalf("after the race: %+v rev %d %v", m, rev, err)
	}
	// A write from the revision read succeeds; one from a stale revision does not.
	m.Node = "us-west-3"
	if err := d.UpdateMeeting(ctx, m, rev); err != nil {
		t.Fatal(err)
	}
	m.Node = "us-west-4"
	if err := d.UpdateMeeting(ctx, m, rev); !errors.Is(err, directory.ErrConflict) {
		t.Fatalf("update from a stale revision: %v, want ErrConflict", err)
	}
	if got, err := d.Meeting(ctx, "12345678901"); err != nil || got.Node != "us-west-3" {
		t.Fatalf("meeting %+v %v", got, err)
	}
	// Another region's meeting is not this node's to write.
	if err := d.UpdateMeeting(ctx, directory.Meeting{ID: "12345678902", HomeRegion: "cn-north", Allowed: set}, 0); !errors.Is(err, directory.ErrInvalid) {
		t.Fatalf("write for another home: %v", err)
	}
}
