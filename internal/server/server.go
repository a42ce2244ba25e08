// Package server assembles a Meridian node from its parts (configuration, signing secret,
// SFU, signalling, WHIP/WHEP, metrics) and runs its HTTP listener.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/meridian-video/meridian/internal/config"
	"github.com/meridian-video/meridian/internal/httpapi"
	"github.com/meridian-video/meridian/internal/sfu"
	msignal "github.com/meridian-video/meridian/internal/signal"
	"github.com/meridian-video/meridian/internal/token"
	"github.com/meridian-video/meridian/internal/whip"
)

// Server is a running node.
type Server struct {
	Tokens *token.Issuer
	SFU    *sfu.SFU

	log   *slog.Logger
	ln    net.Listener
	http  *http.Server
	ready atomic.Bool
	errc  chan error
}

// Start listens on cfg.Addr and serves until Close.
func Start(cfg config.Config, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	secret, err := token.LoadOrCreateSecret(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s := &Server{
		Tokens: token.NewIssuer(secret, nil),
		SFU: sfu.New(sfu.Config{
			UDPPortMin:   cfg.Media.UDPPortMin,
			UDPPortMax:   cfg.Media.UDPPortMax,
			LoopbackOnly: cfg.MediaLoopbackOnly(),
			PublicIPs:    cfg.Media.PublicIPs,
		}, log, sfu.NewMetrics(reg)),
		log:  log,
		errc: make(chan error, 1),
	}
	handler := httpapi.New(httpapi.Deps{
		Log:      log,
		Gatherer: reg,
		Signal:   &msignal.Handler{SFU: s.SFU, Tokens: s.Tokens, Log: log},
		WHIP:     whip.New(s.SFU, s.Tokens, log),
		Ready:    &s.ready,
	})
	s.ln, err = net.Listen("tcp", cfg.Addr)
	if err != nil {
		s.SFU.Close()
		return nil, fmt.Errorf("listen: %w", err)
	}
	s.http = &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go func() { s.errc <- s.http.Serve(s.ln) }()
	s.ready.Store(true)
	log.Info("meridian serving", "addr", s.ln.Addr().String(), "data", cfg.DataDir, "loopback_media", cfg.MediaLoopbackOnly())
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL is the server's base URL.
func (s *Server) URL() string { return "http://" + s.Addr() }

// Wait blocks until the server stops on its own (an error) or ctx ends.
func (s *Server) Wait(ctx context.Context) error {
	select {
	case err := <-s.errc:
		return err
	case <-ctx.Done():
		return nil
	}
}

// Close stops accepting requests, ends every room and waits up to 5 s for requests in
// flight.
func (s *Server) Close() error {
	s.ready.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.http.Shutdown(ctx)
	s.SFU.Close()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
