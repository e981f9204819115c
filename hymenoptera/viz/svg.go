package viz

// SVG written by hand, for the figures that are not charts (the confusion matrix, a message in place of an empty
// gallery): a grid of counts and a table, or one line of text, with no axes, ticks or legend for a plotting
// library to draw.

import (
	"fmt"
	"html"
	"io"
	"math"
	"strconv"
)

// svgMargin is the blank border of the SVG files, in pixels.
const svgMargin = 12.0

// esc escapes text for SVG (XML) and HTML alike.
func esc(s string) string { return html.EscapeString(s) }

// num formats a coordinate to a tenth of a pixel, which is all a screen shows.
func num(v float64) string { return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64) }

// svgElement wraps body, drawn in a width×height box, in an <svg> element on a white background: what HTML
// embeds inline, and the root of the SVG files.
func svgElement(width, height float64, body string) string {
	return fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" `+
		`width="%s" height="%s" viewBox="0 0 %s %s" font-family="sans-serif" font-size="12">`+
		`<rect width="100%%" height="100%%" fill="#ffffff"/>%s</svg>`, num(width), num(height), num(width), num(height), body)
}

// writeSVGFile writes a standalone SVG file.
func writeSVGFile(w io.Writer, width, height float64, body string) error {
	// No XML declaration: the same text serves as a file and inline in HTML (nbconvert's export embeds SVG
	// outputs in the page, and its HTML cleaner refuses a declaration).
	_, err := io.WriteString(w, svgElement(width, height, body)+"\n")
	return err
}
