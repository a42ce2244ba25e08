// Package regiontest holds the tests that prove where a meeting's packets go, where an
// account's data is kept and that no region admits to another's meetings: Meridian nodes
// run as separate `meridian serve` processes, each in a network namespace of its own
// (internal/netlab), with participants (Go clients and Chromium) in namespaces near them;
// captures on the nodes' interfaces count what reaches each one, and the nodes' stores,
// data directories and bus are read after the fact. It has no code of its own outside its
// tests. They need Linux, root, the ip command and, for the browser, Chromium; without
// them they skip, and under CI (the environment variable CI set) they fail instead.
package regiontest
