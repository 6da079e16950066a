package main

import (
	"fmt"
	"io"
	"runtime"

	"github.com/urfave/cli/v2"
)

// infoCommand reports what rout can use on this machine. It always exits 0: "no usable GPU" is
// an answer, not a failure; scripts read the last line ("gpu: usable ..." or "gpu: not usable: ...").
func infoCommand() *cli.Command {
	return &cli.Command{
		Name:         "info",
		Usage:        "show the GPU, driver and CUDA library versions, or why no GPU is usable",
		OnUsageError: commandUsageError,
		Description: "Prints the build, each CUDA library rout loads (file and version), the GPUs the driver\n" +
			"sees (name, compute capability, memory), and a last line saying whether a GPU is usable\n" +
			"and if not, why (then rout trains on the CPU). --verbose lists every path tried for a library\n" +
			"that did not load. Exits 0 either way.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "verbose", Usage: "for a library that did not load, list every path tried and why each failed"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageError{fmt.Errorf("info: unexpected argument %q (it takes none)", c.Args().First())}
			}
			writeInfo(c.App.Writer, c.Bool("verbose"))
			return nil
		},
	}
}

func writeInfo(w io.Writer, verbose bool) {
	fmt.Fprintf(w, "rout %s (%s, %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	writeGPUInfo(w, verbose)
}

// cpuFallback ends the line of a machine without a usable GPU.
const cpuFallback = "; rout trains on the CPU backend (--device auto picks it)"
