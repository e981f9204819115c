package lowering

import (
	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
)

// maxPoolGradient is the gradient of the lowered max-pooling with respect to its padded input [C, N, Hp, Wp]
// (dims), from the window slices of the forward pass (in window order), their maximum out and its gradient v:
// each output's gradient goes to the first window element equal to the maximum, as PyTorch's CPU kernel does.
//
// GoMLX's own gradient of the same graph — of each pairwise Max (sign indicators) and of each strided Slice (a
// Pad of the whole input, element by element) — makes window² full-size passes, and the pure-Go backend runs
// element-wise operations on one core, at the end of the backward pass where nothing runs beside them. Here the
// windows are grouped by phase (their offset modulo the stride): the windows of one phase land on the same
// stride-spaced grid, so they are summed at output size, and only stride² grids are spread over the input, with
// one interior Pad each (for ResNet's 3×3, stride-2 max-pool: 4 full-size passes instead of 9).
func maxPoolGradient(dims []int, windows []*graph.Node, out, v *graph.Node, window, stride int) *graph.Node {
	zero := graph.ScalarZero(v.Graph(), v.DType())
	outDims := out.Shape().Dimensions
	hp, wp, ho, wo := dims[2], dims[3], outDims[2], outDims[3]
	// phaseSize is the number of grid points of phase a along an axis of size n: a, a+stride, ... < n.
	phaseSize := func(a, n int) int { return (n - a + stride - 1) / stride }
	phases := map[[2]int]*graph.Node{}
	remaining := v // the gradient not yet given to an earlier window element
	for idx, slice := range windows {
		i, j := idx/window, idx%window
		g := graph.Where(graph.Equal(slice, out), remaining, zero)
		if idx < len(windows)-1 {
			remaining = graph.Sub(remaining, g)
		}
		// Window (i, j) reads input (i + stride·ho, j + stride·wo): point (i/stride + ho, j/stride + wo) of the
		// grid of phase (i mod stride, j mod stride).
		a, b, di, dj := i%stride, j%stride, i/stride, j/stride
		g = graph.Pad(g, zero, compute.PadAxis{}, compute.PadAxis{},
			compute.PadAxis{Start: di, End: phaseSize(a, hp) - ho - di},
			compute.PadAxis{Start: dj, End: phaseSize(b, wp) - wo - dj})
		key := [2]int{a, b}
		if sum, ok := phases[key]; ok {
			g = graph.Add(sum, g)
		}
		phases[key] = g
	}
	var total *graph.Node
	for a := range stride {
		for b := range stride {
			g, ok := phases[[2]int{a, b}]
			if !ok {
				continue
			}
			hA, wB := phaseSize(a, hp), phaseSize(b, wp)
			g = graph.Pad(g, zero, compute.PadAxis{}, compute.PadAxis{},
				compute.PadAxis{Start: a, End: hp - a - stride*(hA-1) - 1, Interior: stride - 1},
				compute.PadAxis{Start: b, End: wp - b - stride*(wB-1) - 1, Interior: stride - 1})
			if total == nil {
				total = g
			} else {
				total = graph.Add(total, g)
			}
		}
	}
	return total
}
