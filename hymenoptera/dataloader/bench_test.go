package dataloader_test

import (
	"context"
	"io"
	"path/filepath"
	"testing"

	"github.com/hymenoptera-go/tutorial/hymenoptera/dataloader"
	"github.com/hymenoptera-go/tutorial/hymenoptera/datasets"
	"github.com/hymenoptera-go/tutorial/hymenoptera/internal/testenv"
	"github.com/hymenoptera-go/tutorial/hymenoptera/transforms"
)

// dataDir extracts the tutorial's dataset into a temporary directory.
func dataDir(b *testing.B) string {
	b.Helper()
	root, err := datasets.DownloadHymenoptera(context.Background(), datasets.DownloadOptions{
		Source: testenv.DatasetZip(b), Dir: b.TempDir(), Progress: io.Discard})
	if err != nil {
		b.Fatal(err)
	}
	return root
}

// benchmarkEpochs times epochs of a pipeline over a split of the dataset: with cached, every epoch after a first,
// untimed one; without, each epoch with a fresh loader, decoding every file.
func benchmarkEpochs(b *testing.B, split string, tf transforms.Transform, cached bool) {
	ds, err := datasets.NewImageFolder(filepath.Join(dataDir(b), split))
	if err != nil {
		b.Fatal(err)
	}
	opts := dataloader.Options{BatchSize: 4, Shuffle: split == "train", Seed: 1}
	loader := dataloader.New(ds, tf, opts)
	run := func(epoch int) {
		for _, err := range loader.Epoch(context.Background(), epoch) {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	if cached {
		run(0)
	}
	epoch := 1
	for b.Loop() {
		if !cached {
			loader = dataloader.New(ds, tf, opts)
		}
		run(epoch)
		epoch++
	}
	b.ReportMetric(float64(ds.Len()*b.N)/b.Elapsed().Seconds(), "images/s")
}

func BenchmarkTrainFirstEpoch(b *testing.B) {
	benchmarkEpochs(b, "train", transforms.Train(224), false)
}
func BenchmarkTrainCachedEpoch(b *testing.B) {
	benchmarkEpochs(b, "train", transforms.Train(224), true)
}
func BenchmarkValFirstEpoch(b *testing.B)  { benchmarkEpochs(b, "val", transforms.Val(224), false) }
func BenchmarkValCachedEpoch(b *testing.B) { benchmarkEpochs(b, "val", transforms.Val(224), true) }
