package sfu

import "sync"

// packetCacheSize is how many packets of one received video layer are kept for answering
// subscribers' NACKs: ~1.3 s of 3 Mbps video at ~1100-byte packets. A NACK for an older
// packet would arrive too late to help anyway. Must be a power of two.
const packetCacheSize = 512

// maxPacketSize bounds what one cache slot holds; longer datagrams are not cached.
const maxPacketSize = 1500

// packetCache keeps the most recent packets of one received layer, by the publisher's own
// sequence number, exactly as they arrived.
//
// One cache per received layer, shared by every subscriber: the sequencer of each
// subscriber maps the sequence numbers it sent back to the layer and number they came from.
// A cache per subscriber (what pion's NACK responder keeps) would copy every packet once per
// subscriber and hold ~370 KiB per subscription.
type packetCache struct {
	mu    sync.Mutex
	slots [packetCacheSize]cacheSlot
}

type cacheSlot struct {
	seq  uint16
	n    int // 0: empty
	data []byte
}

// store keeps a copy of the packet with sequence number seq, replacing the one
// packetCacheSize numbers before it.
func (c *packetCache) store(seq uint16, pkt []byte) {
	if len(pkt) > maxPacketSize {
		return
	}
	c.mu.Lock()
	s := &c.slots[seq%packetCacheSize]
	if s.data == nil {
		s.data = make([]byte, maxPacketSize)
	}
	s.seq, s.n = seq, copy(s.data, pkt)
	c.mu.Unlock()
}

// load copies the packet with sequence number seq into buf and returns its length, or 0 if
// it is no longer (or never was) in the cache.
func (c *packetCache) load(seq uint16, buf []byte) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := &c.slots[seq%packetCacheSize]
	if s.n == 0 || s.seq != seq {
		return 0
	}
	return copy(buf, s.data[:s.n])
}
