package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/hymenoptera-go/tutorial/hymenoptera/explain"
	"github.com/hymenoptera-go/tutorial/hymenoptera/internal/atomicfile"
	"github.com/hymenoptera-go/tutorial/hymenoptera/predict"
	"github.com/hymenoptera-go/tutorial/hymenoptera/transforms"
	"github.com/hymenoptera-go/tutorial/hymenoptera/viz"
)

func init() {
	register(&command{
		name:     "explain",
		synopsis: "--weights FILE|imagenet [--json] [--out DIR] IMAGE...",
		summary:  "show where a ResNet-18 checkpoint looks (Grad-CAM) in image files",
		details: `
Classifies each IMAGE as predict does (same --weights, same validation transform) and explains the prediction
with Grad-CAM (Selvaraju et al., 2017) on layer4: the ReLU of layer4's channels weighted by the gradient of the
predicted class's score, upsampled bilinearly to the 224×224 input. Writes the heat map over the image to
DIR/<image name>-gradcam.png.

Prints one line per image, in the order given:
  "IMAGE: LABEL (PROBABILITY%), peak at (X, Y) -> FILE"
X and Y are the column and row of the heat map's largest value in the 224×224 input ("no peak" when the map is
all zeros: nothing in the image raised the score). With --json, one JSON object per line instead, predict's
fields and three more:
  {"image": IMAGE, "logits": [...], "top1": INDEX, "label": NAME, "probability": P,
   "peak": [X, Y] or null, "overlay": FILE}

An image that cannot be read or decoded is reported on standard error, naming the file, and the others are still
explained; the exit status is then 1. A bad checkpoint (or one of another architecture) fails before any image
is read.`,
		setup: setupExplain,
	})
}

type explainOptions struct {
	modelFlags
	json bool
	out  string
}

func setupExplain(fs *flag.FlagSet) runFunc {
	o := &explainOptions{}
	o.modelFlags.register(fs)
	fs.BoolVar(&o.json, "json", false, "print one JSON object per image")
	fs.StringVar(&o.out, "out", ".", "the `DIR` the overlays are written to")
	return o.run
}

// explanation is what explain reports for one image; its JSON form is the --json output.
type explanation struct {
	prediction
	Probability float64 `json:"probability"`
	Peak        *[2]int `json:"peak"` // [x, y] in the input image; nil when the heat map is all zeros
	Overlay     string  `json:"overlay"`
}

func (o *explainOptions) run(ctx context.Context, out streams, images []string) error {
	if err := o.check(); err != nil {
		return err
	}
	if len(images) == 0 {
		return usagef("no image to explain")
	}
	m, finalize, err := o.open(ctx, out.stderr)
	if err != nil {
		return err
	}
	defer finalize()
	explainer, err := explain.New(m)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return fmt.Errorf("creating --out %s: %w", o.out, err)
	}
	pipeline := transforms.Val(imageSize)
	failed := 0
	overlays := map[string]bool{} // so that two images of the same name do not share an overlay
	for _, path := range images { // one at a time: each overlay is its own figure
		if err := ctx.Err(); err != nil {
			return err
		}
		inputs, errs := predict.PrepareFiles([]string{path}, pipeline)
		if errs[0] != nil {
			fmt.Fprintf(out.stderr, "hymenoptera explain: %v\n", errs[0])
			failed++
			continue
		}
		base := filepath.Join(o.out, strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))+"-gradcam")
		overlay := base
		for i := 2; overlays[overlay]; i++ {
			overlay = base + "-" + strconv.Itoa(i)
		}
		overlays[overlay] = true
		e, err := explainImage(explainer, path, inputs[0], overlay+".png")
		if err != nil {
			return err
		}
		if err := writeExplanation(out.stdout, e, o.json); err != nil {
			return err
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d images could not be explained", failed, len(images))
	}
	return nil
}

// explainImage computes the Grad-CAM of one image and writes its overlay to the file overlay.
func explainImage(explainer *explain.Explainer, path string, input *transforms.Tensor, overlay string) (explanation, error) {
	heatmaps, err := explainer.GradCAM([]*transforms.Tensor{input}, nil)
	if err != nil {
		return explanation{}, err
	}
	h := heatmaps[0]
	label := explainer.ClassName(h.Class)
	e := explanation{
		prediction:  prediction{Image: path, Logits: h.Logits, Top1: h.Class, Label: label},
		Probability: h.Probability,
		Overlay:     overlay,
	}
	if row, col, ok := h.Peak(input.H, input.W); ok {
		e.Peak = &[2]int{col, row}
	}
	fig, err := viz.GradCAMFigure([]viz.HeatmapPanel{{Image: input, Heat: h.Upsample(input.H, input.W),
		Predicted: label, Probability: h.Probability}}, 1, filepath.Base(path))
	if err != nil {
		return e, err
	}
	if err := atomicfile.Write(e.Overlay, fig.Encode); err != nil {
		return e, fmt.Errorf("writing %s: %w", e.Overlay, err)
	}
	return e, nil
}

func writeExplanation(w io.Writer, e explanation, asJSON bool) error {
	if asJSON {
		line, err := json.Marshal(e)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", line)
		return err
	}
	peak := "no peak"
	if e.Peak != nil {
		peak = fmt.Sprintf("peak at (%d, %d)", e.Peak[0], e.Peak[1])
	}
	_, err := fmt.Fprintf(w, "%s: %s (%.1f%%), %s -> %s\n", e.Image, e.Label, 100*e.Probability, peak, e.Overlay)
	return err
}
