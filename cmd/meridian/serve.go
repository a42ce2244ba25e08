package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/meridian-video/meridian/internal/config"
	"github.com/meridian-video/meridian/internal/server"
)

func serveCmd() *cobra.Command {
	var cfgPath string
	var over config.Config
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the server",
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(cfgPath)
			if err != nil {
				return err
			}
			f := cmd.Flags()
			if f.Changed("addr") {
				cfg.Addr = over.Addr
			}
			if f.Changed("data") {
				cfg.DataDir = over.DataDir
			}
			if f.Changed("log-level") {
				cfg.LogLevel = over.LogLevel
			}
			if f.Changed("region") {
				cfg.Region = over.Region
			}
			if f.Changed("node-id") {
				cfg.NodeID = over.NodeID
			}
			if f.Changed("regions-file") {
				// The flag replaces the config file's list, however it was given.
				cfg.RegionsFile, cfg.Regions = over.RegionsFile, nil
			}
			if err := cfg.Validate(); err != nil {
				return err
			}
			var level slog.Level
			if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
				return err
			}
			log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
			srv, err := server.Start(cfg, log)
			if err != nil {
				return err
			}
			return runUntilSignal(cmd.Context(), srv)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfgPath, "config", "", "YAML config file")
	f.StringVar(&over.Addr, "addr", config.Default().Addr, "HTTP listen address")
	f.StringVar(&over.DataDir, "data", config.Default().DataDir, "data directory")
	f.StringVar(&over.LogLevel, "log-level", config.Default().LogLevel, "debug, info, warn or error")
	f.StringVar(&over.Region, "region", config.Default().Region, "this node's region id (in the region list)")
	f.StringVar(&over.NodeID, "node-id", "", "this node's id in the deployment (default <region>-1)")
	f.StringVar(&over.RegionsFile, "regions-file", "", "YAML region list (regions: [...]); default the one region local")
	return cmd
}

// runUntilSignal serves until the server stops, a drain asked for with `meridian drain`
// is done, SIGTERM (drain first: the live meetings stay until they end or drain_timeout
// passes) or an interrupt (stop at once); then it closes the server.
func runUntilSignal(ctx context.Context, srv *server.Server) error {
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	defer signal.Stop(term)
	ictx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	wctx, cancel := context.WithCancel(ictx)
	defer cancel()
	go func() {
		select {
		case <-term:
			_ = srv.Drain(ictx) // an interrupt during the drain cuts it short
			cancel()
		case <-wctx.Done():
		}
	}()
	werr := srv.Wait(wctx)
	if err := srv.Close(); err != nil {
		return err
	}
	return werr
}
