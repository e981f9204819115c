package viz

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/hymenoptera-go/tutorial/hymenoptera/transforms"
)

// Prediction is one image with the class a model predicted for it.
type Prediction struct {
	// Image is the image as the model saw it: normalised with ImageNet's statistics (see dataloader.Batch.Image).
	Image *transforms.Tensor
	// Predicted is the predicted class's name.
	Predicted string
	// Actual is the true class's name, or "" when unknown. When given, the caption shows it and is coloured by
	// whether the prediction is right.
	Actual string
}

// predictionPanelSize is the longest side, in pixels, of visualize_model's images: 224×224 crops are shown at
// 160, big enough to tell an ant from a bee.
const predictionPanelSize = 160

// PredictionsFigure lays out the images of preds cols to a row, each titled "predicted: <class>", as the
// tutorial's visualize_model does (with cols 2). It saves as <title>.png ("predictions.png" without a title).
func PredictionsFigure(preds []Prediction, cols int, title string) (Figure, error) {
	if len(preds) == 0 {
		return nil, errors.New("viz: PredictionsFigure: no predictions to show")
	}
	if cols < 1 {
		return nil, fmt.Errorf("viz: PredictionsFigure: %d columns: must be at least 1", cols)
	}
	panels := make([]panel, len(preds))
	for i, p := range preds {
		img, err := Unnormalized(p.Image)
		if err != nil {
			return nil, fmt.Errorf("viz: PredictionsFigure: prediction %d: %w", i, err)
		}
		panels[i] = panel{image: shrink(img, predictionPanelSize), caption: predictionCaption(p.Predicted, p.Actual)}
	}
	return &panelGrid{name: fileName(title, "predictions"), title: title, panels: panels, cols: cols}, nil
}

// predictionCaption is "predicted: <class>", and the true class, when known, in a colour that says whether the
// prediction is right.
func predictionCaption(predicted, actual string) []textLine {
	if actual == "" {
		return []textLine{{"predicted: " + predicted, textColor}}
	}
	c := wrongColor
	if predicted == actual {
		c = rightColor
	}
	return []textLine{{"predicted: " + predicted, c}, {"true: " + actual, c}}
}

// VisualizeModel shows preds two to a row with the Default display, as the tutorial's visualize_model shows
// its first six validation images; the caller runs the model and picks the images.
func VisualizeModel(preds []Prediction) error {
	fig, err := PredictionsFigure(preds, 2, "")
	if err != nil {
		return err
	}
	return Show(fig)
}

// ProbabilitiesFigure shows one image (normalised, as the model saw it) beside a horizontal bar chart of the
// probability of each class, in percent, the most probable class highlighted; the title defaults to
// "predicted: <most probable class>". It saves as <title>.svg, the image embedded.
func ProbabilitiesFigure(img *transforms.Tensor, classes []string, probs []float32, title string) (Figure, error) {
	if len(classes) == 0 || len(classes) != len(probs) {
		return nil, fmt.Errorf("viz: ProbabilitiesFigure: %d class names for %d probabilities", len(classes), len(probs))
	}
	best := 0
	for i, p := range probs {
		// Softmax in float32 can round a certain class's probability a little above 1.
		if math.IsNaN(float64(p)) || p < 0 || p > 1+1e-5 {
			return nil, fmt.Errorf("viz: ProbabilitiesFigure: probability of %q is %v, not in [0, 1]", classes[i], p)
		}
		if p > probs[best] {
			best = i
		}
	}
	rgba, err := Unnormalized(img)
	if err != nil {
		return nil, fmt.Errorf("viz: ProbabilitiesFigure: %w", err)
	}
	if title == "" {
		title = "predicted: " + classes[best]
	}
	return &probabilitiesFigure{title: title, image: rgba, classes: classes, probs: probs, best: best}, nil
}

type probabilitiesFigure struct {
	title   string
	image   image.Image
	classes []string
	probs   []float32
	best    int
}

func (f *probabilitiesFigure) Name() string { return fileName(f.title, "probabilities") }
func (f *probabilitiesFigure) Ext() string  { return ".svg" }

// Encode writes one SVG: the title, the image (embedded as a PNG data: URI) and the chart.
func (f *probabilitiesFigure) Encode(w io.Writer) error { return writeSVG(w, f.svg) }

func (f *probabilitiesFigure) svg() (string, error) {
	chart, err := f.bars()
	if err != nil {
		return "", err
	}
	const top, gap, barsW = 30.0, 12.0, 270.0
	size := f.image.Bounds().Size()
	imgW, imgH := float64(size.X), float64(size.Y)
	barsH := max(90, 36*float64(len(f.classes))+50)
	height := max(imgH, barsH)
	width := 2*svgMargin + imgW + gap + barsW
	c := newSVGCanvas(width, top+height+svgMargin)
	c.text(f.title, width/2, 20, draw.XCenter, textStyle(13, true, color.Black))
	c.image(f.image, svgMargin, top+(height-imgH)/2)
	c.plot(chart, svgMargin+imgW+gap, top+(height-barsH)/2, barsW, barsH)
	return c.String()
}

// bars is the bar chart: one bar per class, named on the y axis, as long as its probability in percent, which
// its end shows; the most probable class's bar in the stronger blue.
func (f *probabilitiesFigure) bars() (*plot.Plot, error) {
	p := newPlot("", "probability", "")
	p.X.Min, p.X.Max = 0, 1
	p.X.Tick.Marker = percentTicks{}
	p.Legend = plot.NewLegend()
	var ends plotter.XYLabels
	names := make([]string, len(f.classes))
	for i, name := range f.classes {
		row := len(f.classes) - 1 - i // the first class on top
		names[row] = name
		prob := min(float64(f.probs[i]), 1)
		bar, err := plotter.NewBarChart(plotter.Values{prob}, vg.Points(18))
		if err != nil {
			return nil, fmt.Errorf("viz: ProbabilitiesFigure: %w", err)
		}
		bar.Horizontal, bar.XMin, bar.LineStyle.Width = true, float64(row), 0
		bar.Color = parseHexColor("#9ecae1")
		if i == f.best {
			bar.Color = parseHexColor(palette[0])
		}
		p.Add(bar)
		ends.XYs = append(ends.XYs, plotter.XY{X: prob, Y: float64(row)})
		ends.Labels = append(ends.Labels, fmt.Sprintf("%.1f%%", 100*f.probs[i]))
	}
	p.NominalY(names...)
	p.Y.Min, p.Y.Max = -0.6, float64(len(names))-0.4 // room around the end bars
	labels, err := plotter.NewLabels(ends)
	if err != nil {
		return nil, fmt.Errorf("viz: ProbabilitiesFigure: %w", err)
	}
	for i := range labels.TextStyle {
		labels.TextStyle[i].YAlign = draw.YCenter
		labels.TextStyle[i].Font.Typeface, labels.TextStyle[i].Font.Variant = sans.Typeface, sans.Variant
	}
	labels.Offset = vg.Point{X: vg.Points(4)}
	p.Add(labels)
	return p, nil
}
