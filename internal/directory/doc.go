// Package directory is the global routing directory and node registry of a multi-region
// deployment. It holds no personal data: only region ids, node ids, opaque random ids and
// keyed hashes of email addresses, so that everything in it may be replicated to every
// region and cross every gateway.
//
// # Replication
//
// Each region writes only its own bucket, "meridian-dir-<region>" (JetStream KV, placed on
// that region's cluster): the facts about what is homed there. Each region also keeps a
// view, "meridian-dirview-<region>", placed on its own cluster, that sources every region's
// bucket; a lookup reads its own region's bucket first (fresh for what it wrote itself),
// then its view, both local reads of tens of microseconds. Reads need no JetStream meta
// leader, so a region cut off from the others keeps answering from its own servers what it
// last received; a fact it never received is not found.
//
// # Fail closed
//
// A read that cannot be answered (control plane not ready, no responders, timeout, bucket
// missing) returns an error, never a guess, and [ErrNotFound] only when the directory
// answered that the key is absent. Callers refuse what needs the answer.
package directory
