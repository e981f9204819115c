package datasets_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hymenoptera-go/tutorial/hymenoptera/datasets"
	"github.com/hymenoptera-go/tutorial/hymenoptera/internal/testenv"
)

// hymenoptera extracts the tutorial's zip (a local copy: DownloadHymenoptera's file source) into a temporary data
// directory and returns the dataset root.
func hymenoptera(t *testing.T) string {
	t.Helper()
	root, err := datasets.DownloadHymenoptera(context.Background(), datasets.DownloadOptions{
		Source: testenv.DatasetZip(t), Dir: t.TempDir(), Progress: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func TestDownloadHymenopteraFromALocalZip(t *testing.T) {
	zipPath := testenv.DatasetZip(t)
	dir := t.TempDir()
	var progress bytes.Buffer
	opts := datasets.DownloadOptions{Source: "file://" + zipPath, Dir: dir, Progress: &progress}
	root, err := datasets.DownloadHymenoptera(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "hymenoptera", "hymenoptera_data"); root != want {
		t.Errorf("root %s, want %s", root, want)
	}
	if progress.Len() == 0 {
		t.Error("no progress shown")
	}
	stamp := func() time.Time {
		info, err := os.Stat(filepath.Join(dir, "hymenoptera_data.zip"))
		if err != nil {
			t.Fatal(err)
		}
		return info.ModTime()
	}
	first := stamp()
	// A second call uses what is there: the zip is not copied again, the extraction not redone.
	marker := filepath.Join(root, "train", "ants", "0013035.jpg")
	if err := os.Remove(marker); err != nil {
		t.Fatal(err)
	}
	if again, err := datasets.DownloadHymenoptera(context.Background(), opts); err != nil || again != root {
		t.Fatalf("second call: %s, %v", again, err)
	}
	if !stamp().Equal(first) {
		t.Error("the zip was fetched again")
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the zip was extracted again")
	}

	// An extracted directory as the source is used in place.
	for _, dir := range []string{root, filepath.Dir(root)} {
		got, err := datasets.DownloadHymenoptera(context.Background(), datasets.DownloadOptions{Source: dir})
		if err != nil || got != root {
			t.Errorf("directory source %s: %s, %v", dir, got, err)
		}
	}
}

// smallDataset writes a zip shaped like the tutorial's (but not it) and returns its path.
func smallDataset(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mirror.zip")
	writeZip(t, path, zipEntrySpec{name: "hymenoptera_data/train/ants/a.ppm", body: "P6 1 1 255\n\x01\x02\x03"},
		zipEntrySpec{name: "hymenoptera_data/val/ants/b.ppm", body: "P6 1 1 255\n\x04\x05\x06"})
	return path
}

func TestDownloadHymenopteraChecksum(t *testing.T) {
	mirror := smallDataset(t)
	dir := t.TempDir()
	_, err := datasets.DownloadHymenoptera(context.Background(), datasets.DownloadOptions{
		Source: mirror, Dir: dir, Progress: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "sha256 mismatch") || !strings.Contains(err.Error(), "SkipChecksum") {
		t.Fatalf("error %v, want a checksum mismatch saying how to skip the check", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a rejected download left %v", entries)
	}
	// The explicit opt-out, by option and by environment.
	root, err := datasets.DownloadHymenoptera(context.Background(), datasets.DownloadOptions{
		Source: mirror, Dir: dir, Progress: io.Discard, SkipChecksum: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "val", "ants", "b.ppm")); err != nil {
		t.Error(err)
	}
	t.Setenv("HYMENOPTERA_DATA_SKIP_CHECKSUM", "1")
	if _, err := datasets.DownloadHymenoptera(context.Background(), datasets.DownloadOptions{
		Source: mirror, Dir: t.TempDir(), Progress: io.Discard}); err != nil {
		t.Error(err)
	}
}

func TestDownloadHymenopteraOverHTTPWithEnvironment(t *testing.T) {
	mirror := smallDataset(t)
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, mirror)
	}))
	defer server.Close()
	dir := t.TempDir()
	t.Setenv("HYMENOPTERA_DATA_URL", server.URL+"/hymenoptera_data.zip")
	t.Setenv("HYMENOPTERA_DATA", dir)
	root, err := datasets.DownloadHymenoptera(context.Background(), datasets.DownloadOptions{
		SkipChecksum: true, Progress: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "hymenoptera", "hymenoptera_data"); root != want {
		t.Errorf("root %s, want %s", root, want)
	}
}
