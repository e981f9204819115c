package datasets

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/hymenoptera-go/tutorial/hymenoptera/hub"
)

// The tutorial's dataset: 244 training and 153 validation images of ants and bees.
const (
	HymenopteraURL = "https://download.pytorch.org/tutorial/hymenoptera_data.zip"
	// HymenopteraSHA256 is the SHA-256 of the zip at HymenopteraURL, checked after every download.
	HymenopteraSHA256 = "77a1531d2237f648377f1f5679db8436247ec91d158ba3d836ffc3a3da5c1034"
)

// DownloadOptions configure DownloadHymenoptera. The zero value downloads from HymenopteraURL into the user's
// cache, as the tutorial would.
type DownloadOptions struct {
	// Source is where the dataset comes from: an http(s) URL or a file:// URL or a local path of the zip, or a
	// directory that already holds the extracted dataset (train/ and val/, or hymenoptera_data/ with them), used
	// in place. Default: $HYMENOPTERA_DATA_URL, else HymenopteraURL.
	Source string
	// Dir is the data directory where the zip is downloaded and extracted. Default: $HYMENOPTERA_DATA, else
	// "data" in hub's cache directory (hub.CacheDir).
	Dir string
	// SkipChecksum accepts a zip whose SHA-256 is not HymenopteraSHA256: a mirror that repacked the dataset, a
	// local variant. Setting $HYMENOPTERA_DATA_SKIP_CHECKSUM=1 does the same.
	SkipChecksum bool
	// Progress receives the download's progress bar: nil means os.Stderr, io.Discard silences it.
	Progress io.Writer
}

// DownloadHymenoptera returns the directory that holds the tutorial dataset's train/ and val/ directories,
// downloading the zip into the data directory and extracting it there first, when that was not done before.
// A download goes to a temporary file, checked against HymenopteraSHA256, then renamed; extraction is safe and
// done once (see ExtractZip). With the defaults the data ends up in <Dir>/hymenoptera/hymenoptera_data.
func DownloadHymenoptera(ctx context.Context, opts DownloadOptions) (string, error) {
	src := cmp.Or(opts.Source, os.Getenv("HYMENOPTERA_DATA_URL"), HymenopteraURL)
	if dir := localPath(src); isDirPath(dir) {
		return splitRoot(dir)
	}
	dir := cmp.Or(opts.Dir, os.Getenv("HYMENOPTERA_DATA"))
	if dir == "" {
		cache, err := hub.CacheDir()
		if err != nil {
			return "", fmt.Errorf("datasets: no data directory (set HYMENOPTERA_DATA): %w", err)
		}
		dir = filepath.Join(cache, "data")
	}
	hubOpts := hub.Options{Progress: opts.Progress}
	if !opts.SkipChecksum && os.Getenv("HYMENOPTERA_DATA_SKIP_CHECKSUM") != "1" {
		hubOpts.SHA256 = HymenopteraSHA256
	}
	zipPath := filepath.Join(dir, "hymenoptera_data.zip")
	dest := filepath.Join(dir, "hymenoptera")
	if digest, ok := recordedDigest(dest); ok && (hubOpts.SHA256 == "" || digest == hubOpts.SHA256) {
		return splitRoot(dest) // extracted before: the zip is not even needed any more
	}
	if _, err := os.Stat(zipPath); err == nil {
		if err := hub.Verify(zipPath, hubOpts); err != nil {
			return "", checksumHint(fmt.Errorf("datasets: %s: %w", zipPath, err), zipPath)
		}
	} else if err := hub.Download(ctx, src, zipPath, hubOpts); err != nil {
		return "", checksumHint(fmt.Errorf("datasets: downloading the dataset: %w", err), src)
	}
	if err := ExtractZip(zipPath, dest); err != nil {
		return "", err
	}
	return splitRoot(dest)
}

// localPath is the path that src names when it is a file:// URL or a path.
func localPath(src string) string {
	if u, err := url.Parse(src); err == nil && u.Scheme == "file" {
		return u.Path
	}
	return src
}

// checksumHint adds, to an error from a SHA-256 mismatch, how to accept another copy of the dataset on purpose.
func checksumHint(err error, src string) error {
	if !strings.Contains(err.Error(), "sha256 mismatch") {
		return err
	}
	return fmt.Errorf("%w: %s is not the tutorial's hymenoptera_data.zip (a corrupted or different file); to use "+
		"it anyway, set DownloadOptions.SkipChecksum or HYMENOPTERA_DATA_SKIP_CHECKSUM=1", err, redact(src))
}

// redact drops credentials from a URL before it goes into a message.
func redact(src string) string {
	if u, err := url.Parse(src); err == nil && u.User != nil {
		return u.Redacted()
	}
	return src
}

// splitRoot returns dir when it holds train/ and val/, else its hymenoptera_data/ when that does.
func splitRoot(dir string) (string, error) {
	for _, root := range []string{dir, filepath.Join(dir, "hymenoptera_data")} {
		if isDirPath(filepath.Join(root, "train")) && isDirPath(filepath.Join(root, "val")) {
			return root, nil
		}
	}
	return "", fmt.Errorf("datasets: %s holds no train/ and val/ directories (nor hymenoptera_data/ with them)", dir)
}

func isDirPath(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.IsDir()
}
