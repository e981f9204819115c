package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/hymenoptera-go/tutorial/hymenoptera/backends"
)

// matmulShape is one matrix product [M, K] × [K, C] of ResNet-18's forward pass as the pure-Go backend gets it
// from the lowering: a convolution's kernel [O, I·KH·KW] by its patches [I·KH·KW, columns].
type matmulShape struct {
	Name    string `json:"name"`
	M, K, C int
}

// resnetMatmuls are the products of one convolution of each stage at batch n: the stem's strided patches, the
// wide patches of layer1 and layer2 (padded planes, plus the largest shift), the strided patches of layer3-4.
func resnetMatmuls(n int) []matmulShape {
	return []matmulShape{
		{"conv1 7×7/2", 64, 3 * 49, n * 112 * 112},
		{"layer1 3×3 (wide)", 64, 64 * 9, n*58*58 + 2*58 + 2},
		{"layer2 3×3 (wide)", 128, 128 * 9, n*30*30 + 2*30 + 2},
		{"layer3 3×3", 256, 256 * 9, n * 14 * 14},
		{"layer4 3×3", 512, 512 * 9, n * 7 * 7},
	}
}

// matmulResult is one shape's figures in bench --mode matmul's report.
type matmulResult struct {
	matmulShape
	GoGFLOPS    float64  `json:"go_gflops"`
	TorchGFLOPS *float64 `json:"torch_gflops"`
	Ratio       *float64 `json:"ratio"` // Go's time / PyTorch's
}

// matmulReport is the result of bench --mode matmul; its JSON form is the --json output.
type matmulReport struct {
	Mode    string `json:"mode"`
	Batch   int    `json:"batch"`
	Iters   int    `json:"iters"`
	Threads int    `json:"threads"`
	backends.Kernels
	Shapes       []matmulResult `json:"shapes"`
	Torch        string         `json:"torch,omitempty"`
	TorchSkipped string         `json:"torch_skipped,omitempty"`
}

func (m matmulShape) flops() float64 { return 2 * float64(m.M) * float64(m.K) * float64(m.C) }

// benchMatmul times the backend's matrix multiplication at ResNet-18's shapes, next to torch.mm.
func (o *benchOptions) benchMatmul(ctx context.Context, out streams) error {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(o.threads))
	backend, err := backends.New(out.stderr)
	if err != nil {
		return err
	}
	defer backend.Finalize()
	report := matmulReport{Mode: o.mode, Batch: o.batch, Iters: o.iters, Threads: o.threads,
		Kernels: backends.DescribeKernels(backend, backends.Choose().Config)}
	var torchArgs []string
	for _, shape := range resnetMatmuls(o.batch) {
		seconds, err := timeMatmul(ctx, backend, shape, o.warmup, o.iters)
		if err != nil {
			return fmt.Errorf("%s [%d, %d] × [%d, %d]: %w", shape.Name, shape.M, shape.K, shape.K, shape.C, err)
		}
		fmt.Fprintf(out.stderr, "Go %s: %.1f GFLOP/s\n", shape.Name, shape.flops()*float64(o.iters)/seconds/1e9)
		report.Shapes = append(report.Shapes, matmulResult{matmulShape: shape,
			GoGFLOPS: shape.flops() * float64(o.iters) / seconds / 1e9})
		torchArgs = append(torchArgs, "--shape", fmt.Sprintf("%d,%d,%d", shape.M, shape.K, shape.C))
	}
	var torch struct {
		Torch   string    `json:"torch"`
		Seconds []float64 `json:"seconds"`
	}
	skipped, torchErr := o.runTorch(&torch, "bench_matmul.py", append(torchArgs, "--iters", strconv.Itoa(o.iters),
		"--warmup", strconv.Itoa(o.warmup), "--threads", strconv.Itoa(o.threads))...)
	if skipped == "" && len(torch.Seconds) != len(report.Shapes) {
		torchErr = fmt.Errorf("bench_matmul.py timed %d shapes, not %d", len(torch.Seconds), len(report.Shapes))
		skipped = torchErr.Error()
	}
	report.TorchSkipped = skipped
	if skipped == "" {
		report.Torch = torch.Torch
		for i, seconds := range torch.Seconds {
			r := &report.Shapes[i]
			gflops := r.flops() * float64(o.iters) / seconds / 1e9
			ratio := gflops / r.GoGFLOPS
			r.TorchGFLOPS, r.Ratio = &gflops, &ratio
		}
	}
	return errors.Join(o.printReport(out, &report), torchErr)
}

// timeMatmul returns the seconds that iters products of shape take on backend, after warmup untimed ones.
func timeMatmul(ctx context.Context, backend compute.Backend, shape matmulShape, warmup, iters int) (float64, error) {
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(n int) []float32 {
		data := make([]float32, n)
		for i := range data {
			data[i] = float32(rng.NormFloat64())
		}
		return data
	}
	lhs := tensors.FromFlatDataAndDimensions(random(shape.M*shape.K), shape.M, shape.K)
	rhs := tensors.FromFlatDataAndDimensions(random(shape.K*shape.C), shape.K, shape.C)
	exec, err := graph.NewExec(backend, func(lhs, rhs *graph.Node) *graph.Node {
		return graph.DotGeneral(lhs, []int{1}, nil, rhs, []int{0}, nil)
	})
	if err != nil {
		return 0, err
	}
	defer exec.Finalize()
	var elapsed time.Duration
	for i := range warmup + iters {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		start := time.Now()
		product, err := exec.Call1(lhs, rhs)
		if err == nil {
			_, err = tensors.CopyFlatData[float32](product) // waits for the result
			err = errors.Join(err, product.FinalizeAll())
		}
		if err != nil {
			return 0, err
		}
		if i >= warmup {
			elapsed += time.Since(start)
		}
	}
	return elapsed.Seconds(), nil
}

func (r *matmulReport) writeTable(w io.Writer) error {
	fmt.Fprintf(w, "Matrix products of ResNet-18's forward pass at batch %d (the pure-Go lowering's shapes), %d threads, "+
		"%d timed iterations\nCPU and kernels: %s\n\n", r.Batch, r.Threads, r.Iters, r.Kernels)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "product\t[M, K] × [K, C]\tGo GFLOP/s\tPyTorch GFLOP/s\tGo time / PyTorch time\t")
	for _, s := range r.Shapes {
		dims := fmt.Sprintf("[%d, %d] × [%d, %d]", s.M, s.K, s.K, s.C)
		if s.Ratio != nil {
			fmt.Fprintf(tw, "%s\t%s\t%.1f\t%.1f\t%.2f×\t\n", s.Name, dims, s.GoGFLOPS, *s.TorchGFLOPS, *s.Ratio)
		} else {
			fmt.Fprintf(tw, "%s\t%s\t%.1f\t-\t-\t\n", s.Name, dims, s.GoGFLOPS)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if r.TorchSkipped != "" {
		_, err := fmt.Fprintf(w, "\nPyTorch skipped: %s\n", r.TorchSkipped)
		return err
	}
	return nil
}
