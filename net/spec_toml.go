package net

import (
	"fmt"
	"strconv"
	"strings"
)

// TOML writes s in the file format ParseSpec reads, so that a run can record exactly the network
// it trained (a width multiplier already applied shows as plain filter counts). Defaults are
// written out, so the file does not depend on them.
func (s *Spec) TOML() []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "name = %s\n", quoteTOML(s.Name))
	if s.Description != "" {
		fmt.Fprintf(&b, "description = %s\n", quoteTOML(s.Description))
	}
	fmt.Fprintf(&b, "input = [%d, %d, %d]\n", s.Input[0], s.Input[1], s.Input[2])
	fmt.Fprintf(&b, "init = %s\n", quoteTOML(s.Init))
	fmt.Fprintf(&b, "\n[batchnorm]\nmomentum = %s\neps = %s\n",
		strconv.FormatFloat(s.BatchNorm.Momentum, 'g', -1, 64), strconv.FormatFloat(s.BatchNorm.Eps, 'g', -1, 64))
	for _, l := range s.Layers {
		b.WriteString("\n[[layer]]\n")
		for _, kv := range layerFieldsTOML(l, false) {
			fmt.Fprintf(&b, "%s = %s\n", kv[0], kv[1])
		}
	}
	return []byte(b.String())
}

// layerFieldsTOML lists l's keys and TOML values in a fixed order. Inside an inline table
// (a branch's layer) everything stays on one line, as TOML 1.0 requires.
func layerFieldsTOML(l LayerSpec, inline bool) [][2]string {
	kv := [][2]string{{"type", quoteTOML(l.Type)}}
	add := func(k, v string) { kv = append(kv, [2]string{k, v}) }
	if l.Name != "" {
		add("name", quoteTOML(l.Name))
	}
	if l.Type == TypeConv {
		add("filters", strconv.Itoa(l.Filters))
	}
	pair := func(k string, p Pair) {
		if p.set() {
			if p[0] == p[1] {
				add(k, strconv.Itoa(p[0]))
			} else {
				add(k, fmt.Sprintf("[%d, %d]", p[0], p[1]))
			}
		}
	}
	pair("kernel", l.Kernel)
	pair("stride", l.Stride)
	pair("pad", l.Pad)
	if l.Ceil {
		add("ceil", "true")
	}
	if l.Global {
		add("global", "true")
	}
	if l.Type == TypeDense {
		if l.Units == 0 {
			add("units", `"classes"`)
		} else {
			add("units", strconv.Itoa(int(l.Units)))
		}
	}
	if l.Act != "" {
		add("act", quoteTOML(l.Act))
	}
	if l.BN {
		add("bn", "true")
	}
	if l.Bias != nil {
		add("bias", strconv.FormatBool(*l.Bias))
	}
	if l.Init != "" {
		add("init", quoteTOML(l.Init))
	}
	if l.Type == TypeConcat {
		var br []string
		for _, branch := range l.Branches {
			var items []string
			for _, sub := range branch {
				var fields []string
				for _, f := range layerFieldsTOML(sub, true) {
					fields = append(fields, f[0]+" = "+f[1])
				}
				items = append(items, "{ "+strings.Join(fields, ", ")+" }")
			}
			br = append(br, "["+strings.Join(items, ", ")+"]")
		}
		if inline {
			add("branches", "["+strings.Join(br, ", ")+"]")
		} else {
			add("branches", "[\n  "+strings.Join(br, ",\n  ")+",\n]")
		}
	}
	return kv
}

// quoteTOML writes s as a TOML basic string.
func quoteTOML(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
