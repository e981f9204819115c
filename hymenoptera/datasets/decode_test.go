package datasets_test

//go:generate /usr/bin/python3 ../reference/data_fixtures.py

import (
	"archive/zip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/hymenoptera-go/tutorial/hymenoptera/datasets"
	"github.com/hymenoptera-go/tutorial/hymenoptera/internal/testenv"
	"github.com/hymenoptera-go/tutorial/hymenoptera/transforms"
)

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// pixels returns img's pixels without row padding.
func pixels(img *transforms.Image) []uint8 {
	out := make([]uint8, 0, img.W*img.H*3)
	for y := range img.H {
		out = append(out, img.Row(y)...)
	}
	return out
}

// diffStats compares two equally long byte slices: the largest difference, the mean, and how many differ.
type diffStats struct {
	max    int
	sum    float64
	n      int
	differ int
}

func (s *diffStats) add(got, want []uint8) {
	for i := range got {
		d := int(got[i]) - int(want[i])
		d = max(d, -d)
		s.max = max(s.max, d)
		s.sum += float64(d)
		if d != 0 {
			s.differ++
		}
	}
	s.n += len(got)
}

func (s *diffStats) mean() float64 { return s.sum / float64(max(s.n, 1)) }

// TestDecodeFormatsLikePIL decodes a small image in every format and mode that the fixture script could make
// (PIL's encoders, a hand-made JPEG encoder for restart markers, 16-bit quantisation tables, one scan per component,
// 4:1:1 and 4:1:0 subsampling, RGB and YCCK JPEGs) and requires PIL's bytes exactly, lossy formats included.
func TestDecodeFormatsLikePIL(t *testing.T) {
	var golden struct {
		Files []struct {
			File, Expect, Note string
			PILMode            string `json:"pil_mode"`
			Width, Height      int
			RGB                string
			Raw16              string
		}
	}
	dir := filepath.Dir(testenv.Fixture(t, "data", "formats.json"))
	readJSON(t, filepath.Join(dir, "formats.json"), &golden)
	dir = filepath.Join(dir, "formats")
	for _, f := range golden.Files {
		t.Run(f.File, func(t *testing.T) {
			img, err := datasets.LoadImage(filepath.Join(dir, f.File))
			if err != nil {
				t.Fatal(err)
			}
			if img.W != f.Width || img.H != f.Height {
				t.Fatalf("%d×%d, PIL %d×%d", img.W, img.H, f.Width, f.Height)
			}
			got := pixels(img)
			want, err := os.ReadFile(filepath.Join(dir, f.RGB))
			if err != nil {
				t.Fatal(err)
			}
			if f.Expect == "gray16" {
				// PIL saturates 16-bit greyscale ("I;16") to 255 in convert("RGB"); we keep the high byte.
				raw, err := os.ReadFile(filepath.Join(dir, f.Raw16))
				if err != nil {
					t.Fatal(err)
				}
				want = make([]uint8, 0, len(got))
				for i := 0; i < len(raw); i += 2 {
					v := uint8(binary.LittleEndian.Uint16(raw[i:]) >> 8)
					want = append(want, v, v, v)
				}
			}
			var s diffStats
			s.add(got, want)
			if s.differ > 0 {
				t.Errorf("PIL mode %s (%s): %d of %d samples differ from PIL's, by up to %d (mean %.4f)", f.PILMode,
					f.Note, s.differ, s.n, s.max, s.mean())
			}
		})
	}
}

// zipEntry reads a file of the tutorial's dataset zip.
func zipEntry(t *testing.T, archive *zip.ReadCloser, name string) []byte {
	t.Helper()
	f, err := archive.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func openDatasetZip(t *testing.T) *zip.ReadCloser {
	t.Helper()
	archive, err := zip.OpenReader(testenv.DatasetZip(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { archive.Close() })
	return archive
}

// TestJPEGDecodingMatchesPIL decodes every JPEG of the tutorial's dataset (baseline and progressive; 4:4:4,
// 4:2:0, 4:2:2 and 4:4:0) and requires PIL's bytes (libjpeg-turbo's), compared by their SHA-256.
func TestJPEGDecodingMatchesPIL(t *testing.T) {
	var golden struct {
		Images []struct {
			Entry         string
			Width, Height int
			SHA256        string
		}
	}
	readJSON(t, testenv.Fixture(t, "data", "jpeg_hashes.json"), &golden)
	archive := openDatasetZip(t)
	for _, g := range golden.Images {
		img, err := datasets.DecodeImage(zipEntry(t, archive, g.Entry))
		if err != nil {
			t.Errorf("%s: %v", g.Entry, err)
			continue
		}
		sum := sha256.Sum256(pixels(img))
		if img.W != g.Width || img.H != g.Height || hex.EncodeToString(sum[:]) != g.SHA256 {
			t.Errorf("%s: decodes to other pixels than PIL's (%d×%d, PIL %d×%d)", g.Entry, img.W, img.H, g.Width, g.Height)
		}
	}
	if len(golden.Images) != 397 {
		t.Errorf("%d JPEGs in the fixture, the dataset has 397", len(golden.Images))
	}
}
