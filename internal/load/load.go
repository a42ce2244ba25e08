// Package load is the load generator behind `meridian load`: it joins rooms of synthetic
// publishers (VP8 video and Opus audio carrying timestamped markers) and subscribers through
// the public client SDK, waits until every client receives every track, then measures over
// a fixed window what the SFU forwards, how much is lost, how late it arrives and what it
// costs the server.
//
// Run returns a Result; its JSON encoding (the output of `meridian load --json`) has these
// fields:
//
//	rooms, publishers_per_room, subscribers_per_room   the scenario
//	clients, clients_receiving, join_failures           how many joined, and received every track
//	join_concurrency                                    how many clients joined at once
//	duration_seconds                                    the measured window
//	packets_received                                    RTP packets received by all clients in it
//	forwarded_packets_per_sec                           packets_received / duration_seconds
//	cores, forwarded_packets_per_sec_per_core           the machine's cores, and the rate over them
//	packets_expected, packets_lost, loss_percent        by sequence number, after retransmission
//	nacks                                               meridian_sfu_nacks_total over the window (null if /metrics was unreadable)
//	retransmits                                         meridian_sfu_retransmits_total over the window: packets resent for them
//	server_packets_in_per_sec, server_packets_out_per_sec
//	                                                    meridian_sfu_packets_{in,out}_total over the window (null
//	                                                    likewise); in below what the publishers send means the
//	                                                    server reads behind them, and latency grows before loss shows
//	latency_ms {p50, p95, p99, samples}                 publisher send to subscriber receive, every packet
//	server_forward_ms {p50, p95, p99, samples}          meridian_sfu_forward_seconds over the window: time
//	                                                    to hand one packet to every subscriber, as
//	                                                    upper bounds of its buckets (null if unread)
//	join_to_first_frame_ms {p50, p99, samples}          join start to first keyframe, per video track
//	                                                    whose publisher was sending when the client joined
//	late_join_to_first_frame_ms {p50, p99, samples}     the same for Options.ProbeJoins subscribers that
//	                                                    join one at a time after the window
//	server {pid, cpu_seconds, cpu_seconds_per_million_packets, packets_per_cpu_second, peak_rss_bytes}
//	                                                    with Options.ServerPID only
//	load_tool_cpu_seconds                               this process's own CPU over the window
//	machine_busy_cores                                  all CPU in use on the machine over the window
//	                                                    (/proc/stat), to tell when other work competed
//	warnings                                            anything that makes the figures less than clean
package load

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/meridian-video/meridian/client"
	"github.com/meridian-video/meridian/internal/token"
)

// Options describe a load run.
type Options struct {
	// URL is the server's base URL (http://host:port); its /metrics endpoint is read too.
	URL string
	// Rooms, each with Publishers publishing clients (who also subscribe to one another) and
	// Subscribers subscribe-only clients.
	Rooms, Publishers, Subscribers int
	// Duration is the measured window, after warm-up.
	Duration time.Duration
	// Key is the region key of the server's region: the run mints a token per client. See
	// token.ReadRegionKey.
	Key token.RegionKey
	// Token, instead of Key, is used by every client; all clients then share the token's
	// room, and Rooms must be 1.
	Token string
	// Meeting, instead of Key or Token, is a meeting id: every client joins it through
	// the API at URL (POST /api/join, with Passcode) and connects to the node its ticket
	// names, wherever placement put the meeting. Rooms must be 1. The meeting's plan limits
	// its participants, and the server's join limits per client address apply.
	Meeting, Passcode string
	// VideoBitrate and AudioBitrate in bits per second: 1.5 Mbps and 32 kbps when zero.
	VideoBitrate, AudioBitrate int
	// FPS of the synthetic video, 30 when zero.
	FPS int
	// KeyframeInterval of the synthetic video, 3 s when zero.
	KeyframeInterval time.Duration
	// LoopbackOnly makes clients gather loopback ICE candidates only.
	LoopbackOnly bool
	// ServerPID, when not zero, is the server's process id on this machine: its CPU time and
	// peak RSS are read from /proc.
	ServerPID int
	// JoinConcurrency bounds how many clients join at once, 8 when zero.
	JoinConcurrency int
	// WarmupTimeout bounds the wait for every client to receive every track after all have
	// joined; 30 s plus 100 ms per client when zero. The run measures anyway when it passes,
	// and says so in Result.Warnings.
	WarmupTimeout time.Duration
	// ProbeJoins is how many subscribers join the first room one by one after the window,
	// while the load goes on, each alone (probeSpacing apart): their join-to-first-frame
	// times are those of a participant arriving in a busy meeting, free of the join storm.
	ProbeJoins int
	// Progress receives a line a second; nil discards them.
	Progress io.Writer
	// Log receives the clients' debug output; nil discards it.
	Log *slog.Logger
}

// Result is what a run measured.
type Result struct {
	Rooms              int `json:"rooms"`
	PublishersPerRoom  int `json:"publishers_per_room"`
	SubscribersPerRoom int `json:"subscribers_per_room"`
	Clients            int `json:"clients"`
	ClientsReceiving   int `json:"clients_receiving"`
	JoinFailures       int `json:"join_failures"`
	JoinConcurrency    int `json:"join_concurrency"`

	DurationSeconds         float64  `json:"duration_seconds"`
	PacketsReceived         int64    `json:"packets_received"`
	ForwardedPacketsPerSec  float64  `json:"forwarded_packets_per_sec"`
	Cores                   int      `json:"cores"`
	ForwardedPacketsPerCore float64  `json:"forwarded_packets_per_sec_per_core"`
	PacketsExpected         int64    `json:"packets_expected"`
	PacketsLost             int64    `json:"packets_lost"`
	LossPercent             float64  `json:"loss_percent"`
	NACKs                   *int64   `json:"nacks"`
	Retransmits             *int64   `json:"retransmits"`
	ServerPacketsInPerSec   *float64 `json:"server_packets_in_per_sec"`
	ServerPacketsOutPerSec  *float64 `json:"server_packets_out_per_sec"`

	Latency              Percentiles        `json:"latency_ms"`
	ServerForward        *BucketPercentiles `json:"server_forward_ms"`
	JoinToFirstFrame     Percentiles        `json:"join_to_first_frame_ms"`
	LateJoinToFirstFrame Percentiles        `json:"late_join_to_first_frame_ms"`

	Server             *ServerCost `json:"server,omitempty"`
	LoadToolCPUSeconds float64     `json:"load_tool_cpu_seconds"`
	MachineBusyCores   *float64    `json:"machine_busy_cores"`
	Warnings           []string    `json:"warnings"`
}

// Percentiles of a distribution, in milliseconds. P95 is left out of join-to-first-frame.
type Percentiles struct {
	P50     float64  `json:"p50"`
	P95     *float64 `json:"p95,omitempty"`
	P99     float64  `json:"p99"`
	Samples int64    `json:"samples"`
}

// BucketPercentiles are read from a Prometheus histogram: each is the upper bound of the
// bucket that holds it, in milliseconds, or null when it lies beyond the largest bucket.
type BucketPercentiles struct {
	P50     *float64 `json:"p50"`
	P95     *float64 `json:"p95"`
	P99     *float64 `json:"p99"`
	Samples int64    `json:"samples"`
}

// ServerCost is the server process's resource use over the measured window.
type ServerCost struct {
	PID                         int     `json:"pid"`
	CPUSeconds                  float64 `json:"cpu_seconds"`
	CPUSecondsPerMillionPackets float64 `json:"cpu_seconds_per_million_packets"`
	PacketsPerCPUSecond         float64 `json:"packets_per_cpu_second"`
	PeakRSSBytes                int64   `json:"peak_rss_bytes"`
}

func (o *Options) setDefaults() {
	if o.VideoBitrate <= 0 {
		o.VideoBitrate = 1_500_000
	}
	if o.AudioBitrate <= 0 {
		o.AudioBitrate = 32_000
	}
	if o.FPS <= 0 {
		o.FPS = 30
	}
	if o.KeyframeInterval <= 0 {
		o.KeyframeInterval = 3 * time.Second
	}
	if o.JoinConcurrency <= 0 {
		o.JoinConcurrency = 8
	}
	if o.WarmupTimeout <= 0 {
		o.WarmupTimeout = 30*time.Second + time.Duration(o.Rooms*(o.Publishers+o.Subscribers))*100*time.Millisecond
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
}

func (o *Options) validate() error {
	switch {
	case o.URL == "":
		return errors.New("load: a server URL is required")
	case o.Rooms < 1:
		return errors.New("load: rooms must be at least 1")
	case o.Publishers < 1:
		return errors.New("load: publishers must be at least 1: with none there is nothing to forward")
	case o.Subscribers < 0:
		return errors.New("load: subscribers must not be negative")
	case o.Publishers == 1 && o.Subscribers == 0:
		return errors.New("load: one publisher and no subscriber forwards nothing: add subscribers or publishers")
	case o.Duration <= 0:
		return errors.New("load: duration must be positive")
	case btoi(o.Token != "")+btoi(len(o.Key.Private) > 0)+btoi(o.Meeting != "") != 1:
		return errors.New("load: give one of the region key (--data), a token (--token) or a meeting (--meeting)")
	case (o.Token != "" || o.Meeting != "") && o.Rooms != 1:
		return errors.New("load: with a token or a meeting every client joins the same room: use one room")
	}
	return nil
}

// tracker is one track a client receives.
type tracker struct {
	rt *client.RemoteTrack

	mu      sync.Mutex
	latency client.Histogram  // of the measured window only
	start   client.TrackStats // at the window's start; zero for a track that came later
}

// member is one load client.
type member struct {
	room      int
	publisher bool
	identity  string
	expected  int // tracks it must receive

	c         atomic.Pointer[client.Client]
	joinStart time.Time // written before Join, read after the joins are done
	sendingAt time.Time // publishers: when their media started; likewise

	mu     sync.Mutex
	tracks []*tracker
}

func (m *member) trackers() []*tracker {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]*tracker(nil), m.tracks...)
}

// receiving reports whether the member has packets on every track it should receive.
func (m *member) receiving() bool {
	n := 0
	for _, t := range m.trackers() {
		if t.rt.Stats().Packets > 0 {
			n++
		}
	}
	return n >= m.expected
}

type run struct {
	opts      Options
	issuer    *token.Issuer
	runID     string
	members   []*member
	measuring atomic.Bool
	phase     atomic.Pointer[string]
	failures  atomic.Int64
	start     time.Time
}

// Run joins the clients, warms up, measures for opts.Duration and leaves. It returns an
// error only when nothing could be measured.
func Run(ctx context.Context, opts Options) (Result, error) {
	opts.setDefaults()
	if err := opts.validate(); err != nil {
		return Result{}, err
	}
	r := &run{opts: opts, start: time.Now()}
	if len(opts.Key.Private) > 0 {
		r.issuer = token.NewIssuer(opts.Key, nil)
	}
	var id [4]byte
	_, _ = rand.Read(id[:])
	r.runID = hex.EncodeToString(id[:])
	for room := range opts.Rooms {
		for i := range opts.Publishers {
			r.members = append(r.members, &member{room: room, publisher: true, identity: fmt.Sprintf("load-pub-%d-%d", room, i), expected: 2 * (opts.Publishers - 1)})
		}
	}
	for room := range opts.Rooms {
		for i := range opts.Subscribers {
			r.members = append(r.members, &member{room: room, identity: fmt.Sprintf("load-sub-%d-%d", room, i), expected: 2 * opts.Publishers})
		}
	}
	res := Result{
		Rooms: opts.Rooms, PublishersPerRoom: opts.Publishers, SubscribersPerRoom: opts.Subscribers,
		Clients: len(r.members), JoinConcurrency: opts.JoinConcurrency, Cores: runtime.NumCPU(), Warnings: []string{},
	}

	mediaCtx, stopMedia := context.WithCancel(context.Background())
	defer func() {
		stopMedia()
		r.closeAll()
	}()
	progressDone := make(chan struct{})
	stopProgress := make(chan struct{})
	go func() {
		defer close(progressDone)
		r.progressLoop(stopProgress)
	}()
	defer func() {
		close(stopProgress)
		<-progressDone
	}()

	// Publishers first, so that subscribers join rooms that already carry media.
	r.setPhase("joining")
	var pubs, subs []*member
	for _, m := range r.members {
		if m.publisher {
			pubs = append(pubs, m)
		} else {
			subs = append(subs, m)
		}
	}
	r.joinAll(ctx, mediaCtx, pubs)
	r.joinAll(ctx, mediaCtx, subs)
	if err := ctx.Err(); err != nil {
		return res, err
	}
	res.JoinFailures = int(r.failures.Load())
	if res.JoinFailures > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("%d of %d clients failed to join", res.JoinFailures, len(r.members)))
	}

	// Warm-up: every client that joined receives every track it should.
	r.setPhase("warm-up")
	deadline := time.Now().Add(opts.WarmupTimeout)
	for {
		n := r.countReceiving()
		if n >= len(r.members)-res.JoinFailures {
			break
		}
		if time.Now().After(deadline) {
			res.Warnings = append(res.Warnings, fmt.Sprintf("warm-up timed out after %s: %d of %d clients receive every track; measuring anyway", opts.WarmupTimeout, n, len(r.members)))
			break
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	// Let the keyframes that subscriptions asked for pass before measuring.
	select {
	case <-ctx.Done():
		return res, ctx.Err()
	case <-time.After(time.Second):
	}
	res.ClientsReceiving = r.countReceiving()
	if res.ClientsReceiving == 0 {
		return res, errors.New("load: no client receives media; is the server reachable over UDP from here?")
	}

	// The measured window.
	metricsURL := metricsURL(opts.URL)
	m0, merr0 := readMetrics(ctx, metricsURL)
	cpu0, cerr0 := procCPU(opts.ServerPID)
	self0, _ := procCPU(os.Getpid())
	busy0, berr0 := machineBusy()
	r.markStart()
	t0 := time.Now()
	r.measuring.Store(true)
	r.setPhase("measuring")
	select {
	case <-ctx.Done():
		res.Warnings = append(res.Warnings, "interrupted: the window is shorter than asked")
	case <-time.After(opts.Duration):
	}
	r.measuring.Store(false)
	elapsed := time.Since(t0)
	cpu1, cerr1 := procCPU(opts.ServerPID)
	self1, _ := procCPU(os.Getpid())
	busy1, berr1 := machineBusy()
	m1, merr1 := readMetrics(context.WithoutCancel(ctx), metricsURL)

	res.DurationSeconds = elapsed.Seconds()
	var lat, jtff client.Histogram
	for _, m := range r.members {
		for _, t := range m.trackers() {
			st := t.rt.Stats()
			t.mu.Lock()
			s0 := t.start
			lat.Merge(&t.latency)
			t.mu.Unlock()
			res.PacketsReceived += st.Packets - s0.Packets
			res.PacketsExpected += st.Expected - s0.Expected
			res.PacketsLost += st.Lost() - s0.Lost()
			if t.rt.Info.Kind == webrtc.RTPCodecTypeVideo.String() && st.FirstKeyframe > 0 && r.joinedAfterMedia(m, t) {
				jtff.Record(st.FirstKeyframe)
			}
		}
	}
	res.PacketsLost = max(0, res.PacketsLost)
	res.ForwardedPacketsPerSec = float64(res.PacketsReceived) / res.DurationSeconds
	res.ForwardedPacketsPerCore = res.ForwardedPacketsPerSec / float64(res.Cores)
	if res.PacketsExpected > 0 {
		res.LossPercent = 100 * float64(res.PacketsLost) / float64(res.PacketsExpected)
	}
	res.Latency = percentiles(&lat, true)
	res.JoinToFirstFrame = percentiles(&jtff, false)
	if merr0 == nil && merr1 == nil {
		nacks := int64(m1.nacks - m0.nacks)
		resent := int64(m1.retransmits - m0.retransmits)
		in := (m1.packetsIn - m0.packetsIn) / res.DurationSeconds
		out := (m1.packetsOut - m0.packetsOut) / res.DurationSeconds
		res.NACKs, res.Retransmits, res.ServerPacketsInPerSec, res.ServerPacketsOutPerSec = &nacks, &resent, &in, &out
		res.ServerForward = forwardPercentiles(m0.forward, m1.forward)
	} else {
		res.Warnings = append(res.Warnings, fmt.Sprintf("server metrics unavailable: %v", errors.Join(merr0, merr1)))
	}
	res.LoadToolCPUSeconds = self1.seconds() - self0.seconds()
	if berr0 == nil && berr1 == nil {
		cores := float64(busy1-busy0) / clockTicks / res.DurationSeconds
		res.MachineBusyCores = &cores
	}
	if opts.ProbeJoins > 0 && ctx.Err() == nil {
		r.setPhase("probing")
		late, err := r.probeJoins(ctx)
		if err != nil {
			res.Warnings = append(res.Warnings, fmt.Sprintf("late joins: %v", err))
		}
		res.LateJoinToFirstFrame = percentiles(&late, false)
	}
	if opts.ServerPID != 0 {
		if cerr0 != nil || cerr1 != nil {
			res.Warnings = append(res.Warnings, fmt.Sprintf("server process: %v", errors.Join(cerr0, cerr1)))
		} else {
			sc := &ServerCost{PID: opts.ServerPID, CPUSeconds: cpu1.seconds() - cpu0.seconds(), PeakRSSBytes: cpu1.peakRSS}
			if res.PacketsReceived > 0 {
				sc.CPUSecondsPerMillionPackets = sc.CPUSeconds / (float64(res.PacketsReceived) / 1e6)
			}
			if sc.CPUSeconds > 0 {
				sc.PacketsPerCPUSecond = float64(res.PacketsReceived) / sc.CPUSeconds
			}
			res.Server = sc
		}
	}
	return res, nil
}

func percentiles(h *client.Histogram, withP95 bool) Percentiles {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	p := Percentiles{P50: ms(h.Percentile(50)), P99: ms(h.Percentile(99)), Samples: h.Count()}
	if withP95 {
		v := ms(h.Percentile(95))
		p.P95 = &v
	}
	return p
}

// joinedAfterMedia reports whether the track's publisher was already sending when m began
// to join: only then is the time to its first keyframe a join-to-first-frame time rather
// than a wait for a publisher who arrived later.
func (r *run) joinedAfterMedia(m *member, t *tracker) bool {
	for _, p := range r.members {
		if !p.publisher || p.room != m.room {
			continue
		}
		c := p.c.Load()
		if c != nil && c.Self().ID == t.rt.Info.ParticipantID {
			return !p.sendingAt.IsZero() && p.sendingAt.Before(m.joinStart)
		}
	}
	return false
}

func (r *run) setPhase(s string) { r.phase.Store(&s) }

func (r *run) countReceiving() int {
	n := 0
	for _, m := range r.members {
		if m.c.Load() != nil && m.receiving() {
			n++
		}
	}
	return n
}

// markStart records every track's statistics at the start of the window.
func (r *run) markStart() {
	for _, m := range r.members {
		for _, t := range m.trackers() {
			st := t.rt.Stats()
			t.mu.Lock()
			t.start = st
			t.mu.Unlock()
		}
	}
}

func (r *run) roomName(room int) string { return fmt.Sprintf("load-%s-%d", r.runID, room) }

func (r *run) token(m *member) (string, error) {
	if r.opts.Token != "" {
		return r.opts.Token, nil
	}
	g := token.Grants{Subscribe: true}
	if m.publisher {
		g = token.Grants{Publish: true, Subscribe: r.opts.Publishers > 1}
	}
	return r.issuer.Mint(r.roomName(m.room), m.identity, m.identity, g, time.Hour)
}

// joinAll joins members, JoinConcurrency at a time; a member has joined once its
// connections are up.
func (r *run) joinAll(ctx, mediaCtx context.Context, ms []*member) {
	sem := make(chan struct{}, r.opts.JoinConcurrency)
	var wg sync.WaitGroup
	for _, m := range ms {
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case sem <- struct{}{}:
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := r.join(ctx, mediaCtx, m); err != nil {
				r.failures.Add(1)
				if ctx.Err() == nil {
					fmt.Fprintf(r.opts.Progress, "%s: %v\n", m.identity, err)
				}
				return
			}
		}()
	}
	wg.Wait()
}

// joinTimeout bounds one client's join, publication and connection.
const joinTimeout = 30 * time.Second

func (r *run) join(ctx, mediaCtx context.Context, m *member) error {
	ctx, cancel := context.WithTimeout(ctx, joinTimeout)
	defer cancel()
	m.joinStart = time.Now()
	url, tok := r.opts.URL, ""
	if r.opts.Meeting != "" {
		t, err := client.RequestTicket(ctx, r.opts.URL, client.TicketRequest{
			MeetingID: r.opts.Meeting, Passcode: r.opts.Passcode, DisplayName: m.identity})
		if err != nil {
			return fmt.Errorf("ticket: %w", err)
		}
		url, tok = t.URL(), t.Token // the node carrying the meeting
	} else {
		var err error
		if tok, err = r.token(m); err != nil {
			return err
		}
	}
	c, err := client.Join(ctx, client.Options{
		URL: url, Token: tok, LoopbackOnly: r.opts.LoopbackOnly, Log: r.opts.Log,
		OnTrack: func(rt *client.RemoteTrack) { r.watch(m, rt) },
	})
	if err != nil {
		return fmt.Errorf("join: %w", err)
	}
	m.c.Store(c)
	if m.publisher {
		v, err := client.NewLocalTrack(client.VP8, client.SourceCamera)
		if err != nil {
			return err
		}
		a, err := client.NewLocalTrack(client.Opus, client.SourceMicrophone)
		if err != nil {
			return err
		}
		if err := c.Publish(ctx, v, a); err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		go (&client.VideoSource{Track: v, FPS: r.opts.FPS, Bitrate: r.opts.VideoBitrate, KeyframeInterval: r.opts.KeyframeInterval}).Run(mediaCtx)
		go (&client.AudioSource{Track: a, Bitrate: r.opts.AudioBitrate}).Run(mediaCtx)
		m.sendingAt = time.Now()
	}
	if err := c.WaitConnected(ctx); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	return nil
}

// watch starts following a track a member receives: its latency is recorded during the
// window only, so that the join storm does not colour the figures.
func (r *run) watch(m *member, rt *client.RemoteTrack) {
	t := &tracker{rt: rt}
	rt.SetHandler(func(p *rtp.Packet) {
		if !r.measuring.Load() {
			return
		}
		mk, ok := client.ParseMarker(p.Payload)
		if !ok {
			return
		}
		d := time.Since(mk.Sent)
		t.mu.Lock()
		t.latency.Record(d)
		t.mu.Unlock()
	})
	m.mu.Lock()
	m.tracks = append(m.tracks, t)
	m.mu.Unlock()
}

// probeSpacing separates late joiners by more than the SFU's least interval between two
// keyframe requests (500 ms), so that each one's request reaches the publisher.
const probeSpacing = 1500 * time.Millisecond

// probeJoins has ProbeJoins subscribers join the first room one at a time and returns their
// times from join to the first keyframe of each video track.
func (r *run) probeJoins(ctx context.Context) (client.Histogram, error) {
	var h client.Histogram
	var errs []string
	for i := range r.opts.ProbeJoins {
		select {
		case <-ctx.Done():
			return h, ctx.Err()
		case <-time.After(probeSpacing):
		}
		m := &member{identity: fmt.Sprintf("load-probe-%d", i), expected: 2 * r.opts.Publishers}
		err := r.join(ctx, ctx, m)
		deadline := time.Now().Add(5 * time.Second)
		for err == nil {
			var got []time.Duration
			for _, t := range m.trackers() {
				if t.rt.Info.Kind != webrtc.RTPCodecTypeVideo.String() {
					continue
				}
				if d := t.rt.Stats().FirstKeyframe; d > 0 {
					got = append(got, d)
				}
			}
			if len(got) == r.opts.Publishers {
				for _, d := range got {
					h.Record(d)
				}
				break
			}
			if time.Now().After(deadline) {
				err = fmt.Errorf("%d of %d video tracks started within 5 s", len(got), r.opts.Publishers)
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		if c := m.c.Load(); c != nil {
			_ = c.Close()
		}
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", m.identity, err))
		}
	}
	if len(errs) > 0 {
		return h, errors.New(strings.Join(errs, "; "))
	}
	return h, nil
}

// closeAll makes every client leave, a few dozen at a time.
func (r *run) closeAll() {
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	for _, m := range r.members {
		c := m.c.Load()
		if c == nil {
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			_ = c.Close()
		}()
	}
	wg.Wait()
}

// progressLoop writes a line a second: elapsed time, phase, connected clients, packets
// received per second by all clients and the loss over that second.
func (r *run) progressLoop(stop <-chan struct{}) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var lastPkts, lastExp, lastLost int64
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		var pkts, exp, lost int64
		connected := 0
		for _, m := range r.members {
			c := m.c.Load()
			if c == nil {
				continue
			}
			if connectedState(c) {
				connected++
			}
			for _, t := range m.trackers() {
				st := t.rt.Stats()
				pkts += st.Packets
				exp += st.Expected
				lost += st.Lost()
			}
		}
		loss := 0.0
		if d := exp - lastExp; d > 0 {
			loss = 100 * float64(max(0, lost-lastLost)) / float64(d)
		}
		fmt.Fprintf(r.opts.Progress, "%6.0fs  %-9s  clients %d/%d connected  rx %8d pkt/s  loss %5.2f%%\n",
			time.Since(r.start).Seconds(), *r.phase.Load(), connected, len(r.members), pkts-lastPkts, loss)
		lastPkts, lastExp, lastLost = pkts, exp, lost
	}
}

// connectedState: every connection the client has is connected, and it has one.
func connectedState(c *client.Client) bool {
	pub, sub := c.ConnectionStates()
	okPub := pub == webrtc.PeerConnectionStateNew || pub == webrtc.PeerConnectionStateConnected
	okSub := sub == webrtc.PeerConnectionStateNew || sub == webrtc.PeerConnectionStateConnected
	return okPub && okSub && (pub == webrtc.PeerConnectionStateConnected || sub == webrtc.PeerConnectionStateConnected)
}

// Summary is the human-readable account of a result.
func (res Result) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "scenario        %d room(s) x (%d publishers + %d subscribers) = %d clients; %d joined, %d received every track\n",
		res.Rooms, res.PublishersPerRoom, res.SubscribersPerRoom, res.Clients, res.Clients-res.JoinFailures, res.ClientsReceiving)
	fmt.Fprintf(&b, "window          %.1f s\n", res.DurationSeconds)
	fmt.Fprintf(&b, "forwarded       %.0f packets/s (%d packets), %.0f per core over %d cores\n",
		res.ForwardedPacketsPerSec, res.PacketsReceived, res.ForwardedPacketsPerCore, res.Cores)
	if res.ServerPacketsOutPerSec != nil {
		fmt.Fprintf(&b, "server says     %.0f packets/s in, %.0f out (meridian_sfu_packets_{in,out}_total)\n", *res.ServerPacketsInPerSec, *res.ServerPacketsOutPerSec)
	}
	fmt.Fprintf(&b, "loss            %.3f%% (%d of %d)\n", res.LossPercent, res.PacketsLost, res.PacketsExpected)
	if res.NACKs != nil {
		fmt.Fprintf(&b, "NACKs           %d (%d packets resent)\n", *res.NACKs, *res.Retransmits)
	} else {
		b.WriteString("NACKs           unavailable\n")
	}
	p95 := 0.0
	if res.Latency.P95 != nil {
		p95 = *res.Latency.P95
	}
	fmt.Fprintf(&b, "latency         p50 %.2f ms  p95 %.2f ms  p99 %.2f ms  (%d packets)\n", res.Latency.P50, p95, res.Latency.P99, res.Latency.Samples)
	if f := res.ServerForward; f != nil {
		bound := func(v *float64) string {
			if v == nil {
				return "beyond the largest bucket"
			}
			return fmt.Sprintf("<= %g ms", *v)
		}
		fmt.Fprintf(&b, "server forward  p50 %s  p95 %s  p99 %s  (meridian_sfu_forward_seconds, %d packets in)\n", bound(f.P50), bound(f.P95), bound(f.P99), f.Samples)
	}
	fmt.Fprintf(&b, "join->1st frame p50 %.0f ms  p99 %.0f ms  (%d video tracks, joining %d at a time)\n", res.JoinToFirstFrame.P50, res.JoinToFirstFrame.P99, res.JoinToFirstFrame.Samples, res.JoinConcurrency)
	if res.LateJoinToFirstFrame.Samples > 0 {
		fmt.Fprintf(&b, "late joiners    p50 %.0f ms  p99 %.0f ms  (%d video tracks, one subscriber at a time during the load)\n", res.LateJoinToFirstFrame.P50, res.LateJoinToFirstFrame.P99, res.LateJoinToFirstFrame.Samples)
	}
	if s := res.Server; s != nil {
		fmt.Fprintf(&b, "server pid %d   %.2f CPU s (%.2f cores), %.2f CPU s per million packets (%.0f packets per CPU second), peak RSS %.1f MiB\n",
			s.PID, s.CPUSeconds, s.CPUSeconds/res.DurationSeconds, s.CPUSecondsPerMillionPackets, s.PacketsPerCPUSecond, float64(s.PeakRSSBytes)/(1<<20))
	}
	fmt.Fprintf(&b, "load tool       %.2f CPU s (%.2f cores)\n", res.LoadToolCPUSeconds, res.LoadToolCPUSeconds/max(res.DurationSeconds, 1e-9))
	if res.MachineBusyCores != nil {
		fmt.Fprintf(&b, "machine         %.2f of %d cores busy over the window, all processes\n", *res.MachineBusyCores, res.Cores)
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(&b, "warning         %s\n", w)
	}
	return b.String()
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
