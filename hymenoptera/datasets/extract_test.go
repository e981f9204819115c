package datasets_test

import (
	"archive/zip"
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hymenoptera-go/tutorial/hymenoptera/datasets"
)

type zipEntrySpec struct {
	name, body string
	mode       fs.FileMode
}

// writeZip writes a zip archive of the given entries to path.
func writeZip(t *testing.T, path string, entries ...zipEntrySpec) {
	t.Helper()
	if err := os.WriteFile(path, zipBytes(t, entries...), 0o644); err != nil {
		t.Fatal(err)
	}
}

// zipBytes returns a zip archive of the given entries.
func zipBytes(t testing.TB, entries ...zipEntrySpec) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		h.SetMode(e.mode | 0o644)
		f, err := w.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// listTree returns every path under dir, relative to it.
func listTree(t *testing.T, dir string) []string {
	t.Helper()
	var paths []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if rel, _ := filepath.Rel(dir, path); rel != "." {
			paths = append(paths, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return paths
}

func TestExtractZipRefusesEscapingEntries(t *testing.T) {
	for _, evil := range []zipEntrySpec{
		{name: "../evil.txt", body: "x"},
		{name: "a/../../evil.txt", body: "x"},
		{name: "/tmp/evil.txt", body: "x"},
		{name: `a\..\..\evil.txt`, body: "x"},
		{name: "link", body: "../../evil.txt", mode: fs.ModeSymlink},
		{name: "pipe", mode: fs.ModeNamedPipe},
	} {
		t.Run(evil.name, func(t *testing.T) {
			base := t.TempDir()
			archive := filepath.Join(base, "archive.zip")
			// A harmless entry first, so that the refusal happens in the middle of the extraction.
			writeZip(t, archive, zipEntrySpec{name: "ok/file.txt", body: "fine"}, evil)
			err := datasets.ExtractZip(archive, filepath.Join(base, "out", "dest"))
			if err == nil || !strings.Contains(err.Error(), "refused") {
				t.Fatalf("error %v, want a refusal", err)
			}
			if !strings.Contains(err.Error(), strconv.Quote(evil.name)) {
				t.Errorf("error %q does not name the entry %q", err, evil.name)
			}
			if got := listTree(t, base); !slices.Equal(got, []string{"archive.zip", "out"}) {
				t.Errorf("files left after the refusal: %v", got)
			}
		})
	}
}

func TestExtractZipFailsCleanlyOnBrokenArchives(t *testing.T) {
	base := t.TempDir()
	archive := filepath.Join(base, "archive.zip")
	writeZip(t, archive, zipEntrySpec{name: "d/a.txt", body: strings.Repeat("ants ", 1000)},
		zipEntrySpec{name: "d/b.txt", body: strings.Repeat("bees ", 1000)})
	data, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	corrupt := append([]byte(nil), data...)
	corrupt[60] ^= 0xFF // inside a.txt's compressed data
	for name, bytes := range map[string][]byte{
		"truncated": data[:len(data)*2/3],
		"empty":     nil,
		"corrupt":   corrupt,
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(base, name+".zip")
			if err := os.WriteFile(path, bytes, 0o644); err != nil {
				t.Fatal(err)
			}
			dest := filepath.Join(base, "out", name)
			if err := datasets.ExtractZip(path, dest); err == nil {
				t.Fatal("no error")
			} else if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the archive", err)
			}
			if matches, _ := filepath.Glob(dest + "*"); len(matches) > 0 {
				t.Errorf("left behind: %v", matches)
			}
		})
	}
}

func TestExtractZipOnce(t *testing.T) {
	base := t.TempDir()
	archive := filepath.Join(base, "archive.zip")
	writeZip(t, archive, zipEntrySpec{name: "top/", mode: fs.ModeDir}, zipEntrySpec{name: "top/a.txt", body: "a"},
		zipEntrySpec{name: "top/sub/b.txt", body: "b"})
	dest := filepath.Join(base, "dest")
	if err := datasets.ExtractZip(archive, dest); err != nil {
		t.Fatal(err)
	}
	want := []string{".extracted-from", "top", "top/a.txt", "top/sub", "top/sub/b.txt"}
	if got := listTree(t, dest); !slices.Equal(got, want) {
		t.Fatalf("extracted %v, want %v", got, want)
	}
	if b, err := os.ReadFile(filepath.Join(dest, "top/sub/b.txt")); err != nil || string(b) != "b" {
		t.Fatalf("top/sub/b.txt: %q, %v", b, err)
	}

	// A second run does nothing: a file removed since stays removed.
	if err := os.Remove(filepath.Join(dest, "top/a.txt")); err != nil {
		t.Fatal(err)
	}
	if err := datasets.ExtractZip(archive, dest); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dest, "top/a.txt")); err == nil {
		t.Error("the second run extracted again")
	}

	// Another archive replaces the extraction.
	other := filepath.Join(base, "other.zip")
	writeZip(t, other, zipEntrySpec{name: "c.txt", body: "c"})
	if err := datasets.ExtractZip(other, dest); err != nil {
		t.Fatal(err)
	}
	if got := listTree(t, dest); !slices.Equal(got, []string{".extracted-from", "c.txt"}) {
		t.Errorf("after extracting another archive: %v", got)
	}
	want = []string{"archive.zip", "dest", "dest/.extracted-from", "dest/c.txt", "other.zip"}
	if got := listTree(t, base); !slices.Equal(got, want) {
		t.Errorf("left beside the extraction: %v", got)
	}
}

func TestExtractZipRedoesAnInterruptedExtraction(t *testing.T) {
	base := t.TempDir()
	archive := filepath.Join(base, "archive.zip")
	writeZip(t, archive, zipEntrySpec{name: "a.txt", body: "complete"})
	dest := filepath.Join(base, "dest")
	// What a killed extraction leaves: its staging directory, half written, never renamed to dest.
	partial := dest + ".partial-1234"
	if err := os.MkdirAll(partial, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(partial, "a.txt"), []byte("compl"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := datasets.ExtractZip(archive, dest); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dest, "a.txt")); string(b) != "complete" {
		t.Errorf("a.txt = %q", b)
	}
	if _, err := os.Stat(partial); err == nil {
		t.Error("the interrupted extraction's directory is still there")
	}

	// A directory that ExtractZip did not make is never taken over.
	foreign := filepath.Join(base, "foreign")
	if err := os.MkdirAll(foreign, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := datasets.ExtractZip(archive, foreign); err == nil || !strings.Contains(err.Error(), "no extraction") {
		t.Errorf("extracting over a foreign directory: %v", err)
	}
}
