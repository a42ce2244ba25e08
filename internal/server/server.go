// Package server assembles a Meridian node from its parts (configuration, region key,
// store, mail, accounts, SFU, signalling, WHIP/WHEP, metrics, and the control plane: bus,
// directory and node registry) and runs its HTTP listener.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/meridian-video/meridian/internal/account"
	"github.com/meridian-video/meridian/internal/admission"
	"github.com/meridian-video/meridian/internal/auditlog"
	"github.com/meridian-video/meridian/internal/bus"
	"github.com/meridian-video/meridian/internal/clientaddr"
	"github.com/meridian-video/meridian/internal/commerce"
	"github.com/meridian-video/meridian/internal/config"
	"github.com/meridian-video/meridian/internal/connlimit"
	"github.com/meridian-video/meridian/internal/decisionlog"
	"github.com/meridian-video/meridian/internal/directory"
	"github.com/meridian-video/meridian/internal/geoip"
	"github.com/meridian-video/meridian/internal/homecheck"
	"github.com/meridian-video/meridian/internal/httpapi"
	"github.com/meridian-video/meridian/internal/mail"
	"github.com/meridian-video/meridian/internal/meeting"
	"github.com/meridian-video/meridian/internal/placement"
	"github.com/meridian-video/meridian/internal/policy"
	"github.com/meridian-video/meridian/internal/policyadmin"
	"github.com/meridian-video/meridian/internal/policyregions"
	"github.com/meridian-video/meridian/internal/sfu"
	msignal "github.com/meridian-video/meridian/internal/signal"
	"github.com/meridian-video/meridian/internal/store"
	"github.com/meridian-video/meridian/internal/token"
	"github.com/meridian-video/meridian/internal/topology"
	"github.com/meridian-video/meridian/internal/whip"
)

// Server is a running node.
type Server struct {
	Tokens   *token.Issuer
	SFU      *sfu.SFU
	Store    *store.Store
	Accounts *account.Service
	Meetings *meeting.Service
	// Commerce sells subscriptions, decided by the policy_file's jurisdiction policy (no
	// rules without one), charged through Options.Payments; without one (no real
	// provider is wired yet) its checkouts answer payments_unavailable.
	Commerce *commerce.Service
	// Audit is the audit trail both services write, summing repeated refusals.
	Audit *auditlog.Log
	// Decisions is the region's decision log: every jurisdiction decision with its facts.
	Decisions *decisionlog.Log
	// Policy is the operators' side of the jurisdiction policy (the console's service).
	Policy *policyadmin.Service

	// The control plane: the node's bus, the routing directory and the node registry,
	// which announces this node once a second. Deployment is the region list.
	Bus        *bus.Bus
	Directory  *directory.Directory
	Registry   *directory.Registry
	Deployment topology.Deployment

	cfg      config.Config
	public   config.Config // cfg with the address actually bound
	log      *slog.Logger
	ln       net.Listener
	http     *http.Server
	ready    atomic.Bool // serving and not stopping; see Ready for the control plane
	draining atomic.Bool
	placer   *placement.Placer
	endedSub *nats.Subscription // meetings ended by another node
	errc     chan error
	drained  chan struct{} // a drain asked for over the admin endpoint is done

	residency *dataResidency // nil in one region

	closeOnce sync.Once
	closeErr  error

	stopTicks context.CancelFunc // stops the meetings' time-limit ticker
	ticksDone chan struct{}

	rooms       meetingRooms       // admission's Rooms: this region's meetings here, others' asked of their home
	entryChecks *homecheck.Service // answers other regions' entry checks for this region's meetings
	// policyDryRuns answers other regions' policy dry runs over this region's store.
	policyDryRuns *policyregions.Service
	// policyFollower runs the policy versions other nodes activate.
	policyFollower *policyregions.Follower
}

// meetingTick is how often time limits are enforced (warnings and ends).
const meetingTick = 5 * time.Second

// Start listens on cfg.Addr and serves until Close.
func Start(cfg config.Config, log *slog.Logger) (*Server, error) {
	return StartWith(cfg, log, Options{})
}

// Options are what a test may change of a server beyond its configuration.
type Options struct {
	// Now is the clock of every decision (time.Now if nil): a fixed one replays the
	// jurisdiction policy at a given date.
	Now func() time.Time
	// Payments charges checkouts; nil (what Start gives) answers every checkout that
	// costs something with payments_unavailable, so that nothing is sold uncharged.
	// Tests pass a commerce.TestProvider, the test double of a payment processor.
	Payments commerce.PaymentProvider
}

// StartWith is Start with options.
func StartWith(cfg config.Config, log *slog.Logger, o Options) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	// Before anything is opened: a policy file that does not load stops the start. One
	// holder of it serves every decision: sign-up, hosting, joining, sales, and the
	// operators' console that replaces it.
	pol, polSource, err := loadPolicy(cfg.PolicyFile)
	if err != nil {
		return nil, err
	}
	// So does a GeoIP file that is not a sound database with countries. It is held in
	// memory and never closed: closing it under a request still looking up would race,
	// and there is nothing to release but memory.
	geo, err := openGeoIP(cfg.GeoIPFile, log)
	if err != nil {
		return nil, err
	}
	proxies, err := cfg.HTTP.TrustedProxyPrefixes()
	if err != nil {
		return nil, err
	}
	// The secret keys the meeting layer's join-link MACs; join tokens are signed with the
	// region key.
	secret, err := token.LoadOrCreateSecret(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	dep, err := cfg.Deployment()
	if err != nil {
		return nil, err
	}
	regionKey, err := token.LoadOrCreateRegionKey(cfg.RegionKeyPath(cfg.Region), cfg.Region)
	if err != nil {
		return nil, err
	}
	trusted, err := trustedKeys(dep, regionKey)
	if err != nil {
		return nil, fmt.Errorf("region keys: %w", err)
	}
	st, err := store.Open(context.Background(), store.Config{DataDir: cfg.DataDir, PostgresDSN: cfg.Database.PostgresDSN, Region: cfg.Region})
	if err != nil {
		return nil, err
	}
	audit := auditlog.New(st, auditlog.Options{Log: log, Now: o.Now})
	// The last version an operator activated runs, unless none was (or policy_start says
	// file); one that does not load stops the start.
	running, err := startPolicy(cfg, st, policyadmin.Document{Name: cfg.PolicyFile, Source: polSource, Policy: pol}, log)
	if err != nil {
		st.Close()
		return nil, err
	}
	policyadmin.AuditStart(context.Background(), audit, running, cfg.PolicyFile)
	holder := policy.NewHolder(running.Policy)
	decisions := decisionlog.New(st, decisionlog.Options{Log: log, Now: o.Now})
	started := false
	defer func() {
		if !started { // every failure below: stop the log's writer too
			decisions.Close(context.Background())
		}
	}()
	dr, err := newDataResidency(cfg, dep)
	if err != nil {
		st.Close()
		return nil, err
	}
	// Sales first: an OEM partner's customers get their mail under its brand.
	sales := commerce.New(st, commerce.Options{Log: log, Audit: audit, Policy: holder, Decisions: decisions, Now: o.Now, Payments: o.Payments,
		Operator: commerce.Support{Name: "Meridian", SupportContact: store.SupportContact{Email: cfg.Mail.From}}})
	accounts, err := account.New(st, mailSender(cfg, log), account.Options{Log: log, Audit: audit, Deployment: dep, Region: cfg.Region,
		Now: o.Now, Policy: holder, Decisions: decisions, Routing: dr.accountRouting(), Brander: sales, GeoIP: geo != nil})
	if err != nil {
		st.Close()
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s := &Server{
		Tokens:    token.NewIssuer(regionKey, nil),
		Store:     st,
		Accounts:  accounts,
		Audit:     audit,
		Decisions: decisions,
		SFU: sfu.New(sfu.Config{
			UDPPort:        cfg.Media.UDPPort,
			LoopbackOnly:   cfg.MediaLoopbackOnly(),
			PublicIPs:      cfg.Media.PublicIPs,
			InitialBitrate: cfg.Media.InitialBitrate,
		}, log, sfu.NewMetrics(reg)),
		log:       log,
		errc:      make(chan error, 1),
		drained:   make(chan struct{}, 1),
		residency: dr,
	}
	s.Commerce = sales
	// The placer's directory and registry come with the control plane, before serving.
	s.placer = &placement.Placer{Deployment: dep, Region: cfg.Region, Ready: s.ControlPlaneErr}
	s.Meetings, err = meeting.New(st, s.Tokens, secret, meeting.Options{
		Log: log, OnWarning: s.warnMeeting, OnEnded: s.meetingEnded, Occupancy: s.occupancy, Audit: audit,
		AllowedRegions: accounts.AllowedRegions, Placer: s.placer, Routing: dr.meetingRouting(),
		Now: o.Now, Policy: holder, Decisions: decisions,
	})
	if err != nil {
		s.SFU.Close()
		st.Close()
		return nil, err
	}
	s.ln, err = listen(cfg.Addr, cfg.HTTP, reg)
	if err != nil {
		s.SFU.Close()
		st.Close()
		return nil, err
	}
	public := cfg // for links in mail: the address actually bound, when none is configured
	public.Addr = s.ln.Addr().String()
	s.cfg, s.public, s.Deployment = cfg, public, dep
	if err := s.startControlPlane(); err != nil {
		s.ln.Close()
		s.SFU.Close()
		st.Close()
		return nil, err
	}
	if err := s.startRegionTrust(trusted, st); err != nil {
		s.closeControlPlane()
		s.ln.Close()
		s.SFU.Close()
		st.Close()
		return nil, err
	}
	regionIDs := make([]string, len(dep.Regions))
	for i, r := range dep.Regions {
		regionIDs[i] = r.ID
	}
	s.Policy = policyadmin.New(holder, running, st, policyadmin.Options{Now: o.Now, Audit: audit, Region: cfg.Region, Regions: regionIDs,
		Remote: policyregions.NewClient(s.Bus), Decisions: decisions, Activations: st, Announcer: policyregions.NewAnnouncer(s.Bus)})
	s.policyFollower, err = policyregions.Follow(s.Bus, s.Policy, log)
	if err == nil {
		s.policyDryRuns, err = policyregions.Serve(s.Bus, s.Policy, log)
	}
	if err != nil {
		s.policyFollower.Close()
		s.closeControlPlane()
		s.ln.Close()
		s.SFU.Close()
		st.Close()
		return nil, err
	}
	// Every way into a room goes through this one gate.
	self, _ := dep.Lookup(cfg.Region)
	gate := &admission.Gate{SFU: s.SFU, Tokens: s.Tokens, Rooms: s.rooms, Log: log, Region: cfg.Region, Partner: self.Partner}
	handler := httpapi.New(httpapi.Deps{
		Log:      log,
		Gatherer: reg,
		Signal:   &msignal.Handler{Admission: gate, Moderator: meetingModerator{s.Meetings}, Log: log, Origins: s.nodeOrigins},
		WHIP:     whip.New(gate, s.Tokens, log),
		Ready:    s.Ready,
		// The browser app may connect to whichever node carries its meeting.
		SignalURLs: s.nodeSignalURLs,

		Accounts:      accounts,
		ResetURL:      public.PasswordResetURL(),
		InviteURL:     public.InviteURL(),
		SecureCookies: strings.HasPrefix(public.BaseURL(), "https://"),

		Meetings:  s.Meetings,
		PublicURL: public.BaseURL(),
		GeoIP:     geoLocator(geo),

		Commerce: s.Commerce,

		Policy:    s.Policy,
		Operators: cfg.Operators,
	})
	if handler, err = dr.wrap(s, handler); err != nil {
		s.closeControlPlane()
		s.ln.Close()
		s.SFU.Close()
		st.Close()
		return nil, err
	}
	adminSecret, err := loadAdminSecret(cfg.DataDir)
	if err != nil {
		s.closeControlPlane()
		s.ln.Close()
		s.SFU.Close()
		st.Close()
		return nil, err
	}
	s.http = &http.Server{
		// The admin endpoint goes by the direct peer; everything else by the client
		// behind the trusted proxies, before a request is forwarded to its home region.
		Handler: s.adminHandler(adminSecret, clientaddr.New(proxies).Wrap(handler)),
		// Hijacking a connection for a WebSocket clears its deadlines, so these bound
		// plain requests only.
		ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout,
		ReadTimeout:       cfg.HTTP.ReadTimeout,
		IdleTimeout:       cfg.HTTP.IdleTimeout,
		MaxHeaderBytes:    cfg.HTTP.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	go func() { s.errc <- s.http.Serve(s.ln) }()
	var tickCtx context.Context
	tickCtx, s.stopTicks = context.WithCancel(context.Background())
	s.ticksDone = make(chan struct{})
	go s.tickMeetings(tickCtx)
	s.ready.Store(true)
	if cfg.Bus.Standalone() {
		// A standalone server's JetStream answers in tens of milliseconds: wait for it, so
		// that a single node is ready when Start returns, as it always was. A supercluster's
		// first election takes seconds; its nodes serve not-ready until it is done.
		ctx, cancel := context.WithTimeout(context.Background(), standaloneWait)
		if err := s.WaitReady(ctx); err != nil {
			log.Warn("control plane not ready yet; refusing what needs it until it is", "error", err)
		}
		cancel()
	}
	started = true
	log.Info("meridian serving", "addr", s.ln.Addr().String(), "data", cfg.DataDir, "loopback_media", cfg.MediaLoopbackOnly(),
		"database", databaseKind(cfg), "region", cfg.Region, "node", cfg.Node(), "regions", len(dep.Regions))
	return s, nil
}

// listen opens the HTTP listener, capping each client's connections as configured, and
// counting the connections refused in reg.
func listen(addr string, h config.HTTP, reg prometheus.Registerer) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	if h.MaxConnsPerClient == 0 {
		return ln, nil
	}
	uncapped, err := h.UncappedPrefixes()
	if err != nil {
		ln.Close()
		return nil, err
	}
	capped := connlimit.New(ln, h.MaxConnsPerClient, uncapped)
	refused := prometheus.NewCounter(prometheus.CounterOpts{Name: "meridian_http_connections_refused_total",
		Help: "Connections closed at accept because their client already held http.max_conns_per_client."})
	reg.MustRegister(refused)
	capped.OnRefuse = refused.Inc
	return capped, nil
}

// tickMeetings enforces meetings' time limits, and writes the audit trail's counted
// refusals when their window closes, until ctx ends.
func (s *Server) tickMeetings(ctx context.Context) {
	defer close(s.ticksDone)
	t := time.NewTicker(meetingTick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.Meetings.Tick(ctx)
			if _, err := s.Commerce.ExpireDue(ctx); err != nil {
				s.log.WarnContext(ctx, "expiring subscriptions", "err", err)
			}
			s.Audit.Tick(ctx)
			s.Decisions.Tick(ctx)
		}
	}
}

// warnMeeting tells a meeting's participants that its time limit is near.
func (s *Server) warnMeeting(id string, deadline time.Time) {
	room, ok := s.SFU.LookupRoom(meeting.Room(id))
	if !ok {
		return
	}
	mins := max(1, int(time.Until(deadline).Round(time.Minute)/time.Minute))
	room.Notify("time_limit_warning", fmt.Sprintf("This meeting ends in %d minute(s), at %s UTC: the plan's time limit.",
		mins, deadline.UTC().Format("15:04")))
}

// closeMeetingRoom ends an ended meeting's room for everyone in it on this node.
func (s *Server) closeMeetingRoom(id, reason string) {
	if room, ok := s.SFU.LookupRoom(meeting.Room(id)); ok {
		s.log.Info("meeting ended: closing its room", "meeting", id, "reason", reason)
		room.Close(reason)
	}
}

// occupancy counts the seats taken in a meeting's room on this node, waiting room
// included, but identity's.
func (s *Server) occupancy(id, identity string) int {
	if room, ok := s.SFU.LookupRoom(meeting.Room(id)); ok {
		return room.SeatsTaken(identity)
	}
	return 0
}

// meetingModerator hands host controls used in meeting rooms to the meeting layer. Rooms
// that are not meetings' (made with hand-minted tokens) have nothing to persist.
type meetingModerator struct{ meetings *meeting.Service }

func (m meetingModerator) Moderate(ctx context.Context, a msignal.Moderation) error {
	id, ok := meeting.MeetingOfRoom(a.Room)
	if !ok {
		return nil
	}
	return m.meetings.RecordHostAction(ctx, id, meeting.HostAction{
		Action: a.Action, Actor: a.Actor, Subject: a.Subject, Detail: a.Detail,
	})
}

// mailSender is SMTP when the config names a server, and otherwise the dev outbox: files
// in <data>/outbox that the operator can read.
func mailSender(cfg config.Config, log *slog.Logger) mail.Sender {
	m := cfg.Mail
	if m.SMTPAddr != "" {
		return &mail.SMTP{Addr: m.SMTPAddr, From: m.From, Username: m.Username, Password: m.Password}
	}
	dir := filepath.Join(cfg.DataDir, "outbox")
	log.Info("no mail server configured: outgoing mail is written to the outbox", "dir", dir)
	return &mail.Outbox{Dir: dir}
}

func databaseKind(cfg config.Config) string {
	if cfg.Database.PostgresDSN != "" {
		return "postgres"
	}
	return "sqlite"
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL is the server's base URL.
func (s *Server) URL() string { return "http://" + s.Addr() }

// Wait blocks until the server stops on its own (an error), a drain asked for over the
// admin endpoint is done, or ctx ends.
func (s *Server) Wait(ctx context.Context) error {
	select {
	case err := <-s.errc:
		return err
	case <-s.drained:
		return nil
	case <-ctx.Done():
		return nil
	}
}

// Close stops accepting requests, ends every room and waits up to 5 s for requests in
// flight and the mails they queued; then it leaves the control plane: the registry stops
// announcing (the other nodes count this one down 3 s later), the directory and bus close.
// Closing again returns the first Close's result.
func (s *Server) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.close() })
	return s.closeErr
}

func (s *Server) close() error {
	s.ready.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.http.Shutdown(ctx)
	// After the requests: the reset mails they queued are sent in the time left.
	err = errors.Join(err, s.Accounts.Close(ctx))
	s.stopTicks()
	<-s.ticksDone
	s.SFU.Close()
	s.policyFollower.Close()
	checksErr := errors.Join(s.entryChecks.Close(), s.policyDryRuns.Close())
	s.residency.close()
	s.closeControlPlane()
	s.Audit.Flush(context.Background()) // what was counted and not yet written
	s.Decisions.Close(context.Background())
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return errors.Join(err, checksErr, s.Store.Close())
}

// openGeoIP opens the GeoIP database at path; none (nil) if path is empty.
func openGeoIP(path string, log *slog.Logger) (*geoip.DB, error) {
	if path == "" {
		return nil, nil
	}
	db, err := geoip.Open(path)
	if err != nil {
		return nil, fmt.Errorf("geoip_file: %w", err)
	}
	log.Info("geoip database loaded", "file", path, "type", db.Type)
	return db, nil
}

// geoLocator is db as the HTTP layer's Locator: nil (no GeoIP) for no database, not an
// interface holding a nil pointer.
func geoLocator(db *geoip.DB) httpapi.Locator {
	if db == nil {
		return nil
	}
	return db
}

// startPolicy picks the version the node starts with (policyadmin.Startup), and says
// loudly when policy_start: file passes over an activated version.
func startPolicy(cfg config.Config, st *store.Store, file policyadmin.Document, log *slog.Logger) (policyadmin.Document, error) {
	ctx := context.Background()
	preferFile := cfg.PolicyStart == config.PolicyStartFile
	d, err := policyadmin.Startup(ctx, st, file, preferFile)
	if err != nil {
		return policyadmin.Document{}, err
	}
	if preferFile {
		if a, err := st.LastPolicyActivation(ctx); err == nil {
			log.Warn("policy_start is file: running policy_file, not the last activated version", "policy_file", cfg.PolicyFile,
				"activated_version", a.Version, "activated_by", a.Actor, "activated_at", a.At)
		}
	}
	v := ""
	if d.Policy != nil {
		v = d.Policy.Version
	}
	log.Info("jurisdiction policy", "version", v, "origin", d.Origin, "name", d.Name)
	return d, nil
}

// loadPolicy loads the jurisdiction policy file, with its source for the operators'
// console; none (nil, no rules) if path is empty.
func loadPolicy(path string) (*policy.Policy, []byte, error) {
	if path == "" {
		return nil, nil, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("policy_file: %w", err)
	}
	p, err := policy.Load(path, data)
	if err != nil {
		return nil, nil, fmt.Errorf("policy_file: %w", err)
	}
	return p, data, nil
}
