package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/meridian-video/meridian/internal/config"
	"github.com/meridian-video/meridian/internal/server"
)

func drainCmd() *cobra.Command {
	var cfgPath, url, dataDir string
	cmd := &cobra.Command{
		Use:   "drain",
		Short: "Drain a node on this machine: no new meetings; it stops once its live ones end (or drain_timeout passes)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(cfgPath)
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("data") {
				cfg.DataDir = dataDir
			}
			if url == "" {
				url = "http://" + cfg.Addr
			}
			b, err := os.ReadFile(filepath.Join(cfg.DataDir, server.AdminSecretFile))
			if err != nil {
				return fmt.Errorf("the admin secret (is --data the node's data directory?): %w", err)
			}
			req, err := http.NewRequestWithContext(cmd.Context(), http.MethodPost, strings.TrimRight(url, "/")+"/admin/drain", nil)
			if err != nil {
				return err
			}
			req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(b)))
			resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			if resp.StatusCode != http.StatusAccepted {
				return fmt.Errorf("drain %s: %s %s", url, resp.Status, strings.TrimSpace(string(body)))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s is draining: no new meetings; it stops when its live meetings end or drain_timeout passes\n", url)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfgPath, "config", "", "the node's YAML config file")
	f.StringVar(&url, "url", "", "the node's loopback base URL (default http://<addr> from the config)")
	f.StringVar(&dataDir, "data", config.Default().DataDir, "the node's data directory, which holds the admin secret")
	return cmd
}
