package bus_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/meridian-video/meridian/internal/bus"
	"github.com/meridian-video/meridian/internal/bus/bustest"
)

func TestToken(t *testing.T) {
	for _, ok := range []string{"us-west", "eu-central-1", "ACCT7F3K2QZ", "12345678901", "-1yQ_b9Zf0t3eX4n2mV7wq8yRkLsd0PbJc5hU6TgA1o"} {
		if err := bus.Token(ok); err != nil {
			t.Errorf("Token(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"", "alice@example.com", "a.b", "Weekly sync", "a*", ">", "é", strings.Repeat("a", bus.MaxTokenLen+1)} {
		if err := bus.Token(bad); !errors.Is(err, bus.ErrBadToken) {
			t.Errorf("Token(%q) = %v, want ErrBadToken", bad, err)
		}
	}
	if s, err := bus.Subject("meridian", "nodes", "us-west", "n1"); err != nil || s != "meridian.nodes.us-west.n1" {
		t.Errorf("Subject = %q, %v", s, err)
	}
	if _, err := bus.Subject("meridian", "bob@example.com"); !errors.Is(err, bus.ErrBadToken) {
		t.Errorf("Subject with an email: %v, want ErrBadToken", err)
	}
}

func TestConfigErrors(t *testing.T) {
	for name, cfg := range map[string]bus.Config{
		"node id with a dot":          {NodeID: "n.1", Region: "local", StoreDir: t.TempDir()},
		"no region":                   {NodeID: "n1", StoreDir: t.TempDir()},
		"no store dir":                {NodeID: "n1", Region: "local"},
		"gateway without cluster":     {NodeID: "n1", Region: "local", StoreDir: t.TempDir(), Gateways: bus.GatewayConfig{Listen: "127.0.0.1:0"}},
		"gateway on any cluster port": {NodeID: "n1", Region: "local", StoreDir: t.TempDir(), Cluster: bus.ClusterConfig{Listen: "127.0.0.1:0"}, Gateways: bus.GatewayConfig{Listen: "127.0.0.1:0"}},
		"external with a listener":    {NodeID: "n1", Region: "local", ExternalURL: "nats://127.0.0.1:1", Listen: "127.0.0.1:0"},
		"bad route":                   {NodeID: "n1", Region: "local", StoreDir: t.TempDir(), Cluster: bus.ClusterConfig{Listen: "127.0.0.1:0", Routes: []string{"::"}}},
	} {
		if b, err := bus.Start(context.Background(), cfg, bustest.Logger(t)); err == nil {
			b.Close()
			t.Errorf("%s: started", name)
		}
	}
}

// A fatal error of the embedded server (here: its port taken) is an error from Start, not
// the end of the process, as nats-server's own logger would make it.
func TestServerFatalDoesNotExit(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, err = bus.Start(context.Background(), bus.Config{NodeID: "n1", Region: "local", StoreDir: t.TempDir(), Listen: l.Addr().String()}, bustest.Logger(t))
	if err == nil || !strings.Contains(err.Error(), "nats-server") {
		t.Fatalf("Start on a taken port: %v, want the server's error", err)
	}
}

func TestStandaloneReady(t *testing.T) {
	b, err := bus.Start(context.Background(), bus.Config{NodeID: "n1", Region: "local", StoreDir: t.TempDir()}, bustest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := b.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if b.Err() != nil || !strings.HasPrefix(b.ClientURL(), "nats://127.0.0.1:") {
		t.Fatalf("Err %v, client URL %q: want ready on loopback", b.Err(), b.ClientURL())
	}
	b.Close()
	if b.Ready() || !errors.Is(b.Err(), bus.ErrNotReady) {
		t.Fatalf("closed bus: ready %v, err %v", b.Ready(), b.Err())
	}
}

// With a secret, the embedded server refuses a connection without it.
func TestSecret(t *testing.T) {
	ctx := context.Background()
	srv, err := bus.Start(ctx, bus.Config{NodeID: "n1", Region: "local", StoreDir: t.TempDir(), Secret: "s3cret"}, bustest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if nc, err := nats.Connect(srv.ClientURL(), nats.MaxReconnects(0)); err == nil {
		nc.Close()
		t.Fatal("connected without the secret")
	}
	if nc, err := nats.Connect(srv.ClientURL(), nats.UserInfo("meridian", "wrong"), nats.MaxReconnects(0)); err == nil {
		nc.Close()
		t.Fatal("connected with a wrong secret")
	}
	b, err := bus.Start(ctx, bus.Config{NodeID: "n2", Region: "local", ExternalURL: srv.ClientURL(), Secret: "s3cret"}, bustest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := b.WaitReady(wctx); err != nil {
		t.Fatalf("with the secret: %v", err)
	}
}

// Two regions of two nodes each, nodes joined by routes and regions by gateways:
// JetStream becomes ready on every node and a request crosses the gateway.
func TestClusterAndGateway(t *testing.T) {
	cfgs := bustest.SuperclusterN(t, t.TempDir(), 2, "us-west", "eu-central")
	buses := bustest.StartAll(t, cfgs)
	sub, err := buses[3].Conn().Subscribe("meridian.echo", func(m *nats.Msg) { _ = m.Respond(m.Data) })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		m, err := buses[0].Conn().RequestWithContext(ctx, "meridian.echo", []byte("ping"))
		if err == nil {
			if string(m.Data) != "ping" {
				t.Fatalf("reply %q", m.Data)
			}
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("no reply across the gateway: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// BenchmarkGatewayRequest is a request from us-west answered in eu-central, across the
// gateway; BenchmarkGatewayRequestTLS the same over TLS (bus.tls).
func BenchmarkGatewayRequest(b *testing.B) {
	benchmarkGatewayRequest(b, bustest.Supercluster(b, b.TempDir(), "us-west", "eu-central"))
}

func BenchmarkGatewayRequestTLS(b *testing.B) {
	dir := b.TempDir()
	ca := bustest.NewCA(b, dir, "bench")
	cfgs := bustest.Supercluster(b, dir, "us-west", "eu-central")
	for i := range cfgs {
		cfgs[i].TLS = ca.Issue(b, cfgs[i].NodeID)
	}
	benchmarkGatewayRequest(b, cfgs)
}

func benchmarkGatewayRequest(b *testing.B, cfgs []bus.Config) {
	buses := bustest.StartAll(b, cfgs)
	sub, err := buses[1].Conn().Subscribe("meridian.echo", func(m *nats.Msg) { _ = m.Respond(m.Data) })
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Unsubscribe()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		if _, err := buses[0].Conn().RequestWithContext(ctx, "meridian.echo", nil); err == nil {
			break
		} else if ctx.Err() != nil {
			b.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	nc := buses[0].Conn()
	for b.Loop() {
		if _, err := nc.Request("meridian.echo", []byte("ping"), time.Second); err != nil {
			b.Fatal(err)
		}
	}
}

// With TLS, the nodes of a deployment's CA form the supercluster (routes and gateways
// over TLS) and a request crosses it, while a node that knows the secret but whose
// certificate another CA signed, or that offers no TLS, never joins: no request reaches
// it, and a client without a certificate is refused.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	ca, other := bustest.NewCA(t, dir, "deployment"), bustest.NewCA(t, dir, "intruder")
	cfgs := bustest.SuperclusterN(t, dir, 2, "us-west", "eu-central")
	for i := range cfgs {
		cfgs[i].TLS = ca.Issue(t, cfgs[i].NodeID)
	}
	buses := bustest.StartAll(t, cfgs)
	// Two nodes of a region the deployment does not know dial its gateways with the
	// secret: cn-north-1 with a certificate of another CA, cn-north-2 with none.
	bad := bustest.SuperclusterN(t, dir, 2, "cn-north")
	for i := range bad {
		bad[i].Gateways.Peers = cfgs[0].Gateways.Peers
	}
	bad[0].TLS = other.Issue(t, bad[0].NodeID)
	var intruders []*bus.Bus
	for _, c := range bad {
		b, err := bus.Start(context.Background(), c, bustest.Logger(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(b.Close)
		intruders = append(intruders, b)
	}
	echo := func(b *bus.Bus, subject string) {
		sub, err := b.Conn().Subscribe(subject, func(m *nats.Msg) { _ = m.Respond([]byte(b.NodeID())) })
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sub.Unsubscribe() })
		if err := b.Conn().Flush(); err != nil {
			t.Fatal(err)
		}
	}
	echo(buses[3], "meridian.echo.eu")
	for i, b := range intruders {
		echo(b, fmt.Sprintf("meridian.echo.cn%d", i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		// From us-west-2: over a route to us-west-1's gateway or its own, then eu-central.
		m, err := buses[1].Conn().RequestWithContext(ctx, "meridian.echo.eu", nil)
		if err == nil {
			if string(m.Data) != "eu-central-2" {
				t.Fatalf("answered by %q", m.Data)
			}
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("no answer across the TLS gateway: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The gateways are up; the intruders have had the same time to join, and more.
	time.Sleep(2 * time.Second)
	for i := range intruders {
		for _, b := range buses {
			if m, err := b.Conn().Request(fmt.Sprintf("meridian.echo.cn%d", i), nil, 300*time.Millisecond); err == nil {
				t.Fatalf("%s reached the intruder: answered by %q", b.NodeID(), m.Data)
			}
		}
	}
	// The client listener wants a certificate of the CA as well.
	if nc, err := nats.Connect(buses[0].ClientURL(), nats.UserInfo("meridian", bustest.Secret), nats.MaxReconnects(0)); err == nil {
		nc.Close()
		t.Fatal("a client without a certificate connected")
	}
	client := ca.Issue(t, "client")
	ext, err := bus.Start(context.Background(), bus.Config{NodeID: "us-west-9", Region: "us-west", ExternalURL: buses[0].ClientURL(),
		Secret: bustest.Secret, TLS: client, RequestTimeout: time.Second}, bustest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer ext.Close()
	if err := ext.WaitReady(ctx); err != nil {
		t.Fatalf("a client with the CA's certificate: %v", err)
	}
}
