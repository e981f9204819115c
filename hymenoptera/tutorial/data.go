package tutorial

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/hymenoptera-go/tutorial/hymenoptera/dataloader"
	"github.com/hymenoptera-go/tutorial/hymenoptera/datasets"
	"github.com/hymenoptera-go/tutorial/hymenoptera/transforms"
)

// Data is the tutorial's image_datasets and dataloaders: the train and val splits with their pipelines.
type Data struct {
	Dir        string // the directory holding train/ and val/
	Classes    []string
	Train, Val dataloader.Dataset
	// TrainLoader shuffles and augments (RandomResizedCrop, RandomHorizontalFlip); ValLoader resizes and crops.
	TrainLoader, ValLoader *dataloader.Loader
	// Paths are the image files of Val, by index (for showing and predicting single images).
	ValPaths []string
}

// LoadData downloads and extracts the dataset where needed (see datasets.DownloadHymenoptera, with
// Settings.DownloadOptions), reads both splits with ImageFolder and builds their loaders with
// the settings' batch size, image size, seed and, with MaxImages, a class-balanced subset of each split.
func LoadData(ctx context.Context, s Settings) (*Data, error) {
	dir, err := DownloadData(ctx, s)
	if err != nil {
		return nil, err
	}
	train, err := datasets.NewImageFolder(filepath.Join(dir, "train"))
	if err != nil {
		return nil, err
	}
	val, err := datasets.NewImageFolder(filepath.Join(dir, "val"))
	if err != nil {
		return nil, err
	}
	if fmt.Sprint(train.Classes) != fmt.Sprint(val.Classes) {
		return nil, fmt.Errorf("tutorial: %s: train classes %v differ from val classes %v", dir, train.Classes, val.Classes)
	}
	d := &Data{Dir: dir, Classes: train.Classes}
	trainSet, _ := balancedSubset(train, s.MaxImages)
	valSet, valPaths := balancedSubset(val, s.MaxImages)
	d.Train, d.Val, d.ValPaths = trainSet, valSet, valPaths
	// Both splits shuffled, as the tutorial's DataLoaders are.
	opts := dataloader.Options{BatchSize: s.BatchSize, Seed: s.Seed, Workers: s.Workers, Shuffle: true}
	d.TrainLoader = dataloader.New(trainSet, transforms.Train(s.ImageSize), opts)
	d.ValLoader = dataloader.New(valSet, transforms.Val(s.ImageSize), opts)
	return d, nil
}

// ClassNames maps labels to class names.
func (d *Data) ClassNames(labels []int) []string {
	names := make([]string, len(labels))
	for i, l := range labels {
		names[i] = d.Classes[l]
	}
	return names
}

// FirstBatch returns the first batch of a loader's epoch 0: the tutorial's next(iter(dataloaders['train'])).
func FirstBatch(ctx context.Context, loader *dataloader.Loader) (dataloader.Batch, error) {
	for batch, err := range loader.Epoch(ctx, 0) {
		return batch, err
	}
	return dataloader.Batch{}, fmt.Errorf("tutorial: the loader has no batch")
}

// subset is a part of an ImageFolder, as torch.utils.data.Subset.
type subset struct {
	folder  *datasets.ImageFolder
	indices []int
}

func (s subset) Len() int                              { return len(s.indices) }
func (s subset) Label(i int) int                       { return s.folder.Label(s.indices[i]) }
func (s subset) Load(i int) (*transforms.Image, error) { return s.folder.Load(s.indices[i]) }

// balancedSubset keeps at most max samples of folder, taking the classes in turn so that a tiny configuration
// still sees every class, in the folder's order; max ≤ 0 keeps everything. It also returns the kept samples' paths.
func balancedSubset(folder *datasets.ImageFolder, max int) (dataloader.Dataset, []string) {
	kept := make([]int, 0, len(folder.Samples))
	if max <= 0 || max >= len(folder.Samples) {
		for i := range folder.Samples {
			kept = append(kept, i)
		}
	} else {
		byClass := make([][]int, len(folder.Classes))
		for i, sample := range folder.Samples {
			byClass[sample.Label] = append(byClass[sample.Label], i)
		}
		for round := 0; len(kept) < max; round++ {
			for _, indices := range byClass {
				if round < len(indices) && len(kept) < max {
					kept = append(kept, indices[round])
				}
			}
		}
		slices.Sort(kept)
	}
	paths := make([]string, len(kept))
	for i, idx := range kept {
		paths[i] = folder.Samples[idx].Path
	}
	return subset{folder: folder, indices: kept}, paths
}

// Subset is the dataset a notebook trains on: all of folder, or, when MaxImages is set (a quick run), at most
// that many images spread evenly over the classes.
func (s Settings) Subset(folder *datasets.ImageFolder) dataloader.Dataset {
	subset, _ := balancedSubset(folder, s.MaxImages)
	return subset
}

// DownloadData returns the directory holding the dataset's train/ and val/ (the tutorial's
// data/hymenoptera_data), downloading and extracting the zip the settings name on first use (see
// datasets.DownloadHymenoptera).
func DownloadData(ctx context.Context, s Settings) (string, error) {
	download, err := s.DownloadOptions(nil)
	if err != nil {
		return "", err
	}
	return datasets.DownloadHymenoptera(ctx, download)
}
