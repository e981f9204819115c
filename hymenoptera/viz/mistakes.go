package viz

import (
	"fmt"
	"io"
)

// ScoredPrediction is a prediction with the probability the model gave it.
type ScoredPrediction struct {
	Prediction
	Probability float64
}

// MistakesFigure lays out misclassified images cols to a row, each captioned with the predicted class, its
// probability and the true class. With no image it is a line saying so (a model may make no mistake). It saves
// as <title>.png ("mistakes.png" without a title), or .svg when empty.
func MistakesFigure(mistakes []ScoredPrediction, cols int, title string) (Figure, error) {
	if cols < 1 {
		return nil, fmt.Errorf("viz: MistakesFigure: %d columns: must be at least 1", cols)
	}
	name := fileName(title, "mistakes")
	if len(mistakes) == 0 {
		return &messageFigure{name: name, title: title, message: "no misclassified image"}, nil
	}
	grid := &panelGrid{name: name, title: title, cols: cols}
	for i, m := range mistakes {
		img, err := Unnormalized(m.Image)
		if err != nil {
			return nil, fmt.Errorf("viz: MistakesFigure: image %d: %w", i, err)
		}
		grid.panels = append(grid.panels, panel{image: shrink(img, explainPanelSize),
			caption: scoredCaption(m.Predicted, m.Probability, m.Actual)})
	}
	return grid, nil
}

// messageFigure is a title over one line of text, for a figure with nothing to draw.
type messageFigure struct{ name, title, message string }

func (f *messageFigure) Name() string { return f.name }
func (f *messageFigure) Ext() string  { return ".svg" }

func (f *messageFigure) svg() (width, height float64, body string) {
	width, height = 360, 64
	return width, height, fmt.Sprintf(`<text x="%s" y="24" text-anchor="middle" font-size="14" font-weight="bold">%s</text>`+
		`<text x="%s" y="48" text-anchor="middle">%s</text>`, num(width/2), esc(f.title), num(width/2), esc(f.message))
}

func (f *messageFigure) HTML() (string, error) { return svgElement(f.svg()), nil }

func (f *messageFigure) Encode(w io.Writer) error {
	width, height, body := f.svg()
	return writeSVGFile(w, width, height, body)
}
