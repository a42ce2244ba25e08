package directory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrConflict is returned by UpdateMeeting when the entry changed since it was read:
// another writer won; read again and decide again.
var ErrConflict = errors.New("directory: changed since read")

// MeetingForUpdate reads a meeting homed in this node's region from this region's own
// bucket, with its revision for UpdateMeeting; revision 0 with ErrNotFound when it is
// absent (then UpdateMeeting with 0 creates it).
func (d *Directory) MeetingForUpdate(ctx context.Context, id string) (Meeting, uint64, error) {
	var m Meeting
	k, err := key("meeting", id)
	if err != nil {
		return m, 0, err
	}
	origin, _, err := d.buckets()
	if err != nil {
		return m, 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, d.b.RequestTimeout())
	defer cancel()
	e, err := origin.Get(ctx, k)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return m, 0, fmt.Errorf("%w: %s", ErrNotFound, k)
	}
	if err != nil {
		return m, 0, fmt.Errorf("directory: get %s: %w", k, err)
	}
	if err := json.Unmarshal(e.Value(), &m); err != nil {
		return m, 0, fmt.Errorf("%w: %s: %v", ErrInvalid, k, err)
	}
	if m.V != Version {
		return m, 0, fmt.Errorf("%w: %s: version %d, want %d", ErrInvalid, k, m.V, Version)
	}
	return m, e.Revision(), nil
}

// UpdateMeeting writes a meeting homed in this node's region if its entry is still at
// revision rev (0: still absent, or deleted), as MeetingForUpdate read it, and returns
// ErrConflict if another write came first. Of two nodes placing one meeting at once, one
// write wins and the other learns the winner by reading again.
func (d *Directory) UpdateMeeting(ctx context.Context, m Meeting, rev uint64) error {
	k, err := key("meeting", m.ID)
	if err != nil {
		return err
	}
	if err := d.checkMeeting(m); err != nil {
		return err
	}
	if m.HomeRegion != d.region {
		return fmt.Errorf("%w: home region %q: this node writes only region %q", ErrInvalid, m.HomeRegion, d.region)
	}
	m.V = Version
	origin, _, err := d.buckets()
	if err != nil {
		return err
	}
	data, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("directory: encode %s: %w", k, err)
	}
	ctx, cancel := context.WithTimeout(ctx, d.b.RequestTimeout())
	defer cancel()
	if rev == 0 {
		_, err = origin.Create(ctx, k, data)
		if errors.Is(err, jetstream.ErrKeyExists) {
			return fmt.Errorf("%w: %s was created meanwhile", ErrConflict, k)
		}
	} else {
		_, err = origin.Update(ctx, k, data, rev)
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return fmt.Errorf("%w: %s is past revision %d", ErrConflict, k, rev)
		}
	}
	if err != nil {
		return fmt.Errorf("directory: update %s: %w", k, err)
	}
	return nil
}
