package nbcheck

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// CheckSaved runs the checks that every saved notebook, committed or executed, must pass: its file size, its
// cells' outputs and its language_info. It reports every failure, each naming path.
func CheckSaved(path string, nb *Notebook) error {
	var problems []error
	for _, err := range []error{CheckSize(path), nb.CheckCellOutputs(), nb.CheckLanguageInfo()} {
		if err != nil {
			problems = append(problems, fmt.Errorf("%s: %w", path, err))
		}
	}
	return errors.Join(problems...)
}

// hangulCheckTimeout bounds the Hangul rendering check: two headless Chromium runs on tiny local pages.
const hangulCheckTimeout = 3 * time.Minute

// CheckExport runs the checks of an executed notebook (at path) and its HTML export beyond the images and the
// screenshot: CheckSaved, Go highlighting in the export and, when the notebook has Korean text, that headless
// Chromium (browser) renders Hangul as glyphs.
func CheckExport(path string, nb *Notebook, html []byte, browser string) error {
	problems := []error{CheckSaved(path, nb)}
	if err := CheckGoHighlighting(nb, html); err != nil {
		problems = append(problems, err)
	}
	if nb.HasHangul() {
		ctx, cancel := context.WithTimeout(context.Background(), hangulCheckTimeout)
		defer cancel()
		if err := CheckHangulRendering(ctx, browser); err != nil {
			problems = append(problems, fmt.Errorf("the notebook has Korean text: %w", err))
		}
	}
	return errors.Join(problems...)
}
