package data

import (
	"encoding/binary"
	"path/filepath"
	"slices"
	"testing"
)

// idxBytes encodes an IDX file of unsigned bytes.
func idxBytes(dims []uint32, data []byte) []byte {
	b := []byte{0, 0, 8, byte(len(dims))}
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, d)
	}
	return append(b, data...)
}

// idxSet writes an n-train, m-test set of h x w images and returns the expected splits.
func idxSet(t *testing.T, dir string, n, m, h, w int, zipped [4]bool, dotted bool) (Split, Split) {
	t.Helper()
	var splits [2]Split
	for s, count := range []int{n, m} {
		sp := Split{N: count, C: 1, H: h, W: w}
		for i := 0; i < count; i++ {
			sp.Labels = append(sp.Labels, int32((i*3+s)%10))
			for j := 0; j < h*w; j++ {
				sp.Pixels = append(sp.Pixels, byte(i*17+j*5+s*101))
			}
		}
		splits[s] = sp
	}
	contents := [4][]byte{
		idxBytes([]uint32{uint32(n), uint32(h), uint32(w)}, splits[0].Pixels),
		idxBytes([]uint32{uint32(n)}, labelBytes(splits[0].Labels)),
		idxBytes([]uint32{uint32(m), uint32(h), uint32(w)}, splits[1].Pixels),
		idxBytes([]uint32{uint32(m)}, labelBytes(splits[1].Labels)),
	}
	for i, name := range idxFiles {
		if dotted {
			name = name[:len(name)-len("-idx3-ubyte")] + "." + name[len(name)-len("idx3-ubyte"):]
		}
		b := contents[i]
		if zipped[i] {
			name += ".gz"
			b = gz(t, b)
		}
		writeFile(t, filepath.Join(dir, name), b)
	}
	return splits[0], splits[1]
}

func labelBytes(l []int32) []byte {
	b := make([]byte, len(l))
	for i, v := range l {
		b[i] = byte(v)
	}
	return b
}

func TestIDX(t *testing.T) {
	for _, c := range []struct {
		name   string
		kind   string
		zipped [4]bool
		dotted bool
	}{
		{"gzipped", "mnist", [4]bool{true, true, true, true}, false},
		{"plain", "fashion-mnist", [4]bool{}, false},
		{"mixed-dotted", "mnist", [4]bool{true, false, false, true}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			train, test := idxSet(t, dir, 13, 5, 4, 3, c.zipped, c.dotted)
			d, err := Open(c.kind + ":" + dir)
			if err != nil {
				t.Fatal(err)
			}
			sameSplit(t, "train", d.Train, train)
			sameSplit(t, "test", d.Test, test)
			want := numberedClasses(10)
			if c.kind == "fashion-mnist" {
				want = FashionMNISTClasses
			}
			if !slices.Equal(d.Classes, want) || d.Name != c.kind || d.Source != dir {
				t.Fatalf("name %q source %q classes %q", d.Name, d.Source, d.Classes)
			}
		})
	}
}

func TestIDXBadInput(t *testing.T) {
	all := [4]bool{true, true, true, true}
	for _, c := range []struct {
		name  string
		file  int                       // which of the four files to replace
		bytes func(t *testing.T) []byte // its new contents
		want  []string
	}{
		{"labels as images", 0, func(*testing.T) []byte { return idxBytes([]uint32{13}, make([]byte, 13)) },
			[]string{"train-images-idx3-ubyte", "magic number 00 00 08 01", "want 00 00 08 03 (an IDX file of unsigned bytes with 3 dimensions)"}},
		{"float images", 2, func(*testing.T) []byte { return []byte{0, 0, 0x0d, 3, 0, 0, 0, 1} },
			[]string{"t10k-images-idx3-ubyte", "magic number 00 00 0d 03"}},
		{"truncated", 0, func(*testing.T) []byte { return idxBytes([]uint32{13, 4, 3}, make([]byte, 155)) },
			[]string{"train-images-idx3-ubyte", "155 bytes of data after the header, want 156 for dimensions [13 4 3]", "truncated"}},
		{"padded", 3, func(*testing.T) []byte { return idxBytes([]uint32{5}, make([]byte, 6)) },
			[]string{"t10k-labels-idx1-ubyte", "more data than the 5 bytes the dimensions [5] announce"}},
		{"count mismatch", 1, func(*testing.T) []byte { return idxBytes([]uint32{12}, make([]byte, 12)) },
			[]string{"train-labels-idx1-ubyte.gz has 12 labels but", "train-images-idx3-ubyte.gz has 13 images"}},
		{"label out of range", 1, func(*testing.T) []byte { b := make([]byte, 13); b[7] = 10; return idxBytes([]uint32{13}, b) },
			[]string{"train-labels-idx1-ubyte", "label 7 (byte offset 15): 10, want 0..9"}},
		{"zero dimension", 2, func(*testing.T) []byte { return idxBytes([]uint32{5, 0, 3}, nil) },
			[]string{"t10k-images-idx3-ubyte", "dimension 1 is 0"}},
		{"huge header", 0, func(*testing.T) []byte { return idxBytes([]uint32{1 << 31, 1 << 15, 1 << 15}, nil) },
			[]string{"train-images-idx3-ubyte", "the header is damaged"}},
		{"test size differs", 2, func(*testing.T) []byte { return idxBytes([]uint32{5, 3, 4}, make([]byte, 60)) },
			[]string{"holds 3x4 images but", "holds 4x3"}},
		{"header cut", 1, func(*testing.T) []byte { return []byte{0, 0, 8, 1, 0} },
			[]string{"train-labels-idx1-ubyte", "reading the 1 dimensions", "unexpected EOF"}},
		{"gzip cut", 0, func(t *testing.T) []byte {
			b := gz(t, idxBytes([]uint32{13, 4, 3}, make([]byte, 156)))
			return b[:len(b)-5]
		}, []string{"train-images-idx3-ubyte.gz", "unexpected EOF"}},
		{"gzip damaged", 0, func(t *testing.T) []byte {
			b := gz(t, idxBytes([]uint32{13, 4, 3}, make([]byte, 156)))
			b[len(b)-6] ^= 0xff // the CRC
			return b
		}, []string{"train-images-idx3-ubyte.gz", "gzip: invalid checksum"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			idxSet(t, dir, 13, 5, 4, 3, all, false)
			name := filepath.Join(dir, idxFiles[c.file]+".gz")
			b := c.bytes(t)
			if len(b) < 2 || b[0] != 0x1f {
				b = gz(t, b) // stored gzipped like the rest unless the case is about gzip
			}
			writeFile(t, name, b)
			d, err := Open("mnist:" + dir)
			if d != nil {
				t.Fatalf("got a dataset with error %v", err)
			}
			wantErr(t, err, c.want...)
		})
	}
	dir := t.TempDir()
	_, err := Open("mnist:" + dir)
	wantErr(t, err, dir, "train-images-idx3-ubyte (or train-images-idx3-ubyte.gz) missing")
	_, err = Open("mnist:" + filepath.Join(dir, "nope"))
	wantErr(t, err, "nope", "no such file")
	writeFile(t, filepath.Join(dir, "f"), []byte{1})
	_, err = Open("fashion-mnist:" + filepath.Join(dir, "f"))
	wantErr(t, err, "fashion-mnist:", "is not a folder")
}
