//go:build race

package server_test

// raceEnabled lowers media load in tests built with the race detector, which slows the
// forwarding path several times over; the assertions stay the same.
const raceEnabled = true
