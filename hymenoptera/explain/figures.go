package explain

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/hymenoptera-go/tutorial/hymenoptera/transforms"
	"github.com/hymenoptera-go/tutorial/hymenoptera/viz"
)

// GradCAMFigure explains the model's prediction on each image (normalised tensors of one size) with its Grad-CAM
// upsampled to the image, two panels to a row; labels, when not nil, are the true classes shown beside them.
func (e *Explainer) GradCAMFigure(images []*transforms.Tensor, labels []int, title string) (viz.Figure, error) {
	if labels != nil && len(labels) != len(images) {
		return nil, fmt.Errorf("explain: GradCAMFigure: %d labels for %d images", len(labels), len(images))
	}
	heatmaps, err := e.GradCAM(images, nil)
	if err != nil {
		return nil, err
	}
	panels := make([]viz.HeatmapPanel, len(images))
	for i, h := range heatmaps {
		panels[i] = viz.HeatmapPanel{Image: images[i], Heat: h.Upsample(images[i].H, images[i].W),
			Predicted: e.ClassName(h.Class), Probability: h.Probability}
		if labels != nil {
			panels[i].Actual = e.ClassName(labels[i])
		}
	}
	return viz.GradCAMFigure(panels, 2, title)
}

// ConfusionFigure draws the evaluation's confusion matrix with per-class precision and recall.
func (ev *Evaluation) ConfusionFigure(title string) (viz.Figure, error) {
	c := ev.Confusion()
	m := viz.ConfusionMatrix{Classes: c.Classes, Counts: c.Counts}
	for k := range c.Classes {
		m.Precision = append(m.Precision, c.Precision(k))
		m.Recall = append(m.Recall, c.Recall(k))
	}
	return viz.ConfusionFigure(m, title)
}

// MistakesFigure shows at most limit misclassified images, the most confident mistakes first (ties in the
// loader's order), four to a row.
func (ev *Evaluation) MistakesFigure(limit int, title string) (viz.Figure, error) {
	mistakes := slices.Clone(ev.Mistakes)
	slices.SortStableFunc(mistakes, func(a, b Mistake) int {
		return cmp.Compare(b.Probabilities[b.Predicted], a.Probabilities[a.Predicted])
	})
	var shown []viz.ScoredPrediction
	for _, m := range mistakes[:min(limit, len(mistakes))] {
		shown = append(shown, viz.ScoredPrediction{
			Prediction:  viz.Prediction{Image: m.Image, Predicted: ev.Classes[m.Predicted], Actual: ev.Classes[m.Label]},
			Probability: m.Probabilities[m.Predicted],
		})
	}
	return viz.MistakesFigure(shown, 4, title)
}

// FeatureSpaceFigure projects the features the head reads onto their first two principal components, each
// image a point coloured by its true class.
func (ev *Evaluation) FeatureSpaceFigure(title string) (viz.Figure, error) {
	p, err := ev.PCA(2)
	if err != nil {
		return nil, err
	}
	points := make([][2]float64, len(p.Points))
	labels := make([]int, len(ev.Samples))
	for i, point := range p.Points {
		points[i] = [2]float64{point[0], point[1]}
		labels[i] = ev.Samples[i].Label
	}
	axis := func(c int) string {
		return fmt.Sprintf("principal component %d (%.0f%% of the variance)", c+1, 100*p.ExplainedVariance[c])
	}
	return viz.ScatterFigure(points, labels, ev.Classes, title, axis(0), axis(1))
}
