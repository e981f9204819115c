// Package predict classifies images with a models.ResNet: image files through the tutorial's validation
// transform, or batches already in the model's layout, to logits, softmax probabilities and the top class.
// The CLI's predict command and the notebooks' prediction cells both use it.
package predict

import (
	"fmt"
	"math"
	"runtime"
	"strconv"
	"sync"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/hymenoptera-go/tutorial/hymenoptera/dataloader"
	"github.com/hymenoptera-go/tutorial/hymenoptera/datasets"
	"github.com/hymenoptera-go/tutorial/hymenoptera/models"
	"github.com/hymenoptera-go/tutorial/hymenoptera/transforms"
)

// Result is the model's answer for one image.
type Result struct {
	Logits        []float32
	Probabilities []float64 // softmax of Logits
	Top1          int       // index of the largest logit (the first on ties, as torch.argmax)
	Label         string    // the model's class name for Top1, else Top1 as a number
}

// Batch runs m (in evaluation mode: the caller sets it) on a batch of normalised images and returns one result
// per image: `outputs = model(inputs); _, preds = torch.max(outputs, 1)`.
func Batch(m *models.ResNet, b dataloader.Batch) ([]Result, error) {
	images, _ := b.Tensors()
	n := b.N
	logits, err := m.Forward(images)
	if err != nil {
		return nil, err
	}
	flat, err := tensors.CopyFlatData[float32](logits)
	if err != nil {
		return nil, err
	}
	numClasses := m.NumClasses()
	results := make([]Result, n)
	for i := range results {
		row := flat[i*numClasses : (i+1)*numClasses]
		top1 := ArgMax(row)
		label := strconv.Itoa(top1)
		if len(m.Classes) == numClasses {
			label = m.Classes[top1]
		}
		results[i] = Result{Logits: row, Probabilities: Softmax(row), Top1: top1, Label: label}
	}
	return results, nil
}

// Tensors stacks same-sized transformed images into one batch and runs Batch on it.
func Tensors(m *models.ResNet, inputs []*transforms.Tensor) ([]Result, error) {
	if len(inputs) == 0 {
		return nil, nil
	}
	h, w := inputs[0].H, inputs[0].W
	pixels := make([]float32, 0, len(inputs)*h*w*3)
	for i, t := range inputs {
		if t.H != h || t.W != w || t.C != 3 {
			return nil, fmt.Errorf("predict: image %d is %d×%d×%d, the first is %d×%d×3", i, t.H, t.W, t.C, h, w)
		}
		pixels = append(pixels, t.Data...)
	}
	return Batch(m, dataloader.Batch{Images: pixels, N: len(inputs), H: h, W: w})
}

// PrepareFiles decodes the images at paths and applies pipeline (e.g. transforms.Val(224)), in parallel. For
// each image it returns its tensor or an error naming the file.
func PrepareFiles(paths []string, pipeline transforms.Transform) ([]*transforms.Tensor, []error) {
	inputs := make([]*transforms.Tensor, len(paths))
	errs := make([]error, len(paths))
	slots := make(chan struct{}, runtime.GOMAXPROCS(0)) // bounds the decoded images in memory at once
	var wg sync.WaitGroup
	for i, path := range paths {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			inputs[i], errs[i] = prepareFile(path, pipeline)
		})
	}
	wg.Wait()
	return inputs, errs
}

func prepareFile(path string, pipeline transforms.Transform) (*transforms.Tensor, error) {
	img, err := datasets.LoadImage(path) // its errors name the file
	if err != nil {
		return nil, err
	}
	out, err := pipeline.Apply(img, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	t, ok := out.(*transforms.Tensor)
	if !ok {
		return nil, fmt.Errorf("%s: the pipeline does not end with a tensor (ToTensor)", path)
	}
	return t, nil
}

// ArgMax returns the index of the largest value, the first one on ties (torch.argmax's choice).
func ArgMax(values []float32) int {
	best := 0
	for i, v := range values {
		if v > values[best] {
			best = i
		}
	}
	return best
}

// Softmax returns the probabilities of the logits, computed in float64 after subtracting the largest logit.
func Softmax(logits []float32) []float64 {
	largest := logits[ArgMax(logits)]
	probabilities := make([]float64, len(logits))
	var sum float64
	for i, l := range logits {
		probabilities[i] = math.Exp(float64(l - largest))
		sum += probabilities[i]
	}
	for i := range probabilities {
		probabilities[i] /= sum
	}
	return probabilities
}
