package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/meridian-video/meridian/internal/token"
)

func tokenCmd() *cobra.Command {
	var (
		dataDir, room, identity, name string
		publish, subscribe, host      bool
		ttl                           time.Duration
	)
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Mint a join token with the server's signing secret",
		RunE: func(cmd *cobra.Command, _ []string) error {
			secret, err := token.LoadOrCreateSecret(dataDir)
			if err != nil {
				return err
			}
			if !publish && !subscribe {
				subscribe = true
			}
			tok, err := token.NewIssuer(secret, nil).Mint(room, identity, name,
				token.Grants{Publish: publish, Subscribe: subscribe, Host: host}, ttl)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), tok)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dataDir, "data", "./data", "the server's data directory (holds the signing secret)")
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
