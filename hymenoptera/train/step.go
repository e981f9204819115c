package train

import (
	"fmt"
	"slices"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/hymenoptera-go/tutorial/hymenoptera/dataloader"
	"github.com/hymenoptera-go/tutorial/hymenoptera/models"
	"github.com/hymenoptera-go/tutorial/hymenoptera/statedict"
)

// StepResult is what one batch reports: the mean loss over the batch and how many predictions were right.
type StepResult struct {
	Loss    float64
	Correct int
	Count   int
}

// Criterion is a loss function as a graph: logits [N, classes] and labels [N] (int32) to a scalar, the mean over
// the batch (CrossEntropyLoss is the tutorial's nn.CrossEntropyLoss()).
type Criterion func(logits, labels *graph.Node) *graph.Node

// Stepper runs a model's training and evaluation steps, each a compiled GoMLX graph: Train is the tutorial's
// zero_grad, forward, loss, backward and optimizer.step in one call; Eval its forward and loss without
// gradients. Both run in the model's current mode (Train, Eval), as PyTorch's forward does: training mode
// normalises with batch statistics and updates the BatchNorm running statistics. GoMLX compiles each graph once
// per mode and input shape (the last, smaller batch of an epoch compiles once more) and reuses it.
type Stepper struct {
	model     *models.ResNet
	criterion Criterion
	optimizer *SGD
	keys      []string          // the trained parameters' keys, in state_dict order
	params    []*model.Variable // the trained parameters
	buffers   []*model.Variable // their momentum buffers

	// Executors by model mode (true: training), built when first called in that mode.
	trainExecs, evalExecs map[bool]*model.Exec
	// featuresExec and headEvalExec run in evaluation mode: a frozen backbone's features of fixed inputs never
	// change, so they can be computed once and the head evaluated on them.
	featuresExec, headEvalExec *model.Exec
}

// NewStepper prepares the steps of m with a loss and an optimizer. Train updates the optimizer's parameters that
// train (not a BatchNorm buffer, not frozen with SetTrainable(false)); at least one must.
func NewStepper(m *models.ResNet, criterion Criterion, optimizer *SGD) (*Stepper, error) {
	if err := optimizer.validate(); err != nil {
		return nil, err
	}
	s := &Stepper{model: m, criterion: criterion, optimizer: optimizer,
		trainExecs: map[bool]*model.Exec{}, evalExecs: map[bool]*model.Exec{}}
	for _, p := range optimizer.Params {
		if models.IsBuffer(p.Key) || !p.Variable.Trainable {
			continue
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
		return nil, fmt.Errorf("train: the optimizer has no parameter that trains")
	}
	var err error
	backend, store := m.Backend(), m.Store()
	if s.featuresExec, err = model.NewExec(backend, store, func(_ *model.Scope, images *graph.Node) *graph.Node {
		return m.BuildFeatures(images)
	}); err != nil {
		return nil, fmt.Errorf("train: building the feature extractor: %w", err)
	}
	if s.headEvalExec, err = model.NewExec(backend, store, func(_ *model.Scope, features, labels *graph.Node) []*graph.Node {
		return s.lossAndCorrect(m.BuildHead(features), labels)
	}); err != nil {
		return nil, fmt.Errorf("train: building the head evaluation: %w", err)
	}
	return s, nil
}

// Model is the model the steps run.
func (s *Stepper) Model() *models.ResNet { return s.model }

// Trains reports whether the step updates the parameter named key.
func (s *Stepper) Trains(key string) bool { return slices.Contains(s.keys, key) }

// exec returns the executor of the model's current mode from execs, making it with newExec when missing.
func (s *Stepper) exec(execs map[bool]*model.Exec, newExec func(compute.Backend, *model.Store) (*model.Exec, error)) (*model.Exec, error) {
	training := s.model.Training()
	if exec, ok := execs[training]; ok {
		return exec, nil
	}
	exec, err := newExec(s.model.Backend(), s.model.Store())
	if err != nil {
		return nil, fmt.Errorf("train: building a step: %w", err)
	}
	execs[training] = exec
	return exec, nil
}

func (s *Stepper) buildTrainStep(_ *model.Scope, images, labels, lr *graph.Node) []*graph.Node {
	outputs := s.lossAndCorrect(s.model.BuildLogits(images), labels)
	nodes := make([]*graph.Node, len(s.params))
	for i, p := range s.params {
		nodes[i] = p.NodeValue(images.Graph())
	}
	s.optimizer.update(s.params, s.buffers, graph.Gradient(outputs[0], nodes...), lr)
	return outputs
}

func (s *Stepper) buildEvalStep(_ *model.Scope, images, labels *graph.Node) []*graph.Node {
	return s.lossAndCorrect(s.model.BuildLogits(images), labels)
}

// lossAndCorrect returns the criterion's loss and the number of rows whose arg-max is the label.
func (s *Stepper) lossAndCorrect(logits, labels *graph.Node) []*graph.Node {
	predictions := graph.ArgMax(logits, -1, labels.DType())
	correct := graph.ReduceAllSum(graph.ConvertDType(graph.Equal(predictions, labels), dtypes.Int64))
	return []*graph.Node{s.criterion(logits, labels), correct}
}

// Train runs one optimisation step on a batch at the optimizer's current learning rate: forward in the model's
// mode, loss, gradients of the trained parameters, SGD update. It returns the batch's mean loss and hits.
func (s *Stepper) Train(b dataloader.Batch) (StepResult, error) {
	exec, err := s.exec(s.trainExecs, func(b compute.Backend, st *model.Store) (*model.Exec, error) {
		return model.NewExec(b, st, s.buildTrainStep)
	})
	if err != nil {
		return StepResult{}, err
	}
	images, labels := b.Tensors()
	return s.run(exec, labels, images, labels, float32(s.optimizer.LR))
}

// Eval evaluates a batch in the model's mode, without gradients or updates (torch.no_grad()).
func (s *Stepper) Eval(b dataloader.Batch) (StepResult, error) {
	exec, err := s.exec(s.evalExecs, func(b compute.Backend, st *model.Store) (*model.Exec, error) {
		return model.NewExec(b, st, s.buildEvalStep)
	})
	if err != nil {
		return StepResult{}, err
	}
	images, labels := b.Tensors()
	return s.run(exec, labels, images, labels)
}

// Features computes the backbone's features [N, 512] of a batch in evaluation mode.
func (s *Stepper) Features(b dataloader.Batch) (features *tensors.Tensor, err error) {
	defer recoverStep(&err)
	images, _ := b.Tensors()
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
