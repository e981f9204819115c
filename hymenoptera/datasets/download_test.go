package datasets_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
	opts := datasets.DownloadOptions{Source: "file://" + zipPath, Dir: dir, Progress: io.Discard}
	root, err := datasets.DownloadHymenoptera(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "hymenoptera", "hymenoptera_data"); root != want {
		t.Errorf("root %s, want %s", root, want)
	}
	// A second call uses what is there: the extraction is not redone.
	marker := filepath.Join(root, "train", "ants", "0013035.jpg")
	if err := os.Remove(marker); err != nil {
		t.Fatal(err)
	}
	if again, err := datasets.DownloadHymenoptera(context.Background(), opts); err != nil || again != root {
		t.Fatalf("second call: %s, %v", again, err)
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
	if err == nil || !strings.Contains(err.Error(), "sha256 mismatch") || !strings.Contains(err.Error(), mirror) ||
		!strings.Contains(err.Error(), "SkipChecksum") {
		t.Fatalf("error %v, want a checksum mismatch naming %s and how to turn the check off", err, mirror)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a rejected zip left %v", entries)
	}
	// The explicit opt-out; the environment does nothing (settings are read by the tutorial package and the CLI).
	t.Setenv("HYMENOPTERA_DATA_SKIP_CHECKSUM", "1")
	if _, err := datasets.DownloadHymenoptera(context.Background(), datasets.DownloadOptions{
		Source: mirror, Dir: t.TempDir(), Progress: io.Discard}); err == nil {
		t.Error("HYMENOPTERA_DATA_SKIP_CHECKSUM turned the check off inside the library")
	}
	root, err := datasets.DownloadHymenoptera(context.Background(), datasets.DownloadOptions{
		Source: mirror, Dir: dir, Progress: io.Discard, SkipChecksum: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "val", "ants", "b.ppm")); err != nil {
		t.Error(err)
	}
}

// TestDownloadHymenopteraUsesTheDataAskedFor: with an extraction of one zip in the data directory, another zip
// (local or at another URL) is extracted afresh, never replaced by the cached data.
func TestDownloadHymenopteraUsesTheDataAskedFor(t *testing.T) {
	small, other := smallDataset(t), filepath.Join(t.TempDir(), "other.zip")
	writeZip(t, other, zipEntrySpec{name: "hymenoptera_data/train/wasps/w.ppm", body: "P6 1 1 255\n\x01\x02\x03"},
		zipEntrySpec{name: "hymenoptera_data/val/wasps/v.ppm", body: "P6 1 1 255\n\x04\x05\x06"})
	dir := t.TempDir()
	get := func(src string) string {
		t.Helper()
		root, err := datasets.DownloadHymenoptera(context.Background(), datasets.DownloadOptions{
			Source: src, Dir: dir, SkipChecksum: true, Progress: io.Discard})
		if err != nil {
			t.Fatal(err)
		}
		entries, err := os.ReadDir(filepath.Join(root, "train"))
		if err != nil || len(entries) != 1 {
			t.Fatalf("%s: train/ holds %v (%v)", src, entries, err)
		}
		return entries[0].Name()
	}
	if class := get(small); class != "ants" {
		t.Errorf("first zip: class %s, want ants", class)
	}
	if class := get(other); class != "wasps" {
		t.Errorf("another local zip: class %s, want wasps (not the cached extraction)", class)
	}
	serve := func(path string) string {
		server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.ServeFile(w, r, path)
		}))
		t.Cleanup(server.Close)
		return server.URL + "/hymenoptera_data.zip"
	}
	if class := get(serve(small)); class != "ants" {
		t.Errorf("a URL: class %s, want ants", class)
	}
	if class := get(serve(other)); class != "wasps" {
		t.Errorf("another URL: class %s, want wasps (not the cached download)", class)
	}
}

// TestDownloadHymenopteraOffline: a failed download says how to use a local copy.
func TestDownloadHymenopteraOffline(t *testing.T) {
	server := httptest.NewServer(http.NotFoundHandler())
	server.Close()
	_, err := datasets.DownloadHymenoptera(context.Background(), datasets.DownloadOptions{
		Source: server.URL + "/hymenoptera_data.zip", Dir: t.TempDir(), Progress: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "Offline?") || !strings.Contains(err.Error(), "--data FILE") {
		t.Errorf("offline download: %v, want a hint", err)
	}
}
