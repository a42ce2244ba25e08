//go:build !linux

package sfu

import (
	"net"

	"golang.org/x/net/ipv4"
)

// newBatchWriter returns the portable writer: sendmmsg where x/net has it, else one sendmsg
// per datagram.
func newBatchWriter(conn *net.UDPConn) batchWriter { return ipv4.NewPacketConn(conn) }

// newReader returns the socket itself.
func newReader(conn *net.UDPConn) datagramReader { return conn }
