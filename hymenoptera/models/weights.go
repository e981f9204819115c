package models

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"path/filepath"

	"github.com/gomlx/compute"

	"github.com/hymenoptera-go/tutorial/hymenoptera/hub"
	"github.com/hymenoptera-go/tutorial/hymenoptera/statedict"
)

// Weights describes a set of pretrained weights, like an entry of torchvision's ResNet18_Weights.
type Weights struct {
	Name string // torchvision's name, e.g. "IMAGENET1K_V1"
	URL  string // where torchvision downloads the checkpoint
	// NumParams counts the learnable scalars, as torchvision's metadata does.
	NumParams int
	// Acc1 and Acc5 are the published ImageNet-1K validation accuracies (percent).
	Acc1, Acc5 float64
	// Categories name the head's outputs.
	Categories []string
	// Preprocessing the weights expect (torchvision's ImageClassification transform): resize the shorter side to
	// ResizeSize (bilinear), centre-crop CropSize, scale to [0, 1], normalise with Mean and Std.
	ResizeSize, CropSize int
	Mean, Std            [3]float32
	Recipe               string
}

// ImageNet normalisation statistics, which every torchvision ImageNet model expects.
var (
	ImageNetMean = [3]float32{0.485, 0.456, 0.406}
	ImageNetStd  = [3]float32{0.229, 0.224, 0.225}
)

// ResNet18ImageNet1KV1 are torchvision's ResNet18_Weights.IMAGENET1K_V1, the weights the tutorial fine-tunes.
var ResNet18ImageNet1KV1 = Weights{
	Name:       "IMAGENET1K_V1",
	URL:        "https://download.pytorch.org/models/resnet18-f37072fd.pth",
	NumParams:  11689512,
	Acc1:       69.758,
	Acc5:       89.078,
	Categories: imageNetCategories[:],
	ResizeSize: 256,
	CropSize:   224,
	Mean:       ImageNetMean,
	Std:        ImageNetStd,
	Recipe:     "https://github.com/pytorch/vision/tree/main/references/classification#resnet",
}

// FetchOptions configure Weights.Fetch.
type FetchOptions struct {
	// CacheDir is the download cache; the checkpoint goes into its "checkpoints" directory. "" means
	// hub.DefaultCacheDir.
	CacheDir string
	// Progress receives the progress bar of a download: nil means os.Stderr, io.Discard silences it.
	Progress io.Writer
}

// FileName is the checkpoint's file name, which carries torch.hub's SHA-256 prefix ("resnet18-f37072fd.pth").
func (w Weights) FileName() string { return path.Base(w.URL) }

// SHA256Prefix is the checksum prefix in the file name, which every copy of the file is checked against.
func (w Weights) SHA256Prefix() string { return hub.HashPrefixFromName(w.FileName()) }

// Fetch returns the path of a local copy of the checkpoint, trying in order: torch.hub's own cache ($TORCH_HOME
// or ~/.cache/torch, hub/checkpoints), so weights that PyTorch already downloaded are reused; then
// opts.CacheDir/checkpoints, downloading into it if the file is not there. Either copy is checked against the
// SHA-256 prefix in the file name. (A checkpoint of one's own is not fetched: give its path to FromCheckpoint.)
func (w Weights) Fetch(ctx context.Context, opts FetchOptions) (string, error) {
	hubOpts := hub.Options{SHA256Prefix: w.SHA256Prefix(), Progress: opts.Progress}
	if torchCopy := torchHubCheckpoint(w.FileName()); torchCopy != "" {
		if err := hub.Verify(torchCopy, hubOpts); err != nil {
			return "", fmt.Errorf("models: torch.hub's copy %s: %w", torchCopy, err)
		}
		return torchCopy, nil
	}
	cache := opts.CacheDir
	if cache == "" {
		var err error
		if cache, err = hub.DefaultCacheDir(); err != nil {
			return "", fmt.Errorf("models: %w", err)
		}
	}
	dir := filepath.Join(cache, "checkpoints")
	local, err := hub.Fetch(ctx, w.URL, dir, hubOpts)
	if err != nil {
		return "", fmt.Errorf("models: cannot get the %s weights: %w\nOffline? Copy %s into %s, or start from a "+
			"checkpoint file instead (--weights FILE, or HYMENOPTERA_WEIGHTS in the notebooks)", w.Name, err,
			w.FileName(), dir)
	}
	return local, nil
}

// torchHubCheckpoint returns the path of name in torch.hub's checkpoint cache, or "" when it is not there.
func torchHubCheckpoint(name string) string {
	torchHome := os.Getenv("TORCH_HOME")
	if torchHome == "" {
		cache := os.Getenv("XDG_CACHE_HOME")
		if cache == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return ""
			}
			cache = filepath.Join(home, ".cache")
		}
		torchHome = filepath.Join(cache, "torch")
	}
	candidate := filepath.Join(torchHome, "hub", "checkpoints", name)
	if info, err := os.Stat(candidate); err == nil && info.Mode().IsRegular() {
		return candidate
	}
	return ""
}

// Pretrained returns a ResNet-18 with these weights, fetched as Fetch does, its Classes set to the categories.
func Pretrained(ctx context.Context, backend compute.Backend, w Weights, opts FetchOptions) (*ResNet, error) {
	file, err := w.Fetch(ctx, opts)
	if err != nil {
		return nil, err
	}
	m, err := FromCheckpoint(backend, file)
	if err != nil {
		return nil, err
	}
	if len(m.Classes) == 0 && len(w.Categories) == m.NumClasses() {
		m.Classes = w.Categories
	}
	return m, nil
}

// checkpointElements bounds what loading a checkpoint may allocate: a few times the largest model a file meant
// for ResNet-18 should hold (a ResNet-50 still loads far enough to be named as one).
const checkpointElements = 6 * 11_689_512

// FromCheckpoint builds a ResNet-18 from a checkpoint file (.pth in either PyTorch format, or .safetensors with
// torchvision key names), with the head size the checkpoint has. The file is untrusted input: what it makes the
// loader allocate is bounded (statedict.LoadBounded), a deeper ResNet is named as such, and weights that are not
// finite numbers (the checkpoint of a training that diverged) are refused naming the key.
func FromCheckpoint(backend compute.Backend, file string) (*ResNet, error) {
	m, err := ResNet18(backend, Options{})
	if err != nil {
		return nil, err
	}
	if err := m.Load(file); err != nil {
		return nil, err
	}
	return m, nil
}

// readCheckpoint reads a ResNet checkpoint file, bounded by what a ResNet-18 can hold, and refuses other
// architectures and non-finite weights, naming the file.
func readCheckpoint(file string) (*statedict.StateDict, error) {
	sd, err := statedict.LoadBounded(file, checkpointElements)
	if err != nil {
		return nil, err
	}
	if err := checkArchitecture(sd, file); err != nil {
		return nil, err
	}
	if err := checkFinite(sd, file); err != nil {
		return nil, err
	}
	return sd, nil
}

// checkArchitecture names the torchvision ResNet that a checkpoint of another depth holds, from the keys only
// that depth has: bottleneck blocks (conv3) for ResNet-50/101/152, a third block in layer1 for ResNet-34.
func checkArchitecture(sd *statedict.StateDict, file string) error {
	var other string
	switch {
	case sd.Tensors["layer1.0.conv3.weight"] != nil:
		other = "a ResNet-50, -101 or -152 (bottleneck blocks: it has layer1.0.conv3.weight)"
	case sd.Tensors["layer1.2.conv1.weight"] != nil:
		other = "a ResNet-34 (three blocks in layer1: it has layer1.2.conv1.weight)"
	default:
		return nil
	}
	return fmt.Errorf("models: %s holds %s checkpoint; this model is ResNet-18", file, other)
}

// checkFinite refuses floating-point values that are NaN or infinite.
func checkFinite(sd *statedict.StateDict, file string) error {
	for _, key := range sd.Keys {
		for _, v := range sd.Tensors[key].Float32 {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("models: %s: %s holds %v values: the weights of a training that diverged "+
					"cannot classify anything", file, key, v)
			}
		}
	}
	return nil
}
