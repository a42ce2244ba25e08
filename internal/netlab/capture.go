//go:build linux

package netlab

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Packet is one frame a capture saw, with what its IP header says.
type Packet struct {
	Time time.Time
	// Interface is the name of the interface in the host's namespace (lo, eth0).
	Interface string
	// Outgoing is true for a frame the host sent, false for one it received.
	Outgoing bool
	// EtherType is the frame's type: 0x0800 IPv4, 0x86dd IPv6, 0x0806 ARP.
	EtherType uint16
	// Proto is the IP protocol (6 TCP, 17 UDP, 1 ICMP); zero for a frame that is not IP.
	Proto uint8
	// Src and Dst are the IP addresses, with the ports for TCP and UDP (zero otherwise).
	// Both are invalid for a frame that is not IP.
	Src, Dst netip.AddrPort
	// Len is the frame's length on the wire.
	Len int
	// Data is the start of the frame (up to snapLen bytes).
	Data []byte
}

func (p Packet) String() string {
	dir := "in"
	if p.Outgoing {
		dir = "out"
	}
	if !p.Src.IsValid() {
		return fmt.Sprintf("%s %s %s ethertype %#04x, %d bytes", p.Time.Format("15:04:05.000000"), p.Interface, dir, p.EtherType, p.Len)
	}
	return fmt.Sprintf("%s %s %s proto %d %s > %s, %d bytes", p.Time.Format("15:04:05.000000"), p.Interface, dir, p.Proto, p.Src, p.Dst, p.Len)
}

// Involving matches IP packets from or to any of addrs. ARP is not IP: a bridge floods
// every ARP request to all of its ports, so every host hears who asks for whom, which
// carries nothing of what the hosts then exchange.
func Involving(addrs ...netip.Addr) func(Packet) bool {
	return func(p Packet) bool {
		return p.Src.IsValid() && (slices.Contains(addrs, p.Src.Addr()) || slices.Contains(addrs, p.Dst.Addr()))
	}
}

const (
	// snapLen is how much of each frame is kept: every header, and the start of the
	// payload.
	snapLen = 256
	// maxKept bounds the frames kept for a pcap file (a few megabytes); counting goes on
	// past it.
	maxKept = 50000
	// maxMatchesKept bounds the matched packets kept for failure messages.
	maxMatchesKept = 100
)

// Capture counts the frames on every interface of a host, in both directions, from an
// AF_PACKET socket opened in the host's namespace.
type Capture struct {
	host  *Host
	match func(Packet) bool
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once

	mu      sync.Mutex
	total   int
	matched int
	matches []Packet // the first maxMatchesKept matched
	kept    []Packet // the first maxKept of all, for the pcap file
	drops   uint32   // frames the kernel dropped because the socket's buffer was full
	err     error    // why reading stopped early
}

// Capture starts counting the frames on all of the host's interfaces, and those match
// accepts (match may be nil). It returns once the socket is open, so every frame from
// then on is seen. The capture stops when t ends; if t failed, what it saw is saved to
// <artifacts>/<host>-<n>.pcap, n counting the host's captures from 1.
func (h *Host) Capture(t testing.TB, match func(Packet) bool) *Capture {
	t.Helper()
	c := &Capture{host: h, match: match, stop: make(chan struct{}), done: make(chan struct{})}
	h.lab.mu.Lock()
	h.captures++
	seq := h.captures // names this capture's pcap file apart from the host's others
	h.lab.mu.Unlock()
	ready := make(chan error, 1)
	go func() {
		defer close(c.done)
		// Do's thread stays in the namespace while it reads; the socket would anyway.
		if err := h.Do(func() error { return c.run(ready) }); err != nil {
			ready <- err // only errors before the socket was ready are returned
		}
	}()
	if err := <-ready; err != nil {
		t.Fatalf("netlab: capture on %s: %v", h.Name, err)
	}
	t.Cleanup(func() {
		c.Stop()
		if t.Failed() {
			path := filepath.Join(ArtifactDir(t), safeName(fmt.Sprintf("%s-%d", h.Name, seq))+".pcap")
			if err := c.WritePcap(path); err != nil {
				t.Logf("netlab: save the capture of %s: %v", h.Name, err)
			} else {
				t.Logf("netlab: capture of %s saved to %s", h.Name, path)
			}
		}
	})
	return c
}

// run opens the socket, says so on ready, and reads until Stop. It returns the errors that
// come before ready; a later one is kept for Err.
func (c *Capture) run(ready chan<- error) error {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
	if err != nil {
		return fmt.Errorf("open an AF_PACKET socket: %w", err)
	}
	defer unix.Close(fd)
	// A large buffer, so a burst of media is not dropped while the reader is busy; drops
	// are counted anyway (Drops).
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20)
	// A read wakes up at least this often to see whether the capture was stopped.
	tv := unix.NsecToTimeval((100 * time.Millisecond).Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return fmt.Errorf("set the read timeout: %w", err)
	}
	names := map[int]string{}
	ifs, err := net.Interfaces()
	if err != nil {
		return fmt.Errorf("list interfaces: %w", err)
	}
	for _, i := range ifs {
		names[i.Index] = i.Name
	}
	ready <- nil

	buf := make([]byte, 1<<16)
	for {
		select {
		case <-c.stop:
			c.readDrops(fd)
			return nil
		default:
		}
		n, from, err := unix.Recvfrom(fd, buf, unix.MSG_TRUNC)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			c.mu.Lock()
			c.err = fmt.Errorf("read: %w", err)
			c.mu.Unlock()
			return nil
		}
		ll, ok := from.(*unix.SockaddrLinklayer)
		if !ok {
			continue
		}
		p := parse(buf[:min(n, len(buf))], n)
		p.Time = time.Now()
		p.Interface = names[ll.Ifindex]
		p.Outgoing = ll.Pkttype == unix.PACKET_OUTGOING
		c.add(p)
	}
}

func (c *Capture) add(p Packet) {
	matched := c.match != nil && c.match(p)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total++
	if len(c.kept) < maxKept {
		c.kept = append(c.kept, p)
	}
	if matched {
		c.matched++
		if len(c.matches) < maxMatchesKept {
			c.matches = append(c.matches, p)
		}
	}
}

// readDrops reads the kernel's count of frames the socket's buffer had no room for.
func (c *Capture) readDrops(fd int) {
	var st unix.TpacketStats
	size := uint32(unsafe.Sizeof(st))
	_, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_PACKET, unix.PACKET_STATISTICS,
		uintptr(unsafe.Pointer(&st)), uintptr(unsafe.Pointer(&size)), 0)
	if errno == 0 {
		c.mu.Lock()
		c.drops += st.Drops
		c.mu.Unlock()
	}
}

// parse reads a frame's Ethernet and IP headers; wire is its length on the wire.
func parse(b []byte, wire int) Packet {
	p := Packet{Len: wire, Data: append([]byte(nil), b[:min(len(b), snapLen)]...)}
	if len(b) < 14 {
		return p
	}
	p.EtherType = binary.BigEndian.Uint16(b[12:14])
	ipHdr := b[14:]
	var src, dst netip.Addr
	var l4 []byte
	switch p.EtherType {
	case unix.ETH_P_IP:
		if len(ipHdr) < 20 {
			return p
		}
		ihl := int(ipHdr[0]&0x0f) * 4
		p.Proto = ipHdr[9]
		src = netip.AddrFrom4([4]byte(ipHdr[12:16]))
		dst = netip.AddrFrom4([4]byte(ipHdr[16:20]))
		if len(ipHdr) >= ihl {
			l4 = ipHdr[ihl:]
		}
	case unix.ETH_P_IPV6:
		if len(ipHdr) < 40 {
			return p
		}
		p.Proto = ipHdr[6] // extension headers are not followed: ports then read as zero
		src = netip.AddrFrom16([16]byte(ipHdr[8:24]))
		dst = netip.AddrFrom16([16]byte(ipHdr[24:40]))
		l4 = ipHdr[40:]
	default:
		return p
	}
	var sport, dport uint16
	if (p.Proto == unix.IPPROTO_TCP || p.Proto == unix.IPPROTO_UDP) && len(l4) >= 4 {
		sport, dport = binary.BigEndian.Uint16(l4[0:2]), binary.BigEndian.Uint16(l4[2:4])
	}
	p.Src, p.Dst = netip.AddrPortFrom(src, sport), netip.AddrPortFrom(dst, dport)
	return p
}

// Stop ends the capture; the counts stay readable. It returns once the socket is closed.
func (c *Capture) Stop() {
	c.once.Do(func() { close(c.stop) })
	<-c.done
}

// Count is the number of frames seen so far.
func (c *Capture) Count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}

// Matched is the number of frames seen so far that the capture's match accepted.
func (c *Capture) Matched() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.matched
}

// Matches returns the first of the matched frames (up to 100), for failure messages.
func (c *Capture) Matches() []Packet {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.matches)
}

// Err is why the capture stopped reading before Stop, or nil. Check it, with Drops,
// before taking a count of zero for an answer.
func (c *Capture) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Drops is the number of frames the kernel could not hand to the capture (its buffer
// was full); it is known once the capture has stopped.
func (c *Capture) Drops() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return int(c.drops)
}

// WritePcap saves the frames seen (the first 50000, each cut to 256 bytes) as a
// classic pcap file, which tshark, tcpdump and Wireshark read.
func (c *Capture) WritePcap(path string) error {
	c.mu.Lock()
	kept := slices.Clone(c.kept)
	c.mu.Unlock()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := writePcap(f, kept); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

// writePcap writes the pcap format: a file header, then each record's header and bytes
// (all little-endian, microsecond timestamps, Ethernet link type).
func writePcap(f *os.File, packets []Packet) error {
	const linkTypeEthernet = 1
	hdr := make([]byte, 24)
	binary.LittleEndian.PutUint32(hdr[0:], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], snapLen)
	binary.LittleEndian.PutUint32(hdr[20:], linkTypeEthernet)
	out := hdr
	for _, p := range packets {
		rec := make([]byte, 16)
		binary.LittleEndian.PutUint32(rec[0:], uint32(p.Time.Unix()))
		binary.LittleEndian.PutUint32(rec[4:], uint32(p.Time.Nanosecond()/1000))
		binary.LittleEndian.PutUint32(rec[8:], uint32(len(p.Data)))
		binary.LittleEndian.PutUint32(rec[12:], uint32(p.Len))
		out = append(append(out, rec...), p.Data...)
	}
	_, err := f.Write(out)
	return err
}

// htons puts a 16-bit value in network byte order, as AF_PACKET's protocol wants.
func htons(v uint16) uint16 { return v<<8 | v>>8 }
