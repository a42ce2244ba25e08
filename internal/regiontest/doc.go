// Package regiontest holds the tests that prove where a meeting's packets go: Meridian
// nodes run as separate `meridian serve` processes, each in a network namespace of its own
// (internal/netlab), with participants (Go clients and Chromium) in namespaces near them,
// and captures on the nodes' interfaces count what reaches each one. It has no code of
// its own outside its tests. They need Linux, root, the ip command and Chromium; without
// them they skip, and under CI (the environment variable CI set) they fail instead.
package regiontest
