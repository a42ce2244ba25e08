package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/meridian-video/meridian/internal/devcluster"
)

func devCmd() *cobra.Command {
	var regions, dataDir, logLevel string
	var nodes, port int
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run a whole multi-region deployment on this machine, to try regions",
		Long: `dev starts every node of a deployment in this one process, each with its own HTTP
port on 127.0.0.1 and an embedded NATS server (routes between the nodes of a region,
gateways between regions). Each region keeps its store in <data>/<region>/, shared by its
nodes. Well-known region ids (us-west, eu-central, cn-north, ...) get their location; others
get 0, 0 and a warning.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return err
			}
			log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
			rs, err := devcluster.ParseRegions(regions, func(id string) {
				log.Warn("region id not known: its location is 0, 0 (placement by distance means nothing for it)", "region", id)
			})
			if err != nil {
				return err
			}
			c, err := devcluster.Start(devcluster.Spec{Regions: rs, Nodes: nodes, Dir: dataDir, HTTPPort: port, Log: log})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			for _, n := range c.Nodes {
				fmt.Fprintf(out, "%-16s %-12s %s\n", n.NodeID(), n.Region(), n.URL())
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			if err := c.WaitReady(wctx); err != nil {
				log.Warn("deployment not ready yet", "err", err)
			} else {
				fmt.Fprintln(out, "ready: open any node's URL; each region keeps its accounts in", dataDir+"/<region>/")
			}
			cancel()
			<-ctx.Done()
			return c.Close()
		},
	}
	f := cmd.Flags()
	f.StringVar(&regions, "regions", "us-west:US,eu-central:EU,cn-north:CN", "the regions, as id:JURISDICTION,...")
	f.IntVar(&nodes, "nodes", 1, "nodes per region")
	f.StringVar(&dataDir, "data", "./data-dev", "directory of every region's store and the nodes' control plane")
	f.IntVar(&port, "port", 8081, "the first node's HTTP port, the others following; 0 for any free ports")
	f.StringVar(&logLevel, "log-level", "warn", "debug, info, warn or error")
	return cmd
}
