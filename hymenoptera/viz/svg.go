package viz

import (
	"fmt"
	"html"
	"io"
	"math"
	"strconv"
	"strings"
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

// svg draws the chart in a width×height box at the origin. Points that are not finite (a diverged loss) are left
// out of the curves.
func (c lineChart) svg(width, height float64) string {
	const left, right, top, bottom = 62.0, 16.0, 48.0, 44.0
	x0, x1, y0, y1 := left, width-right, top, height-bottom
	xLo, xHi, yLo, yHi := c.dataRanges()
	xt := niceTicks(xLo, xHi, 6, c.integerX)
	yt := niceTicks(yLo, yHi, 5, false)
	px := func(v float64) float64 { return x0 + (v-xt.lo)/(xt.hi-xt.lo)*(x1-x0) }
	py := func(v float64) float64 { return y1 - (v-yt.lo)/(yt.hi-yt.lo)*(y1-y0) }

	var b strings.Builder
	fmt.Fprintf(&b, `<text x="%s" y="18" text-anchor="middle" font-size="14" font-weight="bold">%s</text>`,
		num(width/2), esc(c.title))
	legendX := x0
	for _, s := range c.series {
		fmt.Fprintf(&b, `<line x1="%s" y1="34" x2="%s" y2="34" stroke="%s" stroke-width="2"/>`,
			num(legendX), num(legendX+20), s.color)
		fmt.Fprintf(&b, `<text x="%s" y="38">%s</text>`, num(legendX+25), esc(s.label))
		legendX += 25 + 7*float64(len(s.label)) + 18
	}
	for _, v := range yt.values {
		fmt.Fprintf(&b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#e6e6e6"/>`, num(x0), num(py(v)), num(x1), num(py(v)))
		fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="end">%s</text>`, num(x0-6), num(py(v)+4), yt.label(v, c.percentY))
	}
	for _, v := range xt.values {
		fmt.Fprintf(&b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#e6e6e6"/>`, num(px(v)), num(y0), num(px(v)), num(y1))
		fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="middle">%s</text>`, num(px(v)), num(y1+16), xt.label(v, false))
	}
	fmt.Fprintf(&b, `<rect x="%s" y="%s" width="%s" height="%s" fill="none" stroke="#333333"/>`,
		num(x0), num(y0), num(x1-x0), num(y1-y0))
	fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="middle">%s</text>`, num((x0+x1)/2), num(height-8), esc(c.xLabel))
	fmt.Fprintf(&b, `<text transform="translate(16,%s) rotate(-90)" text-anchor="middle">%s</text>`,
		num((y0+y1)/2), esc(c.yLabel))
	for _, s := range c.series {
		var points, markers strings.Builder
		for i := range s.x {
			if !finite(s.x[i]) || !finite(s.y[i]) {
				continue
			}
			x, y := px(s.x[i]), py(s.y[i])
			if points.Len() > 0 {
				points.WriteByte(' ')
			}
			points.WriteString(num(x) + "," + num(y))
			fmt.Fprintf(&markers, `<circle cx="%s" cy="%s" r="3"/>`, num(x), num(y))
		}
		if points.Len() == 0 {
			continue
		}
		if !c.pointsOnly {
			fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`, s.color, points.String())
		}
		fmt.Fprintf(&b, `<g fill="%s">%s</g>`, s.color, markers.String())
	}
	return b.String()
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

// ticks are an axis's tick values, evenly spaced by a round step (1, 2 or 5 times a power of ten), and the
// axis's range, which starts and ends on a tick.
type ticks struct {
	values   []float64
	lo, hi   float64
	decimals int // of the step
}

// niceTicks picks about target ticks covering [lo, hi]; integer ones for an integer axis. An empty range is
// widened around its value.
func niceTicks(lo, hi float64, target int, integer bool) ticks {
	if hi <= lo {
		d := max(math.Abs(lo)*0.05, 0.05)
		if integer {
			d = 1
		}
		lo, hi = lo-d, hi+d
	}
	raw := (hi - lo) / float64(target)
	magnitude := math.Pow(10, math.Floor(math.Log10(raw)))
	step := 10 * magnitude
	for _, m := range []float64{1, 2, 5} {
		if raw <= m*magnitude {
			step = m * magnitude
			break
		}
	}
	if integer {
		step = max(1, math.Round(step))
	}
	first := math.Floor(lo/step+1e-9) * step
	last := math.Ceil(hi/step-1e-9) * step
	t := ticks{lo: first, hi: last, decimals: max(0, int(-math.Floor(math.Log10(step)+1e-9)))}
	for i := 0; i <= int(math.Round((last-first)/step)); i++ {
		t.values = append(t.values, first+float64(i)*step)
	}
	return t
}

// label formats a tick value with as many decimals as the step needs, or as a percentage.
func (t ticks) label(v float64, percent bool) string {
	if math.Abs(v) < 1e-12 {
		v = 0 // not "-0.00" from rounding error
	}
	if percent {
		return strconv.FormatFloat(100*v, 'f', max(0, t.decimals-2), 64) + "%"
	}
	return strconv.FormatFloat(v, 'f', t.decimals, 64)
}
