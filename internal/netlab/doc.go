// Package netlab is a lab of network namespaces for multi-node tests (Linux, root only).
//
// A Lab is a hub namespace holding a bridge in 198.18.0.0/15 (the range RFC 2544 sets
// aside for benchmarking, which no real network routes), and hosts: each a namespace of
// its own with loopback, one veth to the bridge, an address and a default route via the
// hub (which forwards nothing further, so a packet for any other address dies there). The
// machine's root namespace is never touched: nothing in a lab can reach the machine's own
// addresses, and nothing outside can reach the lab.
//
// Inside a host, tests run programs (Host.Command, Host.Start: `ip netns exec`), open
// sockets from this process (Host.Do, Host.DialContext, Host.HTTPClient, Host.Net for pion
// WebRTC), and count the packets on all of the host's interfaces (Host.Capture, an
// AF_PACKET socket opened in the namespace), which they can save as a pcap file.
//
// Every namespace is named mrdn-nl-<pid>-<random>-<host>; New first deletes those whose
// process is gone (a run killed before its cleanup), and a lab's cleanup kills whatever
// still runs in its namespaces and deletes them, whether the test passed or not.
//
// Available says why a lab cannot be made here (not Linux, not root, no ip command);
// Require skips the test with that reason, or fails it when the environment variable CI is
// set, where these tests are mandatory.
package netlab
