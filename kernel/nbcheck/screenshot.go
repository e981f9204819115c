package nbcheck

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
)

// PixelStats summarises a screenshot: how much of it is not (near-)white, and how much its brightness varies.
// A page that failed to render, or rendered nothing, is uniformly white (or uniformly one colour).
type PixelStats struct {
	Width, Height int
	NonWhiteShare float64 // fraction of pixels darker than nearWhite in any channel
	LumaStdDev    float64 // standard deviation of the luminance, 0–255
}

const (
	// nearWhite is the 8-bit channel value below which a pixel counts as ink rather than page background.
	nearWhite = 245
	// minNonWhiteShare and minLumaStdDev are the least ink a rendered notebook page has: one short line of text
	// on a 1280×2000 page is already above both, an empty or single-colour page is below.
	minNonWhiteShare = 0.002
	minLumaStdDev    = 2.0
)

// Blank reports whether the screenshot shows (next to) nothing.
func (s PixelStats) Blank() bool {
	return s.NonWhiteShare < minNonWhiteShare || s.LumaStdDev < minLumaStdDev
}

func (s PixelStats) String() string {
	return fmt.Sprintf("%d×%d, %.2f%% non-white pixels, luminance std-dev %.1f",
		s.Width, s.Height, 100*s.NonWhiteShare, s.LumaStdDev)
}

// MeasurePNG decodes a PNG and computes its PixelStats.
func MeasurePNG(data []byte) (PixelStats, error) {
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		return PixelStats{}, fmt.Errorf("not a PNG image: %w", err)
	}
	return Measure(img), nil
}

// Measure computes the PixelStats of an image.
func Measure(img image.Image) PixelStats {
	bounds := img.Bounds()
	stats := PixelStats{Width: bounds.Dx(), Height: bounds.Dy()}
	n := float64(bounds.Dx() * bounds.Dy())
	if n == 0 {
		return stats
	}
	var nonWhite int
	var sum, sumSq float64
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA() // 16-bit channels
			r8, g8, b8 := float64(r>>8), float64(g>>8), float64(b>>8)
			if r8 < nearWhite || g8 < nearWhite || b8 < nearWhite {
				nonWhite++
			}
			luma := 0.299*r8 + 0.587*g8 + 0.114*b8
			sum += luma
			sumSq += luma * luma
		}
	}
	mean := sum / n
	stats.NonWhiteShare = float64(nonWhite) / n
	stats.LumaStdDev = math.Sqrt(math.Max(0, sumSq/n-mean*mean))
	return stats
}

// CheckScreenshot reads a PNG screenshot and fails when it is blank.
func CheckScreenshot(pngPath string) (PixelStats, error) {
	data, err := os.ReadFile(pngPath)
	if err != nil {
		return PixelStats{}, err
	}
	stats, err := MeasurePNG(data)
	if err != nil {
		return stats, fmt.Errorf("%s: %w", pngPath, err)
	}
	if stats.Blank() {
		return stats, fmt.Errorf("screenshot %s is blank (%s)", pngPath, stats)
	}
	return stats, nil
}

// Browsers are the executables FindBrowser looks for, in order: Debian's chromium first.
var Browsers = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// ErrNoBrowser is returned by FindBrowser when no headless-capable browser is installed.
var ErrNoBrowser = errors.New("no Chromium or Chrome on PATH")

// FindBrowser returns the path of the first of Browsers found on PATH.
func FindBrowser() (string, error) {
	for _, name := range Browsers {
		if path, err := exec.LookPath(name); err == nil {
			return path, nil
		}
	}
	return "", ErrNoBrowser
}

// ScreenshotWidth and ScreenshotHeight are the window the screenshot is taken in: a desktop width, and tall enough to show the first
// cells of a notebook.
const ScreenshotWidth, ScreenshotHeight = 1280, 2000

// Screenshot renders htmlPath in headless Chromium and writes a PNG of the page to pngPath. The browser runs with a
// throw-away profile and without background network traffic; root needs --no-sandbox.
func Screenshot(ctx context.Context, browser, htmlPath, pngPath string) error {
	htmlAbs, err := filepath.Abs(htmlPath)
	if err != nil {
		return err
	}
	pngAbs, err := filepath.Abs(pngPath)
	if err != nil {
		return err
	}
	profile, err := os.MkdirTemp("", "nbcheck-chromium-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(profile)
	// Write next to the destination and rename, so that a killed browser never leaves a truncated PNG behind.
	tmp := pngAbs + ".tmp.png"
	defer os.Remove(tmp)
	cmd := exec.CommandContext(ctx, browser,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
		"--user-data-dir="+profile,
		"--screenshot="+tmp,
		fmt.Sprintf("--window-size=%d,%d", ScreenshotWidth, ScreenshotHeight),
		"file://"+htmlAbs)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s failed: %w\n%s", browser, err, tail(out, 2000))
	}
	if _, err := os.Stat(tmp); err != nil {
		return fmt.Errorf("%s wrote no screenshot of %s:\n%s", browser, htmlPath, tail(out, 2000))
	}
	return os.Rename(tmp, pngAbs)
}

// tail returns the last max bytes of out.
func tail(out []byte, max int) string {
	if len(out) > max {
		out = out[len(out)-max:]
	}
	return string(out)
}
