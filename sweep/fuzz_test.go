package sweep

import "testing"

// FuzzSweepFile feeds arbitrary text to the sweep-file parser: errors, never a panic, and what
// it accepts has distinct seeds and named arms.
func FuzzSweepFile(f *testing.F) {
	f.Add("preset = \"paper\"\nseeds = \"1-32\"\narms = [\"baseline\", \"randomout\"]\n[flags]\nepochs = 6\n")
	f.Add("seeds = [3, 1, 2]\n[[arms]]\nname = \"ro-bias\"\noverrides = { randomout = true, tau = 1e-6 }\n")
	f.Add("vary-data-seed = true\narms = [\"baseline\", { name = \"x\", overrides = { lr = 0.01 } }]\n")
	f.Fuzz(func(t *testing.T, text string) {
		file, err := ParseFile(text)
		if err != nil {
			return
		}
		seen := map[uint64]bool{}
		for _, s := range file.Seeds {
			if seen[s] {
				t.Fatalf("seed %d accepted twice", s)
			}
			seen[s] = true
		}
		for _, a := range file.Arms {
			if a.Name == "" {
				t.Fatalf("an arm without a name accepted: %+v", a)
			}
		}
	})
}
