package lowering

import (
	"slices"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
)

// Conv2d convolves x [C, N, H, W] with kernel [O, I, KH, KW] (PyTorch's layout), with the given stride and
// zero padding on both spatial sides, giving [O, N, Ho, Wo]. No bias: every ResNet convolution is followed by
// BatchNorm. Lowered, stride-1 convolutions of large planes take wide patches (wide.go), the others strided
// slices.
func (o Ops) Conv2d(x, kernel *graph.Node, stride, padding int) *graph.Node {
	if !o.lowered {
		axes := compute.ConvolveAxesConfig{
			InputBatch: 1, InputChannels: 0, InputSpatial: []int{2, 3},
			KernelInputChannels: 1, KernelOutputChannels: 0, KernelSpatial: []int{2, 3},
			OutputBatch: 1, OutputChannels: 0, OutputSpatial: []int{2, 3},
		}
		return graph.ConvGeneral(x, kernel, axes, []int{stride, stride}, [][2]int{{padding, padding}, {padding, padding}},
			nil, nil, 1, 1)
	}
	if dims := x.Shape().Dimensions; stride == 1 && wideConvPays(kernel.Shape().Dimensions, dims[2], dims[3], padding) {
		return wideConv2d(x, kernel, padding)
	}
	return loweredConv2d(x, kernel, stride, padding)
}

// loweredConv2d is Conv2d as patch extraction and one matrix multiplication, with hand-written gradients where
// GoMLX's generic ones are slow on the pure-Go backend:
//   - patches: kernelᵀ·v directly in the patches' layout. GoMLX's DotGeneral gradient computes [N, Ho, Wo, K]
//     and transposes it back, a full copy of the largest tensor of the backward pass.
//   - input, for stride 1: the convolution of the output gradient v, padded by kh−1−padding, with the flipped
//     kernel. Going through the patches instead scatters them back (the gradient of each strided slice is a
//     full-size zero Pad, then kh·kw full-size Adds): about twice the memory traffic.
//
// Both use the output gradient v through OutputAdjoint.
func loweredConv2d(x, kernel *graph.Node, stride, padding int) *graph.Node {
	dims := kernel.Shape().Dimensions
	out, in, kh, kw := dims[0], dims[1], dims[2], dims[3]
	// Kernel [O, I, KH, KW] → [O, I·KH·KW]: the same (channel, kh, kw) order as the patches, with no copy.
	flatKernel := graph.Reshape(kernel, out, in*kh*kw)

	var adjoint OutputAdjoint
	if stride == 1 && kh-1 >= padding && kw == kh {
		x = graph.IdentityWithCustomGradient(x, func(_, _ *graph.Node) *graph.Node {
			// ∂L/∂x[i, n, h, w] = Σ kernel[o, i, a, b]·v'[o, n, h+KH−1−a, w+KW−1−b], v' the padded v: the
			// windows of v' in reverse order (a, b) → (KH−1−a, KW−1−b) flip the kernel without copying it.
			windows := windowSlices(zeroPad(adjoint.Get(), kh-1-padding), kh, kw, 1)
			slices.Reverse(windows)
			return graph.DotGeneral(inputGradientKernel(kernel), []int{1}, nil, stackPatches(windows), []int{0}, nil)
		})
	}
	patches := graph.IdentityWithCustomGradient(extractPatches(zeroPad(x, padding), kh, kw, stride),
		func(_, _ *graph.Node) *graph.Node {
			return graph.DotGeneral(flatKernel, []int{0}, nil, adjoint.Get(), []int{0}, nil)
		})
	return adjoint.Capture(graph.DotGeneral(flatKernel, []int{1}, nil, patches, []int{0}, nil))
}

// inputGradientKernel is kernel [O, I, KH, KW] laid out for a stride-1 input gradient, [I, O·KH·KW] ordered
// (o, kh, kw): the kernel of the transposed convolution, whose flip comes from taking the windows in reverse.
func inputGradientKernel(kernel *graph.Node) *graph.Node {
	dims := kernel.Shape().Dimensions
	out, in, kernelSize := dims[0], dims[1], dims[2]*dims[3]
	return graph.Reshape(graph.TransposeAllAxes(graph.Reshape(kernel, out, in, kernelSize), 1, 0, 2), in, out*kernelSize)
}

// zeroPad pads the spatial axes (2 and 3) of x by padding zeros on each side.
func zeroPad(x *graph.Node, padding int) *graph.Node {
	return padSpatial(x, 0, padding, padding)
}

// padSpatial pads the spatial axes (2 and 3) of x [C, N, H, W] with copies of fill: before rows above and
// columns to the left, after rows below and columns to the right.
//
// It concatenates fill blocks along the rows and then along the planes rather than using graph.Pad: the pure-Go
// backend's Concatenate copies whole rows at a time, while its Pad copies element by element (several times
// slower, and each convolution pads its input).
func padSpatial(x *graph.Node, fill float64, before, after int) *graph.Node {
	if before == 0 && after == 0 {
		return x
	}
	dims := x.Shape().Dimensions
	c, n, h, w := dims[0], dims[1], dims[2], dims[3]
	fillValue := graph.Scalar(x.Graph(), x.DType(), fill)
	// withFill concatenates block between fill blocks of the given sizes along axis 1 of shape [rows, ·, rest...].
	withFill := func(block *graph.Node, rest ...int) *graph.Node {
		rows := block.Shape().Dimensions[0]
		parts := []*graph.Node{block}
		if before > 0 {
			parts = slices.Insert(parts, 0, graph.BroadcastToDims(fillValue, append([]int{rows, before}, rest...)...))
		}
		if after > 0 {
			parts = append(parts, graph.BroadcastToDims(fillValue, append([]int{rows, after}, rest...)...))
		}
		return graph.Concatenate(parts, 1)
	}
	paddedW := w + before + after
	rows := withFill(graph.Reshape(x, c*n*h, w))
	planes := withFill(graph.Reshape(rows, c*n, h, paddedW), paddedW)
	return graph.Reshape(planes, c, n, h+before+after, paddedW)
}

// windowSlices returns, for each (kh, kw) offset of a kh×kw window moved with the given stride over x
// [C, N, H, W] (already padded), the strided slice of x that the offset sees: kh·kw nodes of [C, N, Ho, Wo].
func windowSlices(x *graph.Node, kh, kw, stride int) []*graph.Node {
	dims := x.Shape().Dimensions
	outH := (dims[2]-kh)/stride + 1
	outW := (dims[3]-kw)/stride + 1
	windows := make([]*graph.Node, 0, kh*kw)
	for i := range kh {
		for j := range kw {
			windows = append(windows, graph.Slice(x, graph.AxisRange(), graph.AxisRange(),
				graph.AxisRange(i, i+stride*(outH-1)+1).Stride(stride),
				graph.AxisRange(j, j+stride*(outW-1)+1).Stride(stride)))
		}
	}
	return windows
}

// extractPatches gathers the kh×kw windows of x [C, N, H, W] into [C·KH·KW, N, Ho, Wo], ordered (c, kh, kw) as
// PyTorch's kernel [O, I, KH, KW] is: the slices are stacked along a new axis 1, [C, KH·KW, N, Ho, Wo], which
// the backend concatenates by copying whole [N, Ho, Wo] blocks.
func extractPatches(x *graph.Node, kh, kw, stride int) *graph.Node {
	return stackPatches(windowSlices(x, kh, kw, stride))
}

// stackPatches stacks windows, each [C, N, Ho, Wo], into patches [C·len(windows), N, Ho, Wo], ordered (c, window).
func stackPatches(windows []*graph.Node) *graph.Node {
	if len(windows) == 1 {
		return windows[0]
	}
	dims := windows[0].Shape().Dimensions
	stacked := make([]*graph.Node, len(windows))
	for i, w := range windows {
		stacked[i] = graph.InsertAxes(w, 1)
	}
	return graph.Reshape(graph.Concatenate(stacked, 1), dims[0]*len(windows), dims[1], dims[2], dims[3])
}
