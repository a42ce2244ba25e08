package sfu

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/ipv4"
)

// maxSendBatch is the most datagrams handed to one sendmmsg call: the kernel takes at most
// UIO_MAXIOV (1024) messages per call.
const maxSendBatch = 1024

// sendQueueLimit bounds the datagrams waiting for the writer. A fan-out to 500 hands ~9,000
// packets to the socket for one keyframe, faster than the kernel takes them; past the limit
// a packet is dropped (and counted) rather than let the queue, its memory and its latency
// grow without bound. A dropped media packet is recovered like any loss, by NACK.
const sendQueueLimit = 16384

// heldWakeThreshold is how many datagrams may wait while the queue is held (see hold)
// before the writer is woken anyway, so that a long fan-out starts leaving before it ends.
const heldWakeThreshold = 64

// maxDatagramSize is the capacity of a send buffer: a forwarded packet (at most
// maxPacketSize as received) grows by the SFU's header extension and SRTP's tag.
const maxDatagramSize = maxPacketSize + 64

// closeGrace is how long Close lets the writer send what is queued before it closes the
// socket under it.
const closeGrace = time.Second

// datagramReader reads one datagram: the socket itself, or on Linux rawReader.
type datagramReader interface {
	ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error)
}

// batchWriter sends many datagrams in one system call: rawBatchWriter on Linux, else
// *ipv4.PacketConn (one sendmsg per datagram where the system has no sendmmsg).
type batchWriter interface {
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

// Why datagrams were dropped instead of sent: the reason label of
// meridian_sfu_udp_send_dropped_total.
const (
	dropQueueFull  = "queue_full"  // the writer fell sendQueueLimit behind
	dropSendFailed = "send_failed" // the kernel refused the datagram
	dropClosed     = "closed"      // the socket closed with the datagram still queued
)

// sendCounters are told what the writer did; nil funcs are not called.
type sendCounters struct {
	dropped func(reason string, n int) // datagrams dropped, and why
	batch   func(n int)                // one system call that sent n datagrams
}

func (c sendCounters) drop(reason string, n int) {
	if c.dropped != nil {
		c.dropped(reason, n)
	}
}

// batchConn is a UDP socket shared by every ICE connection of the node (through pion's UDP
// mux) whose writes do not each cost a system call. WriteTo copies the datagram into a
// queue and returns; one writer goroutine takes everything queued at once and sends it
// with sendmmsg. There is no timer: an idle writer sends the first packet at once, and a
// busy one sends in a single call whatever arrived while the previous call ran, so batches
// grow with load instead of adding delay.
//
// Reads go straight to the socket.
type batchConn struct {
	conn     *net.UDPConn
	reader   datagramReader
	writer   batchWriter
	counters sendCounters

	// takeRTCP, if set before the first read, is offered every RTCP datagram read; what it
	// takes (reporting true) is not returned to the reader.
	takeRTCP func(b []byte, from netip.AddrPort) bool

	// holders counts fan-outs in progress (hold without release yet): while there are
	// any, a write does not wake the writer, so a fan-out's datagrams leave together.
	holders atomic.Int32

	mu      sync.Mutex
	pending []*outDatagram
	free    []*outDatagram
	closed  bool

	wake      chan struct{} // capacity 1: the queue went from empty to not empty, or Close
	done      chan struct{} // closed when the writer has returned
	closeOnce sync.Once
	closeErr  error
}

// outDatagram is one queued datagram; its buffers are reused once it is sent.
type outDatagram struct {
	data []byte
	bufs [1][]byte
	ip   [16]byte
	addr net.UDPAddr
}

// newBatchConn takes over conn: the batchConn owns and closes it.
func newBatchConn(conn *net.UDPConn, counters sendCounters) *batchConn {
	c := &batchConn{
		conn:     conn,
		counters: counters,
		wake:     make(chan struct{}, 1),
		done:     make(chan struct{}),
	}
	c.writer = newBatchWriter(conn)
	c.reader = newReader(conn)
	go c.writeLoop()
	return c
}

// listenBatchUDP opens a batchConn on addr.
func listenBatchUDP(addr netip.AddrPort, counters sendCounters) (*batchConn, error) {
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(addr))
	if err != nil {
		return nil, fmt.Errorf("listen udp %s: %w", addr, err)
	}
	// Larger kernel buffers absorb a keyframe's fan-out; the kernel caps them at its
	// rmem_max/wmem_max, which is fine.
	_ = conn.SetReadBuffer(4 << 20)
	_ = conn.SetWriteBuffer(4 << 20)
	return newBatchConn(conn, counters), nil
}

// WriteToAddrPort queues b for addr. It never blocks; a datagram that does not fit in the
// queue is dropped, as the network would drop it.
func (c *batchConn) WriteToAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	d := c.lend()
	if d == nil {
		return 0, net.ErrClosed
	}
	d.data = append(d.data[:0], b...)
	c.queue(d, addr)
	return len(b), nil
}

// lend returns a datagram buffer to build a datagram in (in data, whose capacity fits any
// datagram the node sends), which queue then takes; nil once the socket is closed. It lets
// a datagram be encrypted where the writer sends it from instead of being copied there.
func (c *batchConn) lend() *outDatagram {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	if n := len(c.free); n > 0 {
		d := c.free[n-1]
		c.free = c.free[:n-1]
		return d
	}
	return &outDatagram{data: make([]byte, 0, maxDatagramSize)}
}

// unlend takes back a buffer from lend that will not be queued.
func (c *batchConn) unlend(d *outDatagram) {
	c.mu.Lock()
	c.free = append(c.free, d)
	c.mu.Unlock()
}

// queue hands the writer d, a buffer from lend, to send to addr. It never blocks; a
// datagram that does not fit in the queue is dropped, as the network would drop it.
func (c *batchConn) queue(d *outDatagram, addr netip.AddrPort) {
	d.bufs[0] = d.data
	ip := addr.Addr().Unmap()
	if ip.Is4() {
		a := ip.As4()
		copy(d.ip[:], a[:])
		d.addr.IP = d.ip[:4]
	} else {
		d.ip = ip.As16()
		d.addr.IP = d.ip[:]
	}
	d.addr.Port = int(addr.Port())
	d.addr.Zone = ip.Zone()

	c.mu.Lock()
	if c.closed || len(c.pending) >= sendQueueLimit {
		reason := dropQueueFull
		if c.closed {
			reason = dropClosed
		}
		c.free = append(c.free, d)
		c.mu.Unlock()
		c.counters.drop(reason, 1)
		return
	}
	c.pending = append(c.pending, d)
	queued := len(c.pending)
	c.mu.Unlock()
	if (queued == 1 && c.holders.Load() == 0) || queued == heldWakeThreshold {
		c.signal()
	}
}

// hold tells the writer that more datagrams are on their way (a packet is being handed to
// every subscriber): writes queue without waking it until release, or until
// heldWakeThreshold are waiting. One system call then sends the fan-out instead of the
// writer waking for each of its first datagrams as they trickle in.
func (c *batchConn) hold() { c.holders.Add(1) }

// release ends a hold and wakes the writer for what was queued under it.
func (c *batchConn) release() {
	c.holders.Add(-1)
	c.mu.Lock()
	queued := len(c.pending)
	c.mu.Unlock()
	if queued > 0 {
		c.signal()
	}
}

// queued is how many datagrams wait for the writer.
func (c *batchConn) queued() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pending)
}

// signal wakes the writer, unless a wake-up is already pending.
func (c *batchConn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// WriteTo queues b for addr, a *net.UDPAddr.
func (c *batchConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return 0, fmt.Errorf("batch conn: write to %T, not a UDP address", addr)
	}
	return c.WriteToAddrPort(b, ua.AddrPort())
}

// writeLoop sends what is queued until Close, then what is left.
func (c *batchConn) writeLoop() {
	defer close(c.done)
	var batch []*outDatagram
	msgs := make([]ipv4.Message, 0, maxSendBatch)
	for {
		c.mu.Lock()
		for len(c.pending) == 0 && !c.closed {
			c.mu.Unlock()
			<-c.wake
			c.mu.Lock()
		}
		if len(c.pending) == 0 {
			c.mu.Unlock()
			return
		}
		batch, c.pending = c.pending, batch[:0]
		c.mu.Unlock()

		if !c.send(batch, msgs) {
			return
		}

		c.mu.Lock()
		c.free = append(c.free, batch...)
		c.mu.Unlock()
	}
}

// send writes batch in as few system calls as it can, and reports false once the socket
// is closed.
func (c *batchConn) send(batch []*outDatagram, msgs []ipv4.Message) bool {
	for len(batch) > 0 {
		chunk := batch[:min(len(batch), maxSendBatch)]
		msgs = msgs[:0]
		for _, d := range chunk {
			msgs = append(msgs, ipv4.Message{Buffers: d.bufs[:], Addr: &d.addr})
		}
		for sent := 0; sent < len(msgs); {
			n, err := c.writer.WriteBatch(msgs[sent:], 0)
			if n > 0 && c.counters.batch != nil {
				c.counters.batch(n)
			}
			sent += n
			if err == nil {
				continue
			}
			if errors.Is(err, net.ErrClosed) {
				c.counters.drop(dropClosed, len(batch)-sent)
				return false
			}
			// sendmmsg reports an error only for the first message it could not send:
			// drop that one (say, an unreachable destination) and go on with the rest.
			c.counters.drop(dropSendFailed, 1)
			sent++
		}
		clear(msgs) // drop references to the datagrams' buffers and addresses
		batch = batch[len(chunk):]
	}
	return true
}

// ReadFrom reads a datagram from the socket (see ReadFromAddrPort).
func (c *batchConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, from, err := c.ReadFromAddrPort(b)
	if err != nil {
		return n, nil, err
	}
	return n, net.UDPAddrFromAddrPort(from), nil
}

// ReadFromAddrPort reads a datagram from the socket without allocating its address. An
// RTCP datagram that takeRTCP takes is not returned.
func (c *batchConn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	for {
		n, from, err := c.reader.ReadFromUDPAddrPort(b)
		if err != nil || c.takeRTCP == nil || !isRTCP(b[:n]) || !c.takeRTCP(b[:n], from) {
			return n, from, err
		}
	}
}

// isRTCP reports whether a datagram is RTCP rather than RTP, DTLS or STUN (RFC 7983 and
// RFC 5761 section 4: RTCP packet types are 192 to 223).
func isRTCP(b []byte) bool {
	return len(b) >= 8 && b[0]>>6 == 2 && b[1] >= 192 && b[1] <= 223
}

// Close sends what is queued (for up to closeGrace), stops the writer and closes the
// socket.
func (c *batchConn) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		c.mu.Unlock()
		c.signal()
		t := time.NewTimer(closeGrace)
		defer t.Stop()
		select {
		case <-c.done:
		case <-t.C: // the writer is stuck in a send: closing the socket ends it
		}
		c.closeErr = c.conn.Close()
		<-c.done
	})
	return c.closeErr
}

// localAddrPort is the socket's address.
func (c *batchConn) localAddrPort() netip.AddrPort {
	if a, ok := c.conn.LocalAddr().(*net.UDPAddr); ok {
		return a.AddrPort()
	}
	return netip.AddrPort{}
}

// LocalAddr is the socket's address.
func (c *batchConn) LocalAddr() net.Addr { return c.conn.LocalAddr() }

// SetDeadline sets the read deadline only: see SetWriteDeadline.
func (c *batchConn) SetDeadline(t time.Time) error { return c.conn.SetReadDeadline(t) }

// SetReadDeadline sets the socket's read deadline.
func (c *batchConn) SetReadDeadline(t time.Time) error { return c.conn.SetReadDeadline(t) }

// SetWriteDeadline does nothing: writes never block, so there is nothing to time out, and
// a deadline on the socket (pion's mux sets one to abort writes on shutdown) would fail
// the shared writer's sends for every connection.
func (c *batchConn) SetWriteDeadline(time.Time) error { return nil }

var _ net.PacketConn = (*batchConn)(nil)
