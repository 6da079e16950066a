package data

import (
	"archive/tar"
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// pngOf encodes a w x h image whose pixel (x, y) has colour f(x, y); grey makes it a Gray image.
func pngOf(t testing.TB, w, h int, grey bool, f func(x, y int) [3]uint8) []byte {
	t.Helper()
	var img image.Image
	if grey {
		g := image.NewGray(image.Rect(0, 0, w, h))
		for y := range h {
			for x := range w {
				g.SetGray(x, y, color.Gray{f(x, y)[0]})
			}
		}
		img = g
	} else {
		m := image.NewNRGBA(image.Rect(0, 0, w, h))
		for y := range h {
			for x := range w {
				c := f(x, y)
				m.SetNRGBA(x, y, color.NRGBA{c[0], c[1], c[2], 255})
			}
		}
		img = m
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// folderTree is a small image-folder dataset: files in deliberately unsorted order, a class
// present only in the test split, and the expected result.
type folderTree struct {
	files []tarEntry // relative paths under ROOT
	want  *Dataset
}

func makeTree(t testing.TB, grey bool) folderTree {
	const w, h = 5, 3
	type img struct {
		split, class, name string
		seed               int
	}
	// Sorted order: train/bird/{a,b}, train/cat/{01,2}, test/bird/z, test/dog/q.
	imgs := []img{
		{"train", "cat", "2.png", 4}, {"train", "bird", "b.png", 2}, {"train", "cat", "01.png", 3},
		{"train", "bird", "a.PNG", 1}, {"test", "dog", "q.png", 6}, {"test", "bird", "z.png", 5},
	}
	order := map[int]int{1: 0, 2: 1, 3: 2, 4: 3, 5: 0, 6: 1} // seed -> position in its split
	label := map[string]int32{"bird": 0, "cat": 1, "dog": 2}
	c := 3
	if grey {
		c = 1
	}
	ft := folderTree{want: &Dataset{Name: "folder", Classes: []string{"bird", "cat", "dog"},
		Train: Split{N: 4, C: c, H: h, W: w, Pixels: make([]uint8, 4*c*h*w), Labels: make([]int32, 4)},
		Test:  Split{N: 2, C: c, H: h, W: w, Pixels: make([]uint8, 2*c*h*w), Labels: make([]int32, 2)}}}
	for _, im := range imgs {
		col := func(x, y int) [3]uint8 {
			v := uint8(im.seed*40 + x*7 + y*3)
			if grey {
				return [3]uint8{v, v, v}
			}
			return [3]uint8{v, uint8(im.seed*11 + y*50), uint8(255 - x*20 - im.seed)}
		}
		ft.files = append(ft.files, tarEntry{im.split + "/" + im.class + "/" + im.name, pngOf(t, w, h, grey, col)})
		sp := &ft.want.Train
		if im.split == "test" {
			sp = &ft.want.Test
		}
		pos := order[im.seed]
		sp.Labels[pos] = label[im.class]
		dst := sp.Image(pos)
		for y := range h {
			for x := range w {
				for ch := range c {
					dst[(ch*h+y)*w+x] = col(x, y)[ch]
				}
			}
		}
	}
	// Files that are not images, and hidden files, are ignored.
	ft.files = append(ft.files, tarEntry{"train/cat/notes.txt", []byte("hello")}, tarEntry{"train/cat/._01.png", []byte("junk")})
	return ft
}

func checkDataset(t *testing.T, what string, got, want *Dataset) {
	t.Helper()
	if !slices.Equal(got.Classes, want.Classes) || got.Name != want.Name {
		t.Fatalf("%s: name %q classes %q, want %q %q", what, got.Name, got.Classes, want.Name, want.Classes)
	}
	sameSplit(t, what+" train", got.Train, want.Train)
	sameSplit(t, what+" test", got.Test, want.Test)
}

func TestFolder(t *testing.T) {
	for _, grey := range []bool{false, true} {
		tree := makeTree(t, grey)
		dir := t.TempDir()
		root := filepath.Join(dir, "tree")
		for _, f := range tree.files {
			writeFile(t, filepath.Join(root, f.name), f.data)
		}
		d, err := Open("folder:" + root)
		if err != nil {
			t.Fatal(err)
		}
		checkDataset(t, "folder", d, tree.want)

		// The same tree as a .tar.gz below a top folder, and as a plain .tar at its root.
		var prefixed []tarEntry
		for _, f := range tree.files {
			prefixed = append(prefixed, tarEntry{"./My-Set/" + f.name, f.data})
		}
		writeTar(t, filepath.Join(dir, "set.tar.gz"), true, append([]tarEntry{{"./My-Set/", nil}, {"My-Set/train/", nil}}, prefixed...))
		writeTar(t, filepath.Join(dir, "set.tar"), false, tree.files)
		for _, a := range []string{"set.tar.gz", "set.tar"} {
			d, err := Open("folder:" + filepath.Join(dir, a))
			if err != nil {
				t.Fatal(err)
			}
			checkDataset(t, a, d, tree.want)
		}
	}
}

// TestFolderJPEG checks that a JPEG decodes to the colours it was encoded from (within JPEG's
// loss) in R, G, B plane order.
func TestFolderJPEG(t *testing.T) {
	const w, h = 16, 8
	src := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			src.SetRGBA(x, y, color.RGBA{200, 100, 30, 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, src, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "train", "orange", "x.jpeg"), buf.Bytes())
	d, err := Open("folder:" + root)
	if err != nil {
		t.Fatal(err)
	}
	if d.Train.C != 3 || d.Train.H != h || d.Train.W != w || d.Test.N != 0 {
		t.Fatalf("shape %dx%dx%d, %d test images", d.Train.C, d.Train.H, d.Train.W, d.Test.N)
	}
	mean, _ := d.Train.ChannelStats()
	for c, want := range []float64{200, 100, 30} {
		if math.Abs(mean[c]-want) > 3 {
			t.Fatalf("channel %d mean %.1f, want %v", c, mean[c], want)
		}
	}
}

func TestFolderBadInput(t *testing.T) {
	dir := t.TempDir()
	tree := makeTree(t, false)
	build := func(name string, edit func([]tarEntry) []tarEntry) string {
		root := filepath.Join(dir, name)
		for _, f := range edit(slices.Clone(tree.files)) {
			if strings.HasSuffix(f.name, "/") {
				if err := os.MkdirAll(filepath.Join(root, f.name), 0o755); err != nil {
					t.Fatal(err)
				}
				continue
			}
			writeFile(t, filepath.Join(root, f.name), f.data)
		}
		writeTar(t, root+".tar.gz", true, edit(slices.Clone(tree.files)))
		return root
	}
	wrongSize := build("size", func(e []tarEntry) []tarEntry {
		e[2].data = pngOf(t, 4, 3, false, func(x, y int) [3]uint8 { return [3]uint8{} })
		return e
	})
	broken := build("broken", func(e []tarEntry) []tarEntry {
		e[0].data = e[0].data[:len(e[0].data)/2]
		return e
	})
	empty := build("empty", func(e []tarEntry) []tarEntry { return append(e, tarEntry{"train/emu/", nil}) })
	onlyText := build("text", func(e []tarEntry) []tarEntry { return append(e, tarEntry{"test/emu/readme.txt", []byte("x")}) })
	stray := build("stray", func(e []tarEntry) []tarEntry { return append(e, tarEntry{"train/loose.png", e[0].data}) })
	noTrain := build("notrain", func(e []tarEntry) []tarEntry {
		return slices.DeleteFunc(e, func(x tarEntry) bool { return strings.HasPrefix(x.name, "train/") })
	})
	twoRoots := filepath.Join(dir, "roots.tar.gz")
	writeTar(t, twoRoots, true, []tarEntry{{"a/train/cat/1.png", tree.files[0].data}, {"b/train/cat/2.png", tree.files[0].data}})
	tgz, err := os.ReadFile(wrongSize + ".tar.gz")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "set.zip"), []byte("PK\x03\x04 not a tar"))
	cut := filepath.Join(dir, "cut.tar.gz")
	writeFile(t, cut, tgz[:len(tgz)-40])

	for _, c := range []struct {
		path string
		want []string
	}{
		{wrongSize, []string{"train/cat/01.png", "a 4x3 image, want 5x3 like", "bird/a.PNG", "all images must share one size"}},
		{wrongSize + ".tar.gz", []string{"size.tar.gz", "entry train/cat/01.png: a 4x3 image, want 5x3"}},
		{broken, []string{"train/cat/2.png", "not a decodable PNG or JPEG image"}},
		{broken + ".tar.gz", []string{"broken.tar.gz", "entry train/cat/2.png: not a decodable"}},
		{empty, []string{"class folder train/emu has no .png/.jpg/.jpeg images"}},
		{empty + ".tar.gz", []string{"empty.tar.gz", "class folder train/emu has no"}},
		{onlyText, []string{"class folder test/emu has no"}},
		{stray, []string{"loose.png", "an image outside a class folder"}},
		{stray + ".tar.gz", []string{"entry train/loose.png: an image outside ROOT/{train,test}/<class>/"}},
		{noTrain, []string{"notrain", "want train/<class>/<image>", "no such file"}},
		{noTrain + ".tar.gz", []string{"notrain.tar.gz", "no train/<class>/<image> entries"}},
		{twoRoots, []string{"entry b/train/cat/2.png", `below "b", but earlier entries are below "a"`}},
		{cut, []string{"cut.tar.gz", "damaged or cut short"}},
		{filepath.Join(dir, "absent"), []string{"absent", "no such file"}},
		{filepath.Join(dir, "set.zip"), []string{"set.zip: neither a folder nor a tar archive"}},
	} {
		d, err := Open("folder:" + c.path)
		if d != nil {
			t.Fatalf("%s: got a dataset with error %v", c.path, err)
		}
		wantErr(t, err, append([]string{"folder: "}, c.want...)...)
	}
}

// TestFolderCIFAR10JPEG loads the JPEG copy of CIFAR-10 (60,000 images in a .tar.gz) and checks
// its counts, classes and channel means, and that its first frog is the original's first frog.
func TestFolderCIFAR10JPEG(t *testing.T) {
	dir := filepath.Join(sharedData(t), "cifar10")
	start := time.Now()
	d, err := Open("folder:" + filepath.Join(dir, "CIFAR-10-images-jpeg.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("loaded 60,000 JPEGs in %v", time.Since(start))
	if d.Train.N != 50000 || d.Test.N != 10000 || d.Train.C != 3 || d.Train.H != 32 || d.Train.W != 32 {
		t.Fatalf("%d train, %d test, %dx%dx%d", d.Train.N, d.Test.N, d.Train.C, d.Train.H, d.Train.W)
	}
	if !slices.Equal(d.Classes, CIFAR10Classes) {
		t.Fatalf("classes %q", d.Classes)
	}
	tr, te := d.Train.Histogram(10), d.Test.Histogram(10)
	for c := range 10 {
		if tr[c] != 5000 || te[c] != 1000 {
			t.Fatalf("class %s: %d train + %d test, want 5000 + 1000", d.Classes[c], tr[c], te[c])
		}
	}
	mean, _ := d.Train.ChannelStats()
	for c, want := range []float64{125.24, 122.91, 113.84} {
		if math.Abs(mean[c]-want) > 0.5 {
			t.Fatalf("channel %d mean %.3f, want %.2f +- 0.5", c, mean[c], want)
		}
	}
	// train/frog/0000.jpg is the first frog of data_batch_1.bin, its record 0: lossy, but close.
	orig, err := Open("cifar10:" + filepath.Join(dir, "train_first4000.bin"))
	if err != nil {
		t.Fatal(err)
	}
	frog := slices.Index(d.Train.Labels, 6)
	var sq float64
	for i, p := range d.Train.Image(frog) {
		e := float64(p) - float64(orig.Train.Image(0)[i])
		sq += e * e
	}
	if psnr := 10 * math.Log10(255*255/(sq/cifarPixels)); psnr < 20 {
		t.Fatalf("first frog JPEG vs original record 0: PSNR %.1f dB, want > 20", psnr)
	}
}

// TestFolderLinksAndHiddenEntries: symbolic links to class folders and to images are followed
// (a subset made of links is a common way to build a dataset), hidden entries are skipped in a
// folder and an archive alike, and a dangling link or a link inside an archive is an error.
func TestFolderLinksAndHiddenEntries(t *testing.T) {
	tree := makeTree(t, false)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	for _, f := range tree.files {
		writeFile(t, filepath.Join(src, f.name), f.data)
	}
	linked := filepath.Join(dir, "linked")
	for _, f := range tree.files {
		split, class, _ := strings.Cut(f.name, "/")
		class, _, _ = strings.Cut(class, "/")
		if split == "train" { // the class folder is a link
			link := filepath.Join(linked, split, class)
			os.MkdirAll(filepath.Dir(link), 0o755)
			if _, err := os.Lstat(link); err != nil {
				if err := os.Symlink(filepath.Join(src, split, class), link); err != nil {
					t.Fatal(err)
				}
			}
			continue
		}
		link := filepath.Join(linked, f.name) // the image is a link
		os.MkdirAll(filepath.Dir(link), 0o755)
		if err := os.Symlink(filepath.Join(src, f.name), link); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Join(linked, "train", ".ipynb_checkpoints"), 0o755)
	writeFile(t, filepath.Join(linked, "test", "dog", ".hidden.png"), []byte("not an image"))
	d, err := Open("folder:" + linked)
	if err != nil {
		t.Fatal(err)
	}
	checkDataset(t, "linked folder", d, tree.want)

	hidden := append(slices.Clone(tree.files), tarEntry{"train/.ipynb_checkpoints/", nil}, tarEntry{"test/dog/._q.png", []byte("x")})
	writeTar(t, filepath.Join(dir, "hidden.tar.gz"), true, hidden)
	if d, err = Open("folder:" + filepath.Join(dir, "hidden.tar.gz")); err != nil {
		t.Fatal(err)
	}
	checkDataset(t, "archive with hidden entries", d, tree.want)

	if err := os.Symlink(filepath.Join(dir, "nowhere.png"), filepath.Join(src, "test", "dog", "r.png")); err != nil {
		t.Fatal(err)
	}
	if _, err := Open("folder:" + src); err == nil || !strings.Contains(err.Error(), "r.png: a symbolic link to nothing readable") {
		t.Errorf("dangling link: %v, want an error naming it", err)
	}

	// Under a hidden root folder, with a link to a non-image (skipped) and one to an image
	// (an error: its bytes are elsewhere).
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: ".set/README", Typeflag: tar.TypeSymlink, Linkname: "../README"})
	for _, f := range tree.files {
		tw.WriteHeader(&tar.Header{Name: ".set/" + f.name, Mode: 0o644, Size: int64(len(f.data)), Typeflag: tar.TypeReg})
		tw.Write(f.data)
	}
	tw.Close()
	if err := os.WriteFile(filepath.Join(dir, "link.tar"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if d, err = Open("folder:" + filepath.Join(dir, "link.tar")); err != nil {
		t.Fatalf("an archive under a hidden root with a link to a non-image: %v", err)
	}
	checkDataset(t, "archive under a hidden root", d, tree.want)
	buf.Reset()
	tw = tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "train/cat/x.png", Typeflag: tar.TypeSymlink, Linkname: "../bird/a.PNG"})
	tw.Close()
	if err := os.WriteFile(filepath.Join(dir, "link.tar"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open("folder:" + filepath.Join(dir, "link.tar")); err == nil || !strings.Contains(err.Error(), "entry train/cat/x.png: a link") {
		t.Errorf("a link to an image in an archive: %v, want an error naming the entry", err)
	}
}

// TestGreyPixels: an image is grey when every pixel has R = G = B, whatever Go decodes it as
// (a grey+alpha PNG decodes as NRGBA, a 16-bit one as NRGBA64); one coloured pixel makes it RGB.
func TestGreyPixels(t *testing.T) {
	r := image.Rect(0, 0, 3, 2)
	nrgba, nrgba64, ycc := image.NewNRGBA(r), image.NewNRGBA64(r), image.NewYCbCr(r, image.YCbCrSubsampleRatio444)
	for i := range 6 {
		v := uint8(40 * i)
		nrgba.SetNRGBA(i%3, i/3, color.NRGBA{v, v, v, uint8(255 - 30*i)})
		nrgba64.SetNRGBA64(i%3, i/3, color.NRGBA64{uint16(v) * 257, uint16(v) * 257, uint16(v) * 257, 1000})
		ycc.Y[i], ycc.Cb[i], ycc.Cr[i] = v, 128, 128
	}
	for _, c := range []struct {
		name string
		img  image.Image
		set  func()
	}{
		{"NRGBA", nrgba, func() { nrgba.SetNRGBA(2, 1, color.NRGBA{10, 11, 10, 255}) }},
		{"NRGBA64", nrgba64, func() { nrgba64.SetNRGBA64(0, 1, color.NRGBA64{0, 0, 9000, 65535}) }},
		{"YCbCr", ycc, func() { ycc.Cr[4] = 200 }},
	} {
		dst := make([]uint8, 18)
		if !storeRGB(c.img, dst, 6) {
			t.Errorf("%s with grey pixels: not grey", c.name)
		}
		if dst[5] != 200 || dst[6+5] != 200 || dst[12+5] != 200 {
			t.Errorf("%s: last pixel stored as %d,%d,%d, want 200 in each plane", c.name, dst[5], dst[11], dst[17])
		}
		c.set()
		if storeRGB(c.img, dst, 6) {
			t.Errorf("%s with a coloured pixel: grey", c.name)
		}
	}
}

// TestPalettedGrey: a palette PNG whose palette is all grey is a greyscale image (one channel
// when every image is); one palette entry with colour makes it RGB.
func TestPalettedGrey(t *testing.T) {
	for _, c := range []struct {
		palette color.Palette
		grey    bool
	}{
		{color.Palette{color.Gray{0}, color.Gray{128}, color.Gray{255}}, true},
		{color.Palette{color.Gray{0}, color.NRGBA{200, 10, 10, 255}}, false},
	} {
		img := image.NewPaletted(image.Rect(0, 0, 2, 2), c.palette)
		img.SetColorIndex(1, 0, 1)
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			t.Fatal(err)
		}
		dec, err := png.Decode(&buf)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := dec.(*image.Paletted); !ok {
			t.Fatalf("decoded as %T, want *image.Paletted", dec)
		}
		dst := make([]uint8, 12)
		if got := storeRGB(dec, dst, 4); got != c.grey {
			t.Errorf("palette %v: grey %v, want %v", c.palette, got, c.grey)
		}
		want := color.NRGBAModel.Convert(c.palette[1]).(color.NRGBA)
		if dst[1] != want.R || dst[4+1] != want.G || dst[8+1] != want.B {
			t.Errorf("palette %v: pixel 1 stored as %d,%d,%d, want %v", c.palette, dst[1], dst[5], dst[9], want)
		}
	}
}
