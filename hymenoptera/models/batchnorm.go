package models

import (
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/hymenoptera-go/tutorial/hymenoptera/models/internal/lowering"
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
// It computes as PyTorch's CPU kernels do: the per-channel sums in float64, then y = x·α + β with α = weight/σ
// and β = bias − μ·α, and in the backward pass, from the output gradient v (sums over the count values of N, H,
// W of each channel):
//
//	∂L/∂bias = Σ v   ∂L/∂weight = Σ v·(x−μ)/σ
//	∂L/∂x = (v − Σ v/count − (x−μ)·Σ v·(x−μ)/(count·σ²))·α
//
// rather than by GoMLX's differentiation of the graph: the same values in exact arithmetic, with about half the
// full-size passes (each per-channel broadcast is a slow pass on the pure-Go backend). The gradients of x, weight
// and bias get v through lowering.OutputAdjoint.
func (bn *batchNorm) train(x *graph.Node, ops lowering.Ops) *graph.Node {
	g := x.Graph()
	dims := x.Shape().Dimensions
	count := float64(dims[1] * dims[2] * dims[3])
	dtype := x.DType()
	mean64 := graph.DivScalar(lowering.ChannelSum64(x), count)
	meanSquare64 := graph.DivScalar(lowering.ChannelSum64(graph.Square(x)), count)
	variance64 := graph.StopGradient(graph.MaxScalar(graph.Sub(meanSquare64, graph.Square(mean64)), 0))
	mean64 = graph.StopGradient(mean64)
	invStd64 := graph.Inverse(graph.Sqrt(graph.AddScalar(variance64, BatchNormEpsilon)))
	mean, invStd := graph.ConvertDType(mean64, dtype), graph.ConvertDType(invStd64, dtype)

	var adjoint lowering.OutputAdjoint
	var weight *graph.Node
	var cachedSumV, cachedDotP *graph.Node
	// adjointSums returns Σ v and Σ v·(x−μ) in float64, computed once for whichever gradient asks first.
	adjointSums := func() (sumV, dotP *graph.Node) {
		if cachedSumV == nil {
			v := adjoint.Get()
			cachedSumV = lowering.ChannelSum64(v)
			cachedDotP = graph.Sub(lowering.ChannelSum64(graph.Mul(v, x)), graph.Mul(mean64, cachedSumV))
		}
		return cachedSumV, cachedDotP
	}
	input := graph.IdentityWithCustomGradient(x, func(_, _ *graph.Node) *graph.Node {
		sumV, dotP := adjointSums()
		alpha64 := graph.Mul(graph.ConvertDType(weight, dtypes.Float64), invStd64)
		k := graph.DivScalar(graph.Mul(dotP, graph.Square(invStd64)), count) // dx = (v − mean(v) − (x−μ)·k)·α
		vScale := graph.ConvertDType(alpha64, dtype)
		xScale := graph.ConvertDType(graph.Neg(graph.Mul(k, alpha64)), dtype)
		shift := graph.ConvertDType(graph.Mul(graph.Sub(graph.Mul(mean64, k), graph.DivScalar(sumV, count)), alpha64), dtype)
		return graph.Add(graph.Add(graph.Mul(adjoint.Get(), ops.PerChannel(vScale, x)),
			graph.Mul(x, ops.PerChannel(xScale, x))), ops.PerChannel(shift, x))
	})
	weight = graph.IdentityWithCustomGradient(bn.weight.NodeValue(g), func(w, _ *graph.Node) *graph.Node {
		_, dotP := adjointSums()
		return graph.ConvertDType(graph.Mul(dotP, invStd64), w.DType())
	})
	bias := graph.IdentityWithCustomGradient(bn.bias.NodeValue(g), func(b, _ *graph.Node) *graph.Node {
		sumV, _ := adjointSums()
		return graph.ConvertDType(sumV, b.DType())
	})
	alpha := graph.Mul(weight, invStd)
	beta := graph.Sub(bias, graph.Mul(mean, alpha))
	y := graph.Add(graph.Mul(input, ops.PerChannel(alpha, x)), ops.PerChannel(beta, x))

	unbiased := graph.ConvertDType(graph.MulScalar(variance64, count/max(count-1, 1)), dtype)
	bn.runningMean.SetNodeValue(momentumUpdate(bn.runningMean.NodeValue(g), mean))
	bn.runningVar.SetNodeValue(momentumUpdate(bn.runningVar.NodeValue(g), unbiased))
	bn.numBatchesTracked.SetNodeValue(graph.AddScalar(bn.numBatchesTracked.NodeValue(g), 1))
	return adjoint.Capture(y)
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
