package lowering

import (
	"github.com/gomlx/gomlx/core/graph"
)

// Stride-1 convolutions on the pure-Go backend without strided slices ("wide" patches).
//
// The backend copies a strided Slice element by element, several times slower than the row-at-a-time copies of
// its Concatenate, and a k×k convolution's patches are k² slices of its input. With stride 1 the slices can be
// avoided: flatten the padded input [C, N, Hp, Wp] to one row per channel, [C, N·Hp·Wp]. Window (i, j) of
// output position q (= n·Hp·Wp + ho·Wp + wo) is then the element q + s of that row, s = i·Wp + j: each window is
// the row shifted by s, and shifting is concatenation with zeros. Window s is built as
// [zeros(maxShift − s), row, zeros(s)], so that all k² windows have the same length, N·Hp·Wp + maxShift; output
// q is at column maxShift + q of the product of the kernel with these "wide" patches. The product also computes
// the columns of the padding (Wp − Wo per row, Hp − Ho rows per plane), which are dropped at the end with one
// Slice of the output, k² times smaller than the patches.
//
// Those extra columns cost matrix-multiplication time: wideConvPays keeps the method to planes where they are
// few (ResNet-18's layer1 and layer2: 7% and 15% more columns).

// wideConvMaxOverhead is the largest ratio of padded to unpadded plane sizes (Hp·Wp / Ho·Wo) at which wide patches
// pay. Measured on ResNet-18: layer2's 1.15 gains; with layer3's 1.31 too, the forward pass at batch 32 was 4%
// slower and a training step at batch 4 no faster.
const wideConvMaxOverhead = 1.2

// wideConvPays says whether a stride-1 convolution with this kernel [O, I, KH, KW] over h×w planes with this
// padding runs faster with wide patches.
func wideConvPays(kernelDims []int, h, w, padding int) bool {
	k := kernelDims[2]
	if k != kernelDims[3] || k == 1 || padding > k-1 {
		return false
	}
	outH, outW := h+2*padding-k+1, w+2*padding-k+1
	return float64((h+2*padding)*(w+2*padding)) <= wideConvMaxOverhead*float64(outH*outW)
}

// wideConv2d is Conv2d with stride 1 through wide patches, with hand-written gradients:
//   - kernel: the output gradient v laid out as the wide output (zeros in the padding columns) times the
//     forward's wide patches;
//   - input: the convolution of v, padded by k−1−padding, with the flipped kernel, itself through wide patches
//     (windows in reverse order flip the kernel without copying it).
func wideConv2d(x, kernel *graph.Node, padding int) *graph.Node {
	dims := kernel.Shape().Dimensions
	out, in, k := dims[0], dims[1], dims[2]
	var adjoint OutputAdjoint
	var patches *graph.Node
	x = graph.IdentityWithCustomGradient(x, func(_, _ *graph.Node) *graph.Node {
		dx, _ := wideConvolve(inputGradientKernel(kernel), zeroPad(adjoint.Get(), k-1-padding), k, true)
		return dx
	})
	kernel = graph.IdentityWithCustomGradient(kernel, func(_, _ *graph.Node) *graph.Node {
		// Output q of v [O, N, Ho, Wo] goes where the forward's wide product had it: at (n, ho + k − 1, wo + k − 1)
		// of [O, N, Hp, Wp], then maxShift + q once the rows are flattened, with zeros up to the patches' width.
		vPadded := padSpatial(adjoint.Get(), 0, k-1, 0)
		rows := graph.Reshape(vPadded, out, vPadded.Shape().Size()/out)
		vWide := graph.Concatenate([]*graph.Node{rows, zeros(rows, out, patches.Shape().Dimensions[1]-
			rows.Shape().Dimensions[1])}, 1)
		return graph.Reshape(graph.DotGeneral(vWide, []int{1}, nil, patches, []int{1}, nil), out, in, k, k)
	})
	var y *graph.Node
	y, patches = wideConvolve(graph.Reshape(kernel, out, in*k*k), zeroPad(x, padding), k, false)
	return adjoint.Capture(y)
}

// wideConvolve convolves padded [C, N, Hp, Wp] with a k×k kernel flattened to [O, C·k²], through wide patches
// (windows in reverse order if reversed), giving [O, N, Ho, Wo] and the patches it multiplied.
func wideConvolve(flatKernel, padded *graph.Node, k int, reversed bool) (output, patches *graph.Node) {
	patches = widePatches(padded, k, reversed)
	product := graph.DotGeneral(flatKernel, []int{1}, nil, patches, []int{0}, nil)
	return wideOutput(product, padded.Shape().Dimensions, k), patches
}

// widePatches returns the wide patches of padded [C, N, Hp, Wp] for a k×k window: [C·k², N·Hp·Wp + maxShift],
// ordered (c, i, j) as PyTorch's kernel is, or with the windows in reverse order.
func widePatches(padded *graph.Node, k int, reversed bool) *graph.Node {
	dims := padded.Shape().Dimensions
	c, wp := dims[0], dims[3]
	row := graph.Reshape(padded, c, dims[1]*dims[2]*wp)
	maxShift := (k-1)*wp + k - 1
	parts := make([]*graph.Node, 0, 3*k*k)
	for window := range k * k {
		if reversed {
			window = k*k - 1 - window
		}
		shift := (window/k)*wp + window%k
		if shift < maxShift {
			parts = append(parts, zeros(padded, c, maxShift-shift))
		}
		parts = append(parts, row)
		if shift > 0 {
			parts = append(parts, zeros(padded, c, shift))
		}
	}
	return graph.Reshape(graph.Concatenate(parts, 1), c*k*k, row.Shape().Dimensions[1]+maxShift)
}

// wideOutput turns the product of a kernel with wide patches, [O, N·Hp·Wp + maxShift], into the convolution's
// output [O, N, Ho, Wo], given the padded input's dimensions [·, N, Hp, Wp]: output q is at column maxShift + q,
// which is (n, ho + k − 1, wo + k − 1) of the product viewed as [O, N + 1, Hp, Wp] once zeros fill its last plane.
func wideOutput(product *graph.Node, paddedDims []int, k int) *graph.Node {
	out, width := product.Shape().Dimensions[0], product.Shape().Dimensions[1]
	n, hp, wp := paddedDims[1], paddedDims[2], paddedDims[3]
	filled := graph.Concatenate([]*graph.Node{product, zeros(product, out, (n+1)*hp*wp-width)}, 1)
	return graph.Slice(graph.Reshape(filled, out, n+1, hp, wp), graph.AxisRange(), graph.AxisRange(0, n),
		graph.AxisRange(k-1, hp), graph.AxisRange(k-1, wp))
}

// zeros is a block of zeros of like's dtype, in like's graph.
func zeros(like *graph.Node, dims ...int) *graph.Node {
	return graph.BroadcastToDims(graph.ScalarZero(like.Graph(), like.DType()), dims...)
}
