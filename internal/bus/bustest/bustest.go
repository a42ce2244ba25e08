// Package bustest starts real embedded NATS superclusters on loopback for tests of the
// packages built on the bus.
package bustest

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/meridian-video/meridian/internal/bus"
	"github.com/meridian-video/meridian/internal/freeport"
)

// Secret is the bus secret of every node Supercluster configures.
const Secret = "bustest secret"

// Supercluster builds one-node-per-region configs joined by gateways in a full mesh, each
// on its own loopback ports with its store under dir. It shortens the gateways' solicit
// delay, a process-wide setting meant for tests.
func Supercluster(t testing.TB, dir string, regions ...string) []bus.Config {
	return SuperclusterN(t, dir, 1, regions...)
}

// SuperclusterN is Supercluster with n nodes per region, joined by routes; node i of
// region r is "<r>-<i+1>", configs ordered by region then node.
func SuperclusterN(t testing.TB, dir string, n int, regions ...string) []bus.Config {
	t.Helper()
	server.SetGatewaysSolicitDelay(10 * time.Millisecond)
	gw := make(map[string][]string, len(regions))
	var ports freeport.Ports
	port := func() int {
		p, err := ports.Take()
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	var cfgs []bus.Config
	for _, r := range regions {
		var routes []string
		first := len(cfgs)
		for i := range n {
			c := bus.Config{
				NodeID:         fmt.Sprintf("%s-%d", r, i+1),
				Region:         r,
				StoreDir:       filepath.Join(dir, fmt.Sprintf("%s-%d", r, i+1)),
				Cluster:        bus.ClusterConfig{Listen: fmt.Sprintf("127.0.0.1:%d", port())},
				Gateways:       bus.GatewayConfig{Listen: fmt.Sprintf("127.0.0.1:%d", port()), Peers: gw},
				RequestTimeout: time.Second,
				Secret:         Secret,
			}
			routes = append(routes, "nats://"+c.Cluster.Listen)
			gw[r] = append(gw[r], "nats://"+c.Gateways.Listen)
			cfgs = append(cfgs, c)
		}
		for i := first; i < len(cfgs); i++ {
			cfgs[i].Cluster.Routes = routes
		}
	}
	return cfgs
}

// StartAll starts every config and waits until each bus is ready (JetStream's first meta
// leader takes seconds). The buses close when the test ends.
func StartAll(t testing.TB, cfgs []bus.Config) []*bus.Bus {
	t.Helper()
	buses := make([]*bus.Bus, len(cfgs))
	for i, c := range cfgs {
		b, err := bus.Start(context.Background(), c, Logger(t))
		if err != nil {
			t.Fatalf("start %s: %v", c.NodeID, err)
		}
		t.Cleanup(b.Close)
		buses[i] = b
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, b := range buses {
		if err := b.WaitReady(ctx); err != nil {
			t.Fatalf("%s: %v", b.NodeID(), err)
		}
	}
	return buses
}

// Logger logs warnings and errors to stderr, enough to see why a cluster did not form.
func Logger(t testing.TB) *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("MERIDIAN_TEST_BUS_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("test", t.Name())
}
