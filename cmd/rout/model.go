package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"rout/net"
	"rout/trainer"
)

// modelCommand is `rout model`: look at a network before training it.
func modelCommand() *cli.Command {
	return &cli.Command{
		Name:         "model",
		Usage:        "inspect network specs (built-in models or your own TOML files)",
		OnUsageError: commandUsageError,
		Action:       unknownCommand,
		UsageText:    "rout model command [command options] [arguments...]",
		Subcommands: []*cli.Command{
			{
				Name:         "summary",
				Usage:        "print every layer's output shape, parameters and FLOPs, then the totals",
				ArgsUsage:    "NAME|FILE[@WIDTH]  (built-in: " + strings.Join(net.BuiltinModels(), ", ") + ")",
				OnUsageError: commandUsageError,
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "input", Usage: "input shape `C,H,W` (default: the spec's input)"},
					&cli.IntFlag{Name: "classes", Value: 10, Usage: "number of classes `K` (the size of a units = \"classes\" layer)"},
					&cli.IntFlag{Name: "batch", Value: 128, Usage: "batch size `B` of the memory estimate (with Adam's two moments)"},
				},
				Action: modelSummary,
			},
			{
				Name:         "list",
				Usage:        "list the built-in models",
				OnUsageError: commandUsageError,
				Action: func(c *cli.Context) error {
					for _, name := range net.BuiltinModels() {
						s, err := net.LoadSpec(name)
						if err != nil {
							return err
						}
						fmt.Fprintf(c.App.Writer, "%-16s %s\n", name, s.Description)
					}
					return nil
				},
			},
		},
	}
}

func modelSummary(c *cli.Context) error {
	// urfave/cli stops at the first argument; accept the flags after the model too.
	args, err := interspersedFlags(c)
	if err != nil {
		return usageError{fmt.Errorf("model summary: %w", err)}
	}
	input, classes := c.String("input"), c.Int("classes")
	if len(args) != 1 {
		return usageError{fmt.Errorf("model summary: want one model name or file, got %d arguments", len(args))}
	}
	if classes < 1 {
		return usageError{fmt.Errorf("model summary: --classes %d: want a positive integer", classes)}
	}
	spec, err := net.LoadSpec(args[0])
	if err != nil {
		return err
	}
	in := spec.Input
	note := fmt.Sprintf("Planned at the spec's input %s; --input C,H,W plans another (training plans the data's size after --crop).", shape(in))
	if input != "" {
		if in, err = parseShape(input); err != nil {
			return usageError{fmt.Errorf("model summary: --input: %w", err)}
		}
		note = ""
	} else if pin, why, ok := presetInput(args[0], in[0]); ok {
		in = pin
		note = fmt.Sprintf("Planned at %s, the input %s; --input C,H,W plans another.", shape(in), why)
	}
	sum, err := net.Summarize(spec, in, classes)
	if err != nil {
		return err
	}
	if err := sum.Format(c.App.Writer); err != nil {
		return err
	}
	if err := memorySummary(c, spec, in, classes); err != nil {
		return err
	}
	if note != "" {
		fmt.Fprintf(c.App.Writer, "\n%s\n", note)
	}
	return nil
}

func shape(s [3]int) string { return fmt.Sprintf("%dx%dx%d", s[0], s[1], s[2]) }

// presetData says what the presets' datasets hold, for presetInput.
var presetData = map[string]string{"shapes": "the built-in shapes (3x32x32 images)", "cifar10": "CIFAR-10 (3x32x32 images)"}

// presetInput is the input the first preset that trains model (a built-in name, maybe with a
// width) gives it, with channels from the spec, and the words that say so.
func presetInput(model string, channels int) ([3]int, string, bool) {
	base, _, _ := strings.Cut(model, "@")
	for _, p := range trainer.PresetNames() {
		cfg, err := trainer.Preset(p)
		if err != nil || cfg.Model != base || cfg.Crop == 0 {
			continue
		}
		what := presetData[cfg.Data]
		if what == "" {
			what = cfg.Data
		}
		return [3]int{channels, cfg.Crop, cfg.Crop}, fmt.Sprintf("the %s preset trains it on: %s, centre-cropped to %dx%d", p, what, cfg.Crop, cfg.Crop), true
	}
	return [3]int{}, "", false
}

// parseShape reads "C,H,W".
func parseShape(s string) ([3]int, error) {
	var out [3]int
	parts := strings.Split(s, ",")
	if len(parts) != 3 {
		return out, fmt.Errorf("%q: want C,H,W (e.g. 3,28,28)", s)
	}
	for i, p := range parts {
		v, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || v < 1 {
			return out, fmt.Errorf("%q: want C,H,W with positive integers (e.g. 3,28,28)", s)
		}
		out[i] = v
	}
	return out, nil
}
