package data

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"rout/internal/atomicfile"
	"rout/internal/boundedio"
)

// Remote is one file of a dataset's official distribution: where to get it and its MD5.
type Remote struct {
	File string   // the official file name, kept in the cache folder
	URLs []string // tried in order
	MD5  string   // hex
}

var remotes = map[string][]Remote{
	"cifar10": {{File: "cifar-10-binary.tar.gz", MD5: "c32a1d4ab5d03f1284b67883e8d87530",
		URLs: []string{"https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"}}},
	"cifar100": {{File: "cifar-100-binary.tar.gz", MD5: "03b5dce01913d631647c71ecec9e9cb8",
		URLs: []string{"https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz"}}},
	"mnist": idxRemotes([]string{"https://ossci-datasets.s3.amazonaws.com/mnist/", "https://yann.lecun.com/exdb/mnist/"},
		"f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
		"9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c"),
	"fashion-mnist": idxRemotes([]string{"https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
		"http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"},
		"8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
		"bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310"),
}

// idxRemotes lists the four gzipped IDX files (in idxFiles order) under each mirror.
func idxRemotes(mirrors []string, sums ...string) []Remote {
	out := make([]Remote, len(idxFiles))
	for i, name := range idxFiles {
		out[i] = Remote{File: name + ".gz", MD5: sums[i]}
		for _, m := range mirrors {
			out[i].URLs = append(out[i].URLs, m+name+".gz")
		}
	}
	return out
}

// Remotes lists the files `rout data get KIND` downloads.
func Remotes(kind string) ([]Remote, error) {
	r, ok := remotes[kind]
	if !ok {
		return nil, fmt.Errorf("data: no download for %q (want cifar10, cifar100, mnist or fashion-mnist)", kind)
	}
	return r, nil
}

// Fetch puts r into dir (created if needed) as r.File, unless a file with the right checksum is
// already there. It downloads into r.File + ".part", resuming a partial download with an HTTP
// Range request, checks the MD5 and only then renames the file into place, so dir never holds a
// damaged r.File. A download that ends with a wrong checksum is deleted. Progress lines go to log.
func Fetch(ctx context.Context, client *http.Client, r Remote, dir string, log io.Writer) error {
	final := filepath.Join(dir, r.File)
	manual := fmt.Sprintf("to supply it by hand, download %s on a machine with network access and place it at %s (MD5 %s)",
		strings.Join(r.URLs, " or "), final, r.MD5)
	if sum, err := fileMD5(final); err == nil {
		if sum == r.MD5 {
			fmt.Fprintf(log, "%s: already present, checksum verified\n", final)
			return nil
		}
		return fmt.Errorf("%s exists but its MD5 is %s, want %s: delete it and run again", final, sum, r.MD5)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	part := final + ".part"
	var errs []error
	for _, url := range r.URLs {
		err := download(ctx, client, url, part, log)
		if err == nil {
			if err := finish(part, final, r.MD5); err != nil {
				return fmt.Errorf("%w; %s", err, manual)
			}
			return nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", url, err))
		if ctx.Err() != nil {
			break
		}
	}
	return fmt.Errorf("download of %s failed: %w; %s", r.File, errors.Join(errs...), manual)
}

// download appends the rest of url to part (or rewrites it when the server ignores the range).
func download(ctx context.Context, client *http.Client, url, part string, log io.Writer) error {
	var have int64
	if st, err := os.Stat(part); err == nil {
		have = st.Size()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", have))
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	flags := os.O_WRONLY | os.O_CREATE
	switch {
	case resp.StatusCode == http.StatusPartialContent && have > 0:
		if !strings.HasPrefix(resp.Header.Get("Content-Range"), fmt.Sprintf("bytes %d-", have)) {
			return fmt.Errorf("the server answered the range request from byte %d with %q", have, resp.Header.Get("Content-Range"))
		}
		flags |= os.O_APPEND
		fmt.Fprintf(log, "resuming %s at byte %d\n", url, have)
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && have > 0:
		return nil // the partial file is already whole; the checksum decides
	case resp.StatusCode == http.StatusOK:
		flags |= os.O_TRUNC
		fmt.Fprintf(log, "fetching %s\n", url)
	default:
		return fmt.Errorf("HTTP status %s", resp.Status)
	}
	f, err := os.OpenFile(part, flags, 0o644)
	if err != nil {
		return err
	}
	n, err := io.Copy(f, resp.Body)
	if serr := f.Sync(); err == nil {
		err = serr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("after %d bytes (kept in %s; run again to resume): %w", have+n, part, err)
	}
	return nil
}

// finish checks part's MD5 and renames it to final.
func finish(part, final, want string) error {
	sum, err := fileMD5(part)
	if err != nil {
		return err
	}
	if sum != want {
		os.Remove(part)
		return fmt.Errorf("%s: checksum mismatch: MD5 %s, want %s (the download was deleted; run again)", part, sum, want)
	}
	if err := os.Rename(part, final); err != nil {
		return err
	}
	atomicfile.SyncDir(filepath.Dir(final)) // make the rename durable
	return nil
}

func fileMD5(p string) (string, error) {
	f, err := boundedio.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := md5.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("%s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
