package viz

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"io"
	"math"
	"strconv"
	"strings"

	xfont "golang.org/x/image/font"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// The charts (training curves, run comparison, feature scatter, class probabilities) are drawn by
// gonum.org/v1/plot onto its SVG canvas: axes, ticks, grid lines and legends are its own. This file adds what the
// notebooks need on top: one SVG text that is a file and an inline element alike, and text placed beside the
// charts (figure titles, tables).

// sans is the typeface of every chart: plot's bundled Liberation Sans, whose metrics lay out the text. The SVG
// names the font without embedding it (small files); fontFallback lets a browser without it use a look-alike.
var sans = font.Font{Typeface: "Liberation", Variant: "Sans"}

const fontFallback = "font-family:'Liberation Sans',Arial,Helvetica,sans-serif;"

// textStyle is sans at size points, bold or not, in c.
func textStyle(size float64, bold bool, c color.Color) draw.TextStyle {
	f := sans
	if bold {
		f.Weight = xfont.WeightBold
	}
	f.Size = font.Length(size)
	return draw.TextStyle{Color: c, Font: f, Handler: plot.DefaultTextHandler}
}

// svgCanvas is a width×height points SVG canvas on a white background, laid out from its top-left corner as
// SVG is (vg's own origin is the bottom-left).
type svgCanvas struct {
	svg    *vgsvg.Canvas
	dc     draw.Canvas
	height float64
}

func newSVGCanvas(width, height float64) *svgCanvas {
	c := vgsvg.New(vg.Length(width), vg.Length(height))
	dc := draw.New(c)
	dc.FillPolygon(color.White, []vg.Point{{X: 0, Y: 0}, {X: vg.Length(width), Y: 0},
		{X: vg.Length(width), Y: vg.Length(height)}, {X: 0, Y: vg.Length(height)}})
	return &svgCanvas{svg: c, dc: dc, height: height}
}

// text writes s with its baseline at y points from the top, starting (xAlign draw.XLeft), centred (draw.XCenter)
// or ending (draw.XRight) at x.
func (c *svgCanvas) text(s string, x, y float64, xAlign draw.XAlignment, sty draw.TextStyle) {
	sty.XAlign = xAlign
	c.dc.FillText(sty, vg.Point{X: vg.Length(x), Y: vg.Length(c.height - y)}, s)
}

// line draws a thin dark line from (x0, y0) to (x1, y1), in points from the top-left corner.
func (c *svgCanvas) line(x0, y0, x1, y1 float64) {
	c.dc.StrokeLine2(draw.LineStyle{Color: color.Gray{Y: 0x33}, Width: vg.Points(0.8)},
		vg.Length(x0), vg.Length(c.height-y0), vg.Length(x1), vg.Length(c.height-y1))
}

// image draws img, one point a pixel, its top-left corner at (x, y) points from the canvas's.
func (c *svgCanvas) image(img image.Image, x, y float64) {
	size := img.Bounds().Size()
	bottom := c.height - y - float64(size.Y)
	c.dc.DrawImage(vg.Rectangle{Min: vg.Point{X: vg.Length(x), Y: vg.Length(bottom)},
		Max: vg.Point{X: vg.Length(x + float64(size.X)), Y: vg.Length(bottom + float64(size.Y))}}, img)
}

// plot draws p in the width×height box whose top-left corner is (x, y) points from the canvas's.
func (c *svgCanvas) plot(p *plot.Plot, x, y, width, height float64) {
	bottom := c.height - y - height
	box := draw.Crop(c.dc, vg.Length(x), vg.Length(x+width)-c.dc.Max.X, vg.Length(bottom),
		vg.Length(bottom+height)-c.dc.Max.Y)
	p.Draw(box)
}

// String returns the SVG document without the XML declaration and comment that vgsvg starts it with: the same
// text then serves as a file and inline in HTML (nbconvert's export embeds SVG outputs in the page, and its HTML
// cleaner refuses a declaration).
func (c *svgCanvas) String() (string, error) {
	var b bytes.Buffer
	if _, err := c.svg.WriteTo(&b); err != nil {
		return "", fmt.Errorf("drawing the SVG: %w", err)
	}
	s := b.String()
	start := strings.Index(s, "<svg")
	if start < 0 {
		return "", fmt.Errorf("the SVG canvas wrote no <svg> element")
	}
	s = strings.ReplaceAll(s[start:], "font-family:Liberation Sans;", fontFallback)
	// vgsvg (v0.17.0) embeds images as PNG but labels them image/jpg.
	return strings.ReplaceAll(s, `xlink:href="data:image/jpg;base64,`, `xlink:href="data:image/png;base64,`), nil
}

// renderSVG returns the SVG that draw returns. gonum.org/v1/plot panics on what it cannot draw (a font it cannot
// name, an image it cannot encode): such a panic comes back as an error, not into a notebook's cell.
func renderSVG(draw func() (string, error)) (s string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("viz: drawing a chart: %v", r)
		}
	}()
	return draw()
}

// writeSVG writes the SVG that draw returns, as a file.
func writeSVG(w io.Writer, draw func() (string, error)) error {
	s, err := renderSVG(draw)
	if err != nil {
		return err
	}
	_, err = io.WriteString(w, s+"\n")
	return err
}

// newPlot is a plot with the charts' typeface, a grid, and the legend at the top right.
func newPlot(title, xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = title, xLabel, yLabel
	for _, sty := range []*text.Style{&p.Title.TextStyle, &p.X.Label.TextStyle, &p.Y.Label.TextStyle,
		&p.X.Tick.Label, &p.Y.Tick.Label, &p.Legend.TextStyle} {
		sty.Font.Typeface, sty.Font.Variant = sans.Typeface, sans.Variant
	}
	p.Title.TextStyle.Font.Weight = xfont.WeightBold
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	return p
}

// roomForLegend stretches p's y axis upwards by a quarter, so that the legend, at the top, does not cover the
// data (matplotlib looks for the emptiest corner instead).
func roomForLegend(p *plot.Plot, lo, hi float64) {
	if hi > lo {
		p.Y.Min, p.Y.Max = lo, hi+0.25*(hi-lo)
	}
}

// swatch is a legend key: a block of the series' colour. Keys are blocks rather than a short line and a marker
// so that every line and circle in a chart is data.
type swatch struct{ color color.Color }

func (s swatch) Thumbnail(c *draw.Canvas) {
	c.FillPolygon(s.color, []vg.Point{c.Min, {X: c.Max.X, Y: c.Min.Y}, c.Max, {X: c.Min.X, Y: c.Max.Y}})
}

// series is one curve of a line chart.
type series struct {
	label, color string
	x, y         []float64
}

// lineChart is a chart of curves against a common x axis, with a title, axis labels, ticks, grid lines and a
// legend.
type lineChart struct {
	title, xLabel, yLabel string
	series                []series
	// integerX keeps x ticks on whole numbers (epochs); percentY labels y ticks, fractions, as percentages.
	integerX, percentY bool
	// pointsOnly draws each series as markers without the line joining them: a scatter plot.
	pointsOnly bool
}

// plot builds the chart. Points that are not finite (a diverged loss) are left out of the curves.
func (c lineChart) plot() (*plot.Plot, error) {
	p := newPlot(c.title, c.xLabel, c.yLabel)
	if c.integerX {
		p.X.Tick.Marker = integerTicks{}
	}
	if c.percentY {
		p.Y.Tick.Marker = percentTicks{}
	}
	for _, s := range c.series {
		var xys plotter.XYs
		for i := range s.x {
			if finite(s.x[i]) && finite(s.y[i]) {
				xys = append(xys, plotter.XY{X: s.x[i], Y: s.y[i]})
			}
		}
		clr := parseHexColor(s.color)
		p.Legend.Add(s.label, swatch{clr})
		if len(xys) == 0 {
			continue
		}
		points, err := plotter.NewScatter(xys)
		if err != nil {
			return nil, fmt.Errorf("chart %q, %s: %w", c.title, s.label, err)
		}
		points.GlyphStyle = draw.GlyphStyle{Color: clr, Radius: vg.Points(3), Shape: draw.CircleGlyph{}}
		if !c.pointsOnly {
			line, err := plotter.NewLine(xys)
			if err != nil {
				return nil, fmt.Errorf("chart %q, %s: %w", c.title, s.label, err)
			}
			line.LineStyle = draw.LineStyle{Color: clr, Width: vg.Points(2)}
			p.Add(line)
		}
		p.Add(points)
	}
	if _, _, yLo, yHi := c.dataRanges(); len(c.series) > 0 {
		roomForLegend(p, yLo, yHi)
	}
	return p, nil
}

// dataRanges returns the extent of the finite points of every curve; [0, 1] on an axis without any.
func (c lineChart) dataRanges() (xLo, xHi, yLo, yHi float64) {
	xLo, yLo = math.Inf(1), math.Inf(1)
	xHi, yHi = math.Inf(-1), math.Inf(-1)
	for _, s := range c.series {
		for i := range s.x {
			if finite(s.x[i]) && finite(s.y[i]) {
				xLo, xHi = min(xLo, s.x[i]), max(xHi, s.x[i])
				yLo, yHi = min(yLo, s.y[i]), max(yHi, s.y[i])
			}
		}
	}
	if xLo > xHi {
		return 0, 1, 0, 1
	}
	return xLo, xHi, yLo, yHi
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// integerTicks are plot's default ticks kept to whole numbers, for epochs: at least every whole number of a
// short range.
type integerTicks struct{}

func (integerTicks) Ticks(lo, hi float64) []plot.Tick {
	if hi-lo <= 6 {
		var ticks []plot.Tick
		for v := math.Ceil(lo); v <= hi; v++ {
			ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', 0, 64)})
		}
		return ticks
	}
	var ticks []plot.Tick
	for _, t := range (plot.DefaultTicks{}).Ticks(lo, hi) {
		if t.Value == math.Trunc(t.Value) {
			ticks = append(ticks, t)
		}
	}
	return ticks
}

// percentTicks are plot's default ticks on fractions, labelled as percentages.
type percentTicks struct{}

func (percentTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := (plot.DefaultTicks{}).Ticks(lo, hi)
	for i, t := range ticks {
		if t.Label != "" {
			ticks[i].Label = strconv.FormatFloat(math.Round(100*t.Value*1e6)/1e6, 'f', -1, 64) + "%"
		}
	}
	return ticks
}
