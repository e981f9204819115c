// Package hub downloads files (pretrained weights, the tutorial's dataset) into a local cache, the way torch.hub
// does for PyTorch: a progress bar while it runs, SHA-256 verification, and an atomic rename at the end, so that a
// file in the cache is always a complete, verified download and can be used without asking the network again.
package hub

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/hymenoptera-go/tutorial/hymenoptera/internal/atomicfile"
	"github.com/hymenoptera-go/tutorial/hymenoptera/internal/sha"
)

// Options for Download and Fetch.
type Options struct {
	// SHA256 is the expected full hex digest of the file; "" skips the check.
	SHA256 string
	// SHA256Prefix is the expected start of the hex digest, the torch.hub convention of naming weight files
	// "<name>-<prefix>.pth" (see HashPrefixFromName); "" skips the check.
	SHA256Prefix string
	// Progress receives the progress bar; nil means os.Stderr, io.Discard silences it.
	Progress io.Writer
	// Timeout aborts a download when no byte arrives for this long (a stalled connection, not a slow one);
	// 0 means DefaultTimeout.
	Timeout time.Duration
	// Client makes the HTTP requests; nil means http.DefaultClient.
	Client *http.Client
}

// DefaultTimeout is the stall timeout when Options.Timeout is 0.
const DefaultTimeout = 60 * time.Second

// ErrStalled is wrapped by the error of a download during which no byte arrived for Options.Timeout.
var ErrStalled = errors.New("download stalled")

// Download copies src (an http:// or https:// URL, a file:// URL, or a local path) to dest, creating dest's
// directory if needed. The bytes go to a temporary file beside dest, are checked (the checksums in opts, and the
// length the server announced), and only then renamed to dest. On any failure no file is left at dest (an existing
// one stays untouched) and the temporary file is removed. Errors name src and dest.
func Download(ctx context.Context, src, dest string, opts Options) (err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("hub: download %s to %s: %w", src, dest, err)
		}
	}()
	if err := opts.checkDigests(); err != nil {
		return err
	}
	body, size, err := open(ctx, src, opts)
	if err != nil {
		return err
	}
	defer body.Close()
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return err
	}
	f, err := atomicfile.Create(dest)
	if err != nil {
		return err
	}
	defer f.Abort()

	progress := opts.Progress
	if progress == nil {
		progress = os.Stderr
	}
	bar := newProgressBar(progress, filepath.Base(dest), size)
	hash := sha256.New()
	received, err := io.Copy(io.MultiWriter(f, hash, bar), body)
	bar.finish()
	switch {
	case err != nil && size >= 0:
		return fmt.Errorf("after %d of %d bytes: %w", received, size, err)
	case err != nil:
		return fmt.Errorf("after %d bytes: %w", received, err)
	case size >= 0 && received != size:
		return fmt.Errorf("truncated: received %d of %d bytes", received, size)
	}
	if err := opts.verify(hex.EncodeToString(hash.Sum(nil))); err != nil {
		return err
	}
	return f.Commit()
}

// DefaultCacheDir returns the usual directory of the download cache: "hymenoptera" in the user's cache
// directory ($XDG_CACHE_HOME, or ~/.cache on Linux; see os.UserCacheDir). Programs choose their cache (the
// tutorial's settings read HYMENOPTERA_CACHE); this package reads no setting of its own.
func DefaultCacheDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("hub: no cache directory: %w", err)
	}
	return filepath.Join(base, "hymenoptera"), nil
}

// Fetch returns the path of src's copy in the directory dir, dir/<last element of src's path>, downloading it
// first (see Download) if it is not there.
//
// A cached file is used without any network access. When opts has a checksum, the cached file is hashed again
// (about 30 ms for the 45 MB ResNet-18 checkpoint, a small price against loading a corrupted or stale file): a
// mismatch is an error that names the file, which the caller deletes to download it again. Fetch never replaces a
// cached file by itself.
func Fetch(ctx context.Context, src, dir string, opts Options) (string, error) {
	if dir == "" {
		return "", fmt.Errorf("hub: fetch %s: no cache directory given", src)
	}
	name, err := fileName(src)
	if err != nil {
		return "", fmt.Errorf("hub: fetch %s: %w", src, err)
	}
	dest := filepath.Join(dir, name)
	if info, err := os.Stat(dest); err == nil && info.Mode().IsRegular() {
		if err := Verify(dest, opts); err != nil {
			return "", fmt.Errorf("hub: cached file %s (from %s): %w; delete it to download it again", dest, src, err)
		}
		return dest, nil
	}
	if err := Download(ctx, src, dest, opts); err != nil {
		return "", err
	}
	return dest, nil
}

// hashPrefixRegexp is torch.hub's HASH_REGEX.
var hashPrefixRegexp = regexp.MustCompile(`-([a-f0-9]*)\.`)

// HashPrefixFromName returns the SHA-256 prefix that torch.hub reads from a weight file's name: the hex digits
// between the first "-" followed only by lowercase hex digits and a ".", e.g. "f37072fd" for
// "resnet18-f37072fd.pth"; "" if there is none.
func HashPrefixFromName(name string) string {
	if m := hashPrefixRegexp.FindStringSubmatch(name); m != nil {
		return m[1]
	}
	return ""
}

// checkDigests rejects malformed checksums before anything is downloaded.
func (opts Options) checkDigests() error {
	if opts.SHA256 != "" && (len(opts.SHA256) != 2*sha256.Size || !isHex(opts.SHA256)) {
		return fmt.Errorf("Options.SHA256 %q is not a SHA-256 digest (64 hex digits)", opts.SHA256)
	}
	if len(opts.SHA256Prefix) > 2*sha256.Size || !isHex(opts.SHA256Prefix) {
		return fmt.Errorf("Options.SHA256Prefix %q is not the start of a SHA-256 digest (hex digits)", opts.SHA256Prefix)
	}
	return nil
}

func isHex(s string) bool {
	return strings.Trim(s, "0123456789abcdefABCDEF") == ""
}

// verify compares a file's hex digest with the expected ones.
func (opts Options) verify(digest string) error {
	if opts.SHA256 != "" && !strings.EqualFold(digest, opts.SHA256) {
		return fmt.Errorf("sha256 mismatch: expected %s, got %s", strings.ToLower(opts.SHA256), digest)
	}
	if prefix := strings.ToLower(opts.SHA256Prefix); !strings.HasPrefix(digest, prefix) {
		return fmt.Errorf("sha256 mismatch: expected a digest starting %s, got %s", prefix, digest)
	}
	return nil
}

// Verify hashes the file at path to check it against the checksums in opts (nothing to do when opts has none).
func Verify(path string, opts Options) error {
	if opts.SHA256 == "" && opts.SHA256Prefix == "" {
		return nil
	}
	if err := opts.checkDigests(); err != nil {
		return err
	}
	digest, err := sha.File256(path)
	if err != nil {
		return err
	}
	return opts.verify(digest)
}

// fileName returns the last element of src's path: the name of its copy in the cache.
func fileName(src string) (string, error) {
	name := filepath.Base(src)
	if isURL(src) {
		u, err := url.Parse(src)
		if err != nil {
			return "", err
		}
		name = path.Base(u.Path)
	}
	if name == "." || name == "/" || name == ".." {
		return "", errors.New("no file name in its path")
	}
	return name, nil
}

func isURL(src string) bool {
	return strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://") || strings.HasPrefix(src, "file://")
}

// open starts reading src, returning its size, or -1 when unknown.
func open(ctx context.Context, src string, opts Options) (io.ReadCloser, int64, error) {
	if strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://") {
		return openHTTP(ctx, src, opts)
	}
	name := src
	if strings.HasPrefix(src, "file://") {
		u, err := url.Parse(src)
		if err != nil {
			return nil, 0, err
		}
		if u.Host != "" && u.Host != "localhost" {
			return nil, 0, fmt.Errorf("file URL on another host %q", u.Host)
		}
		name = filepath.FromSlash(u.Path)
	} else if scheme, _, ok := strings.Cut(src, "://"); ok && !strings.ContainsAny(scheme, `/\`) {
		return nil, 0, fmt.Errorf("unsupported URL scheme %q (use http, https or file)", scheme)
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, 0, err
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return contextReader{ctx, f}, info.Size(), nil
}

// contextReader stops a local copy when its context is done.
type contextReader struct {
	ctx context.Context
	io.ReadCloser
}

func (r contextReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.ReadCloser.Read(p)
}

// openHTTP sends the GET request under a watchdog that cancels it when no byte arrives for the stall timeout,
// from the request until the end of the body.
func openHTTP(ctx context.Context, src string, opts Options) (io.ReadCloser, int64, error) {
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	stalled := fmt.Errorf("%w: no data for %v (stall timeout)", ErrStalled, timeout)
	ctx, cancel := context.WithCancelCause(ctx)
	watchdog := time.AfterFunc(timeout, func() { cancel(stalled) })
	fail := func(err error) (io.ReadCloser, int64, error) {
		watchdog.Stop()
		cancel(nil)
		if cause := context.Cause(ctx); errors.Is(cause, ErrStalled) {
			err = cause
		}
		return nil, 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
	if err != nil {
		return fail(err)
	}
	client := opts.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return fail(err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return fail(fmt.Errorf("HTTP status %s", resp.Status))
	}
	return &watchedBody{resp.Body, ctx, cancel, watchdog, timeout}, resp.ContentLength, nil
}

// watchedBody is a response body whose every byte resets the stall watchdog.
type watchedBody struct {
	io.ReadCloser
	ctx      context.Context
	cancel   context.CancelCauseFunc
	watchdog *time.Timer
	timeout  time.Duration
}

func (b *watchedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.watchdog.Reset(b.timeout)
	}
	if err != nil && err != io.EOF {
		if cause := context.Cause(b.ctx); errors.Is(cause, ErrStalled) {
			err = cause
		}
	}
	return n, err
}

func (b *watchedBody) Close() error {
	b.watchdog.Stop()
	b.cancel(nil)
	return b.ReadCloser.Close()
}
