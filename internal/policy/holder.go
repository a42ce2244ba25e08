package policy

import "sync/atomic"

// Holder holds the running policy. Decisions read it without locks; a new version replaces
// it only if it loads, so a refused file leaves the running policy in place.
type Holder struct {
	p atomic.Pointer[Policy]
}

// NewHolder returns a Holder running p (nil: no rules).
func NewHolder(p *Policy) *Holder {
	h := &Holder{}
	h.p.Store(p)
	return h
}

// Policy returns the running policy.
func (h *Holder) Policy() *Policy { return h.p.Load() }

// Load loads a new version and, if it loads, makes it the running policy and returns the
// one it replaced (for the audit trail's diff). If it does not load, the running policy
// stays and the error says why, as Load's.
func (h *Holder) Load(name string, data []byte) (previous *Policy, err error) {
	p, err := Load(name, data)
	if err != nil {
		return nil, err
	}
	return h.p.Swap(p), nil
}

// Replace makes p (loaded by the caller) the running policy and returns the one it
// replaced.
func (h *Holder) Replace(p *Policy) (previous *Policy) { return h.p.Swap(p) }
