package nbcheck

import (
	"fmt"
	"regexp"
	"strings"
)

// Image is one image a notebook displays.
type Image struct {
	Cell int    // index of the cell whose output shows it
	MIME string // the output's MIME type: "image/png", "image/jpeg", "image/svg+xml" or "text/html"
	// Data is what identifies the image in an HTML page: the base64 payload of a raster image, the data: URI of
	// an <img> in HTML output, or the markup of an SVG.
	Data string
}

// displayPriority is the order in which nbconvert's HTML exporter (and JupyterLab) pick the one representation of
// a multi-MIME output that they show; an output's images are those of that representation.
var displayPriority = []string{
	"application/vnd.jupyter.widget-view+json",
	"application/javascript",
	"text/html",
	"text/markdown",
	"image/svg+xml",
	"text/latex",
	"image/png",
	"image/jpeg",
	"text/plain",
}

var (
	// htmlDataImage matches <img> tags whose source is an inline data: URI, the way GoNB and most Go plotting
	// code embed images in HTML output (gonbui.EmbedImageAsPNGSrc).
	htmlDataImage = regexp.MustCompile(`(?is)<img\b[^>]*?\bsrc\s*=\s*["'](data:image/[^"']+)["']`)
	// svgTag matches the opening and closing tags of SVG elements (gonbui.DisplaySVG wraps SVG in HTML).
	svgTag = regexp.MustCompile(`(?i)<(/?)svg\b[^>]*>`)
)

// Images lists the images the notebook displays, in cell order: image/png and image/jpeg outputs, SVG outputs,
// and, in HTML outputs, <img> tags with data: URIs and inline <svg> elements.
func (nb *Notebook) Images() []Image {
	var images []Image
	for i, cell := range nb.Cells {
		for _, out := range cell.Outputs {
			if out.Type != "display_data" && out.Type != "execute_result" {
				continue
			}
			mime := shownMIME(out)
			payload := out.Payload(mime)
			switch mime {
			case "image/png", "image/jpeg":
				images = append(images, Image{Cell: i, MIME: mime, Data: strings.Join(strings.Fields(payload), "")})
			case "image/svg+xml":
				images = append(images, Image{Cell: i, MIME: mime, Data: payload})
			case "text/html":
				for _, m := range htmlDataImage.FindAllStringSubmatch(payload, -1) {
					images = append(images, Image{Cell: i, MIME: mime, Data: m[1]})
				}
				for _, svg := range topLevelSVGs(payload) {
					images = append(images, Image{Cell: i, MIME: mime, Data: svg})
				}
			}
		}
	}
	return images
}

// shownMIME returns the MIME type of the representation that a front-end shows for out.
func shownMIME(out Output) string {
	for _, mime := range displayPriority {
		if _, ok := out.Data[mime]; ok {
			return mime
		}
	}
	return ""
}

// topLevelSVGs returns the markup of the outermost <svg> elements in html (nested ones are part of their parent).
func topLevelSVGs(html string) []string {
	var svgs []string
	depth, start := 0, 0
	for _, loc := range svgTag.FindAllStringSubmatchIndex(html, -1) {
		closing := loc[3] > loc[2]
		selfClosing := strings.HasSuffix(html[loc[0]:loc[1]], "/>")
		switch {
		case closing && depth > 0:
			depth--
			if depth == 0 {
				svgs = append(svgs, html[start:loc[1]])
			}
		case !closing && depth == 0 && selfClosing:
			svgs = append(svgs, html[loc[0]:loc[1]])
		case !closing && !selfClosing:
			if depth == 0 {
				start = loc[0]
			}
			depth++
		}
	}
	return svgs
}

// MissingFromHTML returns the images that the HTML export of their notebook does not contain. Whitespace is
// ignored on both sides, since exporters re-wrap base64 payloads and markup. An export that drops or rewrites an
// image (nbconvert's HTML cleaner strips the content of image/svg+xml outputs, for one) reports it here.
func MissingFromHTML(images []Image, html []byte) []Image {
	page := strings.Join(strings.Fields(string(html)), "")
	var missing []Image
	for _, img := range images {
		if !strings.Contains(page, strings.Join(strings.Fields(img.Data), "")) {
			missing = append(missing, img)
		}
	}
	return missing
}

// CheckImages verifies that the notebook displays at least minImages images and that its HTML export contains
// every one of them. It returns the number of images found.
func CheckImages(nb *Notebook, html []byte, minImages int) (int, error) {
	images := nb.Images()
	if len(images) < minImages {
		return len(images), fmt.Errorf("the notebook displays %d image(s), want at least %d", len(images), minImages)
	}
	if missing := MissingFromHTML(images, html); len(missing) > 0 {
		var where []string
		for _, img := range missing {
			where = append(where, fmt.Sprintf("cell %d (%s)", img.Cell, img.MIME))
		}
		return len(images), fmt.Errorf("the HTML export lacks %d of the notebook's %d image(s): %s",
			len(missing), len(images), strings.Join(where, ", "))
	}
	return len(images), nil
}
