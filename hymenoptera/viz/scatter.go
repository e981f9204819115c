package viz

import (
	"fmt"
	"io"
)

// ScatterFigure plots points (x, y) coloured by their class, labels[i] indexing classes, with axes labelled
// xLabel and yLabel and a legend: for features projected to two dimensions. It saves as <title>.svg
// ("scatter.svg" without a title).
func ScatterFigure(points [][2]float64, labels []int, classes []string, title, xLabel, yLabel string) (Figure, error) {
	if len(points) != len(labels) {
		return nil, fmt.Errorf("viz: ScatterFigure: %d points, %d labels", len(points), len(labels))
	}
	if len(classes) > len(palette) {
		return nil, fmt.Errorf("viz: ScatterFigure: %d classes, at most %d colours", len(classes), len(palette))
	}
	for i, l := range labels {
		if l < 0 || l >= len(classes) {
			return nil, fmt.Errorf("viz: ScatterFigure: point %d has label %d: %d classes", i, l, len(classes))
		}
		if !finite(points[i][0]) || !finite(points[i][1]) {
			return nil, fmt.Errorf("viz: ScatterFigure: point %d is %v", i, points[i])
		}
	}
	return &scatterFigure{title: title, xLabel: xLabel, yLabel: yLabel, points: points, labels: labels,
		classes: classes}, nil
}

type scatterFigure struct {
	title, xLabel, yLabel string
	points                [][2]float64
	labels                []int
	classes               []string
}

func (f *scatterFigure) Name() string { return fileName(f.title, "scatter") }
func (f *scatterFigure) Ext() string  { return ".svg" }

func (f *scatterFigure) HTML() (string, error) { return renderSVG(f.svg) }

func (f *scatterFigure) Encode(w io.Writer) error { return writeSVG(w, f.svg) }

// svg draws the points as a lineChart without lines: one series per class, so that the legend names the classes.
func (f *scatterFigure) svg() (string, error) {
	chart := lineChart{title: f.title, xLabel: f.xLabel, yLabel: f.yLabel, pointsOnly: true}
	for k, name := range f.classes {
		s := series{label: name, color: palette[k]}
		for i, p := range f.points {
			if f.labels[i] == k {
				s.x, s.y = append(s.x, p[0]), append(s.y, p[1])
			}
		}
		chart.series = append(chart.series, s)
	}
	p, err := chart.plot()
	if err != nil {
		return "", err
	}
	c := newSVGCanvas(chartW+2*svgMargin, chartH+2*svgMargin)
	c.plot(p, svgMargin, svgMargin, chartW, chartH)
	return c.String()
}
