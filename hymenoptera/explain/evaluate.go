package explain

import (
	"context"
	"fmt"
	"slices"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/hymenoptera-go/tutorial/hymenoptera/dataloader"
	"github.com/hymenoptera-go/tutorial/hymenoptera/models"
	"github.com/hymenoptera-go/tutorial/hymenoptera/predict"
	"github.com/hymenoptera-go/tutorial/hymenoptera/transforms"
)

// Sample is the model's outcome on one labelled image.
type Sample struct {
	Index         int // the image's index in the loader's dataset
	Label         int // the true class
	Predicted     int
	Probabilities []float64 // softmax of the logits
	Logits        []float32
	Features      []float32 // the models.FeatureWidth features the head reads (PoolTrunk's output)
}

// Mistake is a misclassified image, kept with the image as the model saw it (normalised).
type Mistake struct {
	Sample
	Image *transforms.Tensor
}

// Evaluation is the model's outcome on a labelled set, in the loader's order.
type Evaluation struct {
	// Classes names the classes (the model's class names, else their indices).
	Classes  []string
	Samples  []Sample
	Mistakes []Mistake
}

// Evaluate runs the model on one epoch of loader (the validation loader: no shuffling or augmentation) and keeps,
// per image, the prediction, the probabilities and the features; misclassified images are kept whole.
func (e *Explainer) Evaluate(ctx context.Context, loader *dataloader.Loader) (*Evaluation, error) {
	numClasses := e.m.NumClasses()
	ev := &Evaluation{}
	for k := range numClasses {
		ev.Classes = append(ev.Classes, e.ClassName(k))
	}
	for batch, err := range loader.Epoch(ctx, 0) {
		if err != nil {
			return nil, err
		}
		out, err := e.run(tensors.FromFlatDataAndDimensions(batch.Images, batch.N, batch.H, batch.W, 3))
		if err != nil {
			return nil, err
		}
		pixels := batch.H * batch.W * 3
		for i := range batch.N {
			label := batch.Labels[i]
			if label < 0 || label >= numClasses {
				return nil, fmt.Errorf("explain: image %d has label %d, but the model has %d classes",
					batch.Indices[i], label, numClasses)
			}
			logits := out.logits[i*numClasses : (i+1)*numClasses]
			s := Sample{
				Index: batch.Indices[i], Label: label, Predicted: predict.ArgMax(logits),
				Probabilities: predict.Softmax(logits), Logits: logits,
				Features: out.features[i*models.FeatureWidth : (i+1)*models.FeatureWidth],
			}
			ev.Samples = append(ev.Samples, s)
			if s.Predicted != s.Label {
				image := slices.Clone(batch.Images[i*pixels : (i+1)*pixels])
				ev.Mistakes = append(ev.Mistakes, Mistake{Sample: s,
					Image: &transforms.Tensor{Data: image, H: batch.H, W: batch.W, C: 3}})
			}
		}
		batch.Release()
	}
	return ev, nil
}

// Confusion is the confusion matrix of the evaluation.
func (ev *Evaluation) Confusion() *Confusion {
	labels := make([]int, len(ev.Samples))
	predicted := make([]int, len(ev.Samples))
	for i, s := range ev.Samples {
		labels[i], predicted[i] = s.Label, s.Predicted
	}
	c, _ := NewConfusion(ev.Classes, labels, predicted) // Evaluate checked the labels; predictions are in range
	return c
}

// PCA projects the samples' features on their first k principal components.
func (ev *Evaluation) PCA(k int) (*Projection, error) {
	rows := make([][]float32, len(ev.Samples))
	for i, s := range ev.Samples {
		rows[i] = s.Features
	}
	return PCA(rows, k)
}

// FirstImages returns the first n images of loader's first epoch with their labels: for the validation loader,
// the images visualize_model shows.
func FirstImages(ctx context.Context, loader *dataloader.Loader, n int) ([]*transforms.Tensor, []int, error) {
	var images []*transforms.Tensor
	var labels []int
	for batch, err := range loader.Epoch(ctx, 0) {
		if err != nil {
			return nil, nil, err
		}
		pixels := batch.H * batch.W * 3
		for i := 0; i < batch.N && len(images) < n; i++ {
			image := slices.Clone(batch.Images[i*pixels : (i+1)*pixels])
			images = append(images, &transforms.Tensor{Data: image, H: batch.H, W: batch.W, C: 3})
			labels = append(labels, batch.Labels[i])
		}
		batch.Release()
		if len(images) == n {
			break
		}
	}
	return images, labels, nil
}
