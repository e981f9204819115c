package train

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/hymenoptera-go/tutorial/hymenoptera/models"
)

// SGD is torch.optim.SGD: for each trainable parameter p with gradient g,
//
//	g ← g + weight_decay·p
//	buf ← momentum·buf + g   (buf = g on the first step; dampening is 0)
//	g ← g + momentum·buf if Nesterov, else buf
//	p ← p − lr·g
//
// GoMLX's own optimizers.StochasticGradientDescent has no momentum and by default decays the learning rate by
// √step, so it cannot follow PyTorch's numbers.
//
// Like torch's optimizer it holds the parameters it updates, and a scheduler changes its LR between epochs. A
// parameter that does not train (a BatchNorm buffer, or one frozen with SetTrainable(false), torch's
// requires_grad = False) is skipped, as torch skips parameters without a gradient.
type SGD struct {
	Params      []models.Parameter // what it updates: model.Parameters(), or model.FCParameters()
	LR          float64            // the learning rate of the next step (a scheduler lowers it)
	Momentum    float64
	WeightDecay float64
	Nesterov    bool
}

// validate rejects settings torch.optim.SGD also rejects.
func (o *SGD) validate() error {
	switch {
	case o.LR < 0 || math.IsNaN(o.LR) || math.IsInf(o.LR, 0):
		return fmt.Errorf("train: invalid learning rate %v", o.LR)
	case o.Momentum < 0:
		return fmt.Errorf("train: invalid momentum %v", o.Momentum)
	case o.WeightDecay < 0:
		return fmt.Errorf("train: invalid weight decay %v", o.WeightDecay)
	case o.Nesterov && o.Momentum == 0:
		return fmt.Errorf("train: Nesterov momentum requires a momentum > 0")
	}
	return nil
}

// momentumPrefix is where SGD keeps its momentum buffers in the model's store: one variable per trainable
// parameter, at momentumPrefix + the parameter's path. They travel with training checkpoints so that a resumed
// run continues exactly.
const momentumPrefix = "/optimizer/momentum_buffer"

// momentumBuffer returns (creating it at zero) the momentum buffer of parameter v. A zero buffer gives exactly
// torch's first step, buf = g, because dampening is 0.
func momentumBuffer(store *model.Store, v *model.Variable) (*model.Variable, error) {
	path := momentumPrefix + v.Path()
	if existing := store.GetVariable(path); existing != nil {
		return existing, nil
	}
	buffer, err := store.CreateVariable(path, zerosLike(v))
	if err != nil {
		return nil, err
	}
	buffer.SetTrainable(false)
	return buffer, nil
}

// update builds the graph that applies one SGD step to params given their gradients, with the learning rate lr
// (a graph scalar, so that a schedule does not recompile the step).
func (o *SGD) update(params []*model.Variable, buffers []*model.Variable, grads []*graph.Node, lr *graph.Node) {
	for i, p := range params {
		g := p.NodeValue(lr.Graph())
		grad := grads[i]
		if o.WeightDecay != 0 {
			grad = graph.Add(grad, graph.MulScalar(g, o.WeightDecay))
		}
		if o.Momentum != 0 {
			buf := graph.Add(graph.MulScalar(buffers[i].NodeValue(lr.Graph()), o.Momentum), grad)
			buffers[i].SetNodeValue(buf)
			if o.Nesterov {
				grad = graph.Add(grad, graph.MulScalar(buf, o.Momentum))
			} else {
				grad = buf
			}
		}
		p.SetNodeValue(graph.Sub(g, graph.Mul(grad, graph.ConvertDType(lr, grad.DType()))))
	}
}
