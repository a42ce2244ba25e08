package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/meridian-video/meridian/internal/config"
	"github.com/meridian-video/meridian/internal/token"
	"github.com/meridian-video/meridian/internal/topology"
)

func tokenCmd() *cobra.Command {
	var (
		dataDir, room, identity, name string
		region, keyFile               string
		publish, subscribe, host      bool
		ttl                           time.Duration
	)
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Mint a join token with the region key of the server's region",
		Long: `Mints a join token signed with the key of the server's region (--region), read from
--region-key or <data>/region-<region>.key, created there if missing as the server would on
first start. A node accepts it for a room that is not a meeting's, on a node of that region.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			keyFile = config.Config{DataDir: dataDir, RegionKeyFile: keyFile}.RegionKeyPath(region)
			key, err := token.LoadOrCreateRegionKey(keyFile, region)
			if err != nil {
				return err
			}
			if !publish && !subscribe {
				subscribe = true
			}
			tok, err := token.NewIssuer(key, nil).Mint(room, identity, name,
				token.Grants{Publish: publish, Subscribe: subscribe, Host: host}, ttl)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), tok)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dataDir, "data", "./data", "the server's data directory (holds the region key)")
	f.StringVar(&region, "region", topology.DefaultRegion, "the server's region, whose key signs the token")
	f.StringVar(&keyFile, "region-key", "", "the region key file (default <data>/region-<region>.key; the server's region_key_file)")
	f.StringVar(&room, "room", "", "room name (required)")
	f.StringVar(&identity, "identity", "", "participant identity (required)")
	f.StringVar(&name, "name", "", "display name")
	f.BoolVar(&publish, "publish", false, "grant publishing")
	f.BoolVar(&subscribe, "subscribe", false, "grant subscribing (the default when no grant is given)")
	f.BoolVar(&host, "host", false, "grant host controls")
	f.DurationVar(&ttl, "ttl", time.Hour, "validity")
	_ = cmd.MarkFlagRequired("room")
	_ = cmd.MarkFlagRequired("identity")
	return cmd
}
