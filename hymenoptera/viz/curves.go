package viz

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/hymenoptera-go/tutorial/hymenoptera/train"
)

// Curve colours, matplotlib's first ones: the training phase (or first run), validation (or second run), ...
var palette = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"}

// Size of one chart, in pixels.
const chartW, chartH = 440.0, 300.0

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

func (f *curvesFigure) Encode(w io.Writer) error {
	width, height, body := f.svg()
	return writeSVGFile(w, width, height, body)
}

func (f *curvesFigure) svg() (width, height float64, body string) {
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
	top := svgMargin
	var b strings.Builder
	if f.title != "" {
		top += 24
		width := 2*svgMargin + 2*chartW
		fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="middle" font-size="16" font-weight="bold">%s</text>`,
			num(width/2), num(svgMargin+16), esc(f.title))
	}
	fmt.Fprintf(&b, `<g transform="translate(%s,%s)">%s</g>`, num(svgMargin), num(top), loss.svg(chartW, chartH))
	fmt.Fprintf(&b, `<g transform="translate(%s,%s)">%s</g>`, num(svgMargin+chartW), num(top), acc.svg(chartW, chartH))
	return 2*svgMargin + 2*chartW, top + chartH + svgMargin, b.String()
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
func (f *comparisonFigure) Encode(w io.Writer) error {
	const rowH = 20.0
	rows := append([][]string{comparisonColumns}, f.rows()...)
	// Columns as wide as their longest text, at about 7 pixels a character, and a gap.
	colX := make([]float64, len(comparisonColumns)+1)
	for j := range comparisonColumns {
		longest := 0
		for _, row := range rows {
			longest = max(longest, utf8.RuneCountInString(row[j]))
		}
		colX[j+1] = colX[j] + 7*float64(longest) + 20
	}
	tableW := colX[len(comparisonColumns)] - 20
	var b strings.Builder
	y := svgMargin
	if f.title != "" {
		fmt.Fprintf(&b, `<text x="%s" y="%s" font-size="16" font-weight="bold">%s</text>`,
			num(svgMargin), num(y+16), esc(f.title))
		y += 28
	}
	for i, row := range rows {
		y += rowH
		for j, cell := range row {
			attrs := ""
			if i == 0 {
				attrs = ` font-weight="bold"`
			} else if j == 0 {
				attrs = ` fill="` + palette[(i-1)%len(palette)] + `"`
			}
			fmt.Fprintf(&b, `<text x="%s" y="%s"%s>%s</text>`, num(svgMargin+colX[j]), num(y-5), attrs, esc(cell))
		}
		if i == 0 {
			fmt.Fprintf(&b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#333333"/>`, num(svgMargin), num(y),
				num(svgMargin+tableW), num(y))
		}
	}
	y += 8
	fmt.Fprintf(&b, `<g transform="translate(%s,%s)">%s</g>`, num(svgMargin), num(y), f.chart().svg(chartW, chartH))
	width := 2*svgMargin + max(chartW, tableW)
	return writeSVGFile(w, width, y+chartH+svgMargin, b.String())
}
