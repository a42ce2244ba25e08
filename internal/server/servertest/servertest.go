// Package servertest starts real Meridian deployments of several nodes in one test
// process: regions (NATS clusters) joined by gateways, each node with its own HTTP port on
// loopback, the nodes of a region sharing its data directory (see internal/devcluster).
package servertest

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/meridian-video/meridian/internal/config"
	"github.com/meridian-video/meridian/internal/devcluster"
	"github.com/meridian-video/meridian/internal/directory"
	"github.com/meridian-video/meridian/internal/topology"
)

// Spec describes a deployment to start.
type Spec struct {
	// Regions are "id:JURISDICTION" items as `meridian dev --regions` takes them
	// ("us-west:US"), well-known ids getting their location (devcluster.KnownRegion).
	Regions []string
	// Partners names the OEM partner that runs a region (region id to partner id); the
	// regions it does not name are the operator's.
	Partners map[string]string
	// Nodes per region; 1 if zero. RegionNodes overrides it for the regions it names. A
	// region of three or more keeps its directory on three of them (bus replicas 3), so
	// that it survives the loss of one.
	Nodes       int
	RegionNodes map[string]int
	// Capacity of every node; config.DefaultCapacity if zero.
	Capacity int
	// Configure, if set, adjusts each node's config before it starts.
	Configure func(*config.Config)
}

// Deployment is a running deployment; it closes when the test ends.
type Deployment struct {
	*devcluster.Cluster
}

// StartDeployment starts the deployment under t.TempDir() and waits until every node's
// control plane answers and every node hears every other. JetStream's first election in a
// supercluster takes 5-12 s, so a test starting one is a heavy test (run it under the
// flock). It shortens the gateways' solicit delay, a process-wide setting for tests.
func StartDeployment(t testing.TB, spec Spec) *Deployment {
	t.Helper()
	var regions []topology.Region
	for _, item := range spec.Regions {
		rs, err := devcluster.ParseRegions(item, func(id string) { t.Logf("region %s: no known location, 0, 0", id) })
		if err != nil {
			t.Fatal(err)
		}
		regions = append(regions, rs...)
	}
	for i := range regions {
		regions[i].Partner = spec.Partners[regions[i].ID]
	}
	natsserver.SetGatewaysSolicitDelay(10 * time.Millisecond)
	c, err := devcluster.Start(devcluster.Spec{
		Regions:     regions,
		Nodes:       spec.Nodes,
		RegionNodes: spec.RegionNodes,
		Dir:         t.TempDir(),
		Capacity:    spec.Capacity,
		Configure:   spec.Configure,
		Log:         Logger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if len(c.Deployment.Regions) > 1 {
		waitReplication(t, c)
	}
	return &Deployment{Cluster: c}
}

// waitReplication returns once every node reads a fact written in each region. In a new
// supercluster a region's view may pick up another region's bucket only after JetStream's
// retries (tens of seconds); tests start once facts flow, rather than each waiting on its
// own.
func waitReplication(t testing.TB, c *devcluster.Cluster) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	written := map[string]bool{}
	for _, n := range c.Nodes {
		r := n.Config.Region
		if written[r] {
			continue
		}
		if err := n.Directory.PutAccount(ctx, directory.Account{ID: "replication-probe-" + r, HomeRegion: r}); err != nil {
			t.Fatalf("replication probe of %s: %v", r, err)
		}
		written[r] = true
	}
	for _, n := range c.Nodes {
		for r := range written {
			for {
				a, err := n.Directory.Account(ctx, "replication-probe-"+r)
				if err == nil && a.HomeRegion == r {
					break
				}
				if ctx.Err() != nil {
					t.Fatalf("%s never read %s's facts: %v", n.Config.NodeID, r, err)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
	}
}

// Logger logs warnings and errors to stderr (everything with MERIDIAN_TEST_DEBUG set).
func Logger(t testing.TB) *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("MERIDIAN_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("test", t.Name())
}
