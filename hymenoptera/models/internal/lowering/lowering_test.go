package lowering

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/hymenoptera-go/tutorial/hymenoptera/backends"
	"github.com/hymenoptera-go/tutorial/hymenoptera/internal/testenv"
)

func newGoBackend(t testing.TB) compute.Backend {
	t.Helper()
	backend, err := backends.NewWithConfig(backends.GoBackend)
	if err != nil {
		t.Fatal(err)
	}
	return backend
}

func randomTensor(rng *rand.Rand, dims ...int) *tensors.Tensor {
	n := 1
	for _, d := range dims {
		n *= d
	}
	data := make([]float32, n)
	for i := range data {
		data[i] = float32(rng.NormFloat64())
	}
	return tensors.FromFlatDataAndDimensions(data, dims...)
}

// convAndGradients returns the convolution of x by kernel and the gradients of Σ(output·weights) with respect
// to x and kernel, computed by ops.
func convAndGradients(t *testing.T, backend compute.Backend, ops Ops, stride, padding int,
	x, kernel, outWeights *tensors.Tensor) [][]float32 {
	exec, err := graph.NewExec(backend, func(x, kernel, outWeights *graph.Node) []*graph.Node {
		out := ops.Conv2d(x, kernel, stride, padding)
		loss := graph.ReduceAllSum(graph.Mul(out, outWeights))
		grads := graph.Gradient(loss, x, kernel)
		return []*graph.Node{out, grads[0], grads[1]}
	})
	if err != nil {
		t.Fatal(err)
	}
	outputs, err := exec.Call(x, kernel, outWeights)
	if err != nil {
		t.Fatal(err)
	}
	flat := make([][]float32, len(outputs))
	for i, o := range outputs {
		flat[i] = tensors.MustCopyFlatData[float32](o)
	}
	return flat
}

// TestLoweredConvEqualsNative checks the lowered convolution (patches + DotGeneral) against the backend's
// ConvGeneral, forward and both gradients, for every kernel size and stride ResNet-18 uses, with strided-slice
// patches and (stride 1, planes large enough) wide patches.
func TestLoweredConvEqualsNative(t *testing.T) {
	backend := newGoBackend(t)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		kernel, stride, padding, in, out, size int
		wide                                   bool
	}{
		{7, 2, 3, 3, 8, 23, false},
		{3, 1, 1, 5, 6, 9, false},
		{3, 1, 1, 5, 6, 28, true},
		{3, 2, 1, 5, 6, 10, false},
		{1, 1, 0, 4, 7, 8, false},
		{1, 2, 0, 4, 7, 9, false},
	} {
		name := fmt.Sprintf("%dx%d_stride%d_%dx%d", tc.kernel, tc.kernel, tc.stride, tc.size, tc.size+1)
		if tc.wide {
			name += "_wide"
		}
		t.Run(name, func(t *testing.T) {
			x := randomTensor(rng, tc.in, 2, tc.size, tc.size+1)
			kernel := randomTensor(rng, tc.out, tc.in, tc.kernel, tc.kernel)
			if wide := tc.stride == 1 && wideConvPays(kernel.Shape().Dimensions, tc.size, tc.size+1, tc.padding); wide != tc.wide {
				t.Fatalf("wide patches: %v, want %v", wide, tc.wide)
			}
			outH := (tc.size+2*tc.padding-tc.kernel)/tc.stride + 1
			outW := (tc.size+1+2*tc.padding-tc.kernel)/tc.stride + 1
			outWeights := randomTensor(rng, tc.out, 2, outH, outW)
			native := convAndGradients(t, backend, Native, tc.stride, tc.padding, x, kernel, outWeights)
			lowered := convAndGradients(t, backend, Lowered, tc.stride, tc.padding, x, kernel, outWeights)
			for i, name := range []string{"output", "gradient wrt input", "gradient wrt kernel"} {
				if d := relativeDiff(lowered[i], native[i]); d > 1e-5 {
					t.Errorf("%s: lowered differs from native by %.3g (relative to the largest value)", name, d)
				}
			}
		})
	}
}

// TestLoweredMaxPoolEqualsNative checks the strided-slice max-pooling against ReduceWindow, forward and gradient.
func TestLoweredMaxPoolEqualsNative(t *testing.T) {
	backend := newGoBackend(t)
	rng := rand.New(rand.NewPCG(3, 4))
	x := randomTensor(rng, 3, 2, 11, 12)
	run := func(ops Ops) [][]float32 {
		exec, err := graph.NewExec(backend, func(x *graph.Node) []*graph.Node {
			out := ops.MaxPool2d(x, 3, 2, 1)
			weights := graph.Iota(x.Graph(), out.Shape(), 3)
			loss := graph.ReduceAllSum(graph.Mul(out, graph.ConvertDType(weights, x.DType())))
			return []*graph.Node{out, graph.Gradient(loss, x)[0]}
		})
		if err != nil {
			t.Fatal(err)
		}
		outputs, err := exec.Call(x)
		if err != nil {
			t.Fatal(err)
		}
		return [][]float32{tensors.MustCopyFlatData[float32](outputs[0]), tensors.MustCopyFlatData[float32](outputs[1])}
	}
	native, lowered := run(Native), run(Lowered)
	for i, name := range []string{"output", "gradient"} {
		if d := relativeDiff(lowered[i], native[i]); d != 0 {
			t.Errorf("max-pool %s: lowered differs from native by %.3g", name, d)
		}
	}
}

// TestReluGradient checks relu's values and PyTorch's gradient convention: the output gradient passes where
// x > 0 only, so at x = 0 the gradient is 0 (the wanted values are what torch.relu gives for these inputs).
func TestReluGradient(t *testing.T) {
	backend := newGoBackend(t)
	exec, err := graph.NewExec(backend, func(x, v *graph.Node) []*graph.Node {
		y := Relu(x)
		return []*graph.Node{y, graph.Gradient(graph.ReduceAllSum(graph.Mul(y, v)), x)[0]}
	})
	if err != nil {
		t.Fatal(err)
	}
	x := tensors.FromFlatDataAndDimensions([]float32{-1.5, 0, 2, -0.25, 3}, 5)
	v := tensors.FromFlatDataAndDimensions([]float32{10, 20, 30, 40, 50}, 5)
	outputs, err := exec.Call(x, v)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]float32{{0, 0, 2, 0, 3}, {0, 0, 30, 0, 50}}
	for i, name := range []string{"relu", "gradient"} {
		if got := tensors.MustCopyFlatData[float32](outputs[i]); !slices.Equal(got, want[i]) {
			t.Errorf("%s = %v, want %v", name, got, want[i])
		}
	}
}

func relativeDiff(got, want []float32) float64 {
	_, relative := testenv.MaxDiff(got, want)
	return relative
}

// TestLoweredPerChannelEqualsNative: the materialised broadcast gives the implicit one's values in an
// element-wise product, and its gradient with respect to v.
func TestLoweredPerChannelEqualsNative(t *testing.T) {
	backend := newGoBackend(t)
	rng := rand.New(rand.NewPCG(5, 6))
	v, like := randomTensor(rng, 3), randomTensor(rng, 3, 2, 4, 5)
	run := func(ops Ops) [][]float32 {
		exec, err := graph.NewExec(backend, func(v, like *graph.Node) []*graph.Node {
			y := graph.Mul(like, ops.PerChannel(v, like))
			return []*graph.Node{y, graph.Gradient(graph.ReduceAllSum(graph.Mul(y, like)), v)[0]}
		})
		if err != nil {
			t.Fatal(err)
		}
		outputs, err := exec.Call(v, like)
		if err != nil {
			t.Fatal(err)
		}
		return [][]float32{tensors.MustCopyFlatData[float32](outputs[0]), tensors.MustCopyFlatData[float32](outputs[1])}
	}
	native, lowered := run(Native), run(Lowered)
	for i, name := range []string{"product", "gradient"} {
		if d := relativeDiff(lowered[i], native[i]); d > 1e-6 {
			t.Errorf("per-channel %s: lowered differs from native by %.3g", name, d)
		}
	}
}

// TestChannelSum64 compares the per-channel sums with float64 sums of the same values.
func TestChannelSum64(t *testing.T) {
	backend := newGoBackend(t)
	x := randomTensor(rand.New(rand.NewPCG(7, 8)), 3, 2, 4, 5)
	exec, err := graph.NewExec(backend, ChannelSum64)
	if err != nil {
		t.Fatal(err)
	}
	outputs, err := exec.Call(x)
	if err != nil {
		t.Fatal(err)
	}
	got := tensors.MustCopyFlatData[float64](outputs[0])
	values := tensors.MustCopyFlatData[float32](x)
	perChannel := len(values) / 3
	for c := range 3 {
		want := 0.0
		for _, v := range values[c*perChannel : (c+1)*perChannel] {
			want += float64(v)
		}
		if math.Abs(got[c]-want) > 1e-5 {
			t.Errorf("channel %d: sum %v, want %v", c, got[c], want)
		}
	}
}

// TestForBackend: the pure-Go backend gets the lowered operations, any other the native ones.
func TestForBackend(t *testing.T) {
	if got := ForBackend(newGoBackend(t).String()); got != Lowered {
		t.Errorf("pure-Go backend: %v, want lowered", got)
	}
	if got := ForBackend("xla"); got != Native {
		t.Errorf("xla: %v, want native", got)
	}
}
