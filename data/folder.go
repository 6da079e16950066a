package data

import (
	"archive/tar"
	"bufio"
	"bytes"
	"cmp"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // registers the decoders image.Decode uses
	_ "image/png"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"rout/internal/boundedio"
)

// maxImageFile bounds one image file's size inside an archive (a damaged header must not make
// rout allocate gigabytes); real dataset images are far smaller.
const maxImageFile = 64 << 20

var splitNames = [2]string{"train", "test"}

// imageEntry is one image file found in a folder tree or an archive.
type imageEntry struct {
	split int    // 0 train, 1 test
	class string // its folder's name
	name  string // file name inside the class folder
	where string // how errors name it: a path, or an archive entry
	data  []byte // the file's bytes (archives), or nil to read where (folders)
}

// OpenFolder reads an image-folder dataset: ROOT/train/<class>/<image> and optionally
// ROOT/test/<class>/<image> (without a test folder the test split is empty), where ROOT is a
// folder or a tar archive (gzipped or not) of such a tree, possibly below one more top folder.
// Images are PNG or JPEG (.png, .jpg, .jpeg, any case); other files are ignored.
//
// Classes are the class folders' names over both splits, sorted; inside a class, images are
// taken in the order of their file names. Every image must have the size of the first one. The
// images are stored with 3 channels (R, G, B; alpha is ignored), or 1 when every image is grey
// (every pixel R = G = B). Decoding runs on all CPUs.
func OpenFolder(root string) (*Dataset, error) {
	st, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("folder: %w", err)
	}
	var (
		entries []imageEntry
		classes [2]map[string]int // per split, images per class
		acct    account
	)
	if st.IsDir() {
		entries, classes, err = scanFolder(root, &acct)
	} else {
		var arch bool
		if arch, err = isArchive(root); err == nil && !arch {
			err = fmt.Errorf("neither a folder nor a tar archive (.tar or .tar.gz)")
		}
		if err == nil {
			entries, classes, err = scanArchive(root, &acct)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("folder: %s: %w", root, err)
	}
	d, err := decodeEntries(entries, classes, &acct)
	if err != nil {
		return nil, fmt.Errorf("folder: %s: %w", root, err)
	}
	d.Name, d.Source = "folder", root
	return d, nil
}

func isImageName(name string) bool {
	if strings.HasPrefix(name, ".") {
		return false // hidden files, macOS "._" resource forks
	}
	switch strings.ToLower(path.Ext(name)) {
	case ".png", ".jpg", ".jpeg":
		return true
	}
	return false
}

// scanFolder lists ROOT/{train,test}/<class>/<image>.
func scanFolder(root string, acct *account) ([]imageEntry, [2]map[string]int, error) {
	var (
		entries []imageEntry
		classes [2]map[string]int
	)
	for s, split := range splitNames {
		dir := filepath.Join(root, split)
		list, err := os.ReadDir(dir)
		if os.IsNotExist(err) && s == 1 {
			continue
		}
		if err != nil {
			return nil, classes, fmt.Errorf("want %s/<class>/<image>: %w", split, err)
		}
		classes[s] = map[string]int{}
		for _, c := range list {
			if strings.HasPrefix(c.Name(), ".") {
				continue // hidden: .ipynb_checkpoints, .DS_Store
			}
			isDir, _, err := entryType(dir, c)
			if err != nil {
				return nil, classes, err
			}
			if !isDir {
				if isImageName(c.Name()) {
					return nil, classes, fmt.Errorf("%s: an image outside a class folder (want %s/<class>/<image>)", filepath.Join(dir, c.Name()), split)
				}
				continue
			}
			cdir := filepath.Join(dir, c.Name())
			files, err := os.ReadDir(cdir)
			if err != nil {
				return nil, classes, err
			}
			classes[s][c.Name()] = 0
			for _, f := range files {
				if strings.HasPrefix(f.Name(), ".") || !isImageName(f.Name()) {
					continue
				}
				if isDir, regular, err := entryType(cdir, f); err != nil {
					return nil, classes, err
				} else if !regular && !isDir {
					return nil, classes, fmt.Errorf("%s: not a regular file (an image must be one)", filepath.Join(cdir, f.Name()))
				} else if regular {
					if err := acct.reserve(entryOverhead, cdir, "one more image"); err != nil {
						return nil, classes, err
					}
					entries = append(entries, imageEntry{split: s, class: c.Name(), name: f.Name(), where: filepath.Join(cdir, f.Name())})
					classes[s][c.Name()]++
				}
			}
		}
	}
	return entries, classes, nil
}

// entryType tells whether the entry e of folder dir is a folder or a regular file, following a
// symbolic link (a dataset made of links to another copy's images is common); a dangling link
// is an error naming it.
func entryType(dir string, e fs.DirEntry) (isDir, regular bool, err error) {
	if e.Type()&fs.ModeSymlink == 0 {
		return e.IsDir(), e.Type().IsRegular(), nil
	}
	st, err := os.Stat(filepath.Join(dir, e.Name()))
	if err != nil {
		return false, false, fmt.Errorf("%s: a symbolic link to nothing readable: %w", filepath.Join(dir, e.Name()), err)
	}
	return st.IsDir(), st.Mode().IsRegular(), nil
}

// scanArchive lists the images of a tar archive of such a tree, reading their bytes.
func scanArchive(arch string, acct *account) ([]imageEntry, [2]map[string]int, error) {
	var (
		entries []imageEntry
		classes [2]map[string]int
		prefix  *string               // the folders above train/ and test/, which must agree across entries
		seen    = map[string]string{} // split/class/file -> the entry that held it
	)
	splitIndex := map[string]int{"train": 0, "test": 1}
	samePrefix := func(name string, parts []string) error {
		p := strings.Join(parts, "/")
		if prefix == nil {
			prefix = &p
		} else if *prefix != p {
			return fmt.Errorf("entry %s: below %q, but earlier entries are below %q (want one ROOT/{train,test}/<class>/ tree)", name, p, *prefix)
		}
		return nil
	}
	err := walkTar(arch, func(h *tar.Header, r io.Reader) error {
		name := strings.TrimSuffix(path.Clean(strings.TrimPrefix(h.Name, "./")), "/")
		parts := strings.Split(name, "/")
		n := len(parts)
		// Hidden entries are skipped as in a folder (.ipynb_checkpoints, macOS's ._name): a
		// hidden file, or a file or folder in a hidden class folder. A hidden root is fine.
		hidden := strings.HasPrefix(parts[n-1], ".") || h.Typeflag != tar.TypeDir && n >= 2 && strings.HasPrefix(parts[n-2], ".")
		if hidden || slices.Contains(parts, "__MACOSX") {
			return nil
		}
		if h.Typeflag == tar.TypeSymlink || h.Typeflag == tar.TypeLink {
			if isImageName(parts[n-1]) {
				return linkError(h)
			}
			return nil
		}
		if h.Typeflag == tar.TypeDir {
			// ROOT/split/class/: a class folder, which must not stay empty.
			if s, ok := splitIndex[at(parts, n-2)]; ok && n >= 2 {
				if err := samePrefix(h.Name, parts[:n-2]); err != nil {
					return err
				}
				if classes[s] == nil {
					classes[s] = map[string]int{}
				}
				if _, seen := classes[s][parts[n-1]]; !seen {
					classes[s][parts[n-1]] = 0
				}
			}
			return nil
		}
		if !isImageName(parts[n-1]) {
			return nil
		}
		s, ok := splitIndex[at(parts, n-3)]
		if !ok || n < 3 {
			return fmt.Errorf("entry %s: an image outside ROOT/{train,test}/<class>/", h.Name)
		}
		if err := samePrefix(h.Name, parts[:n-3]); err != nil {
			return err
		}
		if h.Size > maxImageFile {
			return fmt.Errorf("entry %s: %d bytes, more than the %d an image file may have", h.Name, h.Size, maxImageFile)
		}
		key := strings.Join(parts[n-3:], "/")
		if first, dup := seen[key]; dup {
			return fmt.Errorf("entry %s: a second copy of %s (the first is entry %s): an image would be loaded twice", h.Name, key, first)
		}
		seen[key] = h.Name
		if err := acct.reserve(h.Size+entryOverhead, "entry "+h.Name, fmt.Sprintf("an image file of %d bytes, kept until decoded", h.Size)); err != nil {
			return err
		}
		b, err := io.ReadAll(r)
		if err != nil {
			return fmt.Errorf("entry %s: %w", h.Name, err)
		}
		if classes[s] == nil {
			classes[s] = map[string]int{}
		}
		classes[s][parts[n-2]]++
		entries = append(entries, imageEntry{split: s, class: parts[n-2], name: parts[n-1], where: "entry " + h.Name, data: b})
		return nil
	})
	if err == nil && classes[0] == nil {
		err = fmt.Errorf("no train/<class>/<image> entries in the archive")
	}
	return entries, classes, err
}

// at is parts[i], or "" when i is out of range.
func at(parts []string, i int) string {
	if i < 0 || i >= len(parts) {
		return ""
	}
	return parts[i]
}

// decodeEntries sorts the entries (split, class, file name), checks the class folders and
// decodes every image into its place in one contiguous array per split.
func decodeEntries(entries []imageEntry, classes [2]map[string]int, acct *account) (*Dataset, error) {
	var names []string
	for s, m := range classes {
		for _, c := range slices.Sorted(maps.Keys(m)) {
			if m[c] == 0 {
				return nil, fmt.Errorf("class folder %s/%s has no .png/.jpg/.jpeg images", splitNames[s], c)
			}
			if !slices.Contains(names, c) {
				names = append(names, c)
			}
		}
	}
	if len(classes[0]) == 0 {
		return nil, fmt.Errorf("no class folders in train/ (want train/<class>/<image>)")
	}
	slices.Sort(names)
	slices.SortFunc(entries, func(a, b imageEntry) int {
		return cmp.Or(cmp.Compare(a.split, b.split), cmp.Compare(a.class, b.class), cmp.Compare(a.name, b.name))
	})
	// Every image's header first: sizes are checked, and the arrays reserved, before a pixel
	// is decoded (a small PNG can claim gigapixels).
	w, h, largest, err := checkHeaders(entries)
	if err != nil {
		return nil, err
	}
	var counts [2]int
	for _, e := range entries {
		counts[e.split]++
	}
	workers := min(runtime.GOMAXPROCS(0), len(entries))
	// The pixels as R, G, B planes, the one plane kept if every image is grey, and the labels.
	pixels := int64(len(entries)) * (4*int64(h)*int64(w) + 4)
	decoding := int64(workers) * (8*int64(h)*int64(w) + largest) // one decoded image (at most 8 bytes a pixel) and file read per worker
	if err := acct.reserve(pixels+decoding, "the images", fmt.Sprintf("%d images of %dx%d pixels, decoded", len(entries), w, h)); err != nil {
		return nil, err
	}
	d := &Dataset{Classes: names}
	splits := [2]*Split{&d.Train, &d.Test}
	for s, sp := range splits {
		*sp = Split{N: counts[s], C: 3, H: h, W: w, Pixels: make([]uint8, counts[s]*3*h*w), Labels: make([]int32, counts[s])}
	}
	label := map[string]int32{}
	for i, c := range names {
		label[c] = int32(i)
	}

	// Decode in parallel; each worker takes every workers-th entry. The error reported is the
	// one of the first bad entry in sorted order, so the message does not depend on scheduling.
	errs := make([]error, workers)
	errAt := make([]int, workers)
	colour := make([]bool, workers)
	var wg sync.WaitGroup
	for k := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := k; i < len(entries); i += workers {
				e := &entries[i]
				pos := i - counts[0]*e.split // index inside its split
				sp := splits[e.split]
				img, err := decodeEntry(e)
				if err == nil && (img.Bounds().Dx() != w || img.Bounds().Dy() != h) {
					err = fmt.Errorf("%s: a %dx%d image, want %dx%d like %s (all images must share one size)",
						e.where, img.Bounds().Dx(), img.Bounds().Dy(), w, h, entries[0].where)
				}
				if err != nil {
					errs[k], errAt[k] = err, i
					return
				}
				sp.Labels[pos] = label[e.class]
				if !storeRGB(img, sp.Image(pos), h*w) {
					colour[k] = true
				}
				e.data = nil // release the file's bytes as we go
			}
		}()
	}
	wg.Wait()
	var firstErr error
	best := len(entries)
	for k, err := range errs {
		if err != nil && errAt[k] < best {
			firstErr, best = err, errAt[k]
		}
	}
	if firstErr != nil {
		return nil, firstErr
	}
	if !slices.Contains(colour, true) {
		for _, sp := range splits {
			toGrey(sp)
		}
	}
	return d, nil
}

func decodeEntry(e *imageEntry) (image.Image, error) {
	b := e.data
	if b == nil {
		var err error
		if b, err = boundedio.ReadFile(e.where, maxImageFile); err != nil {
			return nil, err
		}
	}
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: not a decodable PNG or JPEG image: %w", e.where, err)
	}
	return img, nil
}

// storeRGB writes img as three planes (R, G, B) of hw pixels into dst and reports whether the
// image is grey: every pixel with R = G = B, as in a greyscale PNG or JPEG, with or without alpha
// (which Go decodes as NRGBA) or a palette.
func storeRGB(img image.Image, dst []uint8, hw int) (grey bool) {
	b := img.Bounds()
	w := b.Dx()
	r, g, bl := dst[:hw], dst[hw:2*hw], dst[2*hw:3*hw]
	switch m := img.(type) {
	case *image.Gray:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			row := m.Pix[(y-b.Min.Y)*m.Stride:][:w]
			k := (y - b.Min.Y) * w
			copy(r[k:k+w], row)
			copy(g[k:k+w], row)
			copy(bl[k:k+w], row)
		}
		return true
	case *image.YCbCr:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				yi, ci := m.YOffset(x, y), m.COffset(x, y)
				k := (y-b.Min.Y)*w + x - b.Min.X
				r[k], g[k], bl[k] = color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
			}
		}
	case *image.RGBA, *image.NRGBA:
		var pix []uint8
		var stride int
		if p, ok := m.(*image.RGBA); ok {
			pix, stride = p.Pix, p.Stride
		} else {
			n := m.(*image.NRGBA)
			pix, stride = n.Pix, n.Stride
		}
		for y := 0; y < b.Dy(); y++ {
			row := pix[y*stride:]
			for x := 0; x < w; x++ {
				k := y*w + x
				r[k], g[k], bl[k] = row[4*x], row[4*x+1], row[4*x+2]
			}
		}
	default:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
				k := (y-b.Min.Y)*w + x - b.Min.X
				r[k], g[k], bl[k] = c.R, c.G, c.B
			}
		}
	}
	return slices.Equal(r, g) && slices.Equal(g, bl)
}

// toGrey keeps only the first of a split's three identical planes.
func toGrey(s *Split) {
	hw := s.H * s.W
	out := make([]uint8, s.N*hw)
	for i := 0; i < s.N; i++ {
		copy(out[i*hw:(i+1)*hw], s.Pixels[i*3*hw:])
	}
	s.Pixels, s.C = out, 1
}

// checkHeaders reads every image's header (format, width, height) and returns the size they
// share, naming the first image (in sorted order) that is not a PNG or JPEG, is over the size
// limits, or differs from the first. largest is the size of the largest file that decoding
// will read (0 for an archive's images, which are in memory already).
func checkHeaders(entries []imageEntry) (w, h int, largest int64, err error) {
	// The headers are read on all CPUs (a folder's files are opened one by one), then checked
	// in order, so the error names the first bad image whatever the scheduling.
	type header struct {
		w, h int
		size int64
		err  error
	}
	hs := make([]header, len(entries))
	workers := min(runtime.GOMAXPROCS(0), len(entries))
	var wg sync.WaitGroup
	for k := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := k; i < len(entries); i += workers {
				hd := &hs[i]
				hd.w, hd.h, hd.size, hd.err = imageHeader(&entries[i])
			}
		}()
	}
	wg.Wait()
	for i, hd := range hs {
		e := &entries[i]
		if hd.err != nil {
			return 0, 0, 0, hd.err
		}
		cw, ch := hd.w, hd.h
		largest = max(largest, hd.size)
		if cw > maxImageSide || ch > maxImageSide {
			return 0, 0, 0, fmt.Errorf("%s: a %dx%d image, over the %d pixels a side rout accepts", e.where, cw, ch, maxImageSide)
		}
		if i == 0 {
			w, h = cw, ch
		} else if cw != w || ch != h {
			return 0, 0, 0, fmt.Errorf("%s: a %dx%d image, want %dx%d like %s (all images must share one size)", e.where, cw, ch, w, h, entries[0].where)
		}
	}
	return w, h, largest, nil
}

// imageHeader decodes the header of an entry's image: from its bytes (archives) or from the
// start of its file, which must be a regular file of at most maxImageFile bytes (its size is
// returned; 0 for an archive's entry).
func imageHeader(e *imageEntry) (w, h int, size int64, err error) {
	var r io.Reader = bytes.NewReader(e.data)
	if e.data == nil {
		f, err := boundedio.Open(e.where)
		if err != nil {
			return 0, 0, 0, err
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return 0, 0, 0, err
		}
		size = st.Size()
		if size > maxImageFile {
			return 0, 0, 0, fmt.Errorf("%s: %d bytes, more than the %d an image file may have", e.where, st.Size(), maxImageFile)
		}
		r = bufio.NewReader(f)
	}
	cfg, _, err := image.DecodeConfig(r)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("%s: not a decodable PNG or JPEG image: %w", e.where, err)
	}
	return cfg.Width, cfg.Height, size, nil
}
