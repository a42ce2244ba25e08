// Package bus is the node's connection to the control plane: an embedded nats-server per
// node by default (nodes of a region form a cluster, regions are joined by gateways into a
// supercluster), or an external NATS cluster or supercluster by URL.
//
// # No personal data in names
//
// Subjects, stream names and bucket names are visible to every server of the supercluster
// (JetStream's meta group replicates stream configs everywhere, and subject interest crosses
// gateways), so they carry only region ids, node ids and opaque random ids: never an email
// address, a name, a meeting topic or anything a user typed. Every token this package and its
// users put into a subject or a key goes through [Token], which accepts only short runs of
// [A-Za-z0-9_-] (an email's "@" and "." and a name's spaces are refused), and [Subject]
// builds subjects from such tokens alone.
//
// # Residency
//
// Data that belongs to one region is kept on that region's servers with JetStream
// placement on the region's cluster (the cluster is named after the region id), not with a
// JetStream domain per region: domains are joined by leafnodes, not gateways, and the
// directory that must reach every region would then need cross-domain mirrors. Placement
// keeps the data itself in-region; what still reaches other regions is the stream's name and
// config, which the rule above keeps free of personal data.
//
// # Fail closed
//
// Start does not wait for JetStream, whose first meta leader takes seconds to elect.
// [Bus.Ready] reports whether the control plane answers now; callers that need it refuse
// while it is false, rather than guess.
package bus
