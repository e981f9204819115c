package models

import (
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gomlx/gomlx/core/graph"
)

// PyTorch's BatchNorm2d defaults, which torchvision's ResNet uses.
const (
	BatchNormEpsilon  = 1e-5
	BatchNormMomentum = 0.1
)

// batchNorm holds the variables of one torch.nn.BatchNorm2d.
//
// It is written here rather than taken from GoMLX's norm.BatchNorm, which follows Keras: a different momentum
// convention, a debiasing weight that replaces loaded running statistics on the first training step, and backend
// BatchNorm ops that the pure-Go backend lacks. This one follows PyTorch exactly:
//   - training: normalise with the batch mean and the biased batch variance, with gradients through both; update
//     running_mean and running_var (with the unbiased batch variance) with momentum 0.1; count num_batches_tracked.
//   - eval: normalise with the running statistics.
type batchNorm struct {
	weight, bias, runningMean, runningVar, numBatchesTracked *model.Variable
}

// train normalises x [C, N, H, W] with its batch statistics and records the running-statistics update in the
// graph (model.Exec writes the new values back after the step).
//
// The gradient with respect to x is PyTorch's closed form, x̂ = (x−μ)/σ, v = ∂L/∂x after the 1/σ scaling:
//
//	∂L/∂x = v − mean(v) − x̂·mean(v·x̂)   (means over N, H, W per channel)
//
// rather than GoMLX's differentiation of the mean and variance graph: the same value in exact arithmetic, but the
// closed form is cheaper and rounds like PyTorch.
func (bn *batchNorm) train(x *graph.Node) *graph.Node {
	g := x.Graph()
	dims := x.Shape().Dimensions
	count := dims[1] * dims[2] * dims[3]
	mean := graph.StopGradient(channelMean(x))
	centered := graph.Sub(x, perChannel(mean))
	variance := graph.StopGradient(channelMean(graph.Square(centered)))
	invStd := graph.Inverse(graph.Sqrt(graph.AddScalar(variance, BatchNormEpsilon)))

	var normalized *graph.Node
	input := graph.IdentityWithCustomGradient(x, func(_, v *graph.Node) *graph.Node {
		projection := graph.Mul(normalized, perChannel(channelMean(graph.Mul(v, normalized))))
		return graph.Sub(graph.Sub(v, perChannel(channelMean(v))), projection)
	})
	normalized = graph.Mul(graph.Sub(input, perChannel(mean)), perChannel(invStd))
	y := graph.Add(graph.Mul(normalized, perChannel(bn.weight.NodeValue(g))), perChannel(bn.bias.NodeValue(g)))

	unbiased := graph.MulScalar(variance, float64(count)/float64(max(count-1, 1)))
	bn.runningMean.SetNodeValue(momentumUpdate(bn.runningMean.NodeValue(g), mean))
	bn.runningVar.SetNodeValue(momentumUpdate(bn.runningVar.NodeValue(g), unbiased))
	bn.numBatchesTracked.SetNodeValue(graph.AddScalar(bn.numBatchesTracked.NodeValue(g), 1))
	return y
}

// momentumUpdate is PyTorch's running-statistic update: (1−momentum)·running + momentum·batch.
func momentumUpdate(running, batch *graph.Node) *graph.Node {
	return graph.Add(graph.MulScalar(running, 1-BatchNormMomentum), graph.MulScalar(batch, BatchNormMomentum))
}

// evalScaleShift returns the per-channel affine map that eval-mode BatchNorm applies, y = x·scale + shift,
// from the running statistics.
func (bn *batchNorm) evalScaleShift(g *graph.Graph) (scale, shift *graph.Node) {
	invStd := graph.Inverse(graph.Sqrt(graph.AddScalar(bn.runningVar.NodeValue(g), BatchNormEpsilon)))
	scale = graph.Mul(bn.weight.NodeValue(g), invStd)
	shift = graph.Sub(bn.bias.NodeValue(g), graph.Mul(bn.runningMean.NodeValue(g), scale))
	return scale, shift
}

// channelMean is the mean of x [C, N, H, W] over N, H, W, accumulated in float64 as PyTorch's CPU BatchNorm
// does.
func channelMean(x *graph.Node) *graph.Node {
	return graph.ConvertDType(graph.ReduceMean(graph.ConvertDType(x, dtypes.Float64), 1, 2, 3), x.DType())
}
