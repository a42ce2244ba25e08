package freeport

import (
	"net"
	"strconv"
	"testing"
)

// Ports never hands out one port twice, nor one an outgoing connection could be given.
func TestTakeIsFreeUniqueAndNotEphemeral(t *testing.T) {
	var p Ports
	seen := map[int]bool{}
	for range 100 {
		port, err := p.Take()
		if err != nil {
			t.Fatal(err)
		}
		if seen[port] {
			t.Fatalf("port %d handed out twice", port)
		}
		seen[port] = true
		if port < lowest || port >= ephemeralLow() {
			t.Fatalf("port %d outside [%d, %d)", port, lowest, ephemeralLow())
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			t.Fatalf("port %d not free: %v", port, err)
		}
		l.Close()
	}
}
