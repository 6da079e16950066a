package membudget

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for in, want := range map[string]int64{"512": 512, "4K": 4096, "64M": 64 << 20, "1.5G": 3 << 29, "2GiB": 2 << 30, "1t": 1 << 40, " 8 MB ": 8 << 20} {
		if got, err := Parse(in); err != nil || got != want {
			t.Errorf("Parse(%q) = %d, %v, want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1G", "G", "12X", "1e30G", "NaN"} {
		if _, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) accepted", in)
		}
	}
}

func TestCurrent(t *testing.T) {
	t.Setenv(EnvVar, "300M")
	flag := ""
	UseFlag("memory-budget", func() string { return flag })
	defer UseFlag("", nil)
	if b, err := Current(); err != nil || b.Bytes != 300<<20 || b.Source != "$"+EnvVar {
		t.Errorf("from the environment: %v, %v", b, err)
	}
	flag = "1G"
	if b, err := Current(); err != nil || b.Bytes != 1<<30 || b.Source != "--memory-budget" {
		t.Errorf("from the flag: %v, %v", b, err)
	}
	flag = "lots"
	if _, err := Current(); err == nil || !strings.Contains(err.Error(), "--memory-budget") {
		t.Errorf("a bad flag: %v", err)
	}
	t.Setenv(EnvVar, "")
	UseFlag("", nil)
	if b, err := Current(); err != nil || b.Bytes <= 0 {
		t.Errorf("the machine's: %v, %v", b, err)
	}
}
