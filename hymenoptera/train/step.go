package train

import (
	"fmt"
	"slices"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/hymenoptera-go/tutorial/hymenoptera/models"
	"github.com/hymenoptera-go/tutorial/hymenoptera/statedict"
)

// StepResult is what one batch reports: the mean loss over the batch and how many predictions were right.
type StepResult struct {
	Loss    float64
	Correct int
	Count   int
}

// Stepper runs compiled training and evaluation steps of a model. GoMLX compiles each graph once per input shape
// (the last, smaller batch of an epoch compiles once more) and reuses it for every later batch.
type Stepper struct {
	model     *models.ResNet
	optimizer SGD
	keys      []string          // the trainable parameters' keys, in state_dict order
	params    []*model.Variable // the trainable parameters
	buffers   []*model.Variable // their momentum buffers
	// frozenBackbone runs the backbone in evaluation mode during training (running statistics untouched), so
	// only the head's graph needs gradients and features of fixed inputs can be computed once.
	frozenBackbone bool

	trainExec, evalExec, featuresExec, headEvalExec *model.Exec
}

// NewStepper prepares steps for m with optimizer; trainable(key) says which parameters train (nil: all).
// BatchNorm buffers never train by gradient; in training steps they follow PyTorch's running-statistics update,
// unless frozenBackbone is set, which requires that only the head trains.
func NewStepper(m *models.ResNet, optimizer SGD, trainable func(key string) bool, frozenBackbone bool) (*Stepper, error) {
	if err := optimizer.validate(); err != nil {
		return nil, err
	}
	s := &Stepper{model: m, optimizer: optimizer, frozenBackbone: frozenBackbone}
	for _, p := range m.Parameters() {
		train := !models.IsBuffer(p.Key) && (trainable == nil || trainable(p.Key))
		p.Variable.SetTrainable(train)
		if !train {
			continue
		}
		if frozenBackbone && !models.IsHead(p.Key) {
			return nil, fmt.Errorf("train: with a frozen backbone only the head can train, not %s", p.Key)
		}
		buffer, err := momentumBuffer(m.Store(), p.Variable)
		if err != nil {
			return nil, fmt.Errorf("train: momentum buffer of %s: %w", p.Key, err)
		}
		s.keys = append(s.keys, p.Key)
		s.params = append(s.params, p.Variable)
		s.buffers = append(s.buffers, buffer)
	}
	if len(s.params) == 0 {
		return nil, fmt.Errorf("train: no trainable parameter")
	}
	backend, store := m.Backend(), m.Store()
	var err error
	if s.trainExec, err = model.NewExec(backend, store, s.buildTrainStep); err != nil {
		return nil, fmt.Errorf("train: building the training step: %w", err)
	}
	if s.evalExec, err = model.NewExec(backend, store, func(_ *model.Scope, images, labels *graph.Node) []*graph.Node {
		return lossAndCorrect(m.BuildLogits(images, false), labels)
	}); err != nil {
		return nil, fmt.Errorf("train: building the evaluation step: %w", err)
	}
	if s.featuresExec, err = model.NewExec(backend, store, func(_ *model.Scope, images *graph.Node) *graph.Node {
		return m.BuildFeatures(images, false)
	}); err != nil {
		return nil, fmt.Errorf("train: building the feature extractor: %w", err)
	}
	if s.headEvalExec, err = model.NewExec(backend, store, func(_ *model.Scope, features, labels *graph.Node) []*graph.Node {
		return lossAndCorrect(m.BuildHead(features), labels)
	}); err != nil {
		return nil, fmt.Errorf("train: building the head evaluation: %w", err)
	}
	return s, nil
}

func (s *Stepper) buildTrainStep(_ *model.Scope, images, labels, lr *graph.Node) []*graph.Node {
	var logits *graph.Node
	if s.frozenBackbone {
		logits = s.model.BuildHead(graph.StopGradient(s.model.BuildFeatures(images, false)))
	} else {
		logits = s.model.BuildLogits(images, true)
	}
	outputs := lossAndCorrect(logits, labels)
	nodes := make([]*graph.Node, len(s.params))
	for i, p := range s.params {
		nodes[i] = p.NodeValue(images.Graph())
	}
	s.optimizer.update(s.params, s.buffers, graph.Gradient(outputs[0], nodes...), lr)
	return outputs
}

// lossAndCorrect returns the mean cross-entropy and the number of rows whose arg-max is the label.
func lossAndCorrect(logits, labels *graph.Node) []*graph.Node {
	predictions := graph.ArgMax(logits, -1, labels.DType())
	correct := graph.ReduceAllSum(graph.ConvertDType(graph.Equal(predictions, labels), dtypes.Int64))
	return []*graph.Node{CrossEntropyLoss(logits, labels), correct}
}

// TrainStep runs one optimisation step on a batch (images [N, H, W, 3] float32, labels [N] int32) at learning rate
// lr: forward in training mode (unless the backbone is frozen), SGD update of the trainable parameters.
func (s *Stepper) TrainStep(images, labels *tensors.Tensor, lr float64) (StepResult, error) {
	return s.run(s.trainExec, labels, images, labels, float32(lr))
}

// EvalStep evaluates a batch in evaluation mode, without gradients or updates.
func (s *Stepper) EvalStep(images, labels *tensors.Tensor) (StepResult, error) {
	return s.run(s.evalExec, labels, images, labels)
}

// Features computes the backbone's features [N, 512] of images in evaluation mode.
func (s *Stepper) Features(images *tensors.Tensor) (features *tensors.Tensor, err error) {
	defer recoverStep(&err)
	return s.featuresExec.Call1(images)
}

// EvalHead evaluates the head alone on precomputed features.
func (s *Stepper) EvalHead(features, labels *tensors.Tensor) (StepResult, error) {
	return s.run(s.headEvalExec, labels, features, labels)
}

func (s *Stepper) run(exec *model.Exec, labels *tensors.Tensor, args ...any) (result StepResult, err error) {
	defer recoverStep(&err)
	outputs, err := exec.Call(args...)
	if err != nil {
		return result, fmt.Errorf("train: step failed: %w", err)
	}
	return StepResult{
		Loss:    float64(tensors.ToScalar[float32](outputs[0])),
		Correct: int(tensors.ToScalar[int64](outputs[1])),
		Count:   labels.Shape().Dimensions[0],
	}, nil
}

// recoverStep turns a GoMLX panic into the step's error.
func recoverStep(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("train: step failed: %v", r)
	}
}

// momentumState copies the momentum buffers into a state dict keyed by parameter.
func (s *Stepper) momentumState() (*statedict.StateDict, error) {
	sd := statedict.New()
	for i, key := range s.keys {
		value, err := s.buffers[i].Value()
		if err != nil {
			return nil, err
		}
		data, err := tensors.CopyFlatData[float32](value)
		if err != nil {
			return nil, err
		}
		sd.Set(key, &statedict.Tensor{DType: statedict.Float32, Shape: slices.Clone(value.Shape().Dimensions), Float32: data})
	}
	return sd, nil
}

// loadMomentumState restores the momentum buffers saved by momentumState.
func (s *Stepper) loadMomentumState(sd *statedict.StateDict) error {
	if len(sd.Keys) != len(s.keys) {
		return fmt.Errorf("%d momentum buffers, this run trains %d parameters", len(sd.Keys), len(s.keys))
	}
	for i, key := range s.keys {
		t, ok := sd.Tensors[key]
		if !ok {
			return fmt.Errorf("no momentum buffer for %s", key)
		}
		if !slices.Equal(t.Shape, s.buffers[i].Shape().Dimensions) {
			return fmt.Errorf("momentum buffer %s has shape %v, want %v", key, t.Shape, s.buffers[i].Shape().Dimensions)
		}
		if err := s.buffers[i].SetValue(tensors.FromFlatDataAndDimensions(slices.Clone(t.Float32), t.Shape...)); err != nil {
			return err
		}
	}
	return nil
}

func zerosLike(v *model.Variable) *tensors.Tensor { return tensors.FromShape(v.Shape()) }
