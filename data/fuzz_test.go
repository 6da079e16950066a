package data

import (
	"bytes"
	"image"
	"image/png"
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

// FuzzFolderImage feeds arbitrary bytes as an image of a folder dataset (beside a valid one, in
// the training and the test split): headers, sizes and pixels are checked before decoding.
func FuzzFolderImage(f *testing.F) {
	f.Add(pngBytes(4, 4))
	f.Fuzz(func(t *testing.T, b []byte) {
		root := t.TempDir()
		for _, p := range []string{"train/a/1.png", "train/b/2.jpg", "test/a/3.png"} {
			if err := os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(root, "train/a/1.png"), pngBytes(4, 4), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"train/b/2.jpg", "test/a/3.png"} {
			if err := os.WriteFile(filepath.Join(root, p), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		d, err := OpenFolder(root)
		if err != nil {
			return
		}
		if d.Train.N != 2 || d.Test.N != 1 || d.Train.H != 4 || d.Train.W != 4 || len(d.Train.Pixels) != 2*d.Train.ImageLen() ||
			len(d.Test.Pixels) != d.Test.ImageLen() || len(d.Classes) != 2 {
			t.Fatalf("accepted as %d+%d images of %dx%dx%d, %d classes", d.Train.N, d.Test.N, d.Train.C, d.Train.H, d.Train.W, len(d.Classes))
		}
	})
}

// pngBytes is a w x h colour PNG.
func pngBytes(w, h int) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 7)
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	return b.Bytes()
}
