package train

import (
	"fmt"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/hymenoptera-go/tutorial/hymenoptera/models"
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
	params    []*model.Variable // the trainable ones, in state_dict order
	buffers   []*model.Variable // their momentum buffers
	trainExec *model.Exec
	evalExec  *model.Exec
}

// NewStepper prepares steps for m with optimizer; trainable(key) says which parameters train (nil: all).
// BatchNorm buffers never train by gradient; in training steps they follow PyTorch's running-statistics update.
func NewStepper(m *models.ResNet, optimizer SGD, trainable func(key string) bool) (*Stepper, error) {
	if err := optimizer.validate(); err != nil {
		return nil, err
	}
	s := &Stepper{model: m, optimizer: optimizer}
	for _, p := range m.Parameters() {
		train := !models.IsBuffer(p.Key) && (trainable == nil || trainable(p.Key))
		p.Variable.SetTrainable(train)
		if !train {
			continue
		}
		buffer, err := momentumBuffer(m.Store(), p.Variable)
		if err != nil {
			return nil, fmt.Errorf("train: momentum buffer of %s: %w", p.Key, err)
		}
		s.params = append(s.params, p.Variable)
		s.buffers = append(s.buffers, buffer)
	}
	if len(s.params) == 0 {
		return nil, fmt.Errorf("train: no trainable parameter")
	}
	var err error
	s.trainExec, err = model.NewExec(m.Backend(), m.Store(), s.buildTrainStep)
	if err != nil {
		return nil, fmt.Errorf("train: building the training step: %w", err)
	}
	s.evalExec, err = model.NewExec(m.Backend(), m.Store(), func(_ *model.Scope, images, labels *graph.Node) []*graph.Node {
		logits := m.BuildLogits(images, false)
		return []*graph.Node{CrossEntropyLoss(logits, labels), countCorrect(logits, labels)}
	})
	if err != nil {
		return nil, fmt.Errorf("train: building the evaluation step: %w", err)
	}
	return s, nil
}

func (s *Stepper) buildTrainStep(_ *model.Scope, images, labels, lr *graph.Node) []*graph.Node {
	logits := s.model.BuildLogits(images, true)
	loss := CrossEntropyLoss(logits, labels)
	nodes := make([]*graph.Node, len(s.params))
	for i, p := range s.params {
		nodes[i] = p.NodeValue(images.Graph())
	}
	s.optimizer.update(s.params, s.buffers, graph.Gradient(loss, nodes...), lr)
	return []*graph.Node{loss, countCorrect(logits, labels)}
}

// countCorrect counts the rows whose arg-max is the label.
func countCorrect(logits, labels *graph.Node) *graph.Node {
	predictions := graph.ArgMax(logits, -1, labels.DType())
	return graph.ReduceAllSum(graph.ConvertDType(graph.Equal(predictions, labels), dtypes.Int64))
}

// TrainStep runs one optimisation step on a batch (images [N, H, W, 3] float32, labels [N] int32) at learning rate
// lr, in training mode: batch statistics, running-statistics update, SGD update of the trainable parameters.
func (s *Stepper) TrainStep(images, labels *tensors.Tensor, lr float64) (StepResult, error) {
	return s.run(s.trainExec, images, labels, float32(lr))
}

// EvalStep evaluates a batch in evaluation mode, without gradients or updates.
func (s *Stepper) EvalStep(images, labels *tensors.Tensor) (StepResult, error) {
	return s.run(s.evalExec, images, labels)
}

func (s *Stepper) run(exec *model.Exec, images, labels *tensors.Tensor, extra ...any) (result StepResult, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("train: step failed: %v", r)
		}
	}()
	outputs, err := exec.Call(append([]any{images, labels}, extra...)...)
	if err != nil {
		return result, fmt.Errorf("train: step failed: %w", err)
	}
	return StepResult{
		Loss:    float64(tensors.ToScalar[float32](outputs[0])),
		Correct: int(tensors.ToScalar[int64](outputs[1])),
		Count:   labels.Shape().Dimensions[0],
	}, nil
}

func zerosLike(v *model.Variable) *tensors.Tensor { return tensors.FromShape(v.Shape()) }
