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
//
// # Limits inside the backend
//
// What remains sits in compute v0.1.6 itself, and this package stays within its public API. Measured on a 2-core
// AMD EPYC (Zen 4) with `hymenoptera bench --mode matmul` (one convolution's product per stage at batch 32, 2
// threads, next to torch.mm at the same shapes) and `bench --cpuprofile` (README's "Measured figures" has the
// tables and the profiles), for upstream:
//
//   - DotGeneral, AVX-512 kernel ("simd:avx512"): 86-146 GFLOP/s at ResNet-18's shapes, where torch.mm reaches
//     78-188: level at the stem ([64, 147]×[147, 401408]), 1.3× slower at layer1, 2.1× at layer4
//     ([512, 4608]×[4608, 1568], few columns for its 512-column panels). It is 56-60% of a forward or training
//     step's CPU time; torch.mm's rate at layer3-4 alone would take about a tenth off a forward pass at batch 32.
//     Its rate depends on which operand is which: the same products with the operands swapped ([columns, K] ×
//     [K, M]) ran at 150-161 GFLOP/s instead of 98-101 for layer3 at batch 4 ([784, 2304]×[2304, 256]) and at
//     163-165 instead of 118-126 for layer4 at batch 32, but at 84 instead of 123 for layer4 at batch 4 (two runs
//     of bench --mode matmul with those shapes added). The lowering cannot swap them itself: the patches would
//     have to be contracted on their first axis, which the backend transposes first (9 ns an element, more than
//     the product gains), or built channels-last, which puts that transpose in the kernel gradient. A kernel that
//     picked its blocking from the shape would gain it at no cost here.
//   - DotGeneral, AVX2 kernel ("simd:avx2", what Intel laptops and AMD Zen 2-3 get): 63-84 GFLOP/s at the same
//     shapes, 0.6-0.75 of the AVX-512 kernel although Zen 4's AVX-512 units are its two AVX2 pipes paired. Its
//     4×16 micro-kernel keeps 8 accumulators, fewer independent FMAs than two pipes with a 4-cycle latency need;
//     a 6×16 micro-kernel (12 accumulators) would close most of that gap. It is 69-72% of the CPU time with
//     AVX-512 off: 1.5× faster products would bring the forward pass from about 2.9× PyTorch's time to 2.2×.
//   - DotGeneral without SIMD ("simd:nosimd": arm64, x86 without AVX2, or GOMLX_SIMD_AVX2=false): 5-8 GFLOP/s,
//     a scalar 2×4 micro-kernel without FMA, 15-35× slower than torch.mm; the model runs about 20× slower than
//     PyTorch. An arm64 NEON kernel would be what Apple Silicon needs most.
//   - Slice with a stride copies element by element on one goroutine, about 2 ns an element: 21% of a forward
//     pass's CPU time at batch 32 (the stem's 49 windows, 59 million elements; max-pooling's 9, 58 million; the
//     strided patches of layer3 and layer4), 8% of a training step at batch 4, on the critical path. Copying
//     whole runs of the innermost axis where the stride allows (the wide patches' trick, inside the backend)
//     would gain most of it. Tried within the API and not kept: the stride-2 convolutions (the stem, the first
//     convolutions of layer2 and layer3) as four stride-1 polyphase convolutions on wide patches. The strided
//     slices' share fell from 21% to 16% of a forward pass, but cutting the outputs out of the wide product
//     (one more element-by-element Slice, 103 MB at the stem), the extra buffers and 5% more columns ate the
//     gain: eval at batch 32 and a training step at batch 4 ran at the same speed, within the noise.
//   - Transpose walks a generic index iterator, about 9 ns an element: the kernels laid out for the input
//     gradients (inputGradientKernel, and the backend's own transposes of operands contracted on their first
//     axis), 11 million elements a training step, 8% of its CPU time. A blocked 2-D transpose would gain most
//     of that.
//   - Element-wise operations run on one goroutine each, and those with an implicit broadcast walk the generic
//     iterator (1.8 ns an element against 0.46): BatchNorm's passes and the max-pool gradient's masks (9% of a
//     training step) run on one core while the other waits; a training step keeps 1.7 of 2 cores busy.
//     Splitting them across the worker pool would gain most of the idle core's share.
//   - Memory: the forward pass at batch 32 peaks at about 2 GiB resident, 3.2× PyTorch's, a training step at
//     batch 4 at about 0.95 GiB, 1.7×. A heap profile after a forced collection puts 99% of the Go heap in the
//     backend's pools of freed buffers (Backend.GetBuffer): 1.98 GB at eval batch 32, 0.81 GB in a training
//     step. Freed buffers go to one sync.Pool per size class (sizes rounded up to 2^k or 1.5·2^k), so each class
//     keeps as many buffers as were ever alive at once in it, and sync.Pool's per-thread slots, which other
//     threads cannot take from, keep up to one more per thread. At eval batch 32: 2 × 256 MB (the stem's patches,
//     236 MB, and layer1's wide patches, 248 MB), 50 × 6 MB (the stem's 49 strided windows, all alive until
//     they are stacked), 13 × 32 MB, 2 × 128 MB (the stem's product and its BatchNorm output, 103 MB each),
//     2 × 64 MB, 14 × 8 MB, 7 × 16 MB. In a training step at batch 4: 6 × 32 MB (the patches of the stem and of
//     layer1, kept for the kernel gradients), 9 × 12 MB, 6 × 16 MB, 4 × 24 MB, 19 × 4 MB. GOGC=25 does not lower
//     either peak: it is the pools themselves; GOMEMLIMIT=900MiB does (eval: 1.2 GiB) by emptying the pools at
//     every collection, at a 30% slowdown. One free list shared by all sizes, reusing the smallest buffer that
//     fits, would hold about the largest set of buffers alive at once: the patches and a few activations.
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
