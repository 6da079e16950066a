package data

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// server serves content at /f.bin (with Range support unless noRange) and records the Range
// header of every request.
type server struct {
	content []byte
	noRange bool
	mu      sync.Mutex
	ranges  []string
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.ranges = append(s.ranges, r.Header.Get("Range"))
	s.mu.Unlock()
	if r.URL.Path != "/f.bin" {
		http.NotFound(w, r)
		return
	}
	if s.noRange {
		w.Write(s.content)
		return
	}
	http.ServeContent(w, r, "f.bin", time.Time{}, bytes.NewReader(s.content))
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

func TestFetch(t *testing.T) {
	content := bytes.Repeat([]byte("0123456789abcdef"), 5000)
	for _, c := range []struct {
		name    string
		partial int  // bytes already in the .part file
		noRange bool // the server ignores Range
		range_  string
	}{
		{"fresh", 0, false, ""},
		{"resume", 30011, false, "bytes=30011-"},
		{"resume, server without ranges", 30011, true, "bytes=30011-"},
		{"part already whole", len(content), false, "bytes=80000-"},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := &server{content: content, noRange: c.noRange}
			ts := httptest.NewServer(srv)
			defer ts.Close()
			dir := filepath.Join(t.TempDir(), "cache")
			if c.partial > 0 {
				writeFile(t, filepath.Join(dir, "f.bin.part"), content[:c.partial])
			}
			r := Remote{File: "f.bin", URLs: []string{ts.URL + "/missing", ts.URL + "/f.bin"}, MD5: md5hex(content)}
			var log bytes.Buffer
			if err := Fetch(context.Background(), ts.Client(), r, dir, &log); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(filepath.Join(dir, "f.bin"))
			if err != nil || !bytes.Equal(got, content) {
				t.Fatalf("downloaded %d bytes (%v), want the %d of the content", len(got), err, len(content))
			}
			if _, err := os.Stat(filepath.Join(dir, "f.bin.part")); !os.IsNotExist(err) {
				t.Fatalf("the .part file is still there: %v", err)
			}
			if srv.ranges[1] != c.range_ {
				t.Fatalf("request for f.bin asked for range %q, want %q", srv.ranges[1], c.range_)
			}
			// A second fetch finds the file, checks it and asks for nothing.
			n := len(srv.ranges)
			if err := Fetch(context.Background(), ts.Client(), r, dir, &log); err != nil {
				t.Fatal(err)
			}
			if len(srv.ranges) != n || !strings.Contains(log.String(), "already present, checksum verified") {
				t.Fatalf("a second fetch made %d requests; log %q", len(srv.ranges)-n, log.String())
			}
		})
	}
}

func TestFetchFailures(t *testing.T) {
	content := bytes.Repeat([]byte("x"), 1000)
	ts := httptest.NewServer(&server{content: content})
	defer ts.Close()
	dir := t.TempDir()

	// A wrong checksum: the download is deleted and nothing is put in place.
	r := Remote{File: "f.bin", URLs: []string{ts.URL + "/f.bin"}, MD5: md5hex([]byte("other"))}
	err := Fetch(context.Background(), ts.Client(), r, dir, io.Discard)
	wantErr(t, err, "f.bin.part", "checksum mismatch", "MD5 "+md5hex(content), "want "+r.MD5, "place it at "+filepath.Join(dir, "f.bin"))
	for _, f := range []string{"f.bin", "f.bin.part"} {
		if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
			t.Fatalf("%s exists after a checksum mismatch", f)
		}
	}

	// An existing file with the wrong checksum is left alone, with advice.
	writeFile(t, filepath.Join(dir, "f.bin"), []byte("damaged"))
	err = Fetch(context.Background(), ts.Client(), Remote{File: "f.bin", URLs: []string{ts.URL + "/f.bin"}, MD5: md5hex(content)}, dir, io.Discard)
	wantErr(t, err, filepath.Join(dir, "f.bin")+" exists but its MD5 is "+md5hex([]byte("damaged")), "delete it")

	// No network: every mirror fails, and the error says how to supply the file by hand.
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	r = Remote{File: "g.bin", URLs: []string{deadURL + "/g.bin", ts.URL + "/nothing"}, MD5: md5hex(content)}
	err = Fetch(context.Background(), ts.Client(), r, dir, io.Discard)
	wantErr(t, err, "download of g.bin failed", deadURL+"/g.bin", "404", "to supply it by hand", "place it at "+filepath.Join(dir, "g.bin"), r.MD5)
	if _, err := os.Stat(filepath.Join(dir, "g.bin")); !os.IsNotExist(err) {
		t.Fatal("g.bin exists after a failed download")
	}
}

func TestRemotes(t *testing.T) {
	for _, kind := range []string{"cifar10", "cifar100", "mnist", "fashion-mnist"} {
		rs, err := Remotes(kind)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if len(r.MD5) != 32 || len(r.URLs) == 0 || !strings.HasSuffix(r.URLs[0], "/"+r.File) {
				t.Fatalf("%s: %+v", kind, r)
			}
		}
	}
	// The files `rout data get` fetches are what Open reads from the cache folder.
	if rs, _ := Remotes("mnist"); len(rs) != 4 || rs[0].File != "train-images-idx3-ubyte.gz" {
		t.Fatalf("mnist remotes %+v", rs)
	}
	if rs, _ := Remotes("cifar10"); rs[0].File != cifar10Format.archive || rs[0].MD5 != "c32a1d4ab5d03f1284b67883e8d87530" {
		t.Fatalf("cifar10 remote %+v", rs)
	}
	_, err := Remotes("shapes")
	wantErr(t, err, `no download for "shapes"`)
}
