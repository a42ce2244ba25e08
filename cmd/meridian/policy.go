package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/meridian-video/meridian/internal/config"
	"github.com/meridian-video/meridian/internal/decisionlog"
	"github.com/meridian-video/meridian/internal/policy"
	"github.com/meridian-video/meridian/internal/policyadmin"
	"github.com/meridian-video/meridian/internal/store"
)

func policyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Check jurisdiction policy files and what one would change (docs/policy.md)",
	}
	cmd.AddCommand(policyValidateCmd(), policyDiffCmd())
	return cmd
}

func policyValidateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE",
		Short: "Load a policy file and print every problem as file:line: reason",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := loadPolicyFile(args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: version %s, %d jurisdictions, %d partners, %d rules: ok\n",
				args[0], p.Version, len(p.Jurisdictions), len(p.Partners), len(p.Rules))
			return nil
		},
	}
}

// loadPolicyFile loads a policy file; its errors are printed one per line, as file:line:
// reason, by the command's caller.
func loadPolicyFile(path string) (*policy.Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	p, err := policy.Load(path, data)
	if err != nil {
		return nil, fmt.Errorf("the policy does not load:\n%w", err)
	}
	return p, nil
}

func policyDiffCmd() *cobra.Command {
	var cfgPath, to, from, at, dataDir string
	cmd := &cobra.Command{
		Use:   "diff --to NEW.yaml [--from CURRENT.yaml] [--at DATE] [--data DIR]",
		Short: "Show which accounts, subscriptions, scheduled meetings and recent decisions of the local store a new policy would change",
		Long: `Decides every account (may it host), every current subscription (may it renew) and every
scheduled meeting (may its account host it) of the local store under the current policy
(--from, else the last version activated in the store, else the config's policy_file,
else no rules) and the new one at --at (a date or RFC 3339 time; now if omitted), and
prints the counts per region and kind and the ids of those decided differently. It then
replays the store's decision log of the last 7 days under the new policy, each decision
at the time it was made, and prints those that would come out differently. It prints ids
only: no names or addresses leave the store.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(cfgPath)
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("data") || cfgPath == "" {
				cfg.DataDir = dataDir
			}
			if from == "" {
				from = cfg.PolicyFile
			}
			when := time.Now().UTC()
			if at != "" {
				if when, err = parseWhen(at); err != nil {
					return err
				}
			}
			next, err := loadPolicyFile(to)
			if err != nil {
				return err
			}
			st, err := store.Open(cmd.Context(), store.Config{DataDir: cfg.DataDir, PostgresDSN: cfg.Database.PostgresDSN, Region: cfg.Region})
			if err != nil {
				return err
			}
			defer st.Close()
			var old *policy.Policy
			switch {
			case cmd.Flags().Changed("from") || cfg.PolicyStart == config.PolicyStartFile:
				if from != "" {
					if old, err = loadPolicyFile(from); err != nil {
						return err
					}
				}
			default: // what the server would start with
				d, err := policyadmin.Startup(cmd.Context(), st, policyadmin.Document{Name: from}, false)
				if err != nil {
					return err
				}
				if d.Origin == policyadmin.OriginActivated {
					old = d.Policy
				} else if from != "" {
					if old, err = loadPolicyFile(from); err != nil {
						return err
					}
				}
			}
			decisions := decisionlog.New(st, decisionlog.Options{})
			defer decisions.Close(context.WithoutCancel(cmd.Context()))
			local := policyadmin.Local{Region: st.Region(), Source: st, Decisions: decisions}
			rep, err := policyadmin.DryRun(cmd.Context(), local, old, next, when, time.Now())
			if err != nil {
				return err
			}
			return printDiff(cmd.OutOrStdout(), rep)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfgPath, "config", "", "the server's YAML config file (for its database, data dir and policy_file)")
	f.StringVar(&to, "to", "", "the new policy file (required)")
	f.StringVar(&from, "from", "", "the current policy file (default: the config's policy_file, or no rules)")
	f.StringVar(&at, "at", "", "when to decide: 2020-05-02 or an RFC 3339 time (default: now)")
	f.StringVar(&dataDir, "data", config.Default().DataDir, "the server's data directory (its SQLite store)")
	_ = cmd.MarkFlagRequired("to")
	return cmd
}

func parseWhen(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, errors.New("--at: want a date such as 2020-05-02 or an RFC 3339 time such as 2020-05-02T08:00:00Z")
}

func printDiff(w io.Writer, rep policyadmin.Report) error {
	fromV := rep.From
	if fromV == "" {
		fromV = "(no rules)"
	}
	fmt.Fprintf(w, "from %s to %s at %s\n\n", fromV, rep.To, rep.At.Format(time.RFC3339))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REGION\tKIND\tSUBJECTS\tCHANGED\tNOW REFUSED\tNOW ALLOWED")
	for _, c := range rep.Counts {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\n", c.Region, c.Kind, c.Subjects, c.Changed, c.NowRefused, c.NowAllowed)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, kind := range []string{policyadmin.KindAccount, policyadmin.KindSubscription, policyadmin.KindMeeting} {
		var n int
		for _, c := range rep.Changes {
			if c.Kind != kind {
				continue
			}
			if n == 0 {
				fmt.Fprintf(w, "\naffected %ss:\n", kind)
			}
			n++
			fmt.Fprintf(w, "  %s (%s): %s -> %s\n", c.ID, c.Region, describe(c.OldCode, c.OldRule), describe(c.NewCode, c.NewRule))
		}
	}
	r := rep.Replay
	if !r.Available {
		fmt.Fprintln(w, "\ndecision log replay:", r.Note)
		return nil
	}
	fmt.Fprintf(w, "\ndecision log since %s: %d decisions replayed, %d would change (%d now refused, %d now allowed)",
		r.Since.Format(time.RFC3339), r.Decisions, r.Changed, r.NowRefused, r.NowAllowed)
	if r.Skipped > 0 {
		fmt.Fprintf(w, ", %d could not be replayed (summed without facts)", r.Skipped)
	}
	fmt.Fprintln(w)
	for _, c := range r.Changes {
		subject := c.Subject
		if subject == "" {
			subject = "-"
		}
		fmt.Fprintf(w, "  %s %s %s of %s x%d: %s -> %s\n", c.ID, c.At.Format(time.RFC3339), c.Question, subject, c.Count,
			describe(c.OldCode, c.OldRule), describe(c.NewCode, c.NewRule))
	}
	if r.Truncated {
		fmt.Fprintf(w, "  (the first %d listed)\n", policyadmin.MaxChanges)
	}
	return nil
}

func describe(code, rule string) string {
	if rule == "" {
		return code
	}
	return code + " (rule " + rule + ")"
}
