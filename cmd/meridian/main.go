// Command meridian is the Meridian server and its tools: serve, dev, drain, token, load.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	root := &cobra.Command{
		Use:           "meridian",
		Short:         "Video meetings that know where their data may go",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(serveCmd(), devCmd(), drainCmd(), tokenCmd(), loadCmd())
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "meridian:", err)
		os.Exit(1)
	}
}
