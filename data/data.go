// Package data loads image-classification datasets into memory as raw uint8 arrays: the
// formats researchers download (CIFAR-10/100 binary, MNIST-style IDX, folders of images) and a
// built-in procedural set, shapes, that needs no file at all.
//
// A dataset is held exactly as stored (uint8, N x C x H x W, one contiguous array per split),
// so CIFAR-10 costs 184 MB and reaches a GPU in one copy. Batch preparation (crops, flips,
// mean subtraction, scaling) is a backend operation (net.Backend.GatherBatch); this package
// supplies the pixels, the statistics that preparation needs and the data orders.
//
// Every loader checks what it reads and says which file, record or entry is wrong and what was
// expected; nothing here panics on user input.
package data

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Split is one part of a dataset (training or test): N images of C x H x W uint8 pixels,
// sample-major (image i occupies Pixels[i*C*H*W : (i+1)*C*H*W], channel planes in order,
// rows top to bottom), and their class indices.
type Split struct {
	Pixels     []uint8
	Labels     []int32
	N, C, H, W int
}

// Dataset is a training and a test split sharing one image shape and one list of classes.
// Name is the kind of dataset ("cifar10", "shapes", ...); Source says where it came from
// (a path, or the seed of a procedural set), for a run's record.
type Dataset struct {
	Name, Source string
	Classes      []string
	Train, Test  Split
}

// ImageLen is the number of pixels of one image, C*H*W.
func (s *Split) ImageLen() int { return s.C * s.H * s.W }

// Image returns image i's pixels (a view, not a copy).
func (s *Split) Image(i int) []uint8 {
	n := s.ImageLen()
	return s.Pixels[i*n : (i+1)*n]
}

// kinds lists the dataset names a spec may start with, in the order of the README.
var kinds = []string{"shapes", "cifar10", "cifar100", "cifar100-coarse", "mnist", "fashion-mnist", "folder"}

// Open loads the dataset a spec names. A spec is a kind and, after a colon, where to find it:
//
//	shapes, shapes:SEED      the built-in procedural set (no file)
//	cifar10:PATH             cifar-10-binary.tar.gz, its extracted folder, or .bin files (comma-separated)
//	cifar100:PATH            CIFAR-100 binary with the 100 fine labels
//	cifar100-coarse:PATH     CIFAR-100 binary with the 20 coarse labels
//	mnist:PATH               a folder of the four IDX files (gzipped or not)
//	fashion-mnist:PATH       likewise
//	folder:PATH              ROOT/{train,test}/<class>/*.{png,jpg,jpeg}, or a .tar.gz of that tree
//
// A kind without a path (cifar10, cifar100, mnist, fashion-mnist) reads the cache folder that
// `rout data get` fills (see CacheDir).
func Open(spec string) (*Dataset, error) {
	kind, path, hasPath := strings.Cut(spec, ":")
	if hasPath && path == "" {
		return nil, fmt.Errorf("data: spec %q: empty path after %q", spec, kind+":")
	}
	switch kind {
	case "shapes":
		seed := uint64(DefaultShapesSeed)
		if hasPath {
			s, err := strconv.ParseUint(path, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("data: spec %q: seed %q is not a non-negative integer", spec, path)
			}
			seed = s
		}
		return Shapes(seed, DefaultShapesTrain, DefaultShapesTest), nil
	case "folder":
		if !hasPath {
			return nil, fmt.Errorf("data: spec %q: folder needs a path (folder:PATH)", spec)
		}
		return OpenFolder(path)
	case "cifar10", "cifar100", "cifar100-coarse", "mnist", "fashion-mnist":
		if !hasPath {
			return openCached(kind)
		}
		return openKind(kind, path)
	}
	return nil, fmt.Errorf("data: spec %q: unknown dataset %q (want one of %s)", spec, kind, strings.Join(kinds, ", "))
}

func openKind(kind, path string) (*Dataset, error) {
	switch kind {
	case "cifar10":
		return OpenCIFAR10(path)
	case "cifar100":
		return OpenCIFAR100(path, false)
	case "cifar100-coarse":
		return OpenCIFAR100(path, true)
	default: // mnist, fashion-mnist
		return OpenIDX(kind, path)
	}
}

// openCached reads a dataset from its cache folder, saying how to fill the folder when it is
// missing or empty.
func openCached(kind string) (*Dataset, error) {
	fetchKind := kind
	if kind == "cifar100-coarse" {
		fetchKind = "cifar100"
	}
	dir, err := CacheDir(fetchKind)
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: cache folder %s: %w", kind, dir, err)
	}
	if len(entries) == 0 {
		return nil, fmt.Errorf("%s: no data in the cache folder %s: run `rout data get %s` "+
			"(or place the official files there by hand, or give a path: %s:PATH)", kind, dir, fetchKind, kind)
	}
	return openKind(kind, dir)
}

// CacheDir is the folder where `rout data get` puts a dataset and where a spec without a path
// looks for it: $ROUT_DATA/KIND, or the user cache folder's rout/data/KIND
// (~/.cache/rout/data/KIND on Linux).
func CacheDir(kind string) (string, error) {
	root := os.Getenv("ROUT_DATA")
	if root == "" {
		c, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("data: no cache folder (set ROUT_DATA): %w", err)
		}
		root = filepath.Join(c, "rout", "data")
	}
	return filepath.Join(root, kind), nil
}

// numberedClasses names classes "0", "1", ... for sets whose files carry no names.
func numberedClasses(n int) []string {
	c := make([]string, n)
	for i := range c {
		c[i] = strconv.Itoa(i)
	}
	return c
}
