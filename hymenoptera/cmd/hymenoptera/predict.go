package main

//go:generate /usr/bin/python3 ../../reference/predict_fixtures.py

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/gomlx/compute"

	"github.com/hymenoptera-go/tutorial/hymenoptera/backends"
	"github.com/hymenoptera-go/tutorial/hymenoptera/models"
	"github.com/hymenoptera-go/tutorial/hymenoptera/predict"
	"github.com/hymenoptera-go/tutorial/hymenoptera/transforms"
	"github.com/hymenoptera-go/tutorial/hymenoptera/tutorial"
)

// imageSize is the side of the model's input images, as in the tutorial.
const imageSize = 224

func init() {
	register(&command{
		name:     "predict",
		synopsis: "--weights FILE|imagenet [--json] [--batch N] IMAGE...",
		summary:  "classify image files with a ResNet-18 checkpoint",
		details: `
Classifies each IMAGE with the model of --weights: a ResNet-18 checkpoint (.pth, either PyTorch format, or
.safetensors with torchvision's key names; a fine-tuned 2-class checkpoint works as it is), or "imagenet" for
torchvision's IMAGENET1K_V1 weights (fetched once into the cache, --cache or $HYMENOPTERA_CACHE, or taken from
torch.hub's cache; write ./imagenet for a file of that name). Images go through the tutorial's validation
transform, Resize(256), CenterCrop(224), ToTensor, Normalize with ImageNet's mean and std, and the model runs in
evaluation mode, --batch images at a time.

Prints one line per image, in the order given: "IMAGE: LABEL (PROBABILITY%)", the probability being the softmax
of the logits; with --json, one JSON object per line instead:
  {"image": IMAGE, "logits": [...], "top1": INDEX, "label": NAME}
LABEL is the class name the checkpoint records (the ImageNet categories for "imagenet"), else the class index.

An image that cannot be read or decoded is reported on standard error, naming the file, and the others are still
classified; the exit status is then 1. A bad checkpoint fails before any image is read.`,
		setup: setupPredict,
	})
}

type predictOptions struct {
	modelFlags
	json  bool
	batch int
}

// modelFlags are the flags that name the model a command runs (predict, explain): --weights, and --cache for
// the ImageNet weights.
type modelFlags struct {
	weights  string
	settings tutorial.Settings // for the cache
	envErr   error
}

func (o *modelFlags) register(fs *flag.FlagSet) {
	o.settings, o.envErr = tutorial.FromEnv()
	o.settings.Flags(fs, "cache")
	fs.StringVar(&o.weights, "weights", "", "the model: a checkpoint `FILE`, or \"imagenet\" (required)")
}

// check refuses a bad environment or a missing --weights.
func (o *modelFlags) check() error {
	switch {
	case o.envErr != nil:
		return usagef("%v", o.envErr)
	case o.weights == "":
		return usagef("--weights is required")
	}
	return nil
}

func setupPredict(fs *flag.FlagSet) runFunc {
	o := &predictOptions{}
	o.modelFlags.register(fs)
	fs.BoolVar(&o.json, "json", false, "print one JSON object per image")
	fs.IntVar(&o.batch, "batch", 16, "`N` images per forward pass")
	return o.run
}

// prediction is what predict reports for one image; its JSON form is the --json output.
type prediction struct {
	Image  string    `json:"image"`
	Logits []float32 `json:"logits"`
	Top1   int       `json:"top1"`
	Label  string    `json:"label"`
}

func (o *predictOptions) run(ctx context.Context, out streams, images []string) error {
	if err := o.check(); err != nil {
		return err
	}
	switch {
	case len(images) == 0:
		return usagef("no image to classify")
	case o.batch < 1:
		return usagef("--batch %d: must be positive", o.batch)
	}
	m, finalize, err := o.open(ctx, out.stderr)
	if err != nil {
		return err
	}
	defer finalize()
	pipeline := transforms.Val(imageSize)
	failed := 0
	for start := 0; start < len(images); start += o.batch {
		if err := ctx.Err(); err != nil {
			return err
		}
		paths := images[start:min(start+o.batch, len(images))]
		inputs, errs := predict.PrepareFiles(paths, pipeline)
		var good []string
		var goodInputs []*transforms.Tensor
		for i, err := range errs {
			if err != nil {
				fmt.Fprintf(out.stderr, "hymenoptera predict: %v\n", err)
				failed++
				continue
			}
			good = append(good, paths[i])
			goodInputs = append(goodInputs, inputs[i])
		}
		if len(good) == 0 {
			continue
		}
		results, err := predict.Tensors(m, goodInputs)
		if err != nil {
			return err
		}
		for i, r := range results {
			if err := writePrediction(out.stdout, good[i], r, o.json); err != nil {
				return err
			}
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d images could not be classified", failed, len(images))
	}
	return nil
}

// open creates the backend (its line goes to log) and loads the model of --weights on it, in evaluation mode;
// finalize frees the backend.
func (o *modelFlags) open(ctx context.Context, log io.Writer) (m *models.ResNet, finalize func(), err error) {
	backend, err := backends.New(log)
	if err != nil {
		return nil, nil, err
	}
	if m, err = o.loadModel(ctx, backend, log); err != nil {
		backend.Finalize()
		return nil, nil, err
	}
	m.Eval()
	return m, backend.Finalize, nil
}

// loadModel returns the model of the --weights value.
func (o *modelFlags) loadModel(ctx context.Context, backend compute.Backend, progress io.Writer) (*models.ResNet, error) {
	if o.weights != tutorial.ImageNetWeights {
		return models.FromCheckpoint(backend, o.weights)
	}
	opts, err := o.settings.FetchOptions(progress)
	if err != nil {
		return nil, err
	}
	return models.Pretrained(ctx, backend, models.ResNet18ImageNet1KV1, opts)
}

func writePrediction(w io.Writer, image string, r predict.Result, asJSON bool) error {
	if asJSON {
		line, err := json.Marshal(prediction{Image: image, Logits: r.Logits, Top1: r.Top1, Label: r.Label})
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", line)
		return err
	}
	_, err := fmt.Fprintf(w, "%s: %s (%.1f%%)\n", image, r.Label, 100*r.Probabilities[r.Top1])
	return err
}
