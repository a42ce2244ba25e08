package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/meridian-video/meridian/internal/config"
	"github.com/meridian-video/meridian/internal/load"
	"github.com/meridian-video/meridian/internal/token"
	"github.com/meridian-video/meridian/internal/topology"
)

func loadCmd() *cobra.Command {
	var (
		opts    load.Options
		dataDir string
		region  string
		keyFile string
		asJSON  bool
	)
	cmd := &cobra.Command{
		Use:   "load",
		Short: "Generate synthetic meeting load against a server and report forwarding figures",
		Long: `Joins --rooms rooms, each with --publishers clients publishing synthetic VP8 video and
Opus audio (and subscribing to one another) and --subscribers subscribe-only clients, waits
until every client receives every track, then measures for --duration: forwarded packets per
second, loss, NACKs, forwarding latency, join-to-first-frame and, with --server-pid, the
server's CPU and memory. Progress goes to stderr every second; the summary to stdout, or
with --json a JSON object to stdout and the summary to stderr.

Tokens are minted with the region key of the server's region (--region) in --data (the
server's data directory) or --region-key, or --token is used by every client, or with
--meeting every client joins that meeting through the API at --url and connects to the
node its ticket names.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := cmd.Flags()
			if btoi(f.Changed("token"))+btoi(f.Changed("data"))+btoi(f.Changed("meeting")) > 1 {
				return fmt.Errorf("give one of --data, --token or --meeting")
			}
			if opts.Token == "" && opts.Meeting == "" {
				keyFile = config.Config{DataDir: dataDir, RegionKeyFile: keyFile}.RegionKeyPath(region)
				// Never created here: a key made by this tool would sign tokens no node accepts.
				key, err := token.ReadRegionKey(keyFile, region)
				if errors.Is(err, os.ErrNotExist) {
					return fmt.Errorf("no region key at %s: point --data at the data directory of the running server (it creates the key on first start), or pass --region-key or --token", keyFile)
				}
				if err != nil {
					return err
				}
				opts.Key = key
			}
			opts.Progress = cmd.ErrOrStderr()
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			res, err := load.Run(ctx, opts)
			if err != nil {
				return err
			}
			if asJSON {
				fmt.Fprint(cmd.ErrOrStderr(), res.Summary())
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(res)
			}
			fmt.Fprint(cmd.OutOrStdout(), res.Summary())
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.URL, "url", "http://127.0.0.1:8080", "the server's base URL")
	f.IntVar(&opts.Rooms, "rooms", 1, "rooms")
	f.IntVar(&opts.Publishers, "publishers", 1, "publishing clients per room (they subscribe to one another)")
	f.IntVar(&opts.Subscribers, "subscribers", 10, "subscribe-only clients per room")
	f.DurationVar(&opts.Duration, "duration", 30*time.Second, "measured window, after warm-up")
	f.StringVar(&dataDir, "data", "./data", "the server's data directory, whose region key mints the tokens")
	f.StringVar(&region, "region", topology.DefaultRegion, "the server's region")
	f.StringVar(&keyFile, "region-key", "", "the region key file (default <data>/region-<region>.key)")
	f.StringVar(&opts.Token, "token", "", "a join token for every client, instead of --data (one room)")
	f.StringVar(&opts.Meeting, "meeting", "", "a meeting id to join through the API, instead of --data (one room)")
	f.StringVar(&opts.Passcode, "passcode", "", "the meeting's passcode, with --meeting")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON on stdout")
	f.IntVar(&opts.ServerPID, "server-pid", 0, "the server's process id on this machine: report its CPU and peak RSS")
	f.IntVar(&opts.VideoBitrate, "video-bitrate", 1_500_000, "synthetic video bitrate, bits per second")
	f.IntVar(&opts.AudioBitrate, "audio-bitrate", 32_000, "synthetic audio bitrate, bits per second")
	f.IntVar(&opts.FPS, "fps", 30, "synthetic video frame rate")
	f.DurationVar(&opts.KeyframeInterval, "keyframe-interval", 3*time.Second, "synthetic video keyframe interval")
	f.BoolVar(&opts.LoopbackOnly, "loopback", true, "gather loopback ICE candidates only")
	f.IntVar(&opts.JoinConcurrency, "join-concurrency", 8, "clients joining at once")
	f.IntVar(&opts.ProbeJoins, "probe-joins", 3, "subscribers joining one by one after the window, for join-to-first-frame in a busy room")
	f.DurationVar(&opts.WarmupTimeout, "warmup-timeout", 0, "longest wait for every client to receive every track (0: 30s + 100ms per client)")
	return cmd
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
