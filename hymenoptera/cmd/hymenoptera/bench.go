package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/hymenoptera-go/tutorial/hymenoptera/backends"
	"github.com/hymenoptera-go/tutorial/hymenoptera/dataloader"
	"github.com/hymenoptera-go/tutorial/hymenoptera/internal/torchref"
	"github.com/hymenoptera-go/tutorial/hymenoptera/models"
	"github.com/hymenoptera-go/tutorial/hymenoptera/train"
	"github.com/hymenoptera-go/tutorial/hymenoptera/tutorial"
)

// benchClasses is the width of the benchmarked model's head: the tutorial's ants and bees.
const benchClasses = 2

func init() {
	register(&command{
		name: "bench",
		synopsis: "--mode eval|train|data|epoch|matmul [--batch N] [--iters K --warmup W | --epochs E --data SOURCE] " +
			"[--scenario finetune|fixed] [--threads T] [--torch=false] [--torch-device auto|cpu|cuda] [--mem] " +
			"[--cpuprofile FILE] [--json]",
		summary: "time the model or the data pipelines, side by side with PyTorch",
		details: `
Times the same work in Go and in PyTorch (Debian's python3-torch as /usr/bin/python3, or $HYMENOPTERA_PYTHON),
one after the other, never both at once:

  eval   ResNet-18 (2-class head, random weights) in evaluation mode, a forward pass of a fixed batch of N
         random 224×224 images (PyTorch: under torch.no_grad())
  train  one full training step of every parameter: forward in training mode, cross-entropy, backward, SGD with
         momentum 0.9 (lr 0.001)
  data   the tutorial's train and val data pipelines (decoding, transforms, batching; no model), E epochs
         each: the first decodes every file, later ones take the images from the loader's cache (val's
         already resized and cropped); next to torchvision's DataLoader, which decodes every epoch
  epoch  E of the tutorial's epochs of --scenario (finetune or fixed) on the whole dataset, training and
         validation phases timed apart: TrainModel with the loader against the tutorial's train_model loop
         with torchvision's DataLoader (a 2-class ResNet-18 with random weights on both sides; Go's collector
         set as train sets it: GOGC=25 unless GOGC is set)
  matmul the matrix multiplications of one convolution of each stage of the forward pass at batch N, with
         the shapes the pure-Go lowering hands its backend (kernel by patches), in GFLOP/s, next to torch.mm
         at the same shapes: how far the backend's kernels on this CPU are from PyTorch's

For eval, train and matmul, W untimed iterations run first, then K timed ones: the first iteration compiles the Go
graph, and on the pure-Go backend the second is still about 10% slower than the next ones, hence W = 2.
Both sides use T threads: GOMAXPROCS on the Go side (XLA's own thread pool ignores it), torch.set_num_threads
and OMP_NUM_THREADS on PyTorch's; for data, T loader goroutines against T DataLoader worker processes. When
torch cannot be imported, its side is reported as skipped, with the reason. For eval and train, PyTorch runs
on --torch-device: auto picks the GPU (cuda) when the Go side runs on XLA's CUDA plugin, else the CPU.

eval and train print a table, or with --json one JSON object:
  {"mode", "batch", "iters", "warmup", "size", "threads", "backend", "cpu", "arch", "simd", "matmul",
   "go_img_s", "torch_img_s", "ratio", "torch_device", ...}
where cpu, arch and simd describe the CPU (its model, GOARCH, the vector features the kernels use) and matmul
the pure-Go backend's matrix-multiplication kernels (simd:avx512, simd:avx2 or simd:nosimd, which the
GOMLX_SIMD_AVX512=false and GOMLX_SIMD_AVX2=false switches select on an AVX-512 machine).
ratio is Go's time over PyTorch's (above 1: Go is slower); the torch fields are null when its side is skipped,
and "torch_skipped" says why. data prints a table of epochs, or with --json its report (dataBenchReport).
epoch prints a table of epochs, or with --json {"mode", "scenario", ..., "go": [{"train_s", "val_s"}, ...],
"torch": [...], "ratio": {"epochs": [{"train", "val", "total"}, ...], "overall": {"train", "val", "total"}}}:
Go's seconds over PyTorch's per epoch and phase, and over all epochs. matmul prints a table of the products,
or with --json {"mode", "batch", ..., "matmul", "shapes": [{"name", "M", "K", "C", "go_gflops",
"torch_gflops", "ratio"}, ...]}.

--mem (eval, train, epoch) adds each side's peak resident memory (on Linux VmHWM, each process's own high-water
mark): the Go process's and PyTorch's process's, and for epoch also the largest of PyTorch's DataLoader workers
(which count the pages they share with their parent, so they are reported apart), as "mem":
{"go_peak_rss_mib", "torch_peak_rss_mib", "torch_workers_peak_rss_mib", "mem_ratio"}, mem_ratio being Go's
peak over PyTorch's process's. The Go figure is the process's peak since it started: one mode per process.

--cpuprofile FILE (eval, train, epoch) writes a CPU profile of the Go side's timed work (eval and train: the
timed iterations; epoch: the whole TrainModel) for go tool pprof, e.g. go tool pprof -top hymenoptera FILE.`,
		setup: setupBench,
	})
}

type benchOptions struct {
	mode                                  string
	batch, iters, warmup, epochs, threads int
	data, scenario, torchDevice, profile  string
	torch, json, mem                      bool
	fs                                    *flag.FlagSet // to see which flags the command line set
}

// benchModes are the values of --mode.
var benchModes = []string{"eval", "train", "data", "epoch", "matmul"}

// modeFlags are the flags that only some modes take, with those modes.
var modeFlags = map[string][]string{"iters": {"eval", "train", "matmul"}, "warmup": {"eval", "train", "matmul"},
	"epochs": {"data", "epoch"}, "data": {"data", "epoch"}, "scenario": {"epoch"},
	"torch-device": {"eval", "train"}, "mem": {"eval", "train", "epoch"},
	"cpuprofile": {"eval", "train", "epoch"}}

// torchDevices are the values of --torch-device.
var torchDevices = []string{"auto", "cpu", "cuda"}

func setupBench(fs *flag.FlagSet) runFunc {
	o := &benchOptions{fs: fs}
	fs.StringVar(&o.mode, "mode", "", "what to time, `MODE`: eval, train, data, epoch or matmul (required)")
	fs.IntVar(&o.batch, "batch", 4, "`N` images per batch (the tutorial's batch size)")
	fs.IntVar(&o.iters, "iters", 5, "`K` timed iterations (eval, train, matmul)")
	fs.IntVar(&o.warmup, "warmup", 2, "`W` untimed warm-up iterations first (eval, train, matmul)")
	fs.IntVar(&o.epochs, "epochs", 3, "`E` epochs per pipeline (data) or of the scenario (epoch)")
	fs.StringVar(&o.scenario, "scenario", "finetune", "`scenario` of --mode epoch: finetune or fixed")
	fs.StringVar(&o.data, "data", "", "`SOURCE` of the dataset: its zip's path or URL, or a directory (data; default: "+
		"downloaded once into the cache)")
	fs.IntVar(&o.threads, "threads", 2, "`T` threads on each side")
	fs.BoolVar(&o.torch, "torch", true, "also time PyTorch (--torch=false: Go only)")
	fs.StringVar(&o.torchDevice, "torch-device", "auto", "`DEVICE` PyTorch runs on (eval, train): cpu, cuda, or auto "+
		"(cuda when the Go side runs on XLA's CUDA plugin)")
	fs.BoolVar(&o.mem, "mem", false, "also report each side's peak resident memory (eval, train, epoch)")
	fs.StringVar(&o.profile, "cpuprofile", "", "write a CPU profile of the Go side's timed work to `FILE`")
	fs.BoolVar(&o.json, "json", false, "print one JSON object")
	return o.run
}

func (o *benchOptions) run(ctx context.Context, out streams, args []string) error {
	switch {
	case len(args) > 0:
		return usagef("unexpected argument %q", args[0])
	case o.mode == "":
		return usagef("--mode is required")
	case !slices.Contains(benchModes, o.mode):
		return usagef("--mode %q: must be one of %s", o.mode, strings.Join(benchModes, ", "))
	case !slices.Contains(torchDevices, o.torchDevice):
		return usagef("--torch-device %q: must be one of %s", o.torchDevice, strings.Join(torchDevices, ", "))
	case o.batch < 1 || o.iters < 1 || o.epochs < 1 || o.threads < 1 || o.warmup < 0:
		return usagef("--batch, --iters, --epochs and --threads must be positive and --warmup not negative")
	}
	var misplaced error
	o.fs.Visit(func(f *flag.Flag) {
		if modes, ok := modeFlags[f.Name]; ok && !slices.Contains(modes, o.mode) && misplaced == nil {
			misplaced = usagef("--%s is not for --mode %s, only for %s", f.Name, o.mode, strings.Join(modes, ", "))
		}
	})
	if misplaced != nil {
		return misplaced
	}
	switch o.mode {
	case "data":
		return o.benchData(ctx, out)
	case "epoch":
		return o.benchEpoch(ctx, out)
	case "matmul":
		return o.benchMatmul(ctx, out)
	}
	return o.benchModel(ctx, out)
}

// modelReport is the result of bench --mode eval|train; its JSON form is the --json output.
type modelReport struct {
	Mode    string `json:"mode"`
	Batch   int    `json:"batch"`
	Iters   int    `json:"iters"`
	Warmup  int    `json:"warmup"`
	Size    int    `json:"size"`
	Threads int    `json:"threads"`
	// The backend and the machine: "backend", "cpu", "arch", "simd", "matmul", "switches".
	backends.Kernels
	GoImgS float64 `json:"go_img_s"`
	// The PyTorch fields are null when its side did not run, and TorchSkipped says why.
	TorchImgS    *float64   `json:"torch_img_s"`
	Ratio        *float64   `json:"ratio"`
	Torch        string     `json:"torch,omitempty"`        // torch's version
	TorchDevice  string     `json:"torch_device,omitempty"` // cpu or cuda
	TorchSkipped string     `json:"torch_skipped,omitempty"`
	Mem          *memReport `json:"mem,omitempty"` // with --mem
}

// torchResult is what reference/bench_model.py prints.
type torchResult struct {
	Seconds    float64 `json:"seconds"`
	ImgS       float64 `json:"img_s"`
	Torch      string  `json:"torch"`
	Device     string  `json:"device"`
	PeakRSSKiB float64 `json:"peak_rss_kib"`
}

// memReport is bench --mem's result: the peak resident memory of each side, in MiB.
type memReport struct {
	GoMiB float64 `json:"go_peak_rss_mib"`
	// PyTorch's process and, for --mode epoch, its largest DataLoader worker (whose resident memory counts the
	// pages it shares with its parent); null when PyTorch did not run.
	TorchMiB        *float64 `json:"torch_peak_rss_mib"`
	TorchWorkersMiB *float64 `json:"torch_workers_peak_rss_mib,omitempty"`
	// Ratio is Go's peak over PyTorch's process's; null without PyTorch.
	Ratio *float64 `json:"mem_ratio"`
}

// newMemReport reads this process's peak and takes PyTorch's from its script's report (KiB; workersKiB < 0: no
// workers; torchRan false: no PyTorch figures).
func newMemReport(torchRan bool, torchKiB, workersKiB float64) (*memReport, error) {
	goMiB, err := peakRSSMiB()
	if err != nil {
		return nil, err
	}
	r := &memReport{GoMiB: goMiB}
	if !torchRan {
		return r, nil
	}
	if torchKiB <= 0 {
		return nil, fmt.Errorf("the PyTorch script reported a peak resident memory of %v KiB", torchKiB)
	}
	torchMiB := torchKiB / 1024
	ratio := goMiB / torchMiB
	r.TorchMiB, r.Ratio = &torchMiB, &ratio
	if workersKiB >= 0 {
		workersMiB := workersKiB / 1024
		r.TorchWorkersMiB = &workersMiB
	}
	return r, nil
}

// writeTable prints the memory figures under a bench table.
func (r *memReport) writeTable(w io.Writer) error {
	line := fmt.Sprintf("\nPeak resident memory: Go %.0f MiB", r.GoMiB)
	if r.TorchMiB != nil {
		line += fmt.Sprintf(", PyTorch %.0f MiB", *r.TorchMiB)
	}
	if r.TorchWorkersMiB != nil {
		line += fmt.Sprintf(" (its largest DataLoader worker: %.0f MiB, shared pages included)", *r.TorchWorkersMiB)
	}
	if r.Ratio != nil {
		line += fmt.Sprintf("; Go / PyTorch: %.2f×", *r.Ratio)
	}
	_, err := fmt.Fprintln(w, line)
	return err
}

func (o *benchOptions) benchModel(ctx context.Context, out streams) error {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(o.threads)) // before the backend sizes its worker pool
	backend, err := backends.New(out.stderr)
	if err != nil {
		return err
	}
	defer backend.Finalize()
	report := modelReport{Mode: o.mode, Batch: o.batch, Iters: o.iters, Warmup: o.warmup, Size: imageSize,
		Threads: o.threads, Kernels: backends.DescribeKernels(backend, backends.Choose().Config)}
	goSeconds, err := o.timeGo(ctx, backend, out.stderr)
	if err != nil {
		return err
	}
	report.GoImgS = float64(o.batch*o.iters) / goSeconds
	var torch torchResult
	skipped, torchErr := o.runTorch(&torch, "bench_model.py", o.torchArgs(torchDevice(o.torchDevice, report.Backend))...)
	if skipped == "" && torch.Seconds <= 0 {
		torchErr = fmt.Errorf("bench_model.py reported %v seconds", torch.Seconds)
		skipped = torchErr.Error()
	}
	report.TorchSkipped = skipped
	if skipped == "" {
		ratio := goSeconds / torch.Seconds
		report.TorchImgS, report.Ratio, report.Torch, report.TorchDevice = &torch.ImgS, &ratio, torch.Torch, torch.Device
	}
	if o.mem {
		if report.Mem, err = newMemReport(report.Ratio != nil, torch.PeakRSSKiB, -1); err != nil {
			return errors.Join(err, torchErr)
		}
	}
	return errors.Join(o.printReport(out, &report), torchErr)
}

// tableReport is a bench report, printed as a table unless --json asks for its JSON form.
type tableReport interface {
	writeTable(w io.Writer) error
}

// printReport writes report to standard output: one JSON object with --json, else its table.
func (o *benchOptions) printReport(out streams, report tableReport) error {
	if o.json {
		return json.NewEncoder(out.stdout).Encode(report)
	}
	return report.writeTable(out.stdout)
}

// runTorch runs the reference script name with args and OMP_NUM_THREADS set to --threads (torchref runs it with
// this process's environment, and OpenMP reads its pool size from it at start-up), decoding its JSON into result.
// skipped says why PyTorch's side has no figures, "" when it has: --torch=false, torch not installed, or a
// failure, which is also returned so that the command fails after reporting Go's figures.
func (o *benchOptions) runTorch(result any, name string, args ...string) (skipped string, failure error) {
	if !o.torch {
		return "disabled by --torch=false", nil
	}
	restore := setenv("OMP_NUM_THREADS", strconv.Itoa(o.threads))
	defer restore()
	switch err := torchref.RunJSON(result, name, args...); {
	case err == nil:
		return "", nil
	case errors.Is(err, torchref.ErrUnavailable):
		return err.Error(), nil
	default:
		return err.Error(), err
	}
}

// timeGo returns the seconds that o.iters iterations take on the Go side, after o.warmup untimed ones.
func (o *benchOptions) timeGo(ctx context.Context, backend compute.Backend, progress io.Writer) (float64, error) {
	m, err := models.ResNet18(backend, models.Options{NumClasses: benchClasses, Seed: 1})
	if err != nil {
		return 0, err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	pixels := make([]float32, o.batch*imageSize*imageSize*3)
	for i := range pixels {
		pixels[i] = float32(rng.NormFloat64()) // normalised images have about zero mean and unit variance
	}
	images := tensors.FromFlatDataAndDimensions(pixels, o.batch, imageSize, imageSize, 3)
	var step func() error
	if o.mode == "eval" {
		m.Eval()
		step = func() error {
			logits, err := m.Forward(images)
			if err != nil {
				return err
			}
			_, err = tensors.CopyFlatData[float32](logits) // waits for the result, wherever it was computed
			return errors.Join(err, logits.FinalizeAll())
		}
	} else {
		m.Train()
		stepper, err := train.NewStepper(m, train.CrossEntropyLoss, tutorial.Optimizer(m.Parameters(), tutorial.LearningRate))
		if err != nil {
			return 0, err
		}
		batch := dataloader.Batch{Images: pixels, N: o.batch, H: imageSize, W: imageSize, Labels: make([]int, o.batch)}
		for i := range batch.Labels {
			batch.Labels[i] = rng.IntN(benchClasses)
		}
		step = func() error {
			_, err := stepper.Train(batch) // reads the loss: waits for the step
			return err
		}
	}
	var elapsed time.Duration
	var stopProfile func() error
	defer func() {
		if stopProfile != nil {
			stopProfile()
		}
	}()
	for i := range o.warmup + o.iters {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		if i == o.warmup {
			if stopProfile, err = startProfile(o.profile); err != nil {
				return 0, err
			}
		}
		start := time.Now()
		if err := step(); err != nil {
			return 0, err
		}
		took := time.Since(start)
		if i < o.warmup {
			fmt.Fprintf(progress, "Go %s: warm-up %d/%d: %.3f s\n", o.mode, i+1, o.warmup, took.Seconds())
			continue
		}
		elapsed += took
		fmt.Fprintf(progress, "Go %s: iteration %d/%d: %.3f s\n", o.mode, i+1-o.warmup, o.iters, took.Seconds())
	}
	err = stopProfile()
	stopProfile = nil
	return elapsed.Seconds(), err
}

// startProfile starts a CPU profile into path ("" profiles nothing) and returns the function that ends it.
func startProfile(path string) (stop func() error, err error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpuprofile %s: %w", path, err)
	}
	return func() error {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			return fmt.Errorf("--cpuprofile %s: %w", path, err)
		}
		return nil
	}, nil
}

// torchDevice resolves --torch-device: auto compares like with like, the GPU when Go's backend runs on one.
func torchDevice(flag, backendConfig string) string {
	if flag != "auto" {
		return flag
	}
	if strings.HasPrefix(backendConfig, "xla:cuda") {
		return "cuda"
	}
	return "cpu"
}

// torchArgs are reference/bench_model.py's arguments for the same work as the Go side's, on device (cpu or cuda).
func (o *benchOptions) torchArgs(device string) []string {
	return []string{"--mode", o.mode, "--batch", strconv.Itoa(o.batch), "--iters", strconv.Itoa(o.iters),
		"--warmup", strconv.Itoa(o.warmup), "--size", strconv.Itoa(imageSize), "--classes", strconv.Itoa(benchClasses),
		"--threads", strconv.Itoa(o.threads), "--device", device}
}

// setenv sets an environment variable and returns the function that restores its previous state.
func setenv(key, value string) (restore func()) {
	previous, had := os.LookupEnv(key)
	os.Setenv(key, value)
	return func() {
		if had {
			os.Setenv(key, previous)
		} else {
			os.Unsetenv(key)
		}
	}
}

func (r *modelReport) writeTable(w io.Writer) error {
	what := map[string]string{"eval": "evaluation forward pass", "train": "training step"}[r.Mode]
	fmt.Fprintf(w, "ResNet-18 %s, batch %d of %d×%d images, %d threads: %d warm-up + %d timed iterations\n"+
		"CPU and kernels: %s\n\n", what, r.Batch, r.Size, r.Size, r.Threads, r.Warmup, r.Iters, r.Kernels)
	const row = "%-28s %10s %12s\n"
	fmt.Fprintf(w, row, "", "images/s", "s/iteration")
	fmt.Fprintf(w, row, "Go ("+r.Backend+")", fmt.Sprintf("%.2f", r.GoImgS), fmt.Sprintf("%.3f", float64(r.Batch)/r.GoImgS))
	if r.TorchImgS != nil {
		fmt.Fprintf(w, row, "PyTorch "+r.Torch+" ("+r.TorchDevice+")", fmt.Sprintf("%.2f", *r.TorchImgS),
			fmt.Sprintf("%.3f", float64(r.Batch) / *r.TorchImgS))
	}
	if r.Ratio != nil {
		fmt.Fprintf(w, "\nGo's time / PyTorch's time: %.2f×\n", *r.Ratio)
	} else {
		fmt.Fprintf(w, "\nPyTorch skipped: %s\n", r.TorchSkipped)
	}
	if r.Mem != nil {
		return r.Mem.writeTable(w)
	}
	return nil
}
