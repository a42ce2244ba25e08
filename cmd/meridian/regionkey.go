package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/meridian-video/meridian/internal/config"
	"github.com/meridian-video/meridian/internal/token"
	"github.com/meridian-video/meridian/internal/topology"
)

func regionKeyCmd() *cobra.Command {
	var dataDir, region, keyFile string
	cmd := &cobra.Command{
		Use:   "region-key",
		Short: "Print the public key of a region's key, for the region list's public_key",
		Long: `Prints the public half of the region key (standard base64), creating the key as the
server would on first start if it is missing: put it in the region list as the region's
public_key on every node, and copy the key file to the region's other nodes.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			keyFile = config.Config{DataDir: dataDir, RegionKeyFile: keyFile}.RegionKeyPath(region)
			key, err := token.LoadOrCreateRegionKey(keyFile, region)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), key.PublicBase64())
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dataDir, "data", "./data", "the server's data directory (holds the region key)")
	f.StringVar(&region, "region", topology.DefaultRegion, "the region")
	f.StringVar(&keyFile, "region-key", "", "the region key file (default <data>/region-<region>.key; the server's region_key_file)")
	return cmd
}
