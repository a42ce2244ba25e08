package client

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The signalling WebSocket is opened with the HTTP client the options name: its dialer is
// the one that connects (a test in a network namespace dials from inside it this way).
func TestJoinDialsWithTheGivenHTTPClient(t *testing.T) {
	refused := errors.New("refused by the test's dialer")
	var dialed []string
	hc := &http.Client{Transport: &http.Transport{
		DialContext: func(_ context.Context, network, addr string) (net.Conn, error) {
			dialed = append(dialed, network+" "+addr)
			return nil, refused
		},
	}}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	_, err := Join(ctx, Options{URL: "http://127.0.0.1:9/", Token: "unused", HTTPClient: hc})
	if !errors.Is(err, refused) {
		t.Fatalf("join: %v, want the dialer's error", err)
	}
	if len(dialed) != 1 || !strings.HasSuffix(dialed[0], "127.0.0.1:9") {
		t.Fatalf("dials through the given client: %q", dialed)
	}
}
