// Package command adds `caddy webhook` to the Caddy command line. Its one
// subcommand, `caddy webhook presets`, prints the signature presets from
// the metadata module/signature exposes, the same metadata the README's
// presets table is generated from.
package command

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/hookguard/hookguard/module/signature"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "webhook",
		Usage: "presets [--markdown]",
		Short: "Lists Hookguard's webhook signature presets",
		Long: `
Hookguard's webhook commands.

"caddy webhook presets" prints every signature preset webhook_verify
knows: the headers it reads, what is signed and how, the timestamp unit,
the default tolerance (the provider's recommendation) and where the
dedupe key comes from. With --markdown it prints the table the README
carries.`,
		CobraFunc: func(cmd *cobra.Command) {
			presets := &cobra.Command{
				Use:   "presets [--markdown]",
				Short: "Prints the signature presets",
				Args:  cobra.NoArgs,
				RunE: func(c *cobra.Command, _ []string) error {
					markdown, err := c.Flags().GetBool("markdown")
					if err != nil {
						return err
					}
					if markdown {
						_, err = io.WriteString(c.OutOrStdout(), Markdown(signature.Describe()))
						return err
					}
					return Text(c.OutOrStdout(), signature.Describe())
				},
			}
			presets.Flags().Bool("markdown", false, "print the README's Markdown table")
			cmd.AddCommand(presets)
		},
	})
}

// defaultTolerance is what webhook_verify uses for a preset whose
// provider recommends no tolerance.
const defaultTolerance = 5 * time.Minute

// Text writes the presets as an aligned plain-text table.
func Text(w io.Writer, infos []signature.Info) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PRESET\tFAMILY\tHEADERS\tSIGNED\tTIMESTAMP\tTOLERANCE\tDEDUPE KEY")
	for _, in := range infos {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", in.Name, in.Family, strings.Join(in.Headers, ", "),
			plain(in.Signed), plain(orDash(in.Timestamp)), tolerance(in), plain(in.Dedupe))
	}
	return tw.Flush()
}

// Markdown renders the presets as the README's table, one row per preset.
func Markdown(infos []signature.Info) string {
	var b strings.Builder
	b.WriteString("| preset | family | headers | signature | signed content | encoding | secret | timestamp | default tolerance | dedupe key | checked against |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, in := range infos {
		headers := make([]string, len(in.Headers))
		for i, h := range in.Headers {
			headers[i] = "`" + h + "`"
		}
		cells := []string{"`" + in.Name + "`", in.Family, strings.Join(headers, ", "), in.Signature, in.Signed,
			orDash(in.Encoding), in.Secret, orDash(in.Timestamp), tolerance(in), in.Dedupe, in.Source}
		for i, c := range cells {
			cells[i] = strings.ReplaceAll(c, "|", `\|`)
		}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	return b.String()
}

// tolerance is the preset's default tolerance as webhook_verify applies it.
func tolerance(in signature.Info) string {
	switch {
	case in.Timestamp == "":
		return "—"
	case in.Tolerance == 0:
		return duration(defaultTolerance) + " (none recommended)"
	}
	return duration(in.Tolerance)
}

// duration writes whole hours or minutes without trailing zero units.
func duration(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return d.String()
}

// plain drops Markdown code quotes for the terminal.
func plain(s string) string { return strings.ReplaceAll(s, "`", "") }

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
