package models

import (
	"math"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
)

// Activations inside the network are laid out [C, N, H, W] ("channels, batch, height, width").
//
// Why this unusual layout: on the pure-Go backend a convolution becomes one matrix multiplication of the kernel,
// [O, KH·KW·I], by the image patches, [KH·KW·I, N, Ho, Wo]. With channels first, the forward product and both
// products of its gradient are in the layouts that the backend's DotGeneral multiplies without copying (the
// contracted axis last on the left, first or last on the right), and the patches are built by concatenating
// whole strided slices along the first axis. In NHWC the kernel gradient contracts over the batch axis and the
// backend transposes both operands first (about a fifth of a training step). XLA accepts any layout.

// ConvAlgorithm says how convolutions are computed.
type ConvAlgorithm int

const (
	// ConvAuto uses ConvMatMul on the pure-Go backend and ConvNative elsewhere.
	ConvAuto ConvAlgorithm = iota
	// ConvNative uses the backend's ConvGeneral (and ReduceWindow for max-pooling): the choice for XLA.
	ConvNative
	// ConvMatMul lowers convolutions to patch extraction (Pad + strided Slice + Concatenate) and one DotGeneral,
	// and max-pooling to a maximum over strided slices: the pure-Go backend's fast path. Gradients are exact,
	// since every op used is differentiable.
	ConvMatMul
)

// String names the algorithm as the command-line flags do.
func (a ConvAlgorithm) String() string {
	switch a {
	case ConvNative:
		return "native"
	case ConvMatMul:
		return "matmul"
	default:
		return "auto"
	}
}

// resolve picks the concrete algorithm for a backend, named as compute.Backend.String() names it ("go", "xla").
func (a ConvAlgorithm) resolve(backendName string) ConvAlgorithm {
	if a != ConvAuto {
		return a
	}
	if backendName == "go" {
		return ConvMatMul
	}
	return ConvNative
}

// conv2d convolves x [C, N, H, W] with kernel [O, I, KH, KW] (PyTorch's layout), with the given stride and
// zero padding on both spatial sides, giving [O, N, Ho, Wo]. No bias: every ResNet convolution is followed by
// BatchNorm.
func conv2d(x, kernel *graph.Node, stride, padding int, algorithm ConvAlgorithm) *graph.Node {
	if algorithm == ConvNative {
		axes := compute.ConvolveAxesConfig{
			InputBatch: 1, InputChannels: 0, InputSpatial: []int{2, 3},
			KernelInputChannels: 1, KernelOutputChannels: 0, KernelSpatial: []int{2, 3},
			OutputBatch: 1, OutputChannels: 0, OutputSpatial: []int{2, 3},
		}
		return graph.ConvGeneral(x, kernel, axes, []int{stride, stride}, [][2]int{{padding, padding}, {padding, padding}},
			nil, nil, 1, 1)
	}
	dims := kernel.Shape().Dimensions
	out, in, kh, kw := dims[0], dims[1], dims[2], dims[3]
	patches := extractPatches(zeroPad(x, padding), kh, kw, stride)
	// Kernel [O, I, KH, KW] → [O, KH, KW, I] → [O, KH·KW·I]: the same (kh, kw, channel) order as the patches.
	flatKernel := graph.Reshape(graph.TransposeAllAxes(kernel, 0, 2, 3, 1), out, kh*kw*in)
	return graph.DotGeneral(flatKernel, []int{1}, nil, patches, []int{0}, nil)
}

// zeroPad pads the spatial axes (2 and 3) of x by padding zeros on each side.
func zeroPad(x *graph.Node, padding int) *graph.Node {
	if padding == 0 {
		return x
	}
	return padSpatial(x, graph.ScalarZero(x.Graph(), x.DType()), padding)
}

func padSpatial(x, fill *graph.Node, padding int) *graph.Node {
	return graph.Pad(x, fill, compute.PadAxis{}, compute.PadAxis{},
		compute.PadAxis{Start: padding, End: padding}, compute.PadAxis{Start: padding, End: padding})
}

// windowSlices returns, for each (kh, kw) offset of a kh×kw window moved with the given stride over x
// [C, N, H, W] (already padded), the strided slice of x that the offset sees: kh·kw nodes of [C, N, Ho, Wo].
func windowSlices(x *graph.Node, kh, kw, stride int) []*graph.Node {
	dims := x.Shape().Dimensions
	outH := (dims[2]-kh)/stride + 1
	outW := (dims[3]-kw)/stride + 1
	slices := make([]*graph.Node, 0, kh*kw)
	for i := range kh {
		for j := range kw {
			slices = append(slices, graph.Slice(x, graph.AxisRange(), graph.AxisRange(),
				graph.AxisRange(i, i+stride*(outH-1)+1).Stride(stride),
				graph.AxisRange(j, j+stride*(outW-1)+1).Stride(stride)))
		}
	}
	return slices
}

// extractPatches gathers the kh×kw windows of x [C, N, H, W] into [KH·KW·C, N, Ho, Wo], ordered (kh, kw, c).
func extractPatches(x *graph.Node, kh, kw, stride int) *graph.Node {
	slices := windowSlices(x, kh, kw, stride)
	if len(slices) == 1 {
		return slices[0]
	}
	return graph.Concatenate(slices, 0)
}

// maxPool2d is max-pooling of x [C, N, H, W] with a square window, stride and padding (padded with −∞, as
// PyTorch does).
func maxPool2d(x *graph.Node, window, stride, padding int, algorithm ConvAlgorithm) *graph.Node {
	if algorithm == ConvNative {
		return graph.BackendReduceWindow(x, compute.ReduceOpMax, []int{1, 1, window, window}, []int{1, 1, stride, stride},
			nil, nil, [][2]int{{0, 0}, {0, 0}, {padding, padding}, {padding, padding}})
	}
	padded := x
	if padding > 0 {
		padded = padSpatial(x, graph.Scalar(x.Graph(), x.DType(), math.Inf(-1)), padding)
	}
	slices := windowSlices(padded, window, window, stride)
	result := slices[0]
	for _, s := range slices[1:] {
		result = graph.Max(result, s)
	}
	return result
}

// perChannel reshapes a [C] vector so that it broadcasts over x [C, N, H, W].
func perChannel(v *graph.Node) *graph.Node {
	return graph.Reshape(v, v.Shape().Dimensions[0], 1, 1, 1)
}

// relu is max(x, 0).
func relu(x *graph.Node) *graph.Node { return graph.MaxScalar(x, 0) }
