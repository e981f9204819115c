package main

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/hymenoptera-go/tutorial/hymenoptera/internal/testenv"
	"github.com/hymenoptera-go/tutorial/hymenoptera/internal/torchref"
)

// TestBenchModelJSON runs the smallest eval and train benchmarks (one iteration of a batch of 2, compilation
// included) and checks the report: Go's figure, and PyTorch's where torch is installed (its absence fails under
// CI), with ratio = Go's time / PyTorch's.
func TestBenchModelJSON(t *testing.T) {
	torchErr := torchref.Available()
	if torchErr != nil && testenv.InCI() {
		t.Fatal(torchErr)
	}
	for _, mode := range []string{"eval", "train"} {
		t.Run(mode, func(t *testing.T) {
			code, stdout, _ := runCLI(t, "bench", "--mode", mode, "--batch", "2", "--iters", "1", "--warmup", "0",
				"--json")
			if code != 0 {
				t.Fatalf("exit status %d", code)
			}
			var report map[string]any
			if err := json.Unmarshal([]byte(stdout), &report); err != nil {
				t.Fatalf("output %q is not a JSON object: %v", stdout, err)
			}
			for _, field := range []string{"mode", "batch", "backend", "go_img_s", "torch_img_s", "ratio"} {
				if _, ok := report[field]; !ok {
					t.Errorf("report lacks %q: %s", field, stdout)
				}
			}
			if report["mode"] != mode || report["batch"] != 2.0 || report["backend"] == "" {
				t.Errorf("report %s does not describe the run", stdout)
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
			if report["torch_device"] != "cpu" {
				t.Errorf("torch_device = %v, want cpu: the Go side runs on the CPU", report["torch_device"])
			}
		})
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
