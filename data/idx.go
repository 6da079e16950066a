package data

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"rout/internal/boundedio"
)

// FashionMNISTClasses are Fashion-MNIST's class names in label order.
var FashionMNISTClasses = []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}

// idxClasses is the number of classes of the IDX datasets rout knows (MNIST, Fashion-MNIST).
const idxClasses = 10

// maxIDXBytes bounds the data an IDX header may announce (a damaged header must not make rout
// try to allocate terabytes); the largest IDX sets in use (EMNIST) are far below it.
const maxIDXBytes = 1 << 32

// idxFiles are the four files of an IDX dataset: train images and labels, test images and labels.
var idxFiles = [4]string{"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}

// OpenIDX reads an MNIST-style dataset (kind "mnist" or "fashion-mnist") from the folder dir,
// which holds the four official IDX files, each gzipped (name.gz) or not; the Kaggle spelling
// with a dot (train-images.idx3-ubyte) is accepted too.
func OpenIDX(kind, dir string) (*Dataset, error) {
	d, err := openIDX(kind, dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", kind, err)
	}
	return d, nil
}

func openIDX(kind, dir string) (*Dataset, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s is not a folder (want a folder holding %s[.gz])", dir, strings.Join(idxFiles[:], "[.gz], "))
	}
	var paths [4]string
	for i, name := range idxFiles {
		dotted := strings.Replace(name, "-idx", ".idx", 1)
		for _, cand := range []string{name + ".gz", name, dotted + ".gz", dotted} {
			if _, err := os.Stat(filepath.Join(dir, cand)); err == nil { // any kind: reading refuses what is not a regular file
				paths[i] = filepath.Join(dir, cand)
				break
			}
		}
		if paths[i] == "" {
			return nil, fmt.Errorf("%s: %s (or %s.gz) missing", dir, name, name)
		}
	}
	var acct account
	train, err := readIDXPair(paths[0], paths[1], &acct)
	if err != nil {
		return nil, err
	}
	test, err := readIDXPair(paths[2], paths[3], &acct)
	if err != nil {
		return nil, err
	}
	if test.H != train.H || test.W != train.W {
		return nil, fmt.Errorf("%s holds %dx%d images but %s holds %dx%d; both splits must share one size",
			paths[2], test.H, test.W, paths[0], train.H, train.W)
	}
	classes := numberedClasses(idxClasses)
	if kind == "fashion-mnist" {
		classes = append([]string{}, FashionMNISTClasses...)
	}
	return &Dataset{Name: kind, Source: dir, Classes: classes, Train: train, Test: test}, nil
}

// readIDXPair reads an images file and its labels file into a split.
func readIDXPair(images, labels string, acct *account) (Split, error) {
	dims, pix, err := readIDXFile(images, 3, acct)
	if err != nil {
		return Split{}, err
	}
	ldims, lab, err := readIDXFile(labels, 1, acct)
	if err != nil {
		return Split{}, err
	}
	if ldims[0] != dims[0] {
		return Split{}, fmt.Errorf("%s has %d labels but %s has %d images", labels, ldims[0], images, dims[0])
	}
	if err := acct.reserve(4*int64(len(lab)), labels, fmt.Sprintf("%d labels", len(lab))); err != nil {
		return Split{}, err
	}
	s := Split{Pixels: pix, Labels: make([]int32, len(lab)), N: dims[0], C: 1, H: dims[1], W: dims[2]}
	for i, l := range lab {
		if int(l) >= idxClasses {
			return Split{}, fmt.Errorf("%s: label %d (byte offset %d): %d, want 0..%d", labels, i, 8+i, l, idxClasses-1)
		}
		s.Labels[i] = int32(l)
	}
	return s, nil
}

func readIDXFile(p string, ndims int, acct *account) ([]int, []byte, error) {
	f, err := boundedio.Open(p)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	dims, data, err := readIDX(f, ndims, acct, p)
	if err != nil {
		if errors.Is(err, errBudget) {
			return nil, nil, err // already names the file
		}
		return nil, nil, fmt.Errorf("%s: %w", p, err)
	}
	return dims, data, nil
}

// readIDX reads an IDX file of unsigned bytes with ndims dimensions (gunzipping it when it is
// compressed) and returns its dimensions and data. The data must be exactly as long as the
// dimensions say. What they announce is reserved in acct (for the file where) before any of it
// is read.
func readIDX(r io.Reader, ndims int, acct *account, where string) ([]int, []byte, error) {
	r, err := gunzipIfCompressed(r)
	if err != nil {
		return nil, nil, err
	}
	want := fmt.Sprintf("00 00 08 %02x (an IDX file of unsigned bytes with %d dimension%s)", ndims, ndims, map[bool]string{true: "s"}[ndims > 1])
	var magic [4]byte
	if _, err := io.ReadFull(r, magic[:]); err != nil {
		return nil, nil, fmt.Errorf("reading the magic number: %w (want %s)", err, want)
	}
	if magic[0] != 0 || magic[1] != 0 || magic[2] != 0x08 || int(magic[3]) != ndims {
		return nil, nil, fmt.Errorf("magic number % x, want %s", magic, want)
	}
	raw := make([]byte, 4*ndims)
	if _, err := io.ReadFull(r, raw); err != nil {
		return nil, nil, fmt.Errorf("reading the %d dimensions: %w", ndims, err)
	}
	dims := make([]int, ndims)
	total := int64(1)
	for i := range dims {
		v := binary.BigEndian.Uint32(raw[4*i:])
		if v == 0 {
			return nil, nil, fmt.Errorf("dimension %d is 0, want at least 1", i)
		}
		dims[i] = int(v)
		total *= int64(v)
		if total > maxIDXBytes {
			return nil, nil, fmt.Errorf("dimensions %v announce over %d bytes of data: the header is damaged", dims[:i+1], int64(maxIDXBytes))
		}
	}
	if ndims == 3 && (dims[1] > 1<<15 || dims[2] > 1<<15) {
		return nil, nil, fmt.Errorf("images of %dx%d pixels: the header is damaged", dims[1], dims[2])
	}
	if err := acct.reserve(total, where, fmt.Sprintf("dimensions %v", dims)); err != nil {
		return nil, nil, err
	}
	// Grow with the data actually read, not with what the header claims.
	var buf bytes.Buffer
	buf.Grow(int(min(total, 64<<20)) + 1)
	if _, err := buf.ReadFrom(io.LimitReader(r, total+1)); err != nil {
		return nil, nil, fmt.Errorf("reading the data: %w", err)
	}
	switch n := int64(buf.Len()); {
	case n < total:
		return nil, nil, fmt.Errorf("%d bytes of data after the header, want %d for dimensions %v: the file is truncated", n, total, dims)
	case n > total:
		return nil, nil, fmt.Errorf("more data than the %d bytes the dimensions %v announce: the file is padded or its header is wrong", total, dims)
	}
	return dims, buf.Bytes(), nil
}
