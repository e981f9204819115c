package viz

import (
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"strings"

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
		panels[i] = panel{image: img, caption: predictionCaption(p.Predicted, p.Actual)}
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
func (f *probabilitiesFigure) Encode(w io.Writer) error {
	src, err := pngDataURI(f.image)
	if err != nil {
		return err
	}
	chart, chartW, chartH := f.bars()
	size := f.image.Bounds().Size()
	imgW, imgH := float64(size.X), float64(size.Y)
	top := 36.0
	width := 2*svgMargin + imgW + 16 + chartW
	height := top + max(imgH, chartH) + svgMargin
	var b strings.Builder
	fmt.Fprintf(&b, `<text x="%s" y="22" text-anchor="middle" font-size="15" font-weight="bold">%s</text>`,
		num(width/2), esc(f.title))
	fmt.Fprintf(&b, `<image x="%s" y="%s" width="%s" height="%s" xlink:href="%s" href="%s"/>`,
		num(svgMargin), num(top+(max(imgH, chartH)-imgH)/2), num(imgW), num(imgH), src, src)
	fmt.Fprintf(&b, `<g transform="translate(%s,%s)">%s</g>`, num(svgMargin+imgW+16),
		num(top+(max(imgH, chartH)-chartH)/2), chart)
	return writeSVGFile(w, width, height, b.String())
}

// bars draws the bar chart: one row per class, its name, a bar as long as its probability, and the percentage.
func (f *probabilitiesFigure) bars() (body string, width, height float64) {
	const labelW, barW, rowH, pad = 100.0, 200.0, 30.0, 4.0
	width, height = labelW+barW+60, rowH*float64(len(f.classes))
	var b strings.Builder
	for i, name := range f.classes {
		y := float64(i) * rowH
		color := "#9ecae1"
		if i == f.best {
			color = "#1f77b4"
		}
		fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="end" dominant-baseline="middle">%s</text>`,
			num(labelW-8), num(y+rowH/2), esc(name))
		fmt.Fprintf(&b, `<rect x="%s" y="%s" width="%s" height="%s" fill="#eeeeee"/>`,
			num(labelW), num(y+pad), num(barW), num(rowH-2*pad))
		fmt.Fprintf(&b, `<rect x="%s" y="%s" width="%s" height="%s" fill="%s"/>`,
			num(labelW), num(y+pad), num(barW*min(float64(f.probs[i]), 1)), num(rowH-2*pad), color)
		fmt.Fprintf(&b, `<text x="%s" y="%s" dominant-baseline="middle">%.1f%%</text>`,
			num(labelW+barW+6), num(y+rowH/2), 100*f.probs[i])
	}
	return b.String(), width, height
}
