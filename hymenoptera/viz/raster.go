package viz

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	plan9 "image/color/palette"
	"image/draw"
	"image/png"
	"io"
	"slices"
	"strings"

	xdraw "golang.org/x/image/draw"
	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// Caption colours: plain text, and a prediction that matches, or contradicts, the true class.
const (
	textColor  = "#000000"
	rightColor = "#1a7f37"
	wrongColor = "#cf222e"
)

// textLine is one line of a caption, in a colour given as "#rrggbb".
type textLine struct {
	text, color string
}

// panel is one image with caption lines above it, as a matplotlib subplot with a title.
type panel struct {
	image   image.Image
	caption []textLine
}

// panelGrid is a raster figure: panels cols to a row, under an optional title. Imshow's figure is one panel,
// visualize_model's a column pair per row. Everything is drawn into one PNG, with the 7×13 pixel font of
// golang.org/x/image/font/basicfont.
//
// These figures are images with captions, not charts: no axes, ticks or legends, so they are composed here,
// pixel by pixel, rather than drawn with gonum.org/v1/plot, whose charts would have to hide their axes.
type panelGrid struct {
	name, title string
	panels      []panel
	cols        int
}

func (g *panelGrid) Name() string { return g.name }
func (g *panelGrid) Ext() string  { return ".png" }

func (g *panelGrid) validate() error {
	if len(g.panels) == 0 {
		return errors.New("the figure has no image")
	}
	for i, p := range g.panels {
		if p.image == nil {
			return fmt.Errorf("image %d is nil", i)
		}
	}
	return nil
}

// Encode writes the figure as one PNG of 256 colours: Plan 9's palette of colours and greys, with the captions'
// colours in it exactly, the photographs dithered (Floyd–Steinberg). That is a third of a true-colour file's
// size, what keeps a notebook of a dozen photograph figures under a megabyte.
func (g *panelGrid) Encode(w io.Writer) error {
	if err := g.validate(); err != nil {
		return err
	}
	rgba := g.render()
	img := image.NewPaletted(rgba.Bounds(), figurePalette)
	xdraw.FloydSteinberg.Draw(img, img.Bounds(), rgba, image.Point{})
	encoder := png.Encoder{CompressionLevel: png.BestCompression}
	return encoder.Encode(w, img)
}

// figurePalette is Plan 9's 256 colours with the last entries replaced by the captions' colours, so that text
// keeps its exact colour.
var figurePalette = func() color.Palette {
	p := slices.Clone(color.Palette(plan9.Plan9))
	for i, c := range []string{textColor, rightColor, wrongColor} {
		p[len(p)-2-i] = parseHexColor(c) // the last entry, white, stays
	}
	return p
}()

// Layout of the PNG form, in pixels.
const (
	margin     = 8  // around the figure
	gap        = 12 // between panels
	lineHeight = 15 // a line of basicfont text (13 pixels) and its leading
)

// render draws the figure: the title, then rows of panels, each column as wide as the widest image.
func (g *panelGrid) render() *image.RGBA {
	cols := min(g.cols, len(g.panels))
	cellW := 0
	for _, p := range g.panels {
		cellW = max(cellW, p.image.Bounds().Dx())
	}
	width := 2*margin + cols*cellW + (cols-1)*gap
	title := wrapText(g.title, width-2*margin)

	type row struct{ captionH, imageH int }
	rows := make([]row, (len(g.panels)+cols-1)/cols)
	for i, p := range g.panels {
		r := &rows[i/cols]
		lines := 0
		for _, line := range p.caption {
			lines += len(wrapText(line.text, cellW))
		}
		r.captionH = max(r.captionH, lines*lineHeight)
		r.imageH = max(r.imageH, p.image.Bounds().Dy())
	}
	height := 2*margin + len(title)*lineHeight + (len(rows)-1)*gap
	if len(title) > 0 {
		height += gap
	}
	for _, r := range rows {
		height += r.captionH + r.imageH
	}

	dst := image.NewRGBA(image.Rect(0, 0, width, height))
	draw.Draw(dst, dst.Bounds(), image.White, image.Point{}, draw.Src)
	y := margin
	for _, line := range title {
		drawText(dst, line, margin, width-2*margin, y, textColor)
		y += lineHeight
	}
	if len(title) > 0 {
		y += gap
	}
	for i, p := range g.panels {
		r := rows[i/cols]
		x := margin + (i%cols)*(cellW+gap)
		lineY := y
		for _, line := range p.caption {
			for _, wrapped := range wrapText(line.text, cellW) {
				drawText(dst, wrapped, x, cellW, lineY, line.color)
				lineY += lineHeight
			}
		}
		b := p.image.Bounds()
		at := image.Pt(x+(cellW-b.Dx())/2, y+r.captionH)
		draw.Draw(dst, b.Sub(b.Min).Add(at), p.image, b.Min, draw.Over)
		if i%cols == cols-1 || i == len(g.panels)-1 {
			y += r.captionH + r.imageH + gap
		}
	}
	return dst
}

var face = basicfont.Face7x13

// textWidth is the width in pixels of s in the PNG font.
func textWidth(s string) int { return font.MeasureString(face, s).Round() }

// wrapText breaks s into lines no wider than width pixels, between words where it can.
func wrapText(s string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(s) {
		switch {
		case line == "":
			line = word
		case textWidth(line+" "+word) <= width:
			line += " " + word
		default:
			lines = append(lines, line)
			line = word
		}
		for textWidth(line) > width && len([]rune(line)) > 1 {
			runes := []rune(line)
			cut := max(1, width/face.Advance)
			lines = append(lines, string(runes[:cut]))
			line = string(runes[cut:])
		}
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}

// drawText draws one line of text centred in the span [x, x+width), its top at y.
func drawText(dst draw.Image, s string, x, width, y int, hexColor string) {
	d := font.Drawer{Dst: dst, Src: image.NewUniform(parseHexColor(hexColor)), Face: face}
	d.Dot = fixed.P(x+(width-textWidth(s))/2, y+face.Ascent)
	d.DrawString(s)
}

// parseHexColor reads the "#rrggbb" colours of this package.
func parseHexColor(s string) color.RGBA {
	var r, g, b uint8
	fmt.Sscanf(s, "#%02x%02x%02x", &r, &g, &b)
	return color.RGBA{R: r, G: g, B: b, A: 255}
}
