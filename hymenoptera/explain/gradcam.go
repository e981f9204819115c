package explain

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/hymenoptera-go/tutorial/hymenoptera/models"
	"github.com/hymenoptera-go/tutorial/hymenoptera/predict"
	"github.com/hymenoptera-go/tutorial/hymenoptera/transforms"
)

// Heatmap is one image's Grad-CAM for one class (Selvaraju et al., 2017): the ReLU of layer4's channels summed
// with weights α_k, α_k being the spatial mean of the class score's gradient with respect to channel k. Where
// it is large, the image raised the class's score.
type Heatmap struct {
	Class       int       // the class explained
	Logits      []float32 // the model's logits for the image
	Probability float64   // the softmax probability of Class
	H, W        int       // the map's size: layer4's resolution, 7×7 for 224×224 images
	Map         []float32 // the raw map, H×W row-major, not normalised
}

// GradCAM computes the Grad-CAM of each image (normalised NHWC tensors, as the validation transform makes them,
// all of one size) for classes[i], or for its predicted class when classes is nil. The gradients are GoMLX's
// automatic differentiation of the class score with respect to layer4's output.
func (e *Explainer) GradCAM(images []*transforms.Tensor, classes []int) ([]Heatmap, error) {
	if classes != nil && len(classes) != len(images) {
		return nil, fmt.Errorf("explain: GradCAM: %d classes for %d images", len(classes), len(images))
	}
	numClasses := e.m.NumClasses()
	for i, c := range classes {
		if c < 0 || c >= numClasses {
			return nil, fmt.Errorf("explain: GradCAM: class %d of image %d is out of range: the model has %d classes",
				c, i, numClasses)
		}
	}
	batch, err := stack(images)
	if err != nil {
		return nil, err
	}
	out, err := e.run(batch)
	if err != nil {
		return nil, err
	}
	n := len(images)
	heatmaps := make([]Heatmap, n)
	oneHot := make([]float32, n*numClasses)
	for i := range heatmaps {
		logits := out.logits[i*numClasses : (i+1)*numClasses]
		class := predict.ArgMax(logits)
		if classes != nil {
			class = classes[i]
		}
		oneHot[i*numClasses+class] = 1
		heatmaps[i] = Heatmap{Class: class, Logits: logits, Probability: predict.Softmax(logits)[class]}
	}
	maps, err := e.runGradCAM(out.trunk, tensors.FromFlatDataAndDimensions(oneHot, n, numClasses))
	if err != nil {
		return nil, err
	}
	dims := maps.Shape().Dimensions
	flat, err := tensors.CopyFlatData[float32](maps)
	if err != nil {
		return nil, err
	}
	size := dims[1] * dims[2]
	for i := range heatmaps {
		heatmaps[i].H, heatmaps[i].W = dims[1], dims[2]
		heatmaps[i].Map = flat[i*size : (i+1)*size]
	}
	return heatmaps, nil
}

func (e *Explainer) runGradCAM(trunk, oneHot *tensors.Tensor) (maps *tensors.Tensor, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	defer recoverError(&err, "Grad-CAM")
	if maps, err = e.cam.Call1(trunk, oneHot); err != nil {
		return nil, fmt.Errorf("explain: Grad-CAM: %w", err)
	}
	return maps, nil
}

// buildGradCAM builds the maps [N, h, w] from layer4's activations [N, h, w, C] and the one-hot classes
// [N, NumClasses]: the head runs on the activations, and the gradient of the sum of the selected scores gives
// each image the gradient of its own score, since in evaluation mode images do not interact.
func (e *Explainer) buildGradCAM(_ *model.Scope, trunk, oneHot *graph.Node) *graph.Node {
	logits := e.m.BuildHead(models.PoolTrunk(trunk))
	score := graph.ReduceAllSum(graph.Mul(logits, oneHot))
	gradient := graph.Gradient(score, trunk)[0]
	weights := graph.ReduceAndKeep(gradient, graph.ReduceMean, 1, 2) // α: [N, 1, 1, C]
	cam := graph.ReduceSum(graph.Mul(weights, trunk), -1)
	return graph.Max(cam, graph.ZerosLike(cam))
}

// Upsample resizes the map to height×width bilinearly, as torch.nn.functional.interpolate(mode="bilinear",
// align_corners=False) does: the overlay's resolution.
func (h Heatmap) Upsample(height, width int) []float32 {
	rows, rowWeights := bilinearTaps(h.H, height)
	cols, colWeights := bilinearTaps(h.W, width)
	out := make([]float32, height*width)
	for y := range height {
		r0, r1, wy := rows[2*y], rows[2*y+1], rowWeights[y]
		for x := range width {
			c0, c1, wx := cols[2*x], cols[2*x+1], colWeights[x]
			top := (1-wx)*h.Map[r0*h.W+c0] + wx*h.Map[r0*h.W+c1]
			bottom := (1-wx)*h.Map[r1*h.W+c0] + wx*h.Map[r1*h.W+c1]
			out[y*width+x] = (1-wy)*top + wy*bottom
		}
	}
	return out
}

// bilinearTaps gives, for each of out output positions, the two input positions it reads and the weight of the
// second: PyTorch's align_corners=False source index (i + 0.5)·in/out − 0.5, clamped at 0.
func bilinearTaps(in, out int) (taps []int, weights []float32) {
	scale := float32(in) / float32(out)
	taps = make([]int, 2*out)
	weights = make([]float32, out)
	for i := range out {
		src := max(scale*(float32(i)+0.5)-0.5, 0)
		i0 := min(int(src), in-1)
		taps[2*i], taps[2*i+1] = i0, min(i0+1, in-1)
		weights[i] = src - float32(i0)
	}
	return taps, weights
}

// Peak returns the row and column of the map's largest value, scaled to an image of height×width (the centre of
// the peak's cell), the first one on ties; ok is false when the map is all zeros (no region raised the score).
func (h Heatmap) Peak(height, width int) (row, col int, ok bool) {
	best, at := float32(0), -1
	for i, v := range h.Map {
		if v > best {
			best, at = v, i
		}
	}
	if at < 0 {
		return 0, 0, false
	}
	r, c := at/h.W, at%h.W
	return int(math.Floor((float64(r) + 0.5) * float64(height) / float64(h.H))),
		int(math.Floor((float64(c) + 0.5) * float64(width) / float64(h.W))), true
}
