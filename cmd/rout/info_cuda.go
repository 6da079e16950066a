//go:build !nocuda

package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"rout/cudnn"
)

// writeGPUInfo reports each library, each device and whether device 0 is usable (a context, a
// stream and the cuDNN and cuBLAS handles can be created on it). A library that did not load
// gets the first line of why; verbose adds every path tried.
func writeGPUInfo(w io.Writer, verbose bool) {
	fmt.Fprintln(w, "build: with GPU support (cgo; CUDA libraries opened at run time)")
	fmt.Fprintln(w, "libraries:")
	var why, missing []string
	versions := map[string]func() (string, error){
		"cuda": func() (string, error) {
			v, err := cudnn.DriverVersion()
			return "driver supports CUDA " + v, err
		},
		"cudnn": func() (string, error) {
			v, rt, err := cudnn.CUDNNVersion()
			return v + " (built for CUDA " + rt + ")", err
		},
		"cublas": cudnn.CUBLASVersion,
		"nvrtc":  cudnn.NVRTCVersion,
	}
	for _, lib := range []string{"cuda", "cudnn", "cublas", "nvrtc"} {
		path, err := cudnn.LibraryPath(lib)
		if err != nil {
			short := firstLine(err.Error())
			if verbose {
				fmt.Fprintf(w, "  %-7s missing: %s\n", lib, indent(err.Error()))
			} else {
				fmt.Fprintf(w, "  %-7s missing: %s\n", lib, short)
			}
			missing = append(missing, strings.TrimPrefix(strings.SplitN(short, " (", 2)[0], "cannot load "))
			continue
		}
		v, err := versions[lib]()
		if err != nil {
			v = "version unknown: " + err.Error()
		}
		fmt.Fprintf(w, "  %-7s %s (%s)\n", lib, v, path)
		if lib == "cuda" {
			if err := cudnn.StepGraphAPI(); err != nil {
				fmt.Fprintf(w, "          CUDA graphs: not usable: %s\n", indent(err.Error()))
			} else {
				fmt.Fprintln(w, "          CUDA graphs: resolved (for --cuda-graph)")
			}
		}
		if lib == "cudnn" {
			if err := cudnn.GraphAPI(); err != nil {
				fmt.Fprintf(w, "          graph API: not usable: %s\n", indent(err.Error()))
			} else {
				fmt.Fprintln(w, "          graph API: resolved (for --cudnn-graph)")
			}
		}
	}
	if len(missing) > 0 {
		why = append(why, "cannot load "+strings.Join(missing, ", "))
	}
	if _, err := cudnn.LibraryPath("cuda"); err == nil {
		n, err := cudnn.DeviceCount()
		switch {
		case err != nil:
			fmt.Fprintf(w, "devices: %v\n", err)
			why = append(why, "the driver reports no device: "+err.Error())
		case n == 0:
			fmt.Fprintln(w, "devices: none")
			why = append(why, "the driver sees no CUDA device")
		default:
			fmt.Fprintf(w, "devices: %d\n", n)
			for i := 0; i < n; i++ {
				d, err := cudnn.DeviceInfo(i)
				if err != nil {
					fmt.Fprintf(w, "  %d: %v\n", i, err)
					continue
				}
				fmt.Fprintf(w, "  %d: %s, compute capability %d.%d, %.1f GiB, %d SMs\n", i, d.Name, d.Major, d.Minor,
					float64(d.TotalMemory)/(1<<30), d.SMs)
			}
		}
	}
	if len(why) > 0 {
		line := "gpu: not usable: " + strings.Join(why, "; ") + cpuFallback
		if !verbose {
			line += " (`rout info --verbose` lists the paths tried)"
		}
		fmt.Fprintln(w, line)
		return
	}
	c, err := cudnn.NewContext(cudnn.Options{KernelCache: "off"})
	if err == nil {
		d := c.Device()
		err = errors.Join(c.Sync(), c.Close())
		if err == nil {
			fmt.Fprintf(w, "gpu: usable (device 0: %s, sm_%d)\n", d.Name, d.Arch())
			return
		}
	}
	fmt.Fprintln(w, "gpu: not usable: device 0: "+indent(err.Error())+cpuFallback)
}

// firstLine is the error's first line without the list it introduces ("...; tried:") and
// without the package prefix: what a library's failure is, in one line.
func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	s = strings.TrimSuffix(strings.TrimSuffix(s, ":"), "; tried")
	return strings.TrimPrefix(s, "cudnn: ")
}

// indent keeps a multi-line error readable under its heading.
func indent(s string) string { return strings.ReplaceAll(s, "\n", "\n          ") }
