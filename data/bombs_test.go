package data

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"rout/internal/memtest"
)

// The bombs below are built by the tests, a few megabytes at most on disk, and each claims
// gigabytes. Each is opened in a subprocess (memtest) with a small memory budget: the test
// asserts the error names the file, what it claims and the budget, and that the subprocess's
// peak memory stayed far below the claim.

// gzipBomb writes a gzip stream cheaply however many zeros it holds: each run of zeros is a
// series of gzip members of 1 MiB of zeros compressed once (readers take concatenated members
// as one stream, as gzip(1) does).
type gzipBomb struct {
	out  bytes.Buffer
	mib  []byte // 1 MiB of zeros, gzipped
	tail int64  // bytes written (uncompressed)
}

func (g *gzipBomb) member(p []byte) []byte {
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	zw.Write(p)
	zw.Close()
	return b.Bytes()
}

func (g *gzipBomb) raw(p []byte) {
	g.out.Write(g.member(p))
	g.tail += int64(len(p))
}

func (g *gzipBomb) zeros(n int64) {
	if g.mib == nil {
		g.mib = g.member(make([]byte, 1<<20))
	}
	for ; n >= 1<<20; n -= 1 << 20 {
		g.out.Write(g.mib)
		g.tail += 1 << 20
	}
	if n > 0 {
		g.raw(make([]byte, n))
	}
}

// entry adds a tar entry of size bytes: head, then zeros, then the tar padding.
func (g *gzipBomb) entry(t *testing.T, name string, head []byte, size int64) {
	var hb bytes.Buffer
	tw := tar.NewWriter(&hb)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: size, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	g.raw(append(hb.Bytes(), head...))
	g.zeros(size - int64(len(head)) + (512-size%512)%512)
}

// end closes the tar (two zero blocks) and writes the file.
func (g *gzipBomb) end(t *testing.T, path string) {
	g.raw(make([]byte, 1024))
	writeFile(t, path, g.out.Bytes())
}

// pngFile is a grey w x h PNG whose pixels are all 0, its IDAT compressed for real (a deflate
// bomb when the image is large); withData false stops after the header chunk.
func pngFile(t *testing.T, w, h int, withData bool) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		binary.Write(&b, binary.BigEndian, uint32(len(data)))
		crc := crc32.NewIEEE()
		crc.Write([]byte(typ))
		crc.Write(data)
		b.WriteString(typ)
		b.Write(data)
		binary.Write(&b, binary.BigEndian, crc.Sum32())
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr, uint32(w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h))
	ihdr[8] = 8 // bit depth; colour type 0 (grey), no interlace
	chunk("IHDR", ihdr)
	if withData {
		var z bytes.Buffer
		zw, _ := zlib.NewWriterLevel(&z, zlib.BestSpeed)
		row := make([]byte, w+1) // filter byte 0, then the row
		for range h {
			zw.Write(row)
		}
		zw.Close()
		chunk("IDAT", z.Bytes())
	}
	chunk("IEND", nil)
	return b.Bytes()
}

// runBomb opens the bomb at path in a subprocess with the memory budget given and checks the
// error and the peak memory.
func runBomb(t *testing.T, open func(string) error, path, budget string, claimed, maxPeak int64, want ...string) {
	t.Helper()
	if memtest.Child(t) {
		fmt.Printf("error: %v\n", open(os.Getenv("BOMB")))
		return
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	out, peak := memtest.Run(t, "BOMB="+path, "ROUT_MEMORY_BUDGET="+budget)
	line := ""
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "error: ") {
			line = l
		}
	}
	for _, w := range want {
		if !strings.Contains(line, w) {
			t.Errorf("error %q lacks %q\n%s", line, w, out)
		}
	}
	t.Logf("%d bytes on disk, claiming %d MiB: refused at a peak of %d MiB: %s", st.Size(), claimed>>20, peak>>20, line)
	if peak > maxPeak {
		t.Errorf("peak memory %d MiB, want at most %d MiB (the input claims %d MiB)", peak>>20, maxPeak>>20, claimed>>20)
	}
}

// inChild skips the bomb's construction in the subprocess, which only opens it.
func inChild(t *testing.T) bool { return memtest.Child(t) }

func TestBombCIFARBatch(t *testing.T) {
	// A CIFAR-10 archive whose batch decompresses to 2 GiB of valid records.
	path := filepath.Join(t.TempDir(), "cifar-10-binary.tar.gz")
	const size = (2 << 30) / 3073 * 3073
	if !inChild(t) {
		var g gzipBomb
		g.entry(t, "cifar-10-batches-bin/data_batch_1.bin", nil, size)
		g.end(t, path)
	}
	runBomb(t, func(p string) error { _, err := OpenCIFAR10(p); return err }, path, "256M", size, 96<<20,
		"cifar-10-binary.tar.gz: entry cifar-10-batches-bin/data_batch_1.bin: 2147483079 bytes of 3073-byte records (2.0 GiB) would bring the dataset to 2.0 GiB", "memory budget of 256.0 MiB ($ROUT_MEMORY_BUDGET)")
}

func TestBombManyEntries(t *testing.T) {
	// An image-folder archive of 200 entries of 8 MiB each: each under the per-file limit, 1.6
	// GiB in all.
	path := filepath.Join(t.TempDir(), "many.tar.gz")
	if !inChild(t) {
		var g gzipBomb
		head := pngFile(t, 4, 4, true)
		for i := range 200 {
			g.entry(t, fmt.Sprintf("train/a/%03d.png", i), head, 8<<20)
		}
		g.end(t, path)
	}
	runBomb(t, func(p string) error { _, err := OpenFolder(p); return err }, path, "64M", 200*8<<20, 160<<20,
		"many.tar.gz: entry train/a/007.png: an image file of 8388608 bytes, kept until decoded", "memory budget of 64.0 MiB")
}

func TestBombPNGs(t *testing.T) {
	// Three 10000x10000 PNGs (a deflate bomb each: 100 MB of pixels in about 100 KB) in an archive.
	path := filepath.Join(t.TempDir(), "pngs.tar.gz")
	if !inChild(t) {
		img := pngFile(t, 10000, 10000, true)
		writeTar(t, path, true, []tarEntry{{"train/a/1.png", img}, {"train/a/2.png", img}, {"train/b/3.png", img}})
	}
	runBomb(t, func(p string) error { _, err := OpenFolder(p); return err }, path, "256M", 3*3*10000*10000, 96<<20,
		"pngs.tar.gz: the images: 3 images of 10000x10000 pixels, decoded (2.6 GiB)", "memory budget of 256.0 MiB")
}

func TestBombHugePNGHeader(t *testing.T) {
	// A PNG whose header says 60000x60000 (14 GB decoded), beside a normal one, in a folder.
	root := t.TempDir()
	if !inChild(t) {
		writeFile(t, filepath.Join(root, "train/a/1.png"), pngFile(t, 4, 4, true))
		writeFile(t, filepath.Join(root, "train/b/2.png"), pngFile(t, 60000, 60000, false))
	}
	runBomb(t, func(p string) error { _, err := OpenFolder(p); return err }, root, "1G", 4*60000*60000, 64<<20,
		"train/b/2.png: a 60000x60000 image, over the 32768 pixels a side")
}

func TestBombHugeImageFile(t *testing.T) {
	// A 3 GiB file named .png (sparse: nothing on disk).
	root := t.TempDir()
	if !inChild(t) {
		writeFile(t, filepath.Join(root, "train/a/1.png"), pngFile(t, 4, 4, true))
		p := filepath.Join(root, "train/a/2.png")
		writeFile(t, p, pngFile(t, 4, 4, true))
		if err := os.Truncate(p, 3<<30); err != nil {
			t.Fatal(err)
		}
	}
	runBomb(t, func(p string) error { _, err := OpenFolder(p); return err }, root, "1G", 3<<30, 64<<20,
		"train/a/2.png: 3221225472 bytes, more than the 67108864 an image file may have")
}

func TestBombIDX(t *testing.T) {
	// Gzipped IDX images claiming 2,000,000 28x28 images (1.5 GB), all there.
	dir := t.TempDir()
	const n = 2000000
	if !inChild(t) {
		var g gzipBomb
		g.raw(append([]byte{0, 0, 8, 3}, binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, n), 28), 28)...))
		g.zeros(n * 28 * 28)
		writeFile(t, filepath.Join(dir, "train-images-idx3-ubyte.gz"), g.out.Bytes())
		for _, f := range idxFiles[1:] {
			writeFile(t, filepath.Join(dir, f), nil)
		}
	}
	runBomb(t, func(p string) error { _, err := OpenIDX("mnist", p); return err }, dir, "256M", n*28*28, 96<<20,
		"train-images-idx3-ubyte.gz: dimensions [2000000 28 28] (1.5 GiB)", "memory budget of 256.0 MiB")
}

func TestArchiveDuplicateImage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dup.tar")
	img := pngFile(t, 4, 4, true)
	writeTar(t, path, false, []tarEntry{{"train/a/1.png", img}, {"train/b/2.png", img}, {"train/a/1.png", img}})
	_, err := OpenFolder(path)
	wantErr(t, err, "dup.tar", "entry train/a/1.png: a second copy of train/a/1.png", "loaded twice")
}
