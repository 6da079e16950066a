package main

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"rout/trainer"
)

// settingFlags are the command-line flags of every setting of trainer.Settings, plus --preset:
// the flags of `rout train` and of any command that starts runs (a sweep). Their help shows each
// preset's value; a flag that is not given leaves the preset's value. Read them back with
// configFromCLI.
func settingFlags() []cli.Flag {
	presets := map[string]trainer.Config{}
	for _, p := range trainer.PresetNames() {
		presets[p], _ = trainer.Preset(p)
	}
	fs := []cli.Flag{&cli.StringFlag{Name: "preset", Value: trainer.PresetNames()[0], Category: "run",
		Usage: "starting configuration that the other flags override: " + strings.Join(trainer.PresetNames(), " or ")}}
	for _, f := range trainer.Settings() {
		var parts []string
		for _, p := range trainer.PresetNames() {
			c := presets[p]
			v, _ := c.Get(f.Name)
			if v == "" {
				v = `""`
			}
			parts = append(parts, p+": "+v)
		}
		usage := f.Usage
		if f.Choices != nil {
			usage += " (" + strings.Join(f.Choices, "|") + ")"
		}
		usage += " [" + strings.Join(parts, "; ") + "]"
		// The presets' values are in the usage; urfave's own default would be the type's zero.
		const presets = "the preset's"
		switch f.Kind {
		case reflect.Bool:
			if strings.Contains(usage, ": true") {
				usage += " (--" + f.Name + "=false turns it off)"
			}
			fs = append(fs, &cli.BoolFlag{Name: f.Name, Aliases: f.Aliases, Usage: usage, Category: f.Category, DisableDefaultText: true})
		case reflect.Int:
			fs = append(fs, &cli.IntFlag{Name: f.Name, Aliases: f.Aliases, Usage: usage, Category: f.Category, DefaultText: presets})
		case reflect.Uint64:
			fs = append(fs, &cli.Uint64Flag{Name: f.Name, Aliases: f.Aliases, Usage: usage, Category: f.Category, DefaultText: presets})
		case reflect.Float64:
			fs = append(fs, &cli.Float64Flag{Name: f.Name, Aliases: f.Aliases, Usage: usage, Category: f.Category, DefaultText: presets})
		default:
			fs = append(fs, &cli.StringFlag{Name: f.Name, Aliases: f.Aliases, Usage: usage, Category: f.Category, DefaultText: presets})
		}
	}
	return fs
}

// configFromCLI is the configuration the flags of settingFlags describe: the --preset, then
// every flag given on the command line, validated.
func configFromCLI(ctx *cli.Context) (trainer.Config, error) {
	c, err := trainer.Preset(ctx.String("preset"))
	if err != nil {
		return trainer.Config{}, fmt.Errorf("flag --preset: %w", err)
	}
	if err := applyFlags(ctx, &c); err != nil {
		return trainer.Config{}, err
	}
	return c, c.Validate()
}

// applyFlags overwrites the settings whose flags were given on the command line. The flags have
// parsed their values already; a string setting's choices are checked here.
func applyFlags(ctx *cli.Context, c *trainer.Config) error {
	for _, f := range trainer.Settings() {
		if !ctx.IsSet(f.Name) {
			continue
		}
		var v string
		switch f.Kind {
		case reflect.Bool:
			v = strconv.FormatBool(ctx.Bool(f.Name))
		case reflect.Int:
			v = strconv.Itoa(ctx.Int(f.Name))
		case reflect.Uint64:
			v = strconv.FormatUint(ctx.Uint64(f.Name), 10)
		case reflect.Float64:
			v = strconv.FormatFloat(ctx.Float64(f.Name), 'g', -1, 64)
		default:
			v = ctx.String(f.Name)
		}
		if err := c.Set(f.Name, v); err != nil {
			return fmt.Errorf("flag --%s: %w", f.Name, err)
		}
	}
	return nil
}

// givenSettings lists the settings given on the command line, sorted.
func givenSettings(ctx *cli.Context) []string {
	var s []string
	for _, f := range trainer.Settings() {
		if ctx.IsSet(f.Name) {
			s = append(s, f.Name)
		}
	}
	sort.Strings(s)
	return s
}
