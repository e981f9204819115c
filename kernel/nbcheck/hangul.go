package nbcheck

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"unicode"
)

// HasHangul reports whether any cell's source contains Hangul (the Korean notebook's prose and comments).
func (nb *Notebook) HasHangul() bool {
	for _, cell := range nb.Cells {
		for _, r := range cell.Source.String() {
			if unicode.Is(unicode.Hangul, r) {
				return true
			}
		}
	}
	return false
}

// FontAptPackages are the Debian packages that give Chromium Hangul glyphs.
var FontAptPackages = []string{"fonts-noto-cjk"}

const (
	// hangulSample is the Korean text the rendering check draws, without spaces: with no Korean font, every one
	// of its characters becomes a box.
	hangulSample = "전이학습튜토리얼"
	// tofuRune is an unassigned code point: no font has a glyph for it, so every browser draws the "missing
	// glyph" box (tofu) that Hangul also turns into when no Korean font is installed.
	tofuRune = '\u0378'
)

// CheckHangulRendering fails unless fontconfig knows a Korean font and headless Chromium draws Hangul as glyphs:
// it renders hangulSample and a string of as many unassigned code points, which can only show missing-glyph
// boxes, and fails when the two pictures are identical (Hangul became boxes too) or the Hangul one has no ink.
// The two pages and their screenshots stay in a temporary directory, which the error names, when the check fails.
func CheckHangulRendering(ctx context.Context, browser string) error {
	if err := CheckKoreanFont(ctx); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "nbcheck-hangul-*")
	if err != nil {
		return err
	}
	if err := checkHangulGlyphs(ctx, browser, dir); err != nil {
		return err
	}
	return os.RemoveAll(dir)
}

// CheckKoreanFont fails unless fontconfig, which Chromium finds its fonts with, lists a font for Korean.
func CheckKoreanFont(ctx context.Context) error {
	out, err := exec.CommandContext(ctx, "fc-list", ":lang=ko", "family").Output()
	if err != nil {
		return fmt.Errorf("fc-list :lang=ko: %w (Debian: apt-get install fontconfig %s)", err,
			strings.Join(FontAptPackages, " "))
	}
	if strings.TrimSpace(string(out)) == "" {
		return fmt.Errorf("fontconfig lists no Korean font (fc-list :lang=ko): Hangul would render as boxes "+
			"(Debian: apt-get install %s)", strings.Join(FontAptPackages, " "))
	}
	return nil
}

// checkHangulGlyphs compares Chromium's rendering of Hangul with its rendering of missing glyphs.
func checkHangulGlyphs(ctx context.Context, browser, workDir string) error {
	tofu := strings.Repeat(string(tofuRune), len([]rune(hangulSample)))
	hangulImg, err := renderText(ctx, browser, workDir, "hangul", hangulSample)
	if err != nil {
		return err
	}
	tofuImg, err := renderText(ctx, browser, workDir, "tofu", tofu)
	if err != nil {
		return err
	}
	if stats := Measure(hangulImg); stats.NonWhiteShare == 0 {
		return fmt.Errorf("Chromium drew no Hangul (%s): see %s", stats, filepath.Join(workDir, "hangul.png"))
	}
	if samePixels(hangulImg, tofuImg) {
		return fmt.Errorf("Chromium draws Hangul exactly like missing glyphs (boxes): no usable Korean font; "+
			"compare %s and %s", filepath.Join(workDir, "hangul.png"), filepath.Join(workDir, "tofu.png"))
	}
	return nil
}

// renderText screenshots a page that shows text large, in the browser's default sans-serif font, as notebooks'
// prose uses.
func renderText(ctx context.Context, browser, dir, name, text string) (image.Image, error) {
	page := `<!DOCTYPE html><html><head><meta charset="utf-8"></head>` +
		`<body style="margin:0;background:#fff"><p style="font:64px sans-serif;margin:40px">` +
		html.EscapeString(text) + `</p></body></html>`
	htmlPath := filepath.Join(dir, name+".html")
	pngPath := filepath.Join(dir, name+".png")
	if err := os.WriteFile(htmlPath, []byte(page), 0o644); err != nil {
		return nil, err
	}
	if err := Screenshot(ctx, browser, htmlPath, pngPath); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(pngPath)
	if err != nil {
		return nil, err
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", pngPath, err)
	}
	return img, nil
}

// samePixels reports whether two images have the same size and colours.
func samePixels(a, b image.Image) bool {
	if a.Bounds() != b.Bounds() {
		return false
	}
	for y := a.Bounds().Min.Y; y < a.Bounds().Max.Y; y++ {
		for x := a.Bounds().Min.X; x < a.Bounds().Max.X; x++ {
			if a.At(x, y) != b.At(x, y) {
				return false
			}
		}
	}
	return true
}
