package data

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// The seed corpora live in testdata/fuzz/<FuzzName>/ (valid files and damaged variants);
// `go test` replays them, `go test -fuzz=FuzzCIFAR` explores from them.

// FuzzCIFAR feeds arbitrary bytes to the CIFAR-10 and CIFAR-100 record parsers.
func FuzzCIFAR(f *testing.F) {
	f.Add(records(2, func(i int) []byte { return []byte{byte(i)} }))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, format := range []cifarFormat{cifar10Format, cifar100Format, cifar100Coarse()} {
			s, err := readCIFAR(&format, bytes.NewReader(b), int64(len(b)))
			if err != nil {
				continue
			}
			if s.N*format.recordLen() != len(b) || len(s.Pixels) != s.N*cifarPixels || len(s.Labels) != s.N {
				t.Fatalf("%s: %d bytes gave %d examples, %d pixels, %d labels", format.kind, len(b), s.N, len(s.Pixels), len(s.Labels))
			}
			for _, l := range s.Labels {
				if l < 0 || int(l) >= format.classes() {
					t.Fatalf("%s: label %d accepted", format.kind, l)
				}
			}
		}
	})
}

// FuzzIDX feeds arbitrary bytes, gzipped or not, to the IDX parser as images and as labels.
func FuzzIDX(f *testing.F) {
	f.Add(idxBytes([]uint32{2, 2, 2}, make([]byte, 8)))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, nd := range []int{1, 3} {
			dims, data, err := readIDX(bytes.NewReader(b), nd, &account{}, "fuzz input")
			if err != nil {
				continue
			}
			n := 1
			for _, d := range dims {
				if d < 1 {
					t.Fatalf("dimension %d accepted", d)
				}
				n *= d
			}
			if len(dims) != nd || n != len(data) {
				t.Fatalf("dimensions %v but %d bytes of data", dims, len(data))
			}
		}
	})
}

// FuzzArchive feeds arbitrary bytes as an archive file to the CIFAR and image-folder loaders.
func FuzzArchive(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(t.TempDir(), "a.tar.gz")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		check := func(d *Dataset, err error) {
			if err != nil {
				return
			}
			for _, s := range []Split{d.Train, d.Test} {
				if len(s.Pixels) != s.N*s.C*s.H*s.W || len(s.Labels) != s.N {
					t.Fatalf("%s: %d examples of %dx%dx%d with %d pixels and %d labels", d.Name, s.N, s.C, s.H, s.W, len(s.Pixels), len(s.Labels))
				}
				for _, l := range s.Labels {
					if l < 0 || int(l) >= len(d.Classes) {
						t.Fatalf("%s: label %d of %d classes", d.Name, l, len(d.Classes))
					}
				}
			}
		}
		check(OpenCIFAR10(p))
		check(OpenCIFAR100(p, false))
		check(OpenFolder(p))
	})
}
