package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hymenoptera-go/tutorial/hymenoptera/dataloader"
	"github.com/hymenoptera-go/tutorial/hymenoptera/datasets"
	"github.com/hymenoptera-go/tutorial/hymenoptera/internal/torchref"
	"github.com/hymenoptera-go/tutorial/hymenoptera/transforms"
)

// benchData runs bench --mode data: benchmarkPipelines over the tutorial's dataset.
func (o *benchOptions) benchData(ctx context.Context, out streams) error {
	root, err := datasets.DownloadHymenoptera(ctx, datasets.DownloadOptions{Source: o.data, Progress: out.stderr})
	if err != nil {
		return err
	}
	fmt.Fprintf(out.stderr, "dataset: %s\n", root)
	report, err := benchmarkPipelines(ctx, dataBenchOptions{DataDir: root, Epochs: o.epochs,
		BatchSize: o.batch, Workers: o.threads, TorchWorkers: o.threads, SkipTorch: !o.torch})
	if err != nil {
		return err
	}
	if o.json {
		return json.NewEncoder(out.stdout).Encode(report)
	}
	_, err = fmt.Fprint(out.stdout, report.String())
	return err
}

// dataBenchOptions configure benchmarkPipelines.
type dataBenchOptions struct {
	// DataDir holds the dataset's train/ and val/ (datasets.DownloadHymenoptera's result).
	DataDir string
	// Epochs per phase (default 3): the first decodes every image, the next ones take them from the cache.
	Epochs int
	// BatchSize (default 4, the tutorial's).
	BatchSize int
	// Workers are the Go loader's goroutines (default runtime.NumCPU()).
	Workers int
	// TorchWorkers are the worker processes of torch's DataLoader (default 2); torch runs with 2 threads.
	TorchWorkers int
	// SkipTorch leaves torchvision out.
	SkipTorch bool
}

// epochFigures are the measures of one epoch.
type epochFigures struct {
	Epoch           int     `json:"epoch"`
	Seconds         float64 `json:"seconds"`
	Images          int     `json:"images"`
	ImagesPerSecond float64 `json:"images_per_s"`
}

// dataBenchReport holds, per phase, the epochs of the Go loader and those of torch's DataLoader, measured in one run
// on the same machine.
type dataBenchReport struct {
	Options      dataBenchOptions
	Train, Val   []epochFigures
	TorchTrain   []epochFigures
	TorchVal     []epochFigures
	TorchVersion string
	// TorchError says why torchvision's figures are missing, if they are.
	TorchError string
}

// benchmarkPipelines times the tutorial's training and validation pipelines (decoding, transforms and batching,
// without a model) over opts.DataDir, epoch by epoch, first with dataloader.Loader, then with torchvision's
// DataLoader (hymenoptera/reference/bench_data.py) unless opts.SkipTorch. A fresh Loader per phase makes the first
// epoch decode every file, as torchvision does every epoch.
func benchmarkPipelines(ctx context.Context, opts dataBenchOptions) (dataBenchReport, error) {
	if opts.Epochs == 0 {
		opts.Epochs = 3
	}
	if opts.BatchSize == 0 {
		opts.BatchSize = 4
	}
	if opts.Workers == 0 {
		opts.Workers = runtime.NumCPU()
	}
	if opts.TorchWorkers == 0 {
		opts.TorchWorkers = 2
	}
	report := dataBenchReport{Options: opts}
	for _, phase := range []struct {
		name    string
		tf      transforms.Transform
		shuffle bool
		figures *[]epochFigures
	}{
		{"train", transforms.Train(224), true, &report.Train},
		{"val", transforms.Val(224), false, &report.Val},
	} {
		ds, err := datasets.NewImageFolder(filepath.Join(opts.DataDir, phase.name))
		if err != nil {
			return report, err
		}
		loader := dataloader.New(ds, phase.tf, dataloader.Options{BatchSize: opts.BatchSize, Shuffle: phase.shuffle,
			Seed: 1, Workers: opts.Workers})
		for epoch := range opts.Epochs {
			start := time.Now()
			images := 0
			for batch, err := range loader.Epoch(ctx, epoch) {
				if err != nil {
					return report, err
				}
				images += batch.N
				batch.Release() // as a training loop does once the batch is on its way to the model
			}
			seconds := time.Since(start).Seconds()
			*phase.figures = append(*phase.figures, epochFigures{epoch, seconds, images, float64(images) / seconds})
		}
	}
	if opts.SkipTorch {
		return report, nil
	}
	var torch struct {
		Torch      string
		Train, Val []epochFigures
	}
	err := torchref.RunJSON(&torch, "bench_data.py", "--data", opts.DataDir, "--epochs", strconv.Itoa(opts.Epochs),
		"--batch", strconv.Itoa(opts.BatchSize), "--workers", strconv.Itoa(opts.TorchWorkers), "--threads", "2")
	if err != nil {
		report.TorchError = err.Error()
		return report, nil
	}
	report.TorchTrain, report.TorchVal, report.TorchVersion = torch.Train, torch.Val, torch.Torch
	return report, nil
}

// String formats the report as a table, with the ratio of Go's images per second to torchvision's.
func (r dataBenchReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "data pipelines, batch %d: Go %d workers; torchvision %s DataLoader, %d worker processes, 2 threads\n",
		r.Options.BatchSize, r.Options.Workers, r.TorchVersion, r.Options.TorchWorkers)
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "phase\tepoch\tGo s\tGo images/s\ttorch s\ttorch images/s\tGo/torch\t")
	for _, phase := range []struct {
		name    string
		go_, tv []epochFigures
	}{{"train", r.Train, r.TorchTrain}, {"val", r.Val, r.TorchVal}} {
		for i, g := range phase.go_ {
			torch, ratio := "\t", "-"
			if i < len(phase.tv) {
				t := phase.tv[i]
				torch = fmt.Sprintf("%.3f\t%.0f", t.Seconds, t.ImagesPerSecond)
				ratio = fmt.Sprintf("%.2f×", g.ImagesPerSecond/t.ImagesPerSecond)
			}
			fmt.Fprintf(w, "%s\t%d\t%.3f\t%.0f\t%s\t%s\t\n", phase.name, g.Epoch, g.Seconds, g.ImagesPerSecond, torch, ratio)
		}
	}
	w.Flush()
	if r.TorchError != "" {
		fmt.Fprintf(&b, "torchvision not measured: %s\n", r.TorchError)
	}
	return b.String()
}
