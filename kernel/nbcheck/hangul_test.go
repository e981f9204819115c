package nbcheck

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestHasHangul(t *testing.T) {
	if nb := mustParse(t, notebookJSON(markdownCell, okCell)); nb.HasHangul() {
		t.Error("an English notebook has Hangul")
	}
	korean := `{"cell_type": "markdown", "metadata": {}, "source": "# 전이학습"}`
	if nb := mustParse(t, notebookJSON(korean, okCell)); !nb.HasHangul() {
		t.Error("a Korean notebook has no Hangul")
	}
}

// browserForTest returns headless Chromium, skipping the test without one, except under CI (CI=true), where a
// missing browser fails it.
func browserForTest(t *testing.T) string {
	t.Helper()
	browser, err := FindBrowser()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skipf("%v (Debian: apt-get install chromium)", err)
	}
	return browser
}

// TestHangulRenderingNeedsAKoreanFont renders with this machine's fonts (which must include a Korean one: CI
// installs fonts-noto-cjk), then with a fontconfig configuration that offers only DejaVu Sans, which has no Hangul:
// there the font check and the glyph comparison must both fail.
func TestHangulRenderingNeedsAKoreanFont(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts Chromium")
	}
	browser := browserForTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	if err := CheckHangulRendering(ctx, browser); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skipf("this machine cannot render Hangul: %v", err)
	}

	dejavu := "/usr/share/fonts/truetype/dejavu"
	if _, err := os.Stat(dejavu); err != nil {
		t.Skipf("no %s to build a font set without Hangul from", dejavu)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "fonts.conf")
	if err := os.WriteFile(conf, []byte(`<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig><dir>`+dejavu+`</dir><cachedir>`+filepath.Join(dir, "cache")+`</cachedir></fontconfig>`), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("FONTCONFIG_FILE", conf)
	if err := CheckKoreanFont(ctx); err == nil || !strings.Contains(err.Error(), "no Korean font") {
		t.Errorf("CheckKoreanFont with DejaVu only = %v", err)
	}
	err := checkHangulGlyphs(ctx, browser, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "missing glyphs") {
		t.Errorf("checkHangulGlyphs with DejaVu only = %v, want Hangul drawn as missing glyphs", err)
	}
}
