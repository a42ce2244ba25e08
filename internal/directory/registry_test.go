package directory_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meridian-video/meridian/internal/bus"
	"github.com/meridian-video/meridian/internal/bus/bustest"
	"github.com/meridian-video/meridian/internal/directory"
	"github.com/meridian-video/meridian/internal/topology"
)

// A node that starts draining sees it in its own entry at once, before its heartbeat has
// come back over the bus: otherwise it could place the next meeting on itself.
func TestOwnDrainIsSeenAtOnce(t *testing.T) {
	b, err := bus.Start(context.Background(), bus.Config{NodeID: "solo-1", Region: "solo", StoreDir: t.TempDir()}, bustest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	var draining atomic.Bool
	self := func() topology.NodeInfo {
		n := selfInfo(8000)()
		n.Draining = draining.Load()
		return n
	}
	r, err := directory.StartRegistry(b, directory.RegistryConfig{Deployment: oneRegion("solo"), Interval: time.Hour}, self, bustest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	eventually(t, "own heartbeat", func() error {
		if _, ok := r.Node("solo-1"); !ok {
			r.AnnounceNow()
			return errors.New("not heard yet")
		}
		return nil
	})
	for i := range 50 {
		draining.Store(i%2 == 0)
		r.AnnounceNow()
		if n, _ := r.Node("solo-1"); n.Draining != draining.Load() {
			t.Fatalf("step %d: own entry draining %v right after announcing %v", i, n.Draining, draining.Load())
		}
	}
	// The heartbeats still on the bus do not set it back.
	time.Sleep(200 * time.Millisecond)
	if n, _ := r.Node("solo-1"); n.Draining != draining.Load() {
		t.Fatalf("after the heartbeats arrived: draining %v, want %v", n.Draining, draining.Load())
	}
}
