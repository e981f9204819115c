package hub

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hymenoptera-go/tutorial/hymenoptera/internal/testenv"
	"github.com/hymenoptera-go/tutorial/hymenoptera/internal/torchref"
)

// payload is the file the test servers serve: large enough for several reads.
var payload = bytes.Repeat([]byte("hymenoptera: ants and bees\n"), 20000)

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// serve starts a server that serves payload at every path (with Content-Length) and counts the requests.
func serve(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("Content-Length", fmt.Sprint(len(payload)))
		w.Write(payload)
	}))
	t.Cleanup(srv.Close)
	return srv, &requests
}

// assertNoFiles checks that a failed download left nothing in dir: no dest, no temporary file.
func assertNoFiles(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("failed download left %s in %s", e.Name(), dir)
	}
}

func assertError(t *testing.T, err error, wants ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one saying %q", wants)
	}
	for _, want := range wants {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func TestDownloadVerifiesAndShowsProgress(t *testing.T) {
	srv, _ := serve(t)
	dest := filepath.Join(t.TempDir(), "new", "dir", "weights-0123abcd.pth")
	var progress bytes.Buffer
	err := Download(context.Background(), srv.URL+"/weights-0123abcd.pth", dest, Options{
		SHA256: strings.ToUpper(digest(payload)), SHA256Prefix: digest(payload)[:8], Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(dest)
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("dest holds %d bytes (%v), want the %d-byte payload", len(got), err, len(payload))
	}
	out := progress.String()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\r")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(out, "\r") || !strings.HasSuffix(out, "\n") || strings.Count(out, "\n") != 1 {
		t.Errorf("progress %q: want '\\r'-separated updates on one line, then a newline", out)
	}
	for _, want := range []string{"weights-0123abcd.pth", "100%", formatBytes(int64(len(payload))) + " / " +
		formatBytes(int64(len(payload))), "/s"} {
		if !strings.Contains(last, want) {
			t.Errorf("final progress line %q lacks %q", last, want)
		}
	}
}

func TestDownloadRejectsChecksumMismatch(t *testing.T) {
	srv, _ := serve(t)
	wrong := digest([]byte("something else"))
	for _, opts := range []Options{{SHA256: wrong}, {SHA256Prefix: wrong[:8]}} {
		dir := t.TempDir()
		dest := filepath.Join(dir, "file.bin")
		opts.Progress = io.Discard
		err := Download(context.Background(), srv.URL+"/file.bin", dest, opts)
		expected := opts.SHA256 + opts.SHA256Prefix
		assertError(t, err, "sha256 mismatch", "expected", expected, "got "+digest(payload), srv.URL, dest)
		assertNoFiles(t, dir)
	}
}

func TestDownloadRejectsMalformedChecksums(t *testing.T) {
	for _, opts := range []Options{{SHA256: "abc"}, {SHA256: strings.Repeat("g", 64)}, {SHA256Prefix: "xyz"}} {
		dir := t.TempDir()
		err := Download(context.Background(), "http://127.0.0.1:1/never-requested", filepath.Join(dir, "f"), opts)
		assertError(t, err, "Options.SHA256")
		assertNoFiles(t, dir)
	}
}

func TestDownloadRejectsTruncatedBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Announce the full length, send half, hang up.
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", len(payload))
		buf.Write(payload[:len(payload)/2])
		buf.Flush()
	}))
	defer srv.Close()
	dir := t.TempDir()
	dest := filepath.Join(dir, "file.bin")
	err := Download(context.Background(), srv.URL+"/file.bin", dest, Options{Progress: io.Discard})
	assertError(t, err, fmt.Sprintf("of %d bytes", len(payload)), srv.URL, dest)
	assertNoFiles(t, dir)
}

func TestDownloadRejectsHTTPErrors(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	dir := t.TempDir()
	dest := filepath.Join(dir, "sub", "file.bin")
	err := Download(context.Background(), srv.URL+"/file.bin", dest, Options{Progress: io.Discard})
	assertError(t, err, "404 Not Found", srv.URL, dest)
	assertNoFiles(t, dir)
}

// A server that stops sending, before the headers or in the body, is abandoned after Options.Timeout.
func TestDownloadTimesOutWhenStalled(t *testing.T) {
	for _, stallInBody := range []bool{false, true} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if stallInBody {
				w.Header().Set("Content-Length", fmt.Sprint(len(payload)))
				w.Write(payload[:1000])
				w.(http.Flusher).Flush()
			}
			select { // Stall until the client gives up (or far longer than the timeout).
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		}))
		dir := t.TempDir()
		dest := filepath.Join(dir, "file.bin")
		start := time.Now()
		err := Download(context.Background(), srv.URL+"/file.bin", dest,
			Options{Timeout: 200 * time.Millisecond, Progress: io.Discard})
		elapsed := time.Since(start)
		srv.Close()
		assertError(t, err, "timeout", "200ms", srv.URL, dest)
		if !errors.Is(err, ErrStalled) {
			t.Errorf("error %v is not ErrStalled", err)
		}
		if elapsed > 5*time.Second {
			t.Errorf("stalled download (in body: %v) took %v to give up, want about 200ms", stallInBody, elapsed)
		}
		assertNoFiles(t, dir)
	}
}

// A slow server that keeps sending is not a stall: each byte resets the timeout.
func TestDownloadSlowButSteadyIsNotAStall(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(payload)))
		for chunk := range 5 {
			w.Write(payload[chunk*len(payload)/5 : (chunk+1)*len(payload)/5])
			w.(http.Flusher).Flush()
			time.Sleep(100 * time.Millisecond)
		}
	}))
	defer srv.Close()
	dest := filepath.Join(t.TempDir(), "file.bin")
	if err := Download(context.Background(), srv.URL+"/file.bin", dest,
		Options{Timeout: 300 * time.Millisecond, Progress: io.Discard, SHA256: digest(payload)}); err != nil {
		t.Fatal(err)
	}
}

func TestFetchUsesTheCacheWithoutNetwork(t *testing.T) {
	cache := filepath.Join(t.TempDir(), "checkpoints")
	srv, requests := serve(t)
	src := srv.URL + "/models/resnet18-f37072fd.pth?download=1"
	opts := Options{SHA256: digest(payload), Progress: io.Discard}
	path, err := Fetch(context.Background(), src, cache, opts)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(cache, "resnet18-f37072fd.pth"); path != want {
		t.Errorf("Fetch = %s, want %s", path, want)
	}
	srv.Close() // From now on any network access fails.
	again, err := Fetch(context.Background(), src, cache, opts)
	if err != nil || again != path {
		t.Fatalf("cache hit: Fetch = %s, %v; want %s", again, err, path)
	}
	if n := requests.Load(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
	// A cached file that fails its checksum is reported, not used, and not silently replaced.
	_, err = Fetch(context.Background(), src, cache, Options{SHA256Prefix: "0000", Progress: io.Discard})
	assertError(t, err, "cached file "+path, "sha256 mismatch", "delete it")
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the cached file is gone: %v", err)
	}
	if _, err := Fetch(context.Background(), src, "", opts); err == nil {
		t.Error("Fetch without a directory succeeded")
	}
}

func TestDownloadFromLocalFiles(t *testing.T) {
	srcDir := t.TempDir()
	src := filepath.Join(srcDir, "data.zip")
	if err := os.WriteFile(src, payload, 0o644); err != nil {
		t.Fatal(err)
	}
	fileURL := (&url.URL{Scheme: "file", Path: filepath.ToSlash(src)}).String()
	for i, from := range []string{src, fileURL} {
		dest := filepath.Join(t.TempDir(), "a", "b", fmt.Sprint(i), "data.zip")
		if err := Download(context.Background(), from, dest, Options{SHA256: digest(payload), Progress: io.Discard}); err != nil {
			t.Fatal(err)
		}
		if got, err := os.ReadFile(dest); err != nil || !bytes.Equal(got, payload) {
			t.Errorf("%s: dest holds %d bytes (%v), want %d", from, len(got), err, len(payload))
		}
	}
	dir := t.TempDir()
	err := Download(context.Background(), filepath.Join(srcDir, "missing.zip"), filepath.Join(dir, "x"), Options{})
	assertError(t, err, "missing.zip")
	assertNoFiles(t, dir)
	err = Download(context.Background(), "ftp://example/x.zip", filepath.Join(dir, "x"), Options{})
	assertError(t, err, `unsupported URL scheme "ftp"`)
}

// The tutorial's dataset, fetched from a local copy through file://, passes its published checksum.
func TestFetchDatasetZip(t *testing.T) {
	const datasetSHA256 = "77a1531d2237f648377f1f5679db8436247ec91d158ba3d836ffc3a3da5c1034"
	src := testenv.DatasetZip(t)
	fileURL := (&url.URL{Scheme: "file", Path: filepath.ToSlash(src)}).String()
	path, err := Fetch(context.Background(), fileURL, t.TempDir(), Options{SHA256: datasetSHA256, Progress: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.Stat(src)
	if got, err := os.Stat(path); err != nil || got.Size() != want.Size() || filepath.Base(path) != filepath.Base(src) {
		t.Errorf("Fetch = %s (%v, %v), want a copy of %s", path, got, err, src)
	}
}

func TestDownloadStopsWhenCancelled(t *testing.T) {
	srv, _ := serve(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := t.TempDir()
	err := Download(ctx, srv.URL+"/f", filepath.Join(dir, "f"), Options{Progress: io.Discard})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Download with a cancelled context = %v, want context.Canceled", err)
	}
	assertNoFiles(t, dir)
}

// TestDefaultCacheDir: the user's cache directory, whatever HYMENOPTERA_CACHE says (the settings read that).
func TestDefaultCacheDir(t *testing.T) {
	t.Setenv("HYMENOPTERA_CACHE", "/some/where")
	t.Setenv("XDG_CACHE_HOME", "/xdg")
	base, err := os.UserCacheDir()
	if err != nil {
		t.Skip("no user cache directory on this system:", err)
	}
	if dir, err := DefaultCacheDir(); err != nil || dir != filepath.Join(base, "hymenoptera") {
		t.Errorf("DefaultCacheDir = %s, %v; want %s", dir, err, filepath.Join(base, "hymenoptera"))
	}
}

// HashPrefixFromName agrees with torch.hub on torchvision's weight names and on corner cases of its regexp.
func TestHashPrefixFromNameMatchesTorchHub(t *testing.T) {
	names := []string{"resnet18-f37072fd.pth", "resnet50-11ad3fa6.pth", "efficientnet_b0_rwightman-7f5810bc.pth",
		"hymenoptera_data.zip", "vit_b_16_lc_swag-4e70ced5.pth", "a-b-c0ffee.pth", "x-ABCDEF.pth", "x-.pth",
		"x-abc", "x-abc.tar.gz", "no_dash.pth", "x-12-34.pth"}
	var torch map[string]string
	err := torchref.RunJSON(&torch, "hub_reference.py", names...)
	if errors.Is(err, torchref.ErrUnavailable) && !testenv.InCI() {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if got, want := HashPrefixFromName(name), torch[name]; got != want {
			t.Errorf("HashPrefixFromName(%q) = %q, torch.hub: %q", name, got, want)
		}
	}
}
