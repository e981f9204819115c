// Package tutorial is what the notebooks and the CLI's train command share: the run's settings, read from
// environment variables so that the same notebook runs at full size or in a tiny configuration (tests, CI), the
// data prepared as the tutorial does, the starting weights, and a plain statement of which weights those are.
package tutorial

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"

	"github.com/hymenoptera-go/tutorial/hymenoptera/hub"
	"github.com/hymenoptera-go/tutorial/hymenoptera/models"
)

// Environment variables read by FromEnv.
const (
	EnvEpochs    = "HYMENOPTERA_EPOCHS"
	EnvBatch     = "HYMENOPTERA_BATCH"
	EnvImageSize = "HYMENOPTERA_IMAGE_SIZE"
	EnvMaxImages = "HYMENOPTERA_MAX_IMAGES"
	EnvSeed      = "HYMENOPTERA_SEED"
	EnvWorkers   = "HYMENOPTERA_WORKERS"
	EnvRuns      = "HYMENOPTERA_RUNS"
	EnvResume    = "HYMENOPTERA_RESUME"
	EnvWeights   = "HYMENOPTERA_WEIGHTS"
	// The dataset source is read by the datasets package: HYMENOPTERA_DATA_URL and HYMENOPTERA_DATA.
)

// Settings of a tutorial run. The zero value of a field means its default.
type Settings struct {
	Epochs    int   // 25, as the tutorial
	BatchSize int   // 4
	ImageSize int   // crop size, 224 (validation images are resized to ImageSize·256/224 first, see transforms.Val)
	MaxImages int   // per split, spread evenly over the classes; 0 = the whole dataset
	Seed      int64 // shuffling, augmentation and the new head's initialisation
	Workers   int   // decoding goroutines; 0 = one per CPU
	// RunsDir holds one checkpoint directory per scenario; default: "runs" in the cache directory.
	RunsDir string
	// Resume continues an interrupted run instead of starting over.
	Resume bool
	// DataSource is where the dataset comes from (see datasets.DownloadOptions.Source); "" means
	// $HYMENOPTERA_DATA_URL, else the tutorial's URL.
	DataSource string
	// Weights is the starting checkpoint: ImageNetWeights (torchvision's, downloaded once), or a file
	// (HYMENOPTERA_WEIGHTS).
	Weights string
}

// Defaults are the tutorial's values.
func Defaults() Settings {
	return Settings{Epochs: 25, BatchSize: 4, ImageSize: 224, Weights: ImageNetWeights}
}

// FromEnv returns Defaults overridden by the HYMENOPTERA_* environment variables. An unparsable value is an
// error that names the variable and the value.
func FromEnv() (Settings, error) {
	s := Defaults()
	ints := []struct {
		name   string
		target *int
		min    int
	}{
		{EnvEpochs, &s.Epochs, 1}, {EnvBatch, &s.BatchSize, 1}, {EnvImageSize, &s.ImageSize, 32},
		{EnvMaxImages, &s.MaxImages, 0}, {EnvWorkers, &s.Workers, 0},
	}
	for _, v := range ints {
		text, ok := os.LookupEnv(v.name)
		if !ok || text == "" {
			continue
		}
		n, err := strconv.Atoi(text)
		if err != nil || n < v.min {
			return s, fmt.Errorf("tutorial: %s=%q: want a whole number ≥ %d", v.name, text, v.min)
		}
		*v.target = n
	}
	if text := os.Getenv(EnvSeed); text != "" {
		seed, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return s, fmt.Errorf("tutorial: %s=%q: want a whole number", EnvSeed, text)
		}
		s.Seed = seed
	}
	if text := os.Getenv(EnvResume); text != "" {
		resume, err := strconv.ParseBool(text)
		if err != nil {
			return s, fmt.Errorf("tutorial: %s=%q: want true or false", EnvResume, text)
		}
		s.Resume = resume
	}
	s.RunsDir = os.Getenv(EnvRuns)
	if file := os.Getenv(EnvWeights); file != "" {
		s.Weights = file
	}
	return s, nil
}

// RunDir is the checkpoint directory of a scenario's run.
func (s Settings) RunDir(scenario string) (string, error) {
	dir := s.RunsDir
	if dir == "" {
		cache, err := hub.CacheDir()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(cache, "runs")
	}
	return filepath.Join(dir, scenario), nil
}

// String is the settings as one line, for the setup cell and logs.
func (s Settings) String() string {
	images := "all images"
	if s.MaxImages > 0 {
		images = fmt.Sprintf("at most %d images per split", s.MaxImages)
	}
	return fmt.Sprintf("%d epochs, batch %d, %d×%d crops, %s, seed %d", s.Epochs, s.BatchSize, s.ImageSize,
		s.ImageSize, images, s.Seed)
}

// WeightsDescription says plainly which weights a checkpoint file holds: torchvision's ImageNet weights only when
// the file's SHA-256 starts with the published prefix; anything else is named as what it is not.
func WeightsDescription(file string) string {
	w := models.ResNet18ImageNet1KV1
	if err := hub.Verify(file, hub.Options{SHA256Prefix: w.SHA256Prefix()}); err == nil {
		return fmt.Sprintf("torchvision ResNet18_Weights.%s (ImageNet-1K, acc@1 %.3f%%), %s", w.Name, w.Acc1, file)
	}
	return fmt.Sprintf("NOT the ImageNet weights: %s (its checksum does not match %s). Results with these weights "+
		"are not transfer learning", file, w.FileName())
}

// PrepareRunDir returns the scenario's checkpoint directory, emptied first unless Resume is set: re-running a
// notebook's training cell starts that training over, as re-running the tutorial's cell does.
func (s Settings) PrepareRunDir(scenario string) (string, error) {
	dir, err := s.RunDir(scenario)
	if err != nil {
		return "", err
	}
	if !s.Resume {
		if err := os.RemoveAll(dir); err != nil {
			return "", fmt.Errorf("tutorial: clearing the previous run in %s: %w", dir, err)
		}
	}
	return dir, nil
}

// InterruptibleContext is cancelled by Ctrl-C in a terminal or the notebook's interrupt button (both send
// SIGINT), so that training stops cleanly after the current batch with its checkpoints intact.
func InterruptibleContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt)
}
