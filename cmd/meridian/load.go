package main

import (
	"errors"

	"github.com/spf13/cobra"
)

func loadCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "load",
		Short: "Generate synthetic meeting load against a server and report forwarding figures",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("not built yet")
		},
	}
}
