// Package lowering computes ResNet's layer operations — convolution, max-pooling, per-channel broadcasts, ReLU,
// per-channel sums — on activations laid out [C, N, H, W], in one of two ways: natively, with the backend's own
// ConvGeneral and ReduceWindow (XLA), or lowered to the operations that GoMLX's pure-Go backend runs fast. Both
// give the same numbers, forward and gradients (the tests compare them); ForBackend picks one by the backend's
// name. Package models builds the network; this package only decides how each operation runs.
//
// Each trick answers a measured property of the pure-Go backend (compute v0.1.6, on a 2-core AVX-512 machine;
// README's "Measured figures"):
//
//   - Its ConvGeneral is a scalar loop (ResNet-18 forward 0.4 img/s): a convolution becomes patch extraction and
//     one DotGeneral, which runs on the backend's AVX-512 matrix kernel (Conv2d).
//   - Its DotGeneral multiplies without copying the large operand only when the contracted axis is last on the
//     left and first or last on the right. With channels first, [C, N, H, W], the forward product (kernel
//     [O, I·KH·KW] by patches [I·KH·KW, N, Ho, Wo]) and the products of its gradients are in those layouts, and
//     the patches are whole strided slices stacked along a new second axis. In NHWC the kernel gradient
//     contracts over the batch axis and the backend transposes both operands first (about a fifth of a training
//     step). Hence the layout; XLA accepts any.
//   - It copies a strided Slice element by element, several times slower than the row-at-a-time copies of its
//     Concatenate: stride-1 convolutions of large planes take "wide" patches, shifted copies of the flattened
//     input built by concatenation (wide.go), and padding is concatenation with fill blocks rather than Pad,
//     which also copies element by element (padSpatial).
//   - Its element-wise operations with an implicit broadcast walk a generic index iterator, 1.8 ns an element
//     against 0.46 between equal shapes: per-channel operands are materialised by an outer product with ones
//     (Ops.PerChannel).
//   - Its reductions run element by element: per-channel sums are matrix-vector products with ones, accumulated
//     in float64 across rows as PyTorch's CPU BatchNorm does (ChannelSum64).
//   - GoMLX's generic gradients of these constructions make full-size copies (the DotGeneral gradient's
//     transpose, the strided slices' scatter through zero Pads, Max's sign indicators): the convolutions, ReLU
//     and max-pooling carry hand-written gradients, handed their output gradient by OutputAdjoint.
//
// The backend's bounded worker pool, which hangs once as many matrix multiplications are ready as it has workers,
// is the backends package's business (backends.NewWithConfig lifts the bound).
package lowering

import (
	"math"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
)

// Ops computes the layer operations natively or lowered. The zero value is Native.
type Ops struct{ lowered bool }

var (
	// Native uses the backend's ConvGeneral and ReduceWindow and implicit broadcasts: the choice for XLA.
	Native = Ops{}
	// Lowered uses patches and matrix multiplications, strided slices and materialised broadcasts: the pure-Go
	// backend's fast path.
	Lowered = Ops{lowered: true}
)

// goBackend is the pure-Go backend's name, as compute.Backend.String() gives it.
const goBackend = "go"

// ForBackend picks the operations for a backend named as compute.Backend.String() names it ("go", "xla"):
// Lowered for the pure-Go backend, Native for any other.
func ForBackend(name string) Ops {
	if name == goBackend {
		return Lowered
	}
	return Native
}

// String names the choice, for messages.
func (o Ops) String() string {
	if o.lowered {
		return "lowered"
	}
	return "native"
}

// MaxPool2d is max-pooling of x [C, N, H, W] with a square window, stride and padding (padded with −∞, as
// PyTorch does). Lowered, it is the maximum of the window's strided slices, with the gradient of maxPoolGradient.
func (o Ops) MaxPool2d(x *graph.Node, window, stride, padding int) *graph.Node {
	if !o.lowered {
		return graph.BackendReduceWindow(x, compute.ReduceOpMax, []int{1, 1, window, window}, []int{1, 1, stride, stride},
			nil, nil, [][2]int{{0, 0}, {0, 0}, {padding, padding}, {padding, padding}})
	}
	var adjoint OutputAdjoint
	var windows []*graph.Node
	var result *graph.Node
	padded := graph.IdentityWithCustomGradient(padSpatial(x, math.Inf(-1), padding, padding),
		func(padded, _ *graph.Node) *graph.Node {
			return maxPoolGradient(padded.Shape().Dimensions, windows, result, adjoint.Get(), window, stride)
		})
	windows = windowSlices(padded, window, window, stride)
	result = windows[0]
	for _, s := range windows[1:] {
		result = graph.Max(result, s)
	}
	return adjoint.Capture(result)
}

// PerChannel returns v [C] broadcast over like [C, N, H, W], for an element-wise operation between them. Lowered,
// the broadcast is materialised as the outer product of v with ones, one matrix multiplication: the pure-Go
// backend's element-wise operations run about 3.5 times faster between equal shapes than with an implicit
// broadcast (0.5 ns an element, the product included, against 1.8 ns measured), and they are BatchNorm's
// largest cost. Native, v is reshaped to [C, 1, 1, 1] and broadcast implicitly.
func (o Ops) PerChannel(v, like *graph.Node) *graph.Node {
	dims := like.Shape().Dimensions
	if !o.lowered {
		return graph.Reshape(v, dims[0], 1, 1, 1)
	}
	ones := graph.Ones(v.Graph(), shapes.Make(v.DType(), 1, dims[1]*dims[2]*dims[3]))
	return graph.Reshape(graph.DotGeneral(graph.Reshape(v, dims[0], 1), []int{1}, nil, ones, []int{0}, nil), dims...)
}

// Relu is max(x, 0), with PyTorch's gradient, v where x > 0 and 0 elsewhere, computed by one comparison and one
// Where: GoMLX's gradient of Max builds sign indicators and reduces over the scalar side (several full passes).
// It runs the same way on every backend.
func Relu(x *graph.Node) *graph.Node {
	var adjoint OutputAdjoint
	zero := graph.ScalarZero(x.Graph(), x.DType())
	x = graph.IdentityWithCustomGradient(x, func(x, _ *graph.Node) *graph.Node {
		return graph.Where(graph.GreaterThan(x, zero), adjoint.Get(), zero)
	})
	return adjoint.Capture(graph.MaxScalar(x, 0))
}

// ChannelSum64 is the sum of x [C, N, H, W] over N, H, W, as float64. Each row of W values is summed in float32
// by one matrix-vector product with ones (the backend's AVX-512 matrix kernel, several times faster than its
// element-by-element reductions), and the rows in float64: rounding stays within about W float32 steps of the
// values summed, where one float32 sum over all N·H·W values drifts by thousands (PyTorch's CPU BatchNorm
// accumulates in float64 for that reason, and the golden tests need it).
func ChannelSum64(x *graph.Node) *graph.Node {
	dims := x.Shape().Dimensions
	rows := graph.Reshape(x, dims[0]*dims[1]*dims[2], dims[3])
	ones := graph.Ones(x.Graph(), shapes.Make(x.DType(), dims[3]))
	rowSums := graph.DotGeneral(rows, []int{1}, nil, ones, []int{0}, nil)
	return graph.ReduceSum(graph.ConvertDType(graph.Reshape(rowSums, dims[0], dims[1]*dims[2]), dtypes.Float64), 1)
}
