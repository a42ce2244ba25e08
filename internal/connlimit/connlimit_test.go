package connlimit

import (
	"io"
	"net"
	"net/netip"
	"testing"
	"time"
)

// listen serves ln, keeping every accepted connection open until its client closes it.
func listen(t *testing.T, max int, exempt ...netip.Prefix) string {
	t.Helper()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := New(raw, max, exempt)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				io.Copy(io.Discard, c)
				c.Close()
			}()
		}
	}()
	return raw.Addr().String()
}

// dialFrom connects from a local address (127.0.0.1 and 127.0.0.2 are both loopback).
func dialFrom(t *testing.T, from, to string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", to)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedByServer tells whether the server closed c (a read ends with EOF or a reset)
// rather than keeping it open.
func closedByServer(t *testing.T, c net.Conn) bool {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(time.Second))
	_, err := c.Read(make([]byte, 1))
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return false
	}
	return err != nil
}

func TestCapPerClient(t *testing.T) {
	addr := listen(t, 3)
	for range 3 {
		dialFrom(t, "127.0.0.1", addr)
	}
	over := dialFrom(t, "127.0.0.1", addr)
	if !closedByServer(t, over) {
		t.Fatal("the connection over the cap was kept open")
	}
	other := dialFrom(t, "127.0.0.2", addr)
	if closedByServer(t, other) {
		t.Fatal("another client was refused")
	}
}

// Closing a connection gives its place back.
func TestClosingFreesAPlace(t *testing.T) {
	addr := listen(t, 1)
	first := dialFrom(t, "127.0.0.1", addr)
	if closedByServer(t, first) {
		t.Fatal("the first connection was refused")
	}
	first.Close()
	// The server notices the close when it reads; until then the place is held, so try
	// again a few times.
	for range 20 {
		c := dialFrom(t, "127.0.0.1", addr)
		if !closedByServer(t, c) {
			return
		}
	}
	t.Fatal("the place of a closed connection was never given back")
}

func TestExemptClientsAreNotCounted(t *testing.T) {
	addr := listen(t, 1, netip.MustParsePrefix("127.0.0.2/32"))
	for range 3 {
		if c := dialFrom(t, "127.0.0.2", addr); closedByServer(t, c) {
			t.Fatal("an exempt client was refused")
		}
	}
}
