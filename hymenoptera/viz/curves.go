package viz

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"slices"

	"gonum.org/v1/plot/vg/draw"

	"github.com/hymenoptera-go/tutorial/hymenoptera/train"
)

// Curve colours, matplotlib's first ones: the training phase (or first run), validation (or second run), ...
var palette = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"}

// Size of one chart, in points (440×307 pixels).
const chartW, chartH = 330.0, 230.0

// CurvesFigure plots a training history: loss per epoch, then accuracy per epoch, each for the training and the
// validation phase, side by side under title. It saves as <title>.svg ("training-curves.svg" without a title).
func CurvesFigure(h train.History, title string) Figure {
	return &curvesFigure{title: title, history: train.History{Epochs: slices.Clone(h.Epochs)}}
}

type curvesFigure struct {
	title   string
	history train.History
}

func (f *curvesFigure) Name() string { return fileName(f.title, "training-curves") }
func (f *curvesFigure) Ext() string  { return ".svg" }

func (f *curvesFigure) Encode(w io.Writer) error { return writeSVG(w, f.svg) }

func (f *curvesFigure) svg() (string, error) {
	epochs := make([]float64, len(f.history.Epochs))
	var trainLoss, valLoss, trainAcc, valAcc []float64
	for i, e := range f.history.Epochs {
		epochs[i] = float64(e.Epoch)
		trainLoss, valLoss = append(trainLoss, e.Train.Loss), append(valLoss, e.Val.Loss)
		trainAcc, valAcc = append(trainAcc, e.Train.Accuracy), append(valAcc, e.Val.Accuracy)
	}
	phases := func(trainY, valY []float64) []series {
		return []series{{train.PhaseTrain, palette[0], epochs, trainY}, {train.PhaseVal, palette[1], epochs, valY}}
	}
	loss := lineChart{title: "Loss", xLabel: "epoch", yLabel: "loss", series: phases(trainLoss, valLoss), integerX: true}
	acc := lineChart{title: "Accuracy", xLabel: "epoch", yLabel: "accuracy", series: phases(trainAcc, valAcc),
		integerX: true, percentY: true}
	lossPlot, err := loss.plot()
	if err != nil {
		return "", err
	}
	accPlot, err := acc.plot()
	if err != nil {
		return "", err
	}
	top, width := svgMargin, 2*svgMargin+2*chartW
	if f.title != "" {
		top += 24
	}
	c := newSVGCanvas(width, top+chartH+svgMargin)
	if f.title != "" {
		c.text(f.title, width/2, svgMargin+14, draw.XCenter, textStyle(14, true, color.Black))
	}
	c.plot(lossPlot, svgMargin, top, chartW, chartH)
	c.plot(accPlot, svgMargin+chartW, top, chartW, chartH)
	return c.String()
}

// Run is a named training history, one of the curves of a ComparisonFigure.
type Run struct {
	Name    string
	History train.History
}

// ComparisonFigure compares training runs (the tutorial's fine-tuning and fixed feature extractor): a table of
// each run's best validation accuracy, its epoch, the number of epochs and the total time (the phases' seconds
// summed, as minutes and seconds like the tutorial's "Training complete in 2m 30s"), and a chart of their
// validation accuracy per epoch. It saves as <title>.svg ("comparison.svg" without a title).
func ComparisonFigure(title string, runs ...Run) Figure {
	cloned := make([]Run, len(runs))
	for i, r := range runs {
		cloned[i] = Run{Name: r.Name, History: train.History{Epochs: slices.Clone(r.History.Epochs)}}
	}
	return &comparisonFigure{title: title, runs: cloned}
}

type comparisonFigure struct {
	title string
	runs  []Run
}

func (f *comparisonFigure) Name() string { return fileName(f.title, "comparison") }
func (f *comparisonFigure) Ext() string  { return ".svg" }

var comparisonColumns = []string{"run", "best val acc", "best epoch", "epochs", "total time"}

// rows are the table's cells, as text.
func (f *comparisonFigure) rows() [][]string {
	rows := make([][]string, len(f.runs))
	for i, r := range f.runs {
		best, ok := r.History.Best()
		if !ok {
			rows[i] = []string{r.Name, "–", "–", "0", "–"}
			continue
		}
		var seconds float64
		for _, e := range r.History.Epochs {
			seconds += e.Train.Seconds + e.Val.Seconds
		}
		total := int(math.Round(seconds))
		rows[i] = []string{r.Name, fmt.Sprintf("%.4f", best.Val.Accuracy), fmt.Sprint(best.Epoch),
			fmt.Sprint(len(r.History.Epochs)), fmt.Sprintf("%dm %ds", total/60, total%60)}
	}
	return rows
}

func (f *comparisonFigure) chart() lineChart {
	c := lineChart{title: "Validation accuracy", xLabel: "epoch", yLabel: "accuracy", integerX: true, percentY: true}
	for i, r := range f.runs {
		s := series{label: r.Name, color: palette[i%len(palette)]}
		for _, e := range r.History.Epochs {
			s.x, s.y = append(s.x, float64(e.Epoch)), append(s.y, e.Val.Accuracy)
		}
		c.series = append(c.series, s)
	}
	return c
}

// Encode writes one SVG: the title, the table as text, and the chart.
func (f *comparisonFigure) Encode(w io.Writer) error { return writeSVG(w, f.svg) }

func (f *comparisonFigure) svg() (string, error) {
	const rowH, colGap = 16.0, 14.0
	chart, err := f.chart().plot()
	if err != nil {
		return "", err
	}
	header, cell := textStyle(10, true, color.Black), textStyle(10, false, color.Black)
	rows := append([][]string{comparisonColumns}, f.rows()...)
	// Columns as wide as their longest text, and a gap.
	colX := make([]float64, len(comparisonColumns)+1)
	for j := range comparisonColumns {
		widest := 0.0
		for _, row := range rows {
			widest = max(widest, header.Width(row[j]).Points())
		}
		colX[j+1] = colX[j] + widest + colGap
	}
	tableW := colX[len(comparisonColumns)] - colGap
	y := svgMargin
	if f.title != "" {
		y += 22
	}
	tableTop := y
	y += rowH*float64(len(rows)) + 8
	width := 2*svgMargin + max(chartW, tableW)
	c := newSVGCanvas(width, y+chartH+svgMargin)
	if f.title != "" {
		c.text(f.title, svgMargin, svgMargin+14, draw.XLeft, textStyle(13, true, color.Black))
	}
	for i, row := range rows {
		baseline := tableTop + rowH*float64(i+1) - 4
		for j, text := range row {
			sty := cell
			if i == 0 {
				sty = header
			} else if j == 0 {
				sty = textStyle(10, false, parseHexColor(palette[(i-1)%len(palette)]))
			}
			c.text(text, svgMargin+colX[j], baseline, draw.XLeft, sty)
		}
		if i == 0 {
			c.line(svgMargin, baseline+4, svgMargin+tableW, baseline+4)
		}
	}
	c.plot(chart, svgMargin, y, chartW, chartH)
	return c.String()
}
