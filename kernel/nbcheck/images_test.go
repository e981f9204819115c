package nbcheck

import (
	"fmt"
	"strings"
	"testing"
)

// pngPayload is a base64 PNG payload as Jupyter stores it: wrapped, with a trailing newline.
const pngPayload = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==\n"

func displayCell(data string) string {
	return fmt.Sprintf(`{"cell_type": "code", "execution_count": 1, "metadata": {}, "source": "x",
		"outputs": [{"output_type": "display_data", "metadata": {}, "data": %s}]}`, data)
}

func TestImagesFromEachKindOfOutput(t *testing.T) {
	nb := mustParse(t, notebookJSON(
		okCell,
		displayCell(`{"image/png": "`+strings.ReplaceAll(pngPayload, "\n", `\n`)+`", "text/plain": "<Figure>"}`),
		// GoNB's gonbui.DisplayHTML with an embedded PNG, and gonbui.DisplaySVG's <div><svg>…</svg></div>.
		displayCell(`{"text/html": ["<p>plot</p><img width=\"10\" src=\"data:image/png;base64,AAAA\">\n",
			"<div><svg width=\"4\"><g><svg><rect/></svg></g></svg></div><svg/>"]}`),
		displayCell(`{"image/svg+xml": "<svg><circle r=\"1\"/></svg>"}`),
		// A text/html representation wins over image/png in nbconvert and JupyterLab: no image is shown.
		displayCell(`{"text/html": "<b>table</b>", "image/png": "AAAA"}`),
		displayCell(`{"application/json": {"a": 1}}`),
	))
	images := nb.Images()
	var got []string
	for _, img := range images {
		got = append(got, fmt.Sprintf("%d %s %s", img.Cell, img.MIME, img.Data))
	}
	want := []string{
		"1 image/png " + strings.TrimSpace(pngPayload),
		"2 text/html data:image/png;base64,AAAA",
		`2 text/html <svg width="4"><g><svg><rect/></svg></g></svg>`,
		"2 text/html <svg/>",
		`3 image/svg+xml <svg><circle r="1"/></svg>`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Images() =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestNotebookWithoutImages(t *testing.T) {
	nb := mustParse(t, notebookJSON(markdownCell, okCell, displayCell(`{"text/html": "<table></table>"}`)))
	if images := nb.Images(); len(images) != 0 {
		t.Errorf("Images() = %v, want none", images)
	}
	if _, err := CheckImages(nb, []byte("<html></html>"), 1); err == nil {
		t.Error("CheckImages with --min-images 1 accepted a notebook without images")
	}
	if n, err := CheckImages(nb, []byte("<html></html>"), 0); err != nil || n != 0 {
		t.Errorf("CheckImages(min 0) = %d, %v", n, err)
	}
}

func TestMissingFromHTML(t *testing.T) {
	nb := mustParse(t, notebookJSON(
		displayCell(`{"image/png": "`+strings.ReplaceAll(pngPayload, "\n", `\n`)+`"}`),
		displayCell(`{"text/html": "<img src=\"data:image/gif;base64,R0lGOD\">"}`)))
	images := nb.Images()
	if len(images) != 2 {
		t.Fatalf("Images() found %d, want 2", len(images))
	}
	// nbconvert writes the payload inside an <img> tag, possibly re-wrapped.
	wrapped := pngPayload[:20] + "\n   " + pngPayload[20:]
	full := `<img src="data:image/png;base64,` + wrapped + `"><div><img src="data:image/gif;base64,R0lGOD"></div>`
	if missing := MissingFromHTML(images, []byte(full)); len(missing) != 0 {
		t.Errorf("MissingFromHTML(full export) = %v, want none", missing)
	}
	if n, err := CheckImages(nb, []byte(full), 2); err != nil || n != 2 {
		t.Errorf("CheckImages(full export) = %d, %v", n, err)
	}

	withoutGIF := `<img src="data:image/png;base64,` + pngPayload + `">`
	missing := MissingFromHTML(images, []byte(withoutGIF))
	if len(missing) != 1 || missing[0].Cell != 1 {
		t.Errorf("MissingFromHTML(export without the GIF) = %v, want cell 1's image", missing)
	}
	_, err := CheckImages(nb, []byte(withoutGIF), 0)
	if err == nil || !strings.Contains(err.Error(), "cell 1 (text/html)") {
		t.Errorf("CheckImages(export without the GIF) = %v, want it to name cell 1", err)
	}
}

// nbconvert's HTML cleaner empties image/svg+xml outputs (<svg width="10"></svg>): the check must notice.
func TestMissingFromHTMLNoticesEmptiedSVG(t *testing.T) {
	nb := mustParse(t, notebookJSON(displayCell(`{"image/svg+xml": "<svg width=\"10\"><rect x=\"1\"/></svg>"}`)))
	if missing := MissingFromHTML(nb.Images(), []byte(`<div><svg width="10"></svg></div>`)); len(missing) != 1 {
		t.Errorf("MissingFromHTML = %v, want the emptied SVG", missing)
	}
}
