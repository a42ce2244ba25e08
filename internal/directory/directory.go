package directory

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/meridian-video/meridian/internal/bus"
	"github.com/meridian-video/meridian/internal/store"
	"github.com/meridian-video/meridian/internal/topology"
)

// Version is the format of the values this package writes; readers refuse others.
const Version = 1

// Errors a lookup may return besides wrapped transport errors.
var (
	ErrNotFound = errors.New("directory: not found")
	ErrNotReady = errors.New("directory: not ready")
	ErrInvalid  = errors.New("directory: invalid entry")
)

// Config places the directory in the deployment.
type Config struct {
	// Deployment is the region list; this node's region must be in it.
	Deployment topology.Deployment
	// Replicas of each bucket on its region's cluster (default 1; at most the region's
	// server count).
	Replicas int
	// SourceWait is how long a new region's view waits, at its first start, for every
	// region's bucket to exist before sourcing them (default 30s); see createBuckets.
	SourceWait time.Duration
}

// Directory reads and writes the routing facts.
type Directory struct {
	b       *bus.Bus
	region  string
	regions []string
	cfg     Config
	log     *slog.Logger

	mu     sync.Mutex
	origin jetstream.KeyValue // this region's own bucket
	view   jetstream.KeyValue // every region's buckets; nil in a one-region deployment
	// answering: the buckets exist and this region's bucket answered the last probe (or
	// only one probe in a row failed).
	answering atomic.Bool
	fails     int // consecutive failed probes, owned by run
	err       error
	opened    time.Time

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// Open returns at once and creates or updates the buckets in the background, as soon as
// the bus is ready (JetStream's first election takes seconds); see [Directory.Ready].
func Open(ctx context.Context, b *bus.Bus, cfg Config, log *slog.Logger) (*Directory, error) {
	if cfg.Replicas == 0 {
		cfg.Replicas = 1
	}
	if cfg.SourceWait <= 0 {
		cfg.SourceWait = 30 * time.Second
	}
	if cfg.Replicas < 1 || cfg.Replicas > 5 {
		return nil, fmt.Errorf("directory: replicas %d: want 1 to 5", cfg.Replicas)
	}
	if err := cfg.Deployment.Validate(); err != nil {
		return nil, fmt.Errorf("directory: %w", err)
	}
	if _, ok := cfg.Deployment.Lookup(b.Region()); !ok {
		return nil, fmt.Errorf("directory: own region %q not among the deployment's regions", b.Region())
	}
	regions := make([]string, 0, len(cfg.Deployment.Regions))
	for _, r := range cfg.Deployment.Regions {
		regions = append(regions, r.ID)
	}
	d := &Directory{
		b: b, region: b.Region(), regions: regions, cfg: cfg,
		log: log.With("component", "directory", "region", b.Region()),
		err: ErrNotReady, opened: time.Now(),
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	go d.run()
	return d, nil
}

func originBucket(region string) string { return "meridian-dir-" + region }
func viewBucket(region string) string   { return "meridian-dirview-" + region }

// run creates the buckets, retrying until the control plane lets it (creating needs
// JetStream's meta leader), then probes this region's bucket once a second. Reads need no
// meta leader: a region cut off from the others' majority keeps answering from its own
// servers what it holds, while bus.Ready reports the meta leader unreachable.
func (d *Directory) run() {
	defer close(d.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-d.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	for {
		err := d.b.WaitReady(ctx)
		if err == nil {
			err = d.createBuckets(ctx)
		}
		if err == nil {
			break
		}
		d.setErr(err)
		d.log.Debug("directory not ready yet", "error", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
	d.answering.Store(true)
	d.log.Info("directory ready")
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		d.probe(ctx)
	}
}

// probe reads a key that is never written: "not found" is an answer.
func (d *Directory) probe(ctx context.Context) {
	d.mu.Lock()
	origin := d.origin
	d.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, d.b.RequestTimeout())
	defer cancel()
	_, err := origin.Get(ctx, "probe.ready")
	if err == nil || errors.Is(err, jetstream.ErrKeyNotFound) {
		d.fails = 0
		if !d.answering.Swap(true) {
			d.log.Info("directory answering again")
		}
		return
	}
	d.setErr(err)
	if d.fails++; d.fails >= 2 && d.answering.Swap(false) {
		d.log.Warn("directory not answering", "error", err)
	}
}

func (d *Directory) setErr(err error) {
	d.mu.Lock()
	d.err = fmt.Errorf("%w: %v", ErrNotReady, err)
	d.mu.Unlock()
}

func (d *Directory) createBuckets(ctx context.Context) error {
	js := d.b.JetStream()
	placement := &jetstream.Placement{Cluster: d.region}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	origin, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:    originBucket(d.region),
		History:   1,
		Storage:   jetstream.FileStorage,
		Replicas:  d.cfg.Replicas,
		Placement: placement,
	})
	if err != nil {
		return fmt.Errorf("bucket %s: %w", originBucket(d.region), err)
	}
	var view jetstream.KeyValue
	if len(d.regions) > 1 {
		if err := d.awaitOrigins(ctx); err != nil {
			return err
		}
		sources := make([]*jetstream.StreamSource, 0, len(d.regions))
		for _, r := range d.regions {
			sources = append(sources, &jetstream.StreamSource{Name: originBucket(r)})
		}
		view, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:    viewBucket(d.region),
			History:   1,
			Storage:   jetstream.FileStorage,
			Replicas:  d.cfg.Replicas,
			Placement: placement,
			Sources:   sources,
		})
		if err != nil {
			return fmt.Errorf("bucket %s: %w", viewBucket(d.region), err)
		}
	}
	d.mu.Lock()
	d.origin, d.view = origin, view
	d.mu.Unlock()
	return nil
}

// awaitOrigins holds back a view's first creation until every region's bucket exists.
// JetStream sets up a source whose stream does not exist yet only after retries it backs
// off (10 s, 20 s, 30 s, ...), so a view made before another region's bucket would go
// without that region's facts for up to a minute: a session made there a moment ago would
// not be found, and its user signed out. Meanwhile the directory is not ready (lookups
// fail closed). A view that exists already (a restart) is updated at once, and after
// SourceWait a region still without its bucket (down at the deployment's first start) is
// sourced anyway, JetStream's retries picking it up when it comes.
func (d *Directory) awaitOrigins(ctx context.Context) error {
	js := d.b.JetStream()
	if _, err := js.Stream(ctx, "KV_"+viewBucket(d.region)); err == nil {
		return nil
	}
	for _, r := range d.regions {
		_, err := js.Stream(ctx, "KV_"+originBucket(r))
		if err == nil {
			continue
		}
		if !errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("bucket %s: %w", originBucket(r), err)
		}
		if time.Since(d.opened) < d.cfg.SourceWait {
			return fmt.Errorf("waiting for region %s's bucket before sourcing it", r)
		}
		d.log.Warn("sourcing a region whose directory bucket does not exist yet: its facts arrive after JetStream's retries", "peer_region", r)
	}
	return nil
}

// Ready reports whether lookups can be answered now: the buckets exist, the connection is
// up and this region's bucket answered within the last two probes.
func (d *Directory) Ready() bool { return d.answering.Load() && d.b.Conn().IsConnected() }

// Err is nil when ready, else why not (wrapping [ErrNotReady]).
func (d *Directory) Err() error {
	if d.Ready() {
		return nil
	}
	if d.answering.Load() {
		return fmt.Errorf("%w: not connected", ErrNotReady)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err
}

// WaitReady blocks until the directory is ready or ctx ends.
func (d *Directory) WaitReady(ctx context.Context) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for !d.Ready() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %v", d.Err(), ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// Close stops the background set-up; the bus is the caller's to close.
func (d *Directory) Close() {
	d.once.Do(func() {
		close(d.stop)
		<-d.done
	})
}

func (d *Directory) buckets() (origin, view jetstream.KeyValue, err error) {
	if err := d.Err(); err != nil {
		return nil, nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.origin, d.view, nil
}

// put writes one fact into this region's bucket. Only the home region writes what is
// homed there, so a region's bucket holds nothing of another region's.
func (d *Directory) put(ctx context.Context, home, key string, v any) error {
	if home != d.region {
		return fmt.Errorf("%w: home region %q: this node writes only region %q", ErrInvalid, home, d.region)
	}
	origin, _, err := d.buckets()
	if err != nil {
		return err
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("directory: encode %s: %w", key, err)
	}
	ctx, cancel := context.WithTimeout(ctx, d.b.RequestTimeout())
	defer cancel()
	if _, err := origin.Put(ctx, key, data); err != nil {
		return fmt.Errorf("directory: put %s: %w", key, err)
	}
	return nil
}

// del removes a fact this region wrote. A fact of another region is not found here: a
// delete marker written for it would travel into every view and erase it there.
func (d *Directory) del(ctx context.Context, key string) error {
	origin, _, err := d.buckets()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, d.b.RequestTimeout())
	defer cancel()
	e, err := origin.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("%w: %s is not homed in %s", ErrNotFound, key, d.region)
	}
	if err != nil {
		return fmt.Errorf("directory: delete %s: %w", key, err)
	}
	// LastRevision: a write that raced in since is not erased unseen.
	if err := origin.Delete(ctx, key, jetstream.LastRevision(e.Revision())); err != nil {
		return fmt.Errorf("directory: delete %s: %w", key, err)
	}
	return nil
}

// get reads one fact: this region's own bucket first (what this region wrote is there at
// once), then the view of every region's buckets.
func (d *Directory) get(ctx context.Context, key string, v versioned) error {
	origin, view, err := d.buckets()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, d.b.RequestTimeout())
	defer cancel()
	e, err := origin.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) && view != nil {
		e, err = view.Get(ctx, key)
	}
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	if err != nil {
		return fmt.Errorf("directory: get %s: %w", key, err)
	}
	if err := json.Unmarshal(e.Value(), v); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrInvalid, key, err)
	}
	if got := v.version(); got != Version {
		return fmt.Errorf("%w: %s: version %d, want %d", ErrInvalid, key, got, Version)
	}
	return nil
}

// key builds a bucket key from a kind and an id checked by bus.Token.
func key(kind, id string) (string, error) {
	k, err := bus.Subject(kind, id)
	if err != nil {
		return "", fmt.Errorf("%w: %s id: %v", ErrInvalid, kind, err)
	}
	return k, nil
}

// EmailKey is the keyed hash under which an email address is found for sign-in:
// HMAC-SHA256 under the deployment's directory secret of the normalised address,
// base64url. Without the secret the hash cannot be tested against guessed addresses.
func EmailKey(secret []byte, email string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(store.NormalizeEmail(email)))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
