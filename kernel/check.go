package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/hymenoptera-go/tutorial/kernel/nbcheck"
)

func runCheck(args []string, stdout io.Writer) error {
	fs := newFlagSet("check", "[--min-images N] [--screenshot] EXECUTED.ipynb [EXPORT.html]")
	minImages := fs.Int("min-images", 0, "fail unless the notebook displays at least `N` images")
	screenshot := fs.Bool("screenshot", false, "screenshot the HTML export with headless Chromium (to "+
		"EXPORT.png) and fail if it is blank")
	positional, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(positional) == 0 || len(positional) > 2 {
		return fmt.Errorf("%w: want an executed notebook and, optionally, its HTML export", errUsage)
	}
	if *screenshot && len(positional) < 2 {
		return fmt.Errorf("%w: --screenshot needs the HTML export", errUsage)
	}
	nb, err := nbcheck.Load(positional[0])
	if err != nil {
		return err
	}
	if failure := nb.FirstFailure(); failure != nil {
		return fmt.Errorf("%s: %w", positional[0], failure)
	}
	images := len(nb.Images())
	if len(positional) == 1 {
		if images < *minImages {
			return fmt.Errorf("%s displays %d image(s), want at least %d", positional[0], images, *minImages)
		}
		fmt.Fprintf(stdout, "ok %s: %d code cells ran, %d image(s)\n", positional[0], nb.CodeCells(), images)
		return nil
	}
	htmlPath := positional[1]
	html, err := os.ReadFile(htmlPath)
	if err != nil {
		return err
	}
	if _, err := nbcheck.CheckImages(nb, html, *minImages); err != nil {
		return fmt.Errorf("%s: %w", htmlPath, err)
	}
	fmt.Fprintf(stdout, "ok %s: %d code cells ran, %d image(s), all in %s\n", positional[0], nb.CodeCells(), images,
		htmlPath)
	if !*screenshot {
		return nil
	}
	browser, err := ensureBrowser(nbcheck.FindBrowser, stdout)
	if err != nil {
		return err
	}
	return checkScreenshot(browser, htmlPath, strings.TrimSuffix(htmlPath, ".html")+".png", stdout)
}

// screenshotTimeout bounds one headless Chromium run; a local page renders in seconds.
const screenshotTimeout = 2 * time.Minute

// checkScreenshot fails if an HTML export loads anything from outside itself (it would render only where it was
// exported), then screenshots it with headless Chromium and fails if the picture is blank.
func checkScreenshot(browser, htmlPath, pngPath string, log io.Writer) error {
	page, err := os.ReadFile(htmlPath)
	if err != nil {
		return err
	}
	if err := nbcheck.CheckSelfContained(page); err != nil {
		return fmt.Errorf("%s: %w", htmlPath, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), screenshotTimeout)
	defer cancel()
	if err := nbcheck.Screenshot(ctx, browser, htmlPath, pngPath); err != nil {
		return err
	}
	stats, err := nbcheck.CheckScreenshot(pngPath)
	if err != nil {
		return err
	}
	fmt.Fprintf(log, "     screenshot %s: %s\n", pngPath, stats)
	return nil
}
