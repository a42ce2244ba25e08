package sfu

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/net/ipv4"
)

// loopbackPair is a batchConn and a plain socket it sends to, both on 127.0.0.1.
func loopbackPair(t *testing.T, counters sendCounters) (*batchConn, *net.UDPConn) {
	t.Helper()
	c, err := listenBatchUDP(netip.MustParseAddrPort("127.0.0.1:0"), counters)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	_ = peer.SetReadBuffer(8 << 20)
	t.Cleanup(func() { _ = peer.Close() })
	return c, peer
}

func TestBatchConnKeepsOrderAndBatches(t *testing.T) {
	before := goleak.IgnoreCurrent()
	var batches, sent atomic.Int64
	c, peer := loopbackPair(t, sendCounters{batch: func(n int) { batches.Add(1); sent.Add(int64(n)) }})
	dst := peer.LocalAddr().(*net.UDPAddr).AddrPort()

	const n = 2000
	buf := make([]byte, 200)
	for i := range n {
		binary.BigEndian.PutUint32(buf, uint32(i))
		if _, err := c.WriteToAddrPort(buf, dst); err != nil {
			t.Fatal(err)
		}
		// The caller may reuse its buffer at once: the datagram was copied.
		clear(buf)
	}
	got := make([]byte, 1500)
	_ = peer.SetReadDeadline(time.Now().Add(10 * time.Second))
	for i := range n {
		m, from, err := peer.ReadFromUDPAddrPort(got)
		if err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
		if m != len(buf) {
			t.Fatalf("datagram %d: %d bytes, want %d", i, m, len(buf))
		}
		if seq := binary.BigEndian.Uint32(got); seq != uint32(i) {
			t.Fatalf("datagram %d arrived as number %d: order not kept", i, seq)
		}
		if from != c.LocalAddr().(*net.UDPAddr).AddrPort() {
			t.Fatalf("datagram from %v, want the batch conn's %v", from, c.LocalAddr())
		}
	}
	// The writer counts a batch once its system call returns, maybe after the peer read it.
	for deadline := time.Now().Add(5 * time.Second); sent.Load() != n && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if sent.Load() != n {
		t.Fatalf("writer reports %d sent, want %d", sent.Load(), n)
	}
	// 2000 writes in a tight loop outrun one writer goroutine: many must share a call.
	if batches.Load() >= n {
		t.Errorf("%d system calls for %d datagrams: nothing was batched", batches.Load(), n)
	}
	t.Logf("%d datagrams in %d sendmmsg calls", n, batches.Load())
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	goleak.VerifyNone(t, before)
}

func TestBatchConnWriteToAndRead(t *testing.T) {
	c, peer := loopbackPair(t, sendCounters{})
	if _, err := c.WriteTo([]byte("ping"), peer.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 100)
	_ = peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	m, from, err := peer.ReadFromUDP(got)
	if err != nil || string(got[:m]) != "ping" {
		t.Fatalf("peer read %q, %v", got[:m], err)
	}
	if _, err := peer.WriteToUDP([]byte("pong"), from); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	m, addr, err := c.ReadFromAddrPort(got)
	if err != nil || string(got[:m]) != "pong" || addr != peer.LocalAddr().(*net.UDPAddr).AddrPort() {
		t.Fatalf("batch conn read %q from %v, %v", got[:m], addr, err)
	}
	if _, err := c.WriteTo([]byte("x"), &net.TCPAddr{}); err == nil {
		t.Fatal("WriteTo a TCP address succeeded")
	}
	// A write deadline in the past must not fail the shared writer's sends.
	if err := c.SetWriteDeadline(time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WriteTo([]byte("after deadline"), peer.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	m, _, err = peer.ReadFromUDP(got)
	if err != nil || string(got[:m]) != "after deadline" {
		t.Fatalf("peer read %q, %v", got[:m], err)
	}
}

// blockingWriter holds every batch until released, so that the queue fills.
type blockingWriter struct {
	release chan struct{}
	mu      sync.Mutex
	sent    [][]byte
}

func (w *blockingWriter) WriteBatch(ms []ipv4.Message, _ int) (int, error) {
	<-w.release
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, m := range ms {
		w.sent = append(w.sent, bytes.Clone(m.Buffers[0]))
	}
	return len(ms), nil
}

// newTestBatchConn is a batchConn whose sends go to w instead of its socket.
func newTestBatchConn(t testing.TB, w batchWriter, counters sendCounters) *batchConn {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	c := &batchConn{conn: conn, reader: conn, writer: w, counters: counters, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go c.writeLoop()
	return c
}

func TestBatchConnQueueIsBounded(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	var dropped atomic.Int64
	w := &blockingWriter{release: make(chan struct{})}
	c := newTestBatchConn(t, w, sendCounters{dropped: func(reason string, n int) {
		if reason == dropQueueFull {
			dropped.Add(int64(n))
		}
	}})
	dst := netip.MustParseAddrPort("127.0.0.1:9")

	// The first datagram is taken by the writer, which then blocks; the queue then fills.
	if _, err := c.WriteToAddrPort([]byte{0}, dst); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.mu.Lock()
		taken := len(c.pending) == 0
		c.mu.Unlock()
		if taken {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("writer never took the first datagram")
		}
		time.Sleep(time.Millisecond)
	}
	const extra = 10
	for range sendQueueLimit + extra {
		if n, err := c.WriteToAddrPort([]byte{1}, dst); err != nil || n != 1 {
			t.Fatalf("write: %d, %v", n, err)
		}
	}
	c.mu.Lock()
	queued := len(c.pending)
	c.mu.Unlock()
	if queued != sendQueueLimit || dropped.Load() != extra {
		t.Fatalf("queued %d, dropped %d; want %d and %d", queued, dropped.Load(), sendQueueLimit, extra)
	}
	close(w.release)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	// Close sends what was queued before it returns.
	if len(w.sent) != 1+sendQueueLimit {
		t.Fatalf("sent %d datagrams, want %d", len(w.sent), 1+sendQueueLimit)
	}
	if _, err := c.WriteToAddrPort([]byte{2}, dst); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after Close: %v, want net.ErrClosed", err)
	}
}

func TestBatchConnCloseUnblocksStuckWriter(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	w := &blockingWriter{release: make(chan struct{})}
	c := newTestBatchConn(t, w, sendCounters{})
	if _, err := c.WriteToAddrPort([]byte{0}, netip.MustParseAddrPort("127.0.0.1:9")); err != nil {
		t.Fatal(err)
	}
	// The writer is stuck; Close waits closeGrace and closes the socket. The fake writer
	// does not notice a closed socket, so release it as a real send would fail.
	time.AfterFunc(closeGrace+100*time.Millisecond, func() { close(w.release) })
	start := time.Now()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < closeGrace {
		t.Fatalf("Close returned after %v, before the grace period", d)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestBatchConnIdleCloseLeavesNothing(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	c, err := listenBatchUDP(netip.MustParseAddrPort("127.0.0.1:0"), sendCounters{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	if _, _, err := c.ReadFrom(buf); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read after Close: %v", err)
	}
}

// The writer encodes IPv6 destinations too, and a queue longer than one raw batch leaves
// in order.
func TestBatchConnIPv6(t *testing.T) {
	c, err := listenBatchUDP(netip.MustParseAddrPort("[::1]:0"), sendCounters{})
	if err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	peer, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	t.Cleanup(func() { _ = peer.Close() })
	_ = peer.SetReadBuffer(4 << 20)
	dst := peer.LocalAddr().(*net.UDPAddr).AddrPort()
	const n = 300
	c.hold()
	for i := range n {
		if _, err := c.WriteToAddrPort(binary.BigEndian.AppendUint32(nil, uint32(i)), dst); err != nil {
			t.Fatal(err)
		}
	}
	c.release()
	got := make([]byte, 100)
	_ = peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	for i := range n {
		m, err := peer.Read(got)
		if err != nil || m != 4 || binary.BigEndian.Uint32(got) != uint32(i) {
			t.Fatalf("datagram %d: %x, %v", i, got[:m], err)
		}
	}
}

// What the media socket reads comes with the sender's address, IPv4 or IPv6, and a read
// deadline ends a read that waits (pion's mux relies on it to stop its reader).
func TestBatchConnReadsWithSenderAddress(t *testing.T) {
	for _, tc := range []struct{ network, local string }{
		{"udp4", "127.0.0.1:0"},
		{"udp6", "[::1]:0"},
	} {
		t.Run(tc.network, func(t *testing.T) {
			c, err := listenBatchUDP(netip.MustParseAddrPort(tc.local), sendCounters{})
			if err != nil {
				t.Skipf("no %s loopback here: %v", tc.network, err)
			}
			t.Cleanup(func() { _ = c.Close() })
			peer, err := net.ListenUDP(tc.network, net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddrPort(tc.local).Addr(), 0)))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = peer.Close() })
			for _, msg := range []string{"first", "second"} {
				if _, err := peer.WriteTo([]byte(msg), c.LocalAddr()); err != nil {
					t.Fatal(err)
				}
			}
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 1500)
			for _, want := range []string{"first", "second"} {
				n, from, err := c.ReadFromAddrPort(buf)
				if err != nil {
					t.Fatal(err)
				}
				if string(buf[:n]) != want || from != peer.LocalAddr().(*net.UDPAddr).AddrPort() {
					t.Fatalf("read %q from %v, want %q from %v", buf[:n], from, want, peer.LocalAddr())
				}
			}
			_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			if _, _, err := c.ReadFromAddrPort(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("read past the deadline: %v", err)
			}
		})
	}
}
