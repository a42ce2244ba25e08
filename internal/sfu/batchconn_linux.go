//go:build linux

package sfu

import (
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"unsafe"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// rawBatchMax bounds one sendmmsg call of rawBatchWriter: the call cannot be preempted, so it
// is kept to well under a millisecond (~64 loopback datagrams) for the garbage collector,
// which waits for it to return.
const rawBatchMax = 64

// rawBatchWriter sends with sendmmsg as a raw system call, which the Go scheduler does not
// see: the writer goroutine keeps its processor through the call. As an ordinary system
// call, every fan-out's long sendmmsg kept the runtime's monitor thread waking every 20 µs to
// hand the processor to another thread, and the thread switches that followed cost more
// CPU than the sends' own user-space work.
//
// The socket is non-blocking (as every Go socket): when it is full the call fails with
// EAGAIN and the writer waits for it in the runtime's poller, like any Go write.
type rawBatchWriter struct {
	rc       rawConn
	fallback batchWriter // for addresses the raw path does not encode (IPv6 zones)
	hdrs     [rawBatchMax]mmsghdr
	iovs     [rawBatchMax]unix.Iovec
	addrs    [rawBatchMax]unix.RawSockaddrInet6
}

type rawConn interface {
	Write(f func(fd uintptr) bool) error
}

type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
	_   [4]byte
}

func newBatchWriter(conn *net.UDPConn) batchWriter {
	fallback := ipv4.NewPacketConn(conn)
	rc, err := conn.SyscallConn()
	if err != nil {
		return fallback
	}
	return &rawBatchWriter{rc: rc, fallback: fallback}
}

// WriteBatch sends up to rawBatchMax of ms and returns how many were sent; an error is about
// the first message not sent.
func (w *rawBatchWriter) WriteBatch(ms []ipv4.Message, flags int) (int, error) {
	n := min(len(ms), rawBatchMax)
	for i := range n {
		m := &ms[i]
		ua, ok := m.Addr.(*net.UDPAddr)
		if !ok || ua.Zone != "" || len(m.Buffers) != 1 || len(m.Buffers[0]) == 0 {
			if i == 0 {
				return w.fallback.WriteBatch(ms[:1], flags)
			}
			n = i
			break
		}
		w.hdrs[i].hdr = unix.Msghdr{}
		w.hdrs[i].hdr.Name = (*byte)(unsafe.Pointer(&w.addrs[i]))
		w.hdrs[i].hdr.Namelen = encodeSockaddr(&w.addrs[i], ua)
		w.iovs[i].Base = &m.Buffers[0][0]
		w.iovs[i].SetLen(len(m.Buffers[0]))
		w.hdrs[i].hdr.Iov = &w.iovs[i]
		w.hdrs[i].hdr.SetIovlen(1)
	}
	var sent int
	var errno unix.Errno
	err := w.rc.Write(func(fd uintptr) bool {
		r, _, e := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&w.hdrs[0])), uintptr(n), uintptr(flags), 0, 0)
		if e == unix.EAGAIN {
			return false // wait until the socket can take more
		}
		sent, errno = int(r), e
		return true
	})
	// Drop the references to the datagrams' buffers.
	for i := range n {
		w.iovs[i].Base = nil
	}
	switch {
	case err != nil:
		return sent, err
	case errno != 0:
		return sent, os.NewSyscallError("sendmmsg", errno)
	}
	return sent, nil
}

// encodeSockaddr writes addr as a struct sockaddr_in or sockaddr_in6 into sa and returns its
// length.
func encodeSockaddr(sa *unix.RawSockaddrInet6, addr *net.UDPAddr) uint32 {
	port := uint16(addr.Port)
	if ip4 := addr.IP.To4(); ip4 != nil {
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		*sa4 = unix.RawSockaddrInet4{Family: unix.AF_INET}
		putPort(&sa4.Port, port)
		copy(sa4.Addr[:], ip4)
		return unix.SizeofSockaddrInet4
	}
	*sa = unix.RawSockaddrInet6{Family: unix.AF_INET6}
	putPort(&sa.Port, port)
	copy(sa.Addr[:], addr.IP.To16())
	return unix.SizeofSockaddrInet6
}

// putPort stores a port in network byte order, whatever the machine's.
func putPort(dst *uint16, port uint16) {
	b := (*[2]byte)(unsafe.Pointer(dst))
	b[0], b[1] = byte(port>>8), byte(port)
}

// rawReader reads with recvfrom as a raw system call, for the reason rawBatchWriter sends
// with one: an ordinary system call on every datagram read woke the runtime's monitor thread
// whenever the processor had been idle, and its wake-ups cost more than the reads.
type rawReader struct {
	rc interface {
		Read(f func(fd uintptr) bool) error
	}
	mu sync.Mutex // one read at a time: the fields below are the call's
	// read is r.recv bound once: a closure made per call would be allocated per datagram.
	read  func(fd uintptr) bool
	buf   []byte
	n     int
	errno unix.Errno
	from  unix.RawSockaddrInet6 // large enough for either family
	len   uint32
}

func newReader(conn *net.UDPConn) datagramReader {
	rc, err := conn.SyscallConn()
	if err != nil {
		return conn
	}
	r := &rawReader{rc: rc}
	r.read = r.recv
	return r
}

func (r *rawReader) recv(fd uintptr) bool {
	for {
		r.len = unix.SizeofSockaddrInet6
		n, _, e := unix.RawSyscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&r.buf[0])), uintptr(len(r.buf)), 0,
			uintptr(unsafe.Pointer(&r.from)), uintptr(unsafe.Pointer(&r.len)))
		switch e {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false // wait in the runtime's poller for a datagram
		}
		r.n, r.errno = int(n), e
		return true
	}
}

// ReadFromUDPAddrPort reads one datagram into b.
func (r *rawReader) ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error) {
	if len(b) == 0 {
		return 0, netip.AddrPort{}, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.buf = b
	err := r.rc.Read(r.read)
	r.buf = nil
	if err != nil {
		return 0, netip.AddrPort{}, err
	}
	if r.errno != 0 {
		return 0, netip.AddrPort{}, os.NewSyscallError("recvfrom", r.errno)
	}
	return r.n, decodeSockaddr(&r.from), nil
}

// decodeSockaddr reads the struct sockaddr_in or sockaddr_in6 in sa.
func decodeSockaddr(sa *unix.RawSockaddrInet6) netip.AddrPort {
	b := (*[2]byte)(unsafe.Pointer(&sa.Port))
	port := uint16(b[0])<<8 | uint16(b[1])
	if sa.Family == unix.AF_INET {
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), port)
	}
	addr := netip.AddrFrom16(sa.Addr)
	if sa.Scope_id != 0 {
		addr = addr.WithZone(strconv.FormatUint(uint64(sa.Scope_id), 10))
	}
	return netip.AddrPortFrom(addr, port)
}
