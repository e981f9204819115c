// Package tutorial is what the notebooks and the CLI's train command share: the run's settings, read from
// environment variables so that the same notebook runs at full size or in a tiny configuration (tests, CI), the
// data prepared as the tutorial does, the starting weights, and a plain statement of which weights those are.
//
// This package is one of the two places where settings are read (the other is the CLI's flags, which take their
// defaults from here): the library packages below it read no environment variable and take explicit options.
package tutorial

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/hymenoptera-go/tutorial/hymenoptera/datasets"
	"github.com/hymenoptera-go/tutorial/hymenoptera/hub"
	"github.com/hymenoptera-go/tutorial/hymenoptera/models"
	"github.com/hymenoptera-go/tutorial/hymenoptera/train"
)

// Environment variables read by FromEnv, each the default of the CLI flag of the same name (see Flags).
const (
	EnvEpochs           = "HYMENOPTERA_EPOCHS"
	EnvBatch            = "HYMENOPTERA_BATCH"
	EnvImageSize        = "HYMENOPTERA_IMAGE_SIZE"
	EnvMaxImages        = "HYMENOPTERA_MAX_IMAGES"
	EnvSeed             = "HYMENOPTERA_SEED"
	EnvWorkers          = "HYMENOPTERA_WORKERS"
	EnvLR               = "HYMENOPTERA_LR"
	EnvRuns             = "HYMENOPTERA_RUNS"
	EnvResume           = "HYMENOPTERA_RESUME"
	EnvDataURL          = "HYMENOPTERA_DATA_URL"
	EnvData             = "HYMENOPTERA_DATA"
	EnvDataSkipChecksum = "HYMENOPTERA_DATA_SKIP_CHECKSUM"
	EnvWeights          = "HYMENOPTERA_WEIGHTS"
	EnvCache            = "HYMENOPTERA_CACHE"
)

// Settings of a tutorial run. The zero value of a field means its default.
type Settings struct {
	Epochs    int     // 25, as the tutorial
	BatchSize int     // 4
	ImageSize int     // crop size, 224 (validation images are resized to ImageSize·256/224 first, see transforms.Val)
	MaxImages int     // per split, spread evenly over the classes; 0 = the whole dataset
	Seed      int64   // shuffling, augmentation and the new head's initialisation
	Workers   int     // decoding goroutines; 0 = one per CPU
	LR        float64 // SGD's initial learning rate, 0.001
	// RunsDir holds one checkpoint directory per scenario; default: "runs" in CacheDir.
	RunsDir string
	// Resume continues an interrupted run instead of starting over.
	Resume bool
	// DataSource is where the dataset comes from (see datasets.DownloadOptions.Source); "" means the tutorial's URL.
	DataSource string
	// DataDir is where the dataset zip is downloaded and extracted; "" means "data" in CacheDir.
	DataDir string
	// SkipDataChecksum accepts a dataset zip that is not the tutorial's (see datasets.DownloadOptions).
	SkipDataChecksum bool
	// Weights is a checkpoint file to start from instead of torchvision's ImageNet weights ("" or "imagenet":
	// those, see models.Weights.Fetch).
	Weights string
	// CacheDir holds downloads (weights, dataset) and, by default, the runs; "" means hub.DefaultCacheDir.
	CacheDir string
	// Sources says where each setting that is not the default came from ("$HYMENOPTERA_EPOCHS", "--epochs"),
	// keyed by the setting's flag name.
	Sources map[string]string
}

// Defaults are the tutorial's values.
func Defaults() Settings {
	return Settings{Epochs: 25, BatchSize: 4, ImageSize: 224, LR: LearningRate}
}

// setting is one entry of the table that both FromEnv and Flags read: a flag name, its environment variable,
// and the parser (which checks the value) bound to a field of Settings.
type setting struct {
	flag, env, usage string
	value            func(s *Settings) flag.Value
}

var settings = []setting{
	{"epochs", EnvEpochs, "number of `epochs`", func(s *Settings) flag.Value { return intValue{&s.Epochs, 1} }},
	{"batch", EnvBatch, "batch `size`", func(s *Settings) flag.Value { return intValue{&s.BatchSize, 1} }},
	{"image-size", EnvImageSize, "crop `size` of the images", func(s *Settings) flag.Value { return intValue{&s.ImageSize, 32} }},
	{"max-images", EnvMaxImages, "use at most `N` images per split (0: all)", func(s *Settings) flag.Value { return intValue{&s.MaxImages, 0} }},
	{"seed", EnvSeed, "`seed` of the shuffling, the augmentation and the new head", func(s *Settings) flag.Value { return seedValue{&s.Seed} }},
	{"workers", EnvWorkers, "decoding `goroutines` (0: one per CPU)", func(s *Settings) flag.Value { return intValue{&s.Workers, 0} }},
	{"lr", EnvLR, "initial learning `rate`", func(s *Settings) flag.Value { return lrValue{&s.LR} }},
	{"runs", EnvRuns, "`directory` of the runs, one per scenario", func(s *Settings) flag.Value { return stringValue{&s.RunsDir} }},
	{"resume", EnvResume, "continue the saved run", func(s *Settings) flag.Value { return boolValue{&s.Resume} }},
	{"data", EnvDataURL, "dataset `source`: the zip's URL or path, or an extracted directory (default: the tutorial's URL)", func(s *Settings) flag.Value { return stringValue{&s.DataSource} }},
	{"data-dir", EnvData, "`directory` where the dataset zip is downloaded and extracted (default: data in the cache)", func(s *Settings) flag.Value { return stringValue{&s.DataDir} }},
	{"skip-data-checksum", EnvDataSkipChecksum, "accept a dataset zip that is not the tutorial's", func(s *Settings) flag.Value { return boolValue{&s.SkipDataChecksum} }},
	{"weights", EnvWeights, "starting weights: a checkpoint `FILE`, or imagenet", func(s *Settings) flag.Value { return weightsValue{&s.Weights} }},
	{"cache", EnvCache, "cache `directory` of downloads (default: hymenoptera in the user's cache)", func(s *Settings) flag.Value { return stringValue{&s.CacheDir} }},
}

// FromEnv returns Defaults overridden by the HYMENOPTERA_* environment variables. A value that does not parse or
// is out of range is an error that names the variable and the value.
func FromEnv() (Settings, error) {
	s := Defaults()
	s.Sources = map[string]string{}
	for _, e := range settings {
		text, ok := os.LookupEnv(e.env)
		if !ok || text == "" {
			continue
		}
		if err := e.value(&s).Set(text); err != nil {
			return s, fmt.Errorf("tutorial: %s=%q: %v", e.env, text, err)
		}
		s.Sources[e.flag] = "$" + e.env
	}
	return s, nil
}

// Flags defines on fs the flags of the named settings, bound to s: their defaults are s's values (FromEnv's,
// so the environment gives defaults and flags override them), and a bad value is a flag error naming the flag
// and the value. Call RecordFlags after parsing.
func (s *Settings) Flags(fs *flag.FlagSet, names ...string) {
	for _, e := range settings {
		if slices.Contains(names, e.flag) {
			fs.Var(e.value(s), e.flag, fmt.Sprintf("%s ($%s)", e.usage, e.env))
		}
	}
}

// RecordFlags notes in Sources the settings that fs's command line set.
func (s *Settings) RecordFlags(fs *flag.FlagSet) {
	if s.Sources == nil {
		s.Sources = map[string]string{}
	}
	fs.Visit(func(f *flag.Flag) {
		if slices.ContainsFunc(settings, func(e setting) bool { return e.flag == f.Name }) {
			s.Sources[f.Name] = "--" + f.Name
		}
	})
}

// DescribeSources says where the settings that are not defaults came from, e.g.
// "epochs=1 ($HYMENOPTERA_EPOCHS), lr=0.01 (--lr)", or "tutorial defaults".
func (s Settings) DescribeSources() string {
	var parts []string
	for _, e := range settings {
		if source, ok := s.Sources[e.flag]; ok {
			parts = append(parts, fmt.Sprintf("%s=%s (%s)", e.flag, e.value(&s), source))
		}
	}
	if len(parts) == 0 {
		return "tutorial defaults"
	}
	return strings.Join(parts, ", ")
}

type intValue struct {
	p   *int
	min int
}

func (v intValue) String() string {
	if v.p == nil {
		return "0"
	}
	return strconv.Itoa(*v.p)
}

func (v intValue) Set(text string) error {
	n, err := strconv.Atoi(text)
	if err != nil || n < v.min {
		return fmt.Errorf("want a whole number ≥ %d", v.min)
	}
	*v.p = n
	return nil
}

type seedValue struct{ p *int64 }

func (v seedValue) String() string {
	if v.p == nil {
		return "0"
	}
	return strconv.FormatInt(*v.p, 10)
}

func (v seedValue) Set(text string) error {
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return fmt.Errorf("want a whole number")
	}
	*v.p = n
	return nil
}

type lrValue struct{ p *float64 }

func (v lrValue) String() string {
	if v.p == nil {
		return "0"
	}
	return strconv.FormatFloat(*v.p, 'g', -1, 64)
}

func (v lrValue) Set(text string) error {
	x, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) || x <= 0 {
		return fmt.Errorf("want a finite number > 0")
	}
	*v.p = x
	return nil
}

type boolValue struct{ p *bool }

func (v boolValue) String() string   { return strconv.FormatBool(v.p != nil && *v.p) }
func (v boolValue) IsBoolFlag() bool { return true }

func (v boolValue) Set(text string) error {
	b, err := strconv.ParseBool(text)
	if err != nil {
		return fmt.Errorf("want true or false")
	}
	*v.p = b
	return nil
}

type stringValue struct{ p *string }

func (v stringValue) String() string {
	if v.p == nil {
		return ""
	}
	return *v.p
}

func (v stringValue) Set(text string) error {
	*v.p = text
	return nil
}

// weightsValue shows "" as ImageNetWeights.
type weightsValue struct{ p *string }

func (v weightsValue) String() string {
	if v.p == nil || *v.p == "" {
		return ImageNetWeights
	}
	return *v.p
}

func (v weightsValue) Set(text string) error {
	if text == "" {
		return fmt.Errorf("want a checkpoint file, or %s", ImageNetWeights)
	}
	*v.p = text
	return nil
}

// ImageNetWeights names torchvision's pretrained IMAGENET1K_V1 weights where a weights file could be given.
const ImageNetWeights = "imagenet"

// cacheDir is CacheDir, or its default.
func (s Settings) cacheDir() (string, error) {
	if s.CacheDir != "" {
		return s.CacheDir, nil
	}
	dir, err := hub.DefaultCacheDir()
	if err != nil {
		return "", fmt.Errorf("tutorial: %w (set %s)", err, EnvCache)
	}
	return dir, nil
}

// FetchOptions are the options with which the pretrained weights are fetched.
func (s Settings) FetchOptions(progress io.Writer) (models.FetchOptions, error) {
	dir, err := s.cacheDir()
	return models.FetchOptions{CacheDir: dir, Progress: progress}, err
}

// WeightsFile returns the file of the starting weights: Weights, or the ImageNet weights' copy in the cache
// (fetched first when missing, see models.Weights.Fetch).
func (s Settings) WeightsFile(ctx context.Context, progress io.Writer) (string, error) {
	if s.Weights != "" && s.Weights != ImageNetWeights {
		if _, err := os.Stat(s.Weights); err != nil {
			return "", fmt.Errorf("tutorial: starting weights (%s): %w", s.sourceOf("weights", EnvWeights), err)
		}
		return s.Weights, nil
	}
	opts, err := s.FetchOptions(progress)
	if err != nil {
		return "", err
	}
	return models.ResNet18ImageNet1KV1.Fetch(ctx, opts)
}

// sourceOf names where a setting came from, for messages.
func (s Settings) sourceOf(flagName, env string) string {
	if source, ok := s.Sources[flagName]; ok {
		return source
	}
	return "$" + env
}

// DownloadOptions are the options with which LoadData gets the dataset.
func (s Settings) DownloadOptions(progress io.Writer) (datasets.DownloadOptions, error) {
	opts := datasets.DownloadOptions{Source: s.DataSource, Dir: s.DataDir, SkipChecksum: s.SkipDataChecksum,
		Progress: progress}
	if opts.Dir == "" {
		cache, err := s.cacheDir()
		if err != nil {
			return opts, err
		}
		opts.Dir = filepath.Join(cache, "data")
	}
	return opts, nil
}

// Fingerprint describes what a resumed run must share with the one it continues besides train.Config's
// optimiser settings: the data (datasets.Fingerprint of the directory holding train/ and val/) and the loaders'
// settings. It goes into train.Config.Fingerprint.
func (s Settings) Fingerprint(dataDir string) (map[string]string, error) {
	data, err := datasets.Fingerprint(dataDir)
	if err != nil {
		return nil, err
	}
	return map[string]string{
		"data": data, "batch": strconv.Itoa(s.BatchSize), "image-size": strconv.Itoa(s.ImageSize),
		"max-images": strconv.Itoa(s.MaxImages), "seed": strconv.FormatInt(s.Seed, 10),
	}, nil
}

// RunDir is the checkpoint directory of a scenario's run.
func (s Settings) RunDir(scenario string) (string, error) {
	dir := s.RunsDir
	if dir == "" {
		cache, err := s.cacheDir()
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
	return fmt.Sprintf("%d epochs, batch %d, %d×%d crops, %s, seed %d, lr %g", s.Epochs, s.BatchSize, s.ImageSize,
		s.ImageSize, images, s.Seed, s.LR)
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
// notebook's training cell starts that training over, as re-running the tutorial's cell does. A directory in use
// by a run (another notebook, the CLI) is an error, never emptied under it.
func (s Settings) PrepareRunDir(scenario string) (string, error) {
	dir, err := s.RunDir(scenario)
	if err != nil {
		return "", err
	}
	if !s.Resume {
		if err := train.ClearCheckpointDir(dir); err != nil {
			return "", fmt.Errorf("tutorial: clearing the previous run: %w", err)
		}
	}
	return dir, nil
}

// InterruptibleContext is cancelled by Ctrl-C in a terminal or the notebook's interrupt button (both send
// SIGINT), or SIGTERM (docker stop, CI), so that training stops cleanly after the current batch with its
// checkpoints intact.
func InterruptibleContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}
