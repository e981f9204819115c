package datasets

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/hymenoptera-go/tutorial/hymenoptera/hub"
	"github.com/hymenoptera-go/tutorial/hymenoptera/internal/atomicfile"
)

// The tutorial's dataset: 244 training and 153 validation images of ants and bees.
const (
	HymenopteraTrainImages = 244
	HymenopteraValImages   = 153

	HymenopteraURL = "https://download.pytorch.org/tutorial/hymenoptera_data.zip"
	// HymenopteraSHA256 is the SHA-256 of the zip at HymenopteraURL, checked after every download.
	HymenopteraSHA256 = "77a1531d2237f648377f1f5679db8436247ec91d158ba3d836ffc3a3da5c1034"
)

// DownloadOptions configure DownloadHymenoptera. The zero value downloads from HymenopteraURL into the user's
// cache, as the tutorial would. This package reads no setting of its own: programs pass theirs here (the
// tutorial's settings read HYMENOPTERA_DATA_URL, HYMENOPTERA_DATA and HYMENOPTERA_DATA_SKIP_CHECKSUM).
type DownloadOptions struct {
	// Source is where the dataset comes from: an http(s) URL or a file:// URL or a local path of the zip, or a
	// directory that already holds the extracted dataset (train/ and val/, or hymenoptera_data/ with them), used
	// in place. Default: HymenopteraURL.
	Source string
	// Dir is the data directory where a downloaded zip is kept and any zip extracted. Default: "data" in
	// hub.DefaultCacheDir.
	Dir string
	// SkipChecksum accepts a zip whose SHA-256 is not HymenopteraSHA256: a mirror that repacked the dataset, a
	// dataset of one's own.
	SkipChecksum bool
	// Progress receives the download's progress bar: nil means os.Stderr, io.Discard silences it.
	Progress io.Writer
}

// DownloadHymenoptera returns the directory that holds the dataset's train/ and val/ directories: the extraction
// of the zip that Source names, made in Dir when it was not made before.
//
// The data used is always that of Source: an extraction records the SHA-256 of its zip (see ExtractZip), and a
// local zip is hashed (a fraction of a second) and extracted afresh when it is not the one extracted. A zip at a
// URL is downloaded into Dir (to a temporary file, checked against HymenopteraSHA256, then renamed) beside a
// record of its URL, and downloaded again when Source names another URL. With the defaults the data ends up in
// <Dir>/hymenoptera/hymenoptera_data.
func DownloadHymenoptera(ctx context.Context, opts DownloadOptions) (string, error) {
	src := cmp.Or(opts.Source, HymenopteraURL)
	local := localPath(src)
	if isDirPath(local) {
		return splitRoot(local)
	}
	dir := opts.Dir
	if dir == "" {
		cache, err := hub.DefaultCacheDir()
		if err != nil {
			return "", fmt.Errorf("datasets: no data directory: %w", err)
		}
		dir = filepath.Join(cache, "data")
	}
	expected := HymenopteraSHA256
	if opts.SkipChecksum {
		expected = ""
	}
	dest := filepath.Join(dir, "hymenoptera")
	zipPath := local
	if isURL(src) {
		zipPath = filepath.Join(dir, "hymenoptera_data.zip")
		if digest, ok := recordedDigest(dest); ok && expected != "" && digest == expected {
			return splitRoot(dest) // the verified content of any source: the zip is not even needed any more
		}
		if err := fetchZip(ctx, src, zipPath, expected, opts.Progress); err != nil {
			return "", err
		}
	} else if _, err := os.Stat(zipPath); err != nil {
		return "", fmt.Errorf("datasets: dataset source: %w", err)
	} else if expected != "" {
		if err := hub.Verify(zipPath, hub.Options{SHA256: expected}); err != nil {
			return "", notTheDataset(zipPath, err)
		}
	}
	if err := ExtractZip(zipPath, dest); err != nil {
		return "", err
	}
	return splitRoot(dest)
}

// fetchZip makes zipPath a verified copy of the zip at the URL src: the copy already there when it has the
// expected SHA-256 (whoever put it there: the content is what src must deliver) or, without a checksum, when it
// came from src (its URL is recorded beside it); else a new download.
func fetchZip(ctx context.Context, src, zipPath, expected string, progress io.Writer) error {
	record := zipPath + ".source"
	hubOpts := hub.Options{SHA256: expected, Progress: progress}
	if _, err := os.Stat(zipPath); err == nil {
		from, _ := os.ReadFile(record)
		sameSource := string(from) == redact(src)
		switch err := hub.Verify(zipPath, hubOpts); {
		case err == nil && (expected != "" || sameSource):
			return nil
		case err != nil && sameSource:
			return fmt.Errorf("datasets: %s, the downloaded copy of %s, is damaged: %w; delete it to download "+
				"it again", zipPath, redact(src), err)
		}
	}
	if err := hub.Download(ctx, src, zipPath, hubOpts); err != nil {
		if strings.Contains(err.Error(), "sha256 mismatch") {
			return notTheDataset(redact(src), err)
		}
		return fmt.Errorf("datasets: downloading the dataset: %w\nOffline? Get hymenoptera_data.zip onto this "+
			"machine and give its path as the source (--data FILE, or HYMENOPTERA_DATA_URL in the notebooks)", err)
	}
	return atomicfile.Write(record, func(w io.Writer) error {
		_, err := io.WriteString(w, redact(src))
		return err
	})
}

// notTheDataset is the error of a zip (named by what) whose SHA-256 is not the tutorial's.
func notTheDataset(what string, err error) error {
	return fmt.Errorf("datasets: %s is not the tutorial's hymenoptera_data.zip (a corrupted or different file): %w. "+
		"If it is another dataset on purpose, turn the check off (DownloadOptions.SkipChecksum; "+
		"--skip-data-checksum on the command line)", what, err)
}

func isURL(src string) bool {
	return strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://")
}

// localPath is the path that src names when it is a file:// URL or a path.
func localPath(src string) string {
	if u, err := url.Parse(src); err == nil && u.Scheme == "file" {
		return u.Path
	}
	return src
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

// Fingerprint identifies the dataset in dir (train/ and val/): a digest of every file's path and size there,
// cheap to compute (no file is read) and different for any other selection of images. A resumed run compares
// it with its first run's.
func Fingerprint(dir string) (string, error) {
	hash := sha256.New()
	for _, split := range []string{"train", "val"} {
		root := filepath.Join(dir, split)
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, path)
			fmt.Fprintf(hash, "%s\x00%d\n", filepath.ToSlash(rel), info.Size())
			return nil
		})
		if err != nil {
			return "", fmt.Errorf("datasets: fingerprint of %s: %w", dir, err)
		}
	}
	return hex.EncodeToString(hash.Sum(nil))[:16], nil
}
