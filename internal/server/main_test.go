package server_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test here starts and stops real servers and clients; none may leave a goroutine
// behind, but for one of nats-server's own: a directory view's source consumer set-up waits
// up to 30 s for an answer (srcConsumerWaitTime) whatever Shutdown does, then exits.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/nats-io/nats-server/v2/server.(*stream).trySetupSourceConsumer.func3"))
}
