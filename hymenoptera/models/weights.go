package models

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"

	"github.com/gomlx/compute"

	"github.com/hymenoptera-go/tutorial/hymenoptera/hub"
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

// WeightsEnvVar names a local checkpoint file to use instead of downloading the pretrained weights (offline use).
const WeightsEnvVar = "HYMENOPTERA_WEIGHTS"

// FileName is the checkpoint's file name, which carries torch.hub's SHA-256 prefix ("resnet18-f37072fd.pth").
func (w Weights) FileName() string { return path.Base(w.URL) }

// SHA256Prefix is the checksum prefix in the file name, which every copy of the file is checked against.
func (w Weights) SHA256Prefix() string { return hub.HashPrefixFromName(w.FileName()) }

// Fetch returns the path of a local copy of the checkpoint, trying in order: the file named by
// $HYMENOPTERA_WEIGHTS (taken as it is, so that any ResNet-18 checkpoint can stand in); torch.hub's own cache ($TORCH_HOME or ~/.cache/torch, hub/checkpoints), so weights that
// PyTorch already downloaded are reused; this project's cache (see hub.CacheDir), downloading into it with a
// progress bar on progress (nil: standard error) if the file is not there. Copies from either cache are checked
// against the SHA-256 prefix in the file name.
func (w Weights) Fetch(ctx context.Context, progress io.Writer) (string, error) {
	opts := hub.Options{SHA256Prefix: w.SHA256Prefix(), Progress: progress}
	if local := os.Getenv(WeightsEnvVar); local != "" {
		if _, err := os.Stat(local); err != nil {
			return "", fmt.Errorf("models: %s=%s: %w", WeightsEnvVar, local, err)
		}
		return local, nil
	}
	if torchCopy := torchHubCheckpoint(w.FileName()); torchCopy != "" {
		if err := hub.Verify(torchCopy, opts); err != nil {
			return "", fmt.Errorf("models: torch.hub's copy %s: %w", torchCopy, err)
		}
		return torchCopy, nil
	}
	local, err := hub.Fetch(ctx, w.URL, "checkpoints", opts)
	if err != nil {
		dir, _ := hub.CacheDir()
		return "", fmt.Errorf("models: cannot get the %s weights: %w\nOffline? Copy %s into %s, or set %s to "+
			"the file's path", w.Name, err, w.FileName(), filepath.Join(dir, "checkpoints"), WeightsEnvVar)
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
func Pretrained(ctx context.Context, backend compute.Backend, w Weights, progress io.Writer) (*ResNet, error) {
	file, err := w.Fetch(ctx, progress)
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

// FromCheckpoint builds a ResNet-18 from a checkpoint file (.pth in either PyTorch format, or .safetensors with
// torchvision key names), with the head size the checkpoint has.
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
