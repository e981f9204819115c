package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/hymenoptera-go/tutorial/hymenoptera/dataloader"
	"github.com/hymenoptera-go/tutorial/hymenoptera/datasets"
)

// benchData runs bench --mode data: dataloader.BenchmarkPipelines over the tutorial's dataset.
func (o *benchOptions) benchData(ctx context.Context, out streams) error {
	root, err := datasets.DownloadHymenoptera(ctx, datasets.DownloadOptions{Source: o.data, Progress: out.stderr})
	if err != nil {
		return err
	}
	fmt.Fprintf(out.stderr, "dataset: %s\n", root)
	report, err := dataloader.BenchmarkPipelines(ctx, dataloader.BenchOptions{DataDir: root, Epochs: o.epochs,
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
