// Package explain shows why a models.ResNet decides as it does: Grad-CAM heat maps (which regions of an image
// raise a class's score), the confusion matrix and per-class precision and recall on a labelled set, the images
// it gets wrong, and a PCA projection of the features its head reads.
//
// Everything runs the model in evaluation mode, on the same graph builders as prediction and training
// (models.ResNet's BuildTrunk, PoolTrunk and BuildHead): there is no second model definition. The figures of
// these results are drawn by package viz (see figures.go).
package explain

import (
	"fmt"
	"strconv"
	"sync"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/hymenoptera-go/tutorial/hymenoptera/models"
	"github.com/hymenoptera-go/tutorial/hymenoptera/transforms"
)

// Explainer runs a model with the intermediate results that explanations need. Its methods are safe for use by
// one goroutine at a time.
type Explainer struct {
	m *models.ResNet

	mu      sync.Mutex
	forward *model.Exec // images → layer4's activations, pooled features, logits
	cam     *model.Exec // layer4's activations, one-hot classes → Grad-CAM maps
}

// New prepares explanations of m, which it puts in evaluation mode (m.Eval()), as Grad-CAM and the validation
// figures assume.
func New(m *models.ResNet) (*Explainer, error) {
	m.Eval()
	e := &Explainer{m: m}
	var err error
	e.forward, err = model.NewExec(m.Backend(), m.Store(), func(_ *model.Scope, images *graph.Node) []*graph.Node {
		trunk := m.BuildTrunk(images)
		features := models.PoolTrunk(trunk)
		return []*graph.Node{trunk, features, m.BuildHead(features)}
	})
	if err != nil {
		return nil, fmt.Errorf("explain: building the forward pass: %w", err)
	}
	if e.cam, err = model.NewExec(m.Backend(), m.Store(), e.buildGradCAM); err != nil {
		return nil, fmt.Errorf("explain: building Grad-CAM: %w", err)
	}
	return e, nil
}

// NumClasses is the width of the model's head.
func (e *Explainer) NumClasses() int { return e.m.NumClasses() }

// ClassName is the model's name for class k (the checkpoint's class names), else k as a number.
func (e *Explainer) ClassName(k int) string {
	if len(e.m.Classes) == e.m.NumClasses() && k >= 0 && k < len(e.m.Classes) {
		return e.m.Classes[k]
	}
	return strconv.Itoa(k)
}

// forwardOutputs are the forward pass's results for a batch of n images.
type forwardOutputs struct {
	trunk    *tensors.Tensor // [n, h, w, FeatureWidth]
	features []float32       // n × FeatureWidth
	logits   []float32       // n × NumClasses
}

// run runs the forward pass on a batch of images, NHWC.
func (e *Explainer) run(images *tensors.Tensor) (out forwardOutputs, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	defer recoverError(&err, "forward pass")
	outputs, err := e.forward.Call(images)
	if err != nil {
		return out, fmt.Errorf("explain: forward pass: %w", err)
	}
	out.trunk = outputs[0]
	if out.features, err = tensors.CopyFlatData[float32](outputs[1]); err != nil {
		return out, err
	}
	out.logits, err = tensors.CopyFlatData[float32](outputs[2])
	return out, err
}

// stack puts same-sized images, NHWC, into one batch tensor.
func stack(images []*transforms.Tensor) (*tensors.Tensor, error) {
	if len(images) == 0 {
		return nil, fmt.Errorf("explain: no image")
	}
	h, w := images[0].H, images[0].W
	pixels := make([]float32, 0, len(images)*h*w*3)
	for i, t := range images {
		if t == nil || t.H != h || t.W != w || t.C != 3 {
			return nil, fmt.Errorf("explain: image %d is not a %d×%d RGB tensor like the first", i, h, w)
		}
		pixels = append(pixels, t.Data...)
	}
	if h < 32 || w < 32 {
		return nil, fmt.Errorf("explain: images of %d×%d are too small for ResNet-18 (at least 32×32)", h, w)
	}
	return tensors.FromFlatDataAndDimensions(pixels, len(images), h, w, 3), nil
}

// recoverError turns a GoMLX panic (its graph functions panic on errors) into an error.
func recoverError(err *error, what string) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("explain: %s failed: %v", what, r)
	}
}
