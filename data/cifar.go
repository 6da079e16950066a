package data

import (
	"archive/tar"
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"rout/internal/boundedio"
)

// cifarPixels is the size of one CIFAR image: 3 planes (R, G, B) of 32x32, row-major.
const cifarPixels = 3 * 32 * 32

// CIFAR10Classes are CIFAR-10's class names in label order (batches.meta.txt), used when a
// set of .bin files comes without that file.
var CIFAR10Classes = []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}

// cifarFormat describes one binary CIFAR layout: the record's label bytes, which of them is the
// label, and the official file names.
type cifarFormat struct {
	kind       string
	labelBytes int   // 1 (CIFAR-10) or 2 (CIFAR-100: coarse, fine)
	labelAt    int   // index of the label byte used
	ranges     []int // number of classes of each label byte
	train      []string
	test       string
	names      string // class-name file, one name a line
	folder     string // folder inside the official archive
	archive    string // the official archive's file name
}

// maxNamesFile bounds a class-names file (100 names take about a kilobyte).
const maxNamesFile = 1 << 20

func (f *cifarFormat) recordLen() int { return f.labelBytes + cifarPixels }
func (f *cifarFormat) classes() int   { return f.ranges[f.labelAt] }

var (
	cifar10Format = cifarFormat{kind: "cifar10", labelBytes: 1, ranges: []int{10},
		train: []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"},
		test:  "test_batch.bin", names: "batches.meta.txt",
		folder: "cifar-10-batches-bin", archive: "cifar-10-binary.tar.gz"}
	cifar100Format = cifarFormat{kind: "cifar100", labelBytes: 2, labelAt: 1, ranges: []int{20, 100},
		train: []string{"train.bin"}, test: "test.bin", names: "fine_label_names.txt",
		folder: "cifar-100-binary", archive: "cifar-100-binary.tar.gz"}
)

func cifar100Coarse() cifarFormat {
	f := cifar100Format
	f.kind, f.labelAt, f.names = "cifar100-coarse", 0, "coarse_label_names.txt"
	return f
}

// OpenCIFAR10 reads CIFAR-10 in its binary format from path, which is one of
//   - the official cifar-10-binary.tar.gz (or any tar, gzipped or not, holding the six batches),
//   - a folder holding the six .bin files, or cifar-10-batches-bin/, or cifar-10-binary.tar.gz,
//   - one .bin file or several separated by commas: files whose name starts with "test" form the
//     test split, the others the training split, in the order given (a split may be empty).
//
// Class names come from batches.meta.txt when it is there (beside the .bin files), else
// CIFAR10Classes.
func OpenCIFAR10(path string) (*Dataset, error) {
	f := cifar10Format
	return openCIFAR(&f, path)
}

// OpenCIFAR100 reads CIFAR-100 in its binary format (3074-byte records: coarse label, fine
// label, pixels) from the same kinds of path as OpenCIFAR10 (train.bin, test.bin,
// cifar-100-binary/, cifar-100-binary.tar.gz). It labels examples with the 100 fine classes, or
// with the 20 coarse ones when coarse is set; names come from fine_label_names.txt or
// coarse_label_names.txt when present, else "0", "1", ...
func OpenCIFAR100(path string, coarse bool) (*Dataset, error) {
	f := cifar100Format
	if coarse {
		f = cifar100Coarse()
	}
	return openCIFAR(&f, path)
}

func openCIFAR(f *cifarFormat, p string) (*Dataset, error) {
	var (
		d    *Dataset
		err  error
		acct account
	)
	if strings.Contains(p, ",") {
		files := strings.Split(p, ",")
		for i := range files {
			if files[i] = strings.TrimSpace(files[i]); files[i] == "" {
				return nil, fmt.Errorf("%s: %q: item %d of the comma-separated list of files is empty", f.kind, p, i+1)
			}
		}
		d, err = cifarFromFiles(f, files, &acct)
	} else {
		st, serr := os.Stat(p)
		switch {
		case serr != nil:
			return nil, fmt.Errorf("%s: %w", f.kind, serr)
		case st.IsDir():
			d, err = cifarFromDir(f, p, &acct)
		default:
			var arch bool
			if arch, err = isArchive(p); err == nil {
				if arch {
					d, err = cifarFromArchive(f, p, &acct)
				} else {
					d, err = cifarFromFiles(f, []string{p}, &acct)
				}
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.kind, err)
	}
	d.Name, d.Source = f.kind, p
	return d, nil
}

// cifarFromDir reads the official file set from dir, dir/<official folder>, or the official
// archive inside dir.
func cifarFromDir(f *cifarFormat, dir string, acct *account) (*Dataset, error) {
	for _, d := range []string{dir, filepath.Join(dir, f.folder)} {
		if _, err := os.Stat(filepath.Join(d, f.test)); err == nil {
			var files []string
			for _, name := range append(append([]string{}, f.train...), f.test) {
				fp := filepath.Join(d, name)
				if _, err := os.Stat(fp); err != nil {
					return nil, fmt.Errorf("%s: %s missing (want %s)", d, name, f.fileSet())
				}
				files = append(files, fp)
			}
			return cifarFromFiles(f, files, acct)
		}
	}
	if a := filepath.Join(dir, f.archive); fileExists(a) {
		return cifarFromArchive(f, a, acct)
	}
	return nil, fmt.Errorf("%s: found neither %s nor %s there", dir, f.fileSet(), f.archive)
}

func (f *cifarFormat) fileSet() string {
	if len(f.train) == 1 {
		return fmt.Sprintf("%s/{%s,%s}", f.folder, f.train[0], f.test)
	}
	return f.folder + "/{data_batch_1..5,test_batch}.bin"
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// cifarFromFiles reads .bin files; names starting with "test" go to the test split.
func cifarFromFiles(f *cifarFormat, files []string, acct *account) (*Dataset, error) {
	var train, test []Split
	for _, fp := range files {
		s, err := readCIFARFile(f, fp, acct)
		if err != nil {
			return nil, err
		}
		if strings.HasPrefix(filepath.Base(fp), "test") {
			test = append(test, s)
		} else {
			train = append(train, s)
		}
	}
	classes, err := cifarNamesFile(f, filepath.Join(filepath.Dir(files[0]), f.names))
	if err != nil {
		return nil, err
	}
	trainSplit, err := concat(train, acct)
	if err != nil {
		return nil, err
	}
	testSplit, err := concat(test, acct)
	if err != nil {
		return nil, err
	}
	return &Dataset{Classes: classes, Train: trainSplit, Test: testSplit}, nil
}

func readCIFARFile(f *cifarFormat, fp string, acct *account) (Split, error) {
	fh, err := boundedio.Open(fp)
	if err != nil {
		return Split{}, err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return Split{}, err
	}
	if err := acct.reserve(st.Size(), fp, fmt.Sprintf("%d bytes of %d-byte records", st.Size(), f.recordLen())); err != nil {
		return Split{}, err
	}
	s, err := readCIFAR(f, fh, st.Size())
	if err != nil {
		return Split{}, fmt.Errorf("%s: %w", fp, err)
	}
	return s, nil
}

// cifarNamesFile reads the class names from fp when it exists, else returns the defaults.
func cifarNamesFile(f *cifarFormat, fp string) ([]string, error) {
	b, err := boundedio.ReadFile(fp, maxNamesFile)
	if errors.Is(err, os.ErrNotExist) {
		if f.kind == "cifar10" {
			return append([]string{}, CIFAR10Classes...), nil
		}
		return numberedClasses(f.classes()), nil
	}
	if err != nil {
		return nil, err
	}
	names, err := parseNames(f, b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", fp, err)
	}
	return names, nil
}

// parseNames reads one class name a line, ignoring blank lines (the official files end with some).
func parseNames(f *cifarFormat, b []byte) ([]string, error) {
	var names []string
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			names = append(names, line)
		}
	}
	if len(names) != f.classes() {
		return nil, fmt.Errorf("%d class names, want %d (one a line)", len(names), f.classes())
	}
	return names, nil
}

// cifarFromArchive reads the official file set from a tar archive, matching entries by their
// base name wherever they sit in the tree (the official archive has them in one folder, in no
// particular order).
func cifarFromArchive(f *cifarFormat, arch string, acct *account) (*Dataset, error) {
	parts := map[string]Split{}
	var names []string
	wanted := map[string]bool{f.test: true}
	for _, t := range f.train {
		wanted[t] = true
	}
	err := walkTar(arch, func(h *tar.Header, r io.Reader) error {
		base := path.Base(h.Name)
		if h.Typeflag == tar.TypeSymlink || h.Typeflag == tar.TypeLink {
			if wanted[base] || base == f.names {
				return linkError(h)
			}
			return nil
		}
		if h.Typeflag != tar.TypeReg {
			return nil
		}
		switch {
		case wanted[base]:
			if _, dup := parts[base]; dup {
				return fmt.Errorf("entry %s: a second %s in the archive", h.Name, base)
			}
			if err := acct.reserve(h.Size, "entry "+h.Name, fmt.Sprintf("%d bytes of %d-byte records", h.Size, f.recordLen())); err != nil {
				return err
			}
			s, err := readCIFAR(f, r, h.Size)
			if err != nil {
				return fmt.Errorf("entry %s: %w", h.Name, err)
			}
			parts[base] = s
		case base == f.names:
			b, err := io.ReadAll(boundedio.Reader(r, maxNamesFile, "entry "+h.Name))
			if err != nil {
				return fmt.Errorf("entry %s: %w", h.Name, err)
			}
			if names, err = parseNames(f, b); err != nil {
				return fmt.Errorf("entry %s: %w", h.Name, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", arch, err)
	}
	var train []Split
	for _, t := range append(append([]string{}, f.train...), f.test) {
		if _, ok := parts[t]; !ok {
			return nil, fmt.Errorf("%s: the archive has no %s (want %s)", arch, t, f.fileSet())
		}
	}
	for _, t := range f.train {
		train = append(train, parts[t])
	}
	if names == nil {
		if f.kind == "cifar10" {
			names = append([]string{}, CIFAR10Classes...)
		} else {
			names = numberedClasses(f.classes())
		}
	}
	trainSplit, err := concat(train, acct)
	if err != nil {
		return nil, err
	}
	return &Dataset{Classes: names, Train: trainSplit, Test: parts[f.test]}, nil
}

// readCIFAR reads size bytes of whole records from r into a new split.
func readCIFAR(f *cifarFormat, r io.Reader, size int64) (Split, error) {
	rec := int64(f.recordLen())
	if size == 0 {
		return Split{}, fmt.Errorf("empty file, want %d-byte records", rec)
	}
	if size%rec != 0 {
		return Split{}, fmt.Errorf("%d bytes is not a whole number of %d-byte records (%d records and %d bytes over): the file is truncated or padded",
			size, rec, size/rec, size%rec)
	}
	n := int(size / rec)
	// The size may come from an archive header, which a damaged file can inflate: reserve
	// only a bounded amount up front and let append grow with the data actually read.
	s := Split{Labels: make([]int32, 0, min(n, 4096)), Pixels: make([]uint8, 0, min(n, 4096)*cifarPixels), C: 3, H: 32, W: 32}
	br := bufio.NewReaderSize(r, 1<<16)
	buf := make([]byte, rec)
	for i := 0; i < n; i++ {
		if _, err := io.ReadFull(br, buf); err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return Split{}, fmt.Errorf("record %d: the data ends early (%d records expected from the size %d): %w", i, n, size, io.ErrUnexpectedEOF)
			}
			return Split{}, fmt.Errorf("record %d: %w", i, err)
		}
		for b, limit := range f.ranges {
			if int(buf[b]) >= limit {
				which := "label"
				if f.labelBytes == 2 {
					which = [...]string{"coarse label", "fine label"}[b]
				}
				return Split{}, fmt.Errorf("record %d (byte offset %d): %s %d, want 0..%d", i, int64(i)*rec+int64(b), which, buf[b], limit-1)
			}
		}
		s.Labels = append(s.Labels, int32(buf[f.labelAt]))
		s.Pixels = append(s.Pixels, buf[f.labelBytes:]...)
	}
	s.N = n
	return s, nil
}

// concat joins splits of one shape into one contiguous split (no copy for a single part; the
// copy of several is reserved in acct).
func concat(parts []Split, acct *account) (Split, error) {
	switch len(parts) {
	case 0:
		return Split{C: 3, H: 32, W: 32}, nil
	case 1:
		return parts[0], nil
	}
	out := Split{C: parts[0].C, H: parts[0].H, W: parts[0].W}
	for _, p := range parts {
		out.N += p.N
	}
	if err := acct.reserve(int64(out.N)*int64(out.ImageLen()+4), "the training split", fmt.Sprintf("%d images joined into one array", out.N)); err != nil {
		return Split{}, err
	}
	out.Pixels = make([]uint8, 0, out.N*out.ImageLen())
	out.Labels = make([]int32, 0, out.N)
	for _, p := range parts {
		out.Pixels = append(out.Pixels, p.Pixels...)
		out.Labels = append(out.Labels, p.Labels...)
	}
	return out, nil
}
