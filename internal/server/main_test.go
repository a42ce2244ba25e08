package server_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test here starts and stops real servers and clients; none may leave a goroutine
// behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
