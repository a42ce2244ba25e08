package directory_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/meridian-video/meridian/internal/bus"
	"github.com/meridian-video/meridian/internal/bus/bustest"
	"github.com/meridian-video/meridian/internal/directory"
	"github.com/meridian-video/meridian/internal/topology"
)

var regions = []string{"us-west", "eu-central", "cn-north"}

// deployment is the three test regions; the registry tests change a name to get a node of
// another region list.
func deployment() topology.Deployment {
	return topology.Deployment{Regions: []topology.Region{
		{ID: "us-west", Jurisdiction: "US", Name: "US West", Location: topology.LatLng{Lat: 45.6, Lng: -121.2}},
		{ID: "eu-central", Jurisdiction: "EU", Name: "EU Central", Location: topology.LatLng{Lat: 50.1, Lng: 8.7}},
		{ID: "cn-north", Jurisdiction: "CN", Name: "CN North", Location: topology.LatLng{Lat: 39.9, Lng: 116.4}, OptIn: true},
	}}
}

type cluster struct {
	buses []*bus.Bus
	dirs  []*directory.Directory
	regs  []*directory.Registry
}

// selfInfo is what a test node announces.
func selfInfo(port int) func() topology.NodeInfo {
	return func() topology.NodeInfo {
		return topology.NodeInfo{
			HTTPURL:   fmt.Sprintf("http://127.0.0.1:%d", port),
			SignalURL: fmt.Sprintf("ws://127.0.0.1:%d/ws", port),
			Capacity:  100,
		}
	}
}

func startCluster(t *testing.T) *cluster {
	t.Helper()
	c := &cluster{buses: bustest.StartAll(t, bustest.Supercluster(t, t.TempDir(), regions...))}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, b := range c.buses {
		d, err := directory.Open(ctx, b, directory.Config{Deployment: deployment()}, bustest.Logger(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(d.Close)
		c.dirs = append(c.dirs, d)
		r, err := directory.StartRegistry(b, directory.RegistryConfig{Deployment: deployment(), Expire: 5 * time.Second}, selfInfo(8000+len(c.regs)), bustest.Logger(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(r.Close)
		c.regs = append(c.regs, r)
	}
	for _, d := range c.dirs {
		if err := d.WaitReady(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// eventually retries f until it succeeds or 20 s pass: replication across gateways is
// asynchronous.
func eventually(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestSupercluster(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	secret := []byte("test directory secret")

	t.Run("every node sees every node", func(t *testing.T) {
		for i, r := range c.regs {
			eventually(t, "heartbeats", func() error {
				snap := r.Snapshot()
				if len(snap) != len(regions) {
					return fmt.Errorf("%s sees %d nodes: %v", c.buses[i].NodeID(), len(snap), snap)
				}
				for _, n := range snap {
					if n.Capacity != 100 || n.Fingerprint != deployment().Fingerprint() || r.Mismatched(n.ID) {
						t.Fatalf("%s sees %+v", c.buses[i].NodeID(), n)
					}
				}
				return nil
			})
		}
	})

	t.Run("placement on the registry", func(t *testing.T) {
		allowed, err := topology.NewAllowedSet("eu-central", "us-west")
		if err != nil {
			t.Fatal(err)
		}
		p, err := topology.Place(topology.PlacementInput{
			Deployment: deployment(), Fingerprint: deployment().Fingerprint(),
			Nodes: c.regs[2].Snapshot(), Now: time.Now(), Allowed: allowed,
			From: topology.Origin{Region: "eu-central"},
		})
		if err != nil || p.Node.ID != "eu-central-1" {
			t.Fatalf("placed on %+v, %v; want eu-central-1", p.Node, err)
		}
	})

	t.Run("another region list is marked, a stopped node drops out", func(t *testing.T) {
		// A second eu-central node, on eu-central-1's server as its external control
		// plane, configured with another region list.
		b, err := bus.Start(ctx, bus.Config{NodeID: "eu-central-2", Region: "eu-central", ExternalURL: c.buses[1].ClientURL(), Secret: bustest.Secret}, bustest.Logger(t))
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		other := deployment()
		other.Regions[1].Name = "EU Central (renamed)"
		r, err := directory.StartRegistry(b, directory.RegistryConfig{Deployment: other}, selfInfo(9000), bustest.Logger(t))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		for _, reg := range c.regs {
			eventually(t, "mismatch marked", func() error {
				if n, ok := reg.Node("eu-central-2"); !ok || !reg.Mismatched("eu-central-2") {
					return fmt.Errorf("eu-central-2: %+v %v, mismatched %v", n, ok, reg.Mismatched("eu-central-2"))
				}
				return nil
			})
		}
		if c.regs[0].Mismatched("eu-central-1") {
			t.Fatal("eu-central-1 marked though its region list matches")
		}
		r.Close()
		b.Close()
		for _, reg := range c.regs {
			eventually(t, "stopped node dropped", func() error {
				if n, ok := reg.Node("eu-central-2"); ok {
					return fmt.Errorf("eu-central-2 still registered, seen %v ago", time.Since(n.Seen))
				}
				return nil
			})
		}
	})

	t.Run("replicated to every region", func(t *testing.T) {
		us := c.dirs[0]
		if err := us.PutAccount(ctx, directory.Account{ID: "ACCT1", HomeRegion: "us-west"}); err != nil {
			t.Fatal(err)
		}
		allowed, err := topology.NewAllowedSet("us-west", "eu-central")
		if err != nil {
			t.Fatal(err)
		}
		if err := us.PutMeeting(ctx, directory.Meeting{ID: "12345678901", HomeRegion: "us-west", Allowed: allowed, Node: "us-west-1"}); err != nil {
			t.Fatal(err)
		}
		for _, d := range c.dirs {
			eventually(t, "account", func() error {
				a, err := d.Account(ctx, "ACCT1")
				if err == nil && a.HomeRegion != "us-west" {
					t.Fatalf("account home %q", a.HomeRegion)
				}
				return err
			})
			eventually(t, "meeting", func() error {
				m, err := d.Meeting(ctx, "12345678901")
				if err == nil && (m.Node != "us-west-1" || !m.Allowed.Equal(allowed)) {
					t.Fatalf("meeting %+v", m)
				}
				return err
			})
		}
		if _, err := c.dirs[1].Account(ctx, "NOSUCH"); !errors.Is(err, directory.ErrNotFound) {
			t.Fatalf("missing account: %v, want ErrNotFound", err)
		}
	})

	t.Run("email sign-in lookup", func(t *testing.T) {
		h := directory.EmailKey(secret, "Alice@Example.com ")
		if h != directory.EmailKey(secret, "alice@example.com") {
			t.Fatal("email key does not normalise case and space")
		}
		if err := c.dirs[2].PutEmail(ctx, directory.Email{Hash: h, AccountID: "ACCTCN", HomeRegion: "cn-north"}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "email from us-west", func() error {
			e, err := c.dirs[0].LookupEmail(ctx, h)
			if err == nil && (e.AccountID != "ACCTCN" || e.HomeRegion != "cn-north") {
				t.Fatalf("email entry %+v", e)
			}
			return err
		})
	})

	t.Run("deleted everywhere by its home region only", func(t *testing.T) {
		if err := c.dirs[0].PutSession(ctx, directory.Session{ID: "SESS1", HomeRegion: "us-west"}); err != nil {
			t.Fatal(err)
		}
		for _, d := range c.dirs {
			eventually(t, "session", func() error { _, err := d.Session(ctx, "SESS1"); return err })
		}
		if err := c.dirs[1].DeleteSession(ctx, "SESS1"); !errors.Is(err, directory.ErrNotFound) {
			t.Fatalf("delete from another region: %v, want ErrNotFound", err)
		}
		// The refused delete erased it nowhere (a delete marker would travel into views).
		time.Sleep(200 * time.Millisecond)
		for _, d := range c.dirs {
			if _, err := d.Session(ctx, "SESS1"); err != nil {
				t.Fatalf("after a refused delete: %v", err)
			}
		}
		if err := c.dirs[0].DeleteSession(ctx, "SESS1"); err != nil {
			t.Fatal(err)
		}
		for _, d := range c.dirs {
			eventually(t, "session deleted", func() error {
				if _, err := d.Session(ctx, "SESS1"); !errors.Is(err, directory.ErrNotFound) {
					return fmt.Errorf("after delete: %v, want ErrNotFound", err)
				}
				return nil
			})
		}
	})

	t.Run("a region writes only what is homed there", func(t *testing.T) {
		err := c.dirs[0].PutAccount(ctx, directory.Account{ID: "ACCT2", HomeRegion: "eu-central"})
		if !errors.Is(err, directory.ErrInvalid) {
			t.Fatalf("foreign home region: %v, want ErrInvalid", err)
		}
		err = c.dirs[0].PutAccount(ctx, directory.Account{ID: "alice@example.com", HomeRegion: "us-west"})
		if !errors.Is(err, directory.ErrInvalid) {
			t.Fatalf("email as id: %v, want ErrInvalid", err)
		}
		eu, _ := topology.NewAllowedSet("eu-central")
		err = c.dirs[0].PutMeeting(ctx, directory.Meeting{ID: "M1", HomeRegion: "us-west", Allowed: eu})
		if !errors.Is(err, directory.ErrInvalid) {
			t.Fatalf("allowed set without home: %v, want ErrInvalid", err)
		}
	})

	t.Run("each bucket stays on its region's cluster", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		for _, r := range regions {
			for _, name := range []string{"KV_meridian-dir-" + r, "KV_meridian-dirview-" + r} {
				s, err := c.buses[0].JetStream().Stream(ctx, name)
				if err != nil {
					t.Fatal(err)
				}
				info, err := s.Info(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if info.Cluster == nil || info.Cluster.Name != r {
					t.Errorf("stream %s on cluster %+v, want %s", name, info.Cluster, r)
				}
			}
		}
	})

	t.Run("no personal data stored", func(t *testing.T) {
		emails := []string{"bob.smith@example.org", "Carol@Example.NET"}
		for i, e := range emails {
			d := c.dirs[i]
			if err := d.PutEmail(ctx, directory.Email{Hash: directory.EmailKey(secret, e), AccountID: "PD" + regions[i], HomeRegion: regions[i]}); err != nil {
				t.Fatal(err)
			}
		}
		for i := range emails {
			eventually(t, "replicated", func() error {
				_, err := c.dirs[2].LookupEmail(ctx, directory.EmailKey(secret, emails[i]))
				return err
			})
		}
		forbidden := append([]string{"@", "bob", "smith", "carol", "alice", "example"}, emails...)
		scanAll(t, c.buses[0].JetStream(), func(where, s string) {
			for _, f := range forbidden {
				if strings.Contains(strings.ToLower(s), strings.ToLower(f)) {
					t.Errorf("%s holds %q: %q", where, f, s)
				}
			}
		})
	})

	// Last, as it takes two regions away.
	t.Run("a region cut off from the others answers from its own servers", func(t *testing.T) {
		for _, b := range c.buses[1:] {
			b.Close()
		}
		eventually(t, "us-west sees the meta leader lost", func() error {
			if c.buses[0].Ready() {
				return errors.New("us-west's bus still ready with two of three regions gone")
			}
			return nil
		})
		us := c.dirs[0]
		if !us.Ready() {
			t.Fatalf("us-west's directory not ready: %v", us.Err())
		}
		if a, err := us.Account(ctx, "ACCT1"); err != nil || a.HomeRegion != "us-west" {
			t.Fatalf("own account: %+v, %v", a, err)
		}
		if e, err := us.LookupEmail(ctx, directory.EmailKey(secret, "alice@example.com")); err != nil || e.HomeRegion != "cn-north" {
			t.Fatalf("cn-north's email entry from us-west's view: %+v, %v", e, err)
		}
		if _, err := us.Account(ctx, "NEVERWRITTEN"); !errors.Is(err, directory.ErrNotFound) {
			t.Fatalf("unknown account: %v, want ErrNotFound", err)
		}
	})
}

// scanAll feeds every stream name, subject and message body of the supercluster to check.
func scanAll(t *testing.T, js jetstream.JetStream, check func(where, s string)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	names := js.StreamNames(ctx)
	n := 0
	for name := range names.Name() {
		check("stream name", name)
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
			m, err := s.GetMsg(ctx, seq)
			if errors.Is(err, jetstream.ErrMsgNotFound) {
				continue
			}
			if err != nil {
				t.Fatalf("%s #%d: %v", name, seq, err)
			}
			check(name+" subject", m.Subject)
			check(name+" body", string(m.Data))
			n++
		}
	}
	if err := names.Err(); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("scanned no message")
	}
	t.Logf("scanned %d messages", n)
}
