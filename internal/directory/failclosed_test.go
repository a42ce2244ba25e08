package directory_test

import (
	"context"
	"crypto/rand"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/meridian-video/meridian/internal/bus"
	"github.com/meridian-video/meridian/internal/bus/bustest"
	"github.com/meridian-video/meridian/internal/directory"
	"github.com/meridian-video/meridian/internal/topology"
)

func oneRegion(id string) topology.Deployment {
	return topology.Deployment{Regions: []topology.Region{{ID: id, Jurisdiction: "ZZ", Name: "Test " + id}}}
}

// openDirectory starts a node on the external control plane at url and opens its
// directory.
func openDirectory(t *testing.T, url, region string) (*bus.Bus, *directory.Directory) {
	t.Helper()
	b, err := bus.Start(context.Background(), bus.Config{NodeID: region + "-1", Region: region, ExternalURL: url, RequestTimeout: time.Second}, bustest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	d, err := directory.Open(context.Background(), b, directory.Config{Deployment: oneRegion(region)}, bustest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	return b, d
}

func TestControlPlaneLost(t *testing.T) {
	ctx := context.Background()
	// The control plane: one standalone server, whose JetStream needs no election.
	cp, err := bus.Start(ctx, bus.Config{NodeID: "cp", Region: "local", StoreDir: t.TempDir()}, bustest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	b, d := openDirectory(t, cp.ClientURL(), "local")
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := d.WaitReady(wctx); err != nil {
		t.Fatal(err)
	}
	if err := d.PutAccount(ctx, directory.Account{ID: "ACCT1", HomeRegion: "local"}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Account(ctx, "ACCT1"); err != nil {
		t.Fatal(err)
	}

	cp.Close()
	// No deadline on the context: the directory's own timeouts must end every read.
	_, err = d.Account(ctx, "ACCT1")
	if err == nil || errors.Is(err, directory.ErrNotFound) {
		t.Fatalf("read with the control plane gone: %v, want an error other than not found", err)
	}
	if err := d.PutAccount(ctx, directory.Account{ID: "ACCT2", HomeRegion: "local"}); err == nil {
		t.Fatal("write with the control plane gone succeeded")
	}
	if b.Ready() || d.Ready() {
		t.Fatalf("ready with the control plane gone: bus %v, directory %v", b.Ready(), d.Ready())
	}
	if err := b.Err(); !errors.Is(err, bus.ErrNotReady) {
		t.Fatalf("bus.Err = %v, want ErrNotReady", err)
	}
}

func TestControlPlaneUnreachableAtStart(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "nats://" + l.Addr().String()
	l.Close()
	b, d := openDirectory(t, dead, "local")
	ctx := context.Background()
	if _, err := d.Account(ctx, "ACCT1"); !errors.Is(err, directory.ErrNotReady) {
		t.Fatalf("read: %v, want ErrNotReady", err)
	}
	if _, err := d.LookupEmail(ctx, directory.EmailKey([]byte("k"), "a@example.com")); !errors.Is(err, directory.ErrNotReady) {
		t.Fatalf("email lookup: %v, want ErrNotReady", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer cancel()
	if err := d.WaitReady(wctx); !errors.Is(err, directory.ErrNotReady) {
		t.Fatalf("WaitReady: %v, want ErrNotReady", err)
	}
	if b.Ready() {
		t.Fatal("bus ready with nothing to connect to")
	}
}

// TestSystemServer runs the directory against the nats-server installed on this machine,
// as an external control plane, when one listens on 127.0.0.1:4222.
func TestSystemServer(t *testing.T) {
	c, err := net.DialTimeout("tcp", "127.0.0.1:4222", time.Second)
	if err != nil {
		t.Skipf("no nats-server on 127.0.0.1:4222 (%v); skipping the external control plane test", err)
	}
	c.Close()
	// A region of its own, so that runs never share buckets with anything else there.
	region := "t" + strings.ToLower(rand.Text()[:10])
	b, d := openDirectory(t, "nats://127.0.0.1:4222", region)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := d.WaitReady(ctx); err != nil {
		t.Fatalf("directory on the system nats-server: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := b.JetStream().DeleteKeyValue(ctx, "meridian-dir-"+region); err != nil {
			t.Logf("delete test bucket: %v", err)
		}
	})
	h := directory.EmailKey([]byte("secret"), "dora@example.com")
	if err := d.PutEmail(ctx, directory.Email{Hash: h, AccountID: "ACCTD", HomeRegion: region}); err != nil {
		t.Fatal(err)
	}
	e, err := d.LookupEmail(ctx, h)
	if err != nil || e.AccountID != "ACCTD" {
		t.Fatalf("lookup: %+v, %v", e, err)
	}
	t.Log("external control plane at 127.0.0.1:4222 answered")
}

// A node restarted on its store directory (fresh server options each start) finds what
// its region wrote before.
func TestRestartKeepsFacts(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := bus.Config{NodeID: "local-1", Region: "local", StoreDir: t.TempDir()}
	open := func() (*bus.Bus, *directory.Directory) {
		b, err := bus.Start(ctx, cfg, bustest.Logger(t))
		if err != nil {
			t.Fatal(err)
		}
		d, err := directory.Open(ctx, b, directory.Config{Deployment: oneRegion("local")}, bustest.Logger(t))
		if err != nil {
			t.Fatal(err)
		}
		if err := d.WaitReady(ctx); err != nil {
			t.Fatal(err)
		}
		return b, d
	}
	b, d := open()
	if err := d.PutMeeting(ctx, directory.Meeting{ID: "12345678901", HomeRegion: "local", Allowed: mustAllowed(t, "local"), Node: "local-1"}); err != nil {
		t.Fatal(err)
	}
	d.Close()
	b.Close()
	b, d = open()
	defer b.Close()
	defer d.Close()
	if m, err := d.Meeting(ctx, "12345678901"); err != nil || m.Node != "local-1" {
		t.Fatalf("after restart: %+v, %v", m, err)
	}
}

func mustAllowed(t *testing.T, ids ...string) topology.AllowedSet {
	t.Helper()
	s, err := topology.NewAllowedSet(ids...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
