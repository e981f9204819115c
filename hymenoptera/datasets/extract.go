package datasets

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/hymenoptera-go/tutorial/hymenoptera/internal/atomicfile"
	"github.com/hymenoptera-go/tutorial/hymenoptera/internal/sha"
)

// extractedMarker is the file in an extraction's directory that records which archive (its SHA-256) was
// extracted there, completely.
const extractedMarker = ".extracted-from"

// ExtractZip extracts the zip archive at zipPath into the directory dest, safely and once:
//   - entries that would land outside dest (absolute paths, "..", backslashes), symbolic links and special files
//     are refused, and nothing of the archive is written outside dest;
//   - the archive is extracted into a temporary directory beside dest, renamed to dest when complete, so that an
//     interrupted extraction never looks complete: its leftovers are removed and the extraction redone;
//   - dest records the archive's SHA-256: a complete extraction of the same archive is not redone, one of
//     another archive is replaced.
//
// A dest that exists without that record was not made by ExtractZip and is an error (it is never deleted).
// Extracting into one dest from several processes at once is not supported.
func ExtractZip(zipPath, dest string) error {
	digest, err := sha.File256(zipPath)
	if err != nil {
		return fmt.Errorf("datasets: extracting %s: %w", zipPath, err)
	}
	if done, err := extractedFrom(dest, digest); done || err != nil {
		return err
	}
	parent, base := filepath.Dir(dest), filepath.Base(dest)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("datasets: extracting %s: %w", zipPath, err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(parent, base+".partial-*"))
	for _, dir := range leftovers {
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("datasets: removing %s, left by an interrupted extraction: %w", dir, err)
		}
	}
	staging, err := os.MkdirTemp(parent, base+".partial-")
	if err != nil {
		return fmt.Errorf("datasets: extracting %s: %w", zipPath, err)
	}
	defer os.RemoveAll(staging) // after a successful rename there is nothing left to remove
	if err := extractInto(zipPath, staging); err != nil {
		return err
	}
	err = atomicfile.Write(filepath.Join(staging, extractedMarker), func(w io.Writer) error {
		_, err := io.WriteString(w, digest+"\n")
		return err
	})
	if err != nil {
		return fmt.Errorf("datasets: extracting %s: %w", zipPath, err)
	}
	if _, err := os.Stat(dest); err == nil {
		// An extraction of another archive (extractedFrom checked the record): move it away, then delete it.
		old := staging + ".old"
		if err := os.Rename(dest, old); err != nil {
			return fmt.Errorf("datasets: replacing %s: %w", dest, err)
		}
		defer os.RemoveAll(old)
	}
	if err := os.Rename(staging, dest); err != nil {
		return fmt.Errorf("datasets: extracting %s: %w", zipPath, err)
	}
	return nil
}

// extractedFrom reports whether dest holds a complete extraction of the archive with the given digest. It is an
// error for dest to exist without ExtractZip's record.
func extractedFrom(dest, digest string) (bool, error) {
	if recorded, ok := recordedDigest(dest); ok {
		return recorded == digest, nil
	}
	if _, statErr := os.Stat(dest); statErr == nil {
		return false, fmt.Errorf("datasets: %s exists but is no extraction made by ExtractZip (it has no %s): "+
			"remove it, or extract elsewhere", dest, extractedMarker)
	}
	return false, nil
}

// recordedDigest returns the SHA-256 of the archive whose complete extraction dest is, if it is one.
func recordedDigest(dest string) (string, bool) {
	recorded, err := os.ReadFile(filepath.Join(dest, extractedMarker))
	return strings.TrimSpace(string(recorded)), err == nil
}

// extractInto writes the archive's directories and regular files under dir, refusing any other entry.
func extractInto(zipPath, dir string) error {
	r, err := zip.OpenReader(zipPath)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) { // insecure names are refused one by one below
		return fmt.Errorf("datasets: extracting %s: %w", zipPath, err)
	}
	defer r.Close()
	for _, f := range r.File {
		if err := extractEntry(f, dir); err != nil {
			return fmt.Errorf("datasets: extracting %s: entry %q: %w", zipPath, f.Name, err)
		}
	}
	return nil
}

func extractEntry(f *zip.File, dir string) error {
	name := strings.TrimSuffix(f.Name, "/")
	if strings.Contains(name, `\`) || !filepath.IsLocal(name) {
		return errors.New("its path leaves the extraction directory: refused")
	}
	path := filepath.Join(dir, filepath.FromSlash(name))
	mode := f.Mode()
	switch {
	case mode.IsDir():
		return os.MkdirAll(path, 0o755)
	case mode&fs.ModeSymlink != 0:
		return errors.New("symbolic links are refused (one could point outside the extraction directory)")
	case !mode.IsRegular():
		return fmt.Errorf("refused: not a regular file nor a directory (%v)", mode.Type())
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	in, err := f.Open()
	if err != nil {
		return err
	}
	defer in.Close()
	// O_EXCL: an archive naming a file twice (or a file and a directory alike) is refused, not merged.
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil { // archive/zip checks the size and CRC-32 at the end
		out.Close()
		return err
	}
	return out.Close()
}
