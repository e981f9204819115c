package nbcheck

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

func encodePNG(t *testing.T, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func filled(w, h int, c color.Color) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, c)
		}
	}
	return img
}

// page draws a white page with dark "text lines": one 2-pixel stroke every 8 rows over half the width, about the
// ink of a short notebook.
func page(w, h int) *image.RGBA {
	img := filled(w, h, color.White)
	for y := 20; y < h/4; y += 8 {
		for x := 40; x < w/2; x++ {
			if (x/6)%2 == 0 { // letters and gaps
				img.Set(x, y, color.Black)
				img.Set(x, y+1, color.Black)
			}
		}
	}
	return img
}

func TestBlankVersusRenderedPage(t *testing.T) {
	const w, h = 320, 500
	speck := filled(w, h, color.White)
	speck.Set(10, 10, color.Black)
	for _, tc := range []struct {
		name  string
		img   image.Image
		blank bool
	}{
		{"white page", filled(w, h, color.White), true},
		{"one grey colour", filled(w, h, color.RGBA{200, 200, 200, 255}), true},
		{"a single dark pixel", speck, true},
		{"a page of text", page(w, h), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stats, err := MeasurePNG(encodePNG(t, tc.img))
			if err != nil {
				t.Fatal(err)
			}
			if stats.Blank() != tc.blank {
				t.Errorf("Blank() = %v for %s (%s)", stats.Blank(), tc.name, stats)
			}
		})
	}
}

func TestMeasureCountsNonWhiteShare(t *testing.T) {
	img := filled(10, 10, color.White)
	for x := 0; x < 10; x++ {
		img.Set(x, 0, color.Black) // 10 of 100 pixels
	}
	stats := Measure(img)
	if stats.NonWhiteShare != 0.1 {
		t.Errorf("NonWhiteShare = %v, want 0.1", stats.NonWhiteShare)
	}
	// Luminance is 0 for 10% of pixels and 255 for the rest: std-dev = 255·sqrt(0.1·0.9) = 76.5.
	if stats.LumaStdDev < 76.4 || stats.LumaStdDev > 76.6 {
		t.Errorf("LumaStdDev = %v, want 76.5", stats.LumaStdDev)
	}
}

func TestCheckScreenshot(t *testing.T) {
	dir := t.TempDir()
	blank := filepath.Join(dir, "blank.png")
	rendered := filepath.Join(dir, "page.png")
	notPNG := filepath.Join(dir, "broken.png")
	for path, data := range map[string][]byte{
		blank:    encodePNG(t, filled(100, 100, color.White)),
		rendered: encodePNG(t, page(320, 500)),
		notPNG:   []byte("<html>"),
	} {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := CheckScreenshot(blank); err == nil {
		t.Error("CheckScreenshot accepted a blank page")
	}
	if _, err := CheckScreenshot(notPNG); err == nil {
		t.Error("CheckScreenshot accepted a file that is not a PNG")
	}
	if stats, err := CheckScreenshot(rendered); err != nil {
		t.Errorf("CheckScreenshot(rendered page) = %v (%s)", err, stats)
	}
}
