package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"rout/data"
)

// dataCommand is `rout data`: look at a dataset, or fetch the official files of one.
func dataCommand() *cli.Command {
	return &cli.Command{
		Name:         "data",
		Usage:        "inspect datasets and download the official ones",
		OnUsageError: commandUsageError,
		Action:       unknownCommand,
		UsageText:    "rout data command [command options] [arguments...]",
		Subcommands: []*cli.Command{
			{
				Name:         "inspect",
				Usage:        "load a dataset and print its splits, shape, classes, label histogram and channel means",
				ArgsUsage:    "SPEC (shapes, shapes:SEED, cifar10[:PATH], cifar100[:PATH], cifar100-coarse[:PATH], mnist[:PATH], fashion-mnist[:PATH], folder:PATH)",
				OnUsageError: commandUsageError,
				Action: func(c *cli.Context) error {
					args, err := interspersedFlags(c)
					if err != nil {
						return usageError{fmt.Errorf("data inspect: %w", err)}
					}
					if len(args) != 1 {
						return usageError{fmt.Errorf("data inspect: want one dataset spec, got %d arguments", len(args))}
					}
					start := time.Now()
					d, err := data.Open(args[0])
					if err != nil {
						return err
					}
					inspect(c.App.Writer, d, time.Since(start))
					return nil
				},
			},
			{
				Name:         "get",
				Usage:        "download a dataset's official files (checksum verified, resumable) into the cache folder",
				ArgsUsage:    "cifar10|cifar100|mnist|fashion-mnist",
				OnUsageError: commandUsageError,
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "dir", Usage: "download into `D` instead of the cache folder ($ROUT_DATA/NAME or ~/.cache/rout/data/NAME)"},
				},
				Action: func(c *cli.Context) error {
					// urfave/cli stops parsing flags at the first argument; accept the
					// documented order `get NAME --dir D` as well.
					args, err := interspersedFlags(c)
					dir := c.String("dir")
					if err != nil {
						return usageError{fmt.Errorf("data get: %w", err)}
					}
					if len(args) != 1 {
						return usageError{fmt.Errorf("data get: want one dataset name, got %d arguments", len(args))}
					}
					kind := args[0]
					files, err := data.Remotes(kind)
					if err != nil {
						return usageError{err}
					}
					explicit := dir != ""
					if !explicit {
						if dir, err = data.CacheDir(kind); err != nil {
							return err
						}
					}
					for _, f := range files {
						if err := data.Fetch(c.Context, downloadClient(), f, dir, c.App.ErrWriter); err != nil {
							return fmt.Errorf("data get %s: %w", kind, err)
						}
					}
					spec := kind
					if explicit {
						spec += ":" + dir
					}
					fmt.Fprintf(c.App.Writer, "%s is in %s; use it as the dataset spec %q\n", kind, dir, spec)
					return nil
				},
			},
		},
	}
}

// downloadClient gives up on a server that does not connect or answer, but not on a long
// transfer (the archives are up to 170 MB).
func downloadClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   30 * time.Second,
		ResponseHeaderTimeout: time.Minute,
	}}
}

// inspect prints what a researcher checks before training on a dataset.
func inspect(w io.Writer, d *data.Dataset, took time.Duration) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	s := &d.Train
	fmt.Fprintf(tw, "dataset\t%s\n", d.Name)
	fmt.Fprintf(tw, "source\t%s\n", d.Source)
	fmt.Fprintf(tw, "loaded in\t%.2fs\n", took.Seconds())
	fmt.Fprintf(tw, "shape\t%dx%dx%d (C x H x W, uint8; %.1f MB in memory)\n", s.C, s.H, s.W,
		float64(len(d.Train.Pixels)+len(d.Test.Pixels))/1e6)
	fmt.Fprintf(tw, "classes\t%d: %s\n", len(d.Classes), strings.Join(d.Classes, ", "))
	tw.Flush()
	fmt.Fprintln(w)
	fmt.Fprintln(tw, "split\texamples\tchannel means (0..255)\tchannel std")
	for _, sp := range []struct {
		name string
		s    *data.Split
	}{{"train", &d.Train}, {"test", &d.Test}} {
		mean, std := sp.s.ChannelStats()
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", sp.name, sp.s.N, floats(mean), floats(std))
	}
	tw.Flush()
	fmt.Fprintln(w)
	fmt.Fprintln(tw, "label\tclass\ttrain\ttest")
	train, test := d.Train.Histogram(len(d.Classes)), d.Test.Histogram(len(d.Classes))
	for i, c := range d.Classes {
		fmt.Fprintf(tw, "%d\t%s\t%d\t%d\n", i, c, train[i], test[i])
	}
	tw.Flush()
}

func floats(v []float64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprintf("%.2f", x)
	}
	return strings.Join(s, " ")
}
