package server_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meridian-video/meridian/client"
	"github.com/meridian-video/meridian/internal/server/servertest"
)

// BenchmarkFailover measures kill-to-media-again for the Go client: a region of three
// nodes, a publisher and a subscriber in a meeting on one of them; the carrier is closed,
// both clients, seeing their connection end, ask the API of a surviving node again until
// it names another node (the registry counts the dead one down after 3 s of silence),
// connect there and the publisher publishes again. The figure is from the kill to the
// subscriber's first packet on the new node. One deployment per iteration:
//
//	flock /tmp/meridian-heavy.lock go test ./internal/server/ -run XXX -bench Failover -benchtime 3x
func BenchmarkFailover(b *testing.B) {
	var total time.Duration
	for range b.N {
		b.StopTimer()
		total += failoverOnce(b)
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms-kill-to-media")
	b.ReportMetric(0, "ns/op")
}

func failoverOnce(b *testing.B) time.Duration {
	d := servertest.StartDeployment(b, servertest.Spec{Regions: []string{"us-west:US"}, Nodes: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	host := usHost(b, d.Nodes[0], "host@example.com")
	m := openMeeting(b, d.Nodes[0], host)
	req := client.TicketRequest{MeetingID: m.ID, DisplayName: "p"}

	var got atomic.Int64 // unix nanoseconds of the subscriber's latest first packet
	subOpts := client.Options{LoopbackOnly: true, OnTrack: func(rt *client.RemoteTrack) {
		go func() {
			buf := make([]byte, 1500)
			if _, _, err := rt.Remote.Read(buf); err == nil {
				got.CompareAndSwap(0, time.Now().UnixNano())
			}
		}()
	}}
	publish := func(c *client.Client) {
		v, err := client.NewLocalTrack(client.VP8, client.SourceCamera)
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Publish(ctx, v); err != nil {
			b.Fatal(err)
		}
		go (&client.VideoSource{Track: v, FPS: 30, Bitrate: 300_000, KeyframeInterval: time.Second}).Run(ctx)
	}
	pub, tk, err := client.JoinMeeting(ctx, d.Nodes[0].URL(), req, client.Options{LoopbackOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	publish(pub)
	sub, _, err := client.JoinMeeting(ctx, d.Nodes[0].URL(), req, subOpts)
	if err != nil {
		b.Fatal(err)
	}
	for got.Load() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	dead := d.Node(tk.NodeID)
	entry := d.Nodes[0]
	if entry == dead {
		entry = d.Nodes[1]
	}
	// rejoin is what a client does when its node goes: ask the API again until it names
	// a node that answers.
	rejoin := func(opts client.Options) *client.Client {
		for {
			t, err := client.RequestTicket(ctx, entry.URL(), req)
			if err == nil && t.NodeID != dead.NodeID() {
				opts.URL, opts.Token = t.URL(), t.Token
				c, err := client.Join(ctx, opts)
				if err == nil {
					return c
				}
			}
			if ae := (*client.APIError)(nil); err != nil && !errors.As(err, &ae) {
				b.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	got.Store(0)
	b.StartTimer()
	killed := time.Now()
	go dead.Close()
	done := make(chan struct{})
	go func() {
		<-pub.Done()
		publish(rejoin(client.Options{LoopbackOnly: true}))
		close(done)
	}()
	<-sub.Done()
	sub2 := rejoin(subOpts)
	defer sub2.Close()
	<-done
	for got.Load() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	b.StopTimer()
	return time.Unix(0, got.Load()).Sub(killed)
}
