package main

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/hymenoptera-go/tutorial/hymenoptera/internal/testenv"
	"github.com/hymenoptera-go/tutorial/hymenoptera/internal/torchref"
)

// TestBenchModelJSON runs the smallest eval and train benchmarks (one iteration of a batch of 2, compilation
// included) with --mem and checks the report: the machine, Go's figure, and PyTorch's where torch is installed
// (its absence fails under CI), with ratio = Go's time / PyTorch's, and each side's peak memory.
func TestBenchModelJSON(t *testing.T) {
	torchErr := torchref.Available()
	if torchErr != nil && testenv.InCI() {
		t.Fatal(torchErr)
	}
	for _, mode := range []string{"eval", "train"} {
		t.Run(mode, func(t *testing.T) {
			code, stdout, _ := runCLI(t, "bench", "--mode", mode, "--batch", "2", "--iters", "1", "--warmup", "0",
				"--mem", "--json")
			if code != 0 {
				t.Fatalf("exit status %d", code)
			}
			var report map[string]any
			if err := json.Unmarshal([]byte(stdout), &report); err != nil {
				t.Fatalf("output %q is not a JSON object: %v", stdout, err)
			}
			for _, field := range []string{"mode", "batch", "backend", "cpu", "arch", "simd", "matmul", "go_img_s",
				"torch_img_s", "ratio", "mem"} {
				if _, ok := report[field]; !ok {
					t.Errorf("report lacks %q: %s", field, stdout)
				}
			}
			if report["mode"] != mode || report["batch"] != 2.0 || report["backend"] == "" || report["matmul"] == "" {
				t.Errorf("report %s does not describe the run", stdout)
			}
			mem, _ := report["mem"].(map[string]any)
			goMiB, _ := mem["go_peak_rss_mib"].(float64)
			if !(goMiB > 50) { // ResNet-18's weights alone are 45 MB
				t.Errorf("mem = %v: want Go's peak resident memory above 50 MiB", report["mem"])
			}
			goImgS, _ := report["go_img_s"].(float64)
			if !(goImgS > 0) {
				t.Errorf("go_img_s = %v, want a positive number", report["go_img_s"])
			}
			if torchErr != nil {
				if report["torch_img_s"] != nil || report["ratio"] != nil || report["torch_skipped"] == nil {
					t.Errorf("torch unavailable (%v), but the report is %s", torchErr, stdout)
				}
				return
			}
			torchImgS, _ := report["torch_img_s"].(float64)
			ratio, _ := report["ratio"].(float64)
			if !(torchImgS > 0) || math.Abs(ratio-torchImgS/goImgS) > 1e-9*ratio {
				t.Errorf("torch_img_s %v and ratio %v: want a positive rate and ratio = torch_img_s / go_img_s",
					report["torch_img_s"], report["ratio"])
			}
			torchMiB, _ := mem["torch_peak_rss_mib"].(float64)
			memRatio, _ := mem["mem_ratio"].(float64)
			if !(torchMiB > 50) || math.Abs(memRatio-goMiB/torchMiB) > 1e-9*memRatio {
				t.Errorf("mem = %v: want PyTorch's peak above 50 MiB and mem_ratio = Go's / PyTorch's", mem)
			}
			if report["torch_device"] != "cpu" {
				t.Errorf("torch_device = %v, want cpu: the Go side runs on the CPU", report["torch_device"])
			}
		})
	}
}

// TestEpochRatios: the epoch report's ratios are Go's seconds over PyTorch's, per phase and epoch and over all
// the epochs both sides ran.
func TestEpochRatios(t *testing.T) {
	goSide := []epochPhases{{TrainS: 40, ValS: 10}, {TrainS: 30, ValS: 12}, {TrainS: 1, ValS: 1}}
	torchSide := []epochPhases{{TrainS: 20, ValS: 5}, {TrainS: 20, ValS: 6}}
	r := ratios(goSide, torchSide)
	want := epochRatios{
		Epochs:  []phaseRatios{{Train: 2, Val: 2, Total: 2}, {Train: 1.5, Val: 2, Total: 42.0 / 26}},
		Overall: phaseRatios{Train: 70.0 / 40, Val: 2, Total: 92.0 / 51},
	}
	if r == nil || len(r.Epochs) != 2 {
		t.Fatalf("ratios = %+v, want two epochs", r)
	}
	for i, got := range append(r.Epochs, r.Overall) {
		w := append(want.Epochs, want.Overall)[i]
		if math.Abs(got.Train-w.Train) > 1e-12 || math.Abs(got.Val-w.Val) > 1e-12 || math.Abs(got.Total-w.Total) > 1e-12 {
			t.Errorf("ratio %d = %+v, want %+v", i, got, w)
		}
	}
	if ratios(goSide, nil) != nil {
		t.Error("ratios without PyTorch's epochs: want nil (null in JSON)")
	}
}

// TestBenchMatmulJSON times the products of the smallest batch once and checks the report: five shapes, each
// with Go's GFLOP/s and, where torch is installed (its absence fails under CI), PyTorch's with ratio = Go's
// time / PyTorch's.
func TestBenchMatmulJSON(t *testing.T) {
	torchErr := torchref.Available()
	if torchErr != nil && testenv.InCI() {
		t.Fatal(torchErr)
	}
	code, stdout, _ := runCLI(t, "bench", "--mode", "matmul", "--batch", "1", "--iters", "1", "--warmup", "0", "--json")
	if code != 0 {
		t.Fatalf("exit status %d", code)
	}
	var report matmulReport
	if err := json.Unmarshal([]byte(stdout), &report); err != nil {
		t.Fatalf("output %q is not a matmul report: %v", stdout, err)
	}
	if len(report.Shapes) != 5 || report.Matmul == "" {
		t.Fatalf("report %s: want five products and the kernels", stdout)
	}
	for _, s := range report.Shapes {
		if !(s.GoGFLOPS > 0) {
			t.Errorf("%s: go_gflops %v, want a positive rate", s.Name, s.GoGFLOPS)
		}
		if torchErr != nil {
			continue
		}
		if s.TorchGFLOPS == nil || s.Ratio == nil || math.Abs(*s.Ratio-*s.TorchGFLOPS/s.GoGFLOPS) > 1e-9**s.Ratio {
			t.Errorf("%s: torch_gflops %v, ratio %v: want both, ratio = torch_gflops / go_gflops", s.Name,
				s.TorchGFLOPS, s.Ratio)
		}
	}
}

// TestTorchDevice: --torch-device auto times PyTorch on the GPU exactly when the Go side runs on XLA's CUDA plugin.
func TestTorchDevice(t *testing.T) {
	for _, c := range []struct{ flag, backend, want string }{
		{"auto", "go", "cpu"},
		{"auto", "xla:cpu", "cpu"},
		{"auto", "xla:cuda", "cuda"},
		{"auto", "xla:cuda,tf32=false", "cuda"},
		{"cpu", "xla:cuda", "cpu"},
		{"cuda", "go", "cuda"},
	} {
		if got := torchDevice(c.flag, c.backend); got != c.want {
			t.Errorf("torchDevice(%q, %q) = %q, want %q", c.flag, c.backend, got, c.want)
		}
	}
}

// TestBenchDataJSON runs one epoch of each data pipeline over the dataset zip and checks that the report counts
// every image (244 train, 153 val), on both sides where torch is installed.
func TestBenchDataJSON(t *testing.T) {
	zip := testenv.DatasetZip(t)
	t.Setenv("HYMENOPTERA_DATA", t.TempDir()) // where the zip is extracted
	code, stdout, _ := runCLI(t, "bench", "--mode", "data", "--data", zip, "--epochs", "1", "--json")
	if code != 0 {
		t.Fatalf("exit status %d", code)
	}
	var report dataBenchReport
	if err := json.Unmarshal([]byte(stdout), &report); err != nil {
		t.Fatalf("output %q is not a data benchmark report: %v", stdout, err)
	}
	sides := map[string][2][]epochFigures{"Go": {report.Train, report.Val}}
	if err := torchref.Available(); err == nil {
		sides["torchvision"] = [2][]epochFigures{report.TorchTrain, report.TorchVal}
	} else if testenv.InCI() {
		t.Fatal(err)
	}
	for side, phases := range sides {
		for i, want := range []int{244, 153} {
			if len(phases[i]) != 1 || phases[i][0].Images != want || !(phases[i][0].ImagesPerSecond > 0) {
				t.Errorf("%s, phase %d: epochs %+v, want one of %d images", side, i, phases[i], want)
			}
		}
	}
}
