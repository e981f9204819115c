package viz

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// ConfusionMatrix is what ConfusionFigure draws: counts of images by true class (rows) and predicted class
// (columns), and each class's precision and recall (NaN when undefined).
type ConfusionMatrix struct {
	Classes           []string
	Counts            [][]int
	Precision, Recall []float64
}

// ConfusionFigure draws the matrix as a grid of counts shaded by their size, the diagonal (right answers) in
// blue and the rest in red, beside a table of per-class precision and recall. It saves as <title>.svg
// ("confusion-matrix.svg" without a title).
//
// It is drawn by hand (svg.go) rather than with gonum.org/v1/plot: it has no axis, tick or legend for a plotting
// library to draw, and plot's heat map takes one colour scale, where right and wrong answers have one each.
func ConfusionFigure(m ConfusionMatrix, title string) (Figure, error) {
	k := len(m.Classes)
	if k == 0 || len(m.Counts) != k || len(m.Precision) != k || len(m.Recall) != k {
		return nil, fmt.Errorf("viz: ConfusionFigure: %d classes, %d rows of counts, %d precisions, %d recalls",
			k, len(m.Counts), len(m.Precision), len(m.Recall))
	}
	for t, row := range m.Counts {
		if len(row) != k {
			return nil, fmt.Errorf("viz: ConfusionFigure: row %d has %d counts for %d classes", t, len(row), k)
		}
	}
	return &confusionFigure{title: title, m: m}, nil
}

type confusionFigure struct {
	title string
	m     ConfusionMatrix
}

func (f *confusionFigure) Name() string { return fileName(f.title, "confusion-matrix") }
func (f *confusionFigure) Ext() string  { return ".svg" }

func (f *confusionFigure) HTML() (string, error) { return svgElement(f.svg()), nil }

func (f *confusionFigure) Encode(w io.Writer) error {
	width, height, body := f.svg()
	return writeSVGFile(w, width, height, body)
}

func (f *confusionFigure) svg() (width, height float64, body string) {
	const cell, labelW, top, tableGap, colW = 72.0, 90.0, 64.0, 36.0, 84.0
	k := len(f.m.Classes)
	left := svgMargin + labelW + 20
	gridW := cell * float64(k)
	tableX := left + gridW + tableGap
	width = tableX + labelW + 2*colW + svgMargin
	height = top + gridW + 40
	largest := 1
	for _, row := range f.m.Counts {
		for _, n := range row {
			largest = max(largest, n)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<text x="%s" y="20" text-anchor="middle" font-size="14" font-weight="bold">%s</text>`,
		num(width/2), esc(f.title))
	fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="middle" font-weight="bold">predicted</text>`,
		num(left+gridW/2), num(top-26))
	fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="middle" font-weight="bold" transform="rotate(-90 %s %s)">true</text>`,
		num(svgMargin+6), num(top+gridW/2), num(svgMargin+6), num(top+gridW/2))
	for i, name := range f.m.Classes {
		fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="middle">%s</text>`, num(left+cell*(float64(i)+0.5)), num(top-8), esc(name))
		fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="end" dominant-baseline="middle">%s</text>`,
			num(left-8), num(top+cell*(float64(i)+0.5)), esc(name))
	}
	for t, row := range f.m.Counts {
		for p, n := range row {
			shade := float64(n) / float64(largest)
			x, y := left+cell*float64(p), top+cell*float64(t)
			fill, ink := shadeColor(shade, t == p), "#000000"
			if shade > 0.6 {
				ink = "#ffffff"
			}
			fmt.Fprintf(&b, `<rect x="%s" y="%s" width="%s" height="%s" fill="%s" stroke="#ffffff" stroke-width="2"/>`,
				num(x), num(y), num(cell), num(cell), fill)
			fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="middle" dominant-baseline="middle" font-size="18" fill="%s">%d</text>`,
				num(x+cell/2), num(y+cell/2), ink, n)
		}
	}
	fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="end" font-weight="bold">precision</text>`, num(tableX+labelW+colW), num(top-8))
	fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="end" font-weight="bold">recall</text>`, num(tableX+labelW+2*colW), num(top-8))
	for i, name := range f.m.Classes {
		y := top + 24*float64(i) + 16
		fmt.Fprintf(&b, `<text x="%s" y="%s">%s</text>`, num(tableX), num(y), esc(name))
		fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="end">%s</text>`, num(tableX+labelW+colW), num(y), percent(f.m.Precision[i]))
		fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="end">%s</text>`, num(tableX+labelW+2*colW), num(y), percent(f.m.Recall[i]))
	}
	return width, height, b.String()
}

// shadeColor goes from white (0) to blue (1) for right answers, to red for wrong ones.
func shadeColor(shade float64, right bool) string {
	to := [3]float64{31, 119, 180} // palette[0]
	if !right {
		to = [3]float64{214, 39, 40} // palette[3]
	}
	var c [3]int
	for i := range c {
		c[i] = int(math.Round(255 + shade*(to[i]-255)))
	}
	return fmt.Sprintf("#%02x%02x%02x", c[0], c[1], c[2])
}

// percent formats a ratio as a percentage, "–" when undefined.
func percent(r float64) string {
	if math.IsNaN(r) {
		return "–"
	}
	return fmt.Sprintf("%.1f%%", 100*r)
}
