package main

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"

	"github.com/hymenoptera-go/tutorial/hymenoptera/internal/atomicfile"
	"github.com/hymenoptera-go/tutorial/hymenoptera/models"
	"github.com/hymenoptera-go/tutorial/hymenoptera/train"
	"github.com/hymenoptera-go/tutorial/hymenoptera/tutorial"
	"github.com/hymenoptera-go/tutorial/hymenoptera/viz"
)

func init() {
	register(&command{
		name: "train",
		synopsis: "--scenario finetune|fixed [--epochs 25] [--batch 4] [--lr 0.001] [--seed S] " +
			"[--weights FILE|imagenet] [--data DIR|ZIP|URL] [--out DIR] [--resume]",
		summary: "run one of the tutorial's two scenarios, as the notebook does",
		details: `
Trains ResNet-18 on the hymenoptera dataset as the tutorial does: the starting weights (--weights: "imagenet"
for torchvision's IMAGENET1K_V1, fetched once into the cache, or from torch.hub's cache or $HYMENOPTERA_WEIGHTS;
or a ResNet-18 checkpoint FILE) with a new 2-class head; SGD (momentum 0.9, --lr), StepLR (×0.1 every 7 epochs);
batches of --batch with the tutorial's augmentation; each epoch a training and a validation phase.

  --scenario finetune   every parameter trains
  --scenario fixed      the backbone is frozen and only the head trains (with --frozen-bn the backbone's
                        BatchNorm also stays in evaluation mode, and validation features are computed once)

The dataset comes from --data: the tutorial's zip (a URL, a file:// URL or a local path) or a directory holding
train/ and val/; by default $HYMENOPTERA_DATA_URL, else the tutorial's URL. --image-size and --max-images make
small runs (tests, quick looks).

Writes into --out (default: runs/SCENARIO): best.pth, the best validation weights as a torchvision state_dict
(torch.load + resnet18().load_state_dict after setting a 2-class fc, or hymenoptera predict --weights), written
whenever they improve; history.json and history.csv (loss, accuracy, learning rate, seconds per epoch and
phase); curves.svg (the training curves); and the state a run resumes from. Ctrl-C stops after the current
batch with everything consistent; --resume continues from the last completed epoch, with the same settings.`,
		setup: setupTrain,
	})
}

type trainOptions struct {
	scenario, weights, data, out string
	lr                           float64
	frozenBN                     bool
	settings                     tutorial.Settings
}

func setupTrain(fs *flag.FlagSet) runFunc {
	o := &trainOptions{settings: tutorial.Defaults()}
	s := &o.settings
	fs.StringVar(&o.scenario, "scenario", "", "`finetune` or fixed (required)")
	fs.IntVar(&s.Epochs, "epochs", s.Epochs, "number of `epochs`")
	fs.IntVar(&s.BatchSize, "batch", s.BatchSize, "batch `size`")
	fs.Float64Var(&o.lr, "lr", 0.001, "initial learning `rate`")
	fs.Int64Var(&s.Seed, "seed", 0, "`seed` of the shuffling, the augmentation and the new head")
	fs.StringVar(&o.weights, "weights", tutorial.ImageNetWeights, "starting weights: a checkpoint `FILE`, or imagenet")
	fs.StringVar(&o.data, "data", "", "dataset `source`: the zip's URL or path, or an extracted directory")
	fs.StringVar(&o.out, "out", "", "output `directory` (default runs/SCENARIO)")
	fs.BoolVar(&s.Resume, "resume", false, "continue the run saved in --out")
	fs.BoolVar(&o.frozenBN, "frozen-bn", false, "fixed scenario: keep the backbone's BatchNorm in evaluation mode")
	fs.IntVar(&s.ImageSize, "image-size", s.ImageSize, "crop `size` of the images")
	fs.IntVar(&s.MaxImages, "max-images", 0, "use at most `N` images per split (0: all)")
	fs.IntVar(&s.Workers, "workers", 0, "decoding `goroutines` (0: one per CPU)")
	return o.run
}

func (o *trainOptions) run(ctx context.Context, out streams, args []string) error {
	s := o.settings
	scenario, err := train.ParseScenario(o.scenario)
	switch {
	case len(args) > 0:
		return usagef("unexpected arguments %q", args)
	case o.scenario == "":
		return usagef("--scenario is required")
	case err != nil:
		return usagef("--scenario %q: want finetune or fixed", o.scenario)
	case s.Epochs < 1 || s.BatchSize < 1 || s.ImageSize < 32 || s.MaxImages < 0 || o.lr <= 0:
		return usagef("--epochs and --batch must be positive, --image-size at least 32, --lr positive")
	case o.frozenBN && scenario != train.FixedFeatureExtractor:
		return usagef("--frozen-bn applies to --scenario fixed only")
	}
	if o.out == "" {
		o.out = filepath.Join("runs", string(scenario))
	}
	s.DataSource = o.data
	fmt.Fprintf(out.stderr, "settings: %s\n", s)
	data, err := tutorial.LoadData(ctx, s)
	if err != nil {
		return err
	}
	m, err := tutorial.TransferModelFrom(ctx, o.weights, data.Classes, s.Seed, out.stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(out.stderr, "starting weights: %s\n", describeWeights(o.weights))
	optimizer := tutorial.Optimizer(scenario.Parameters(m), o.lr)
	history, err := train.TrainModel(ctx, m, data.TrainLoader, data.ValLoader, train.Config{
		Scenario:        scenario,
		Epochs:          s.Epochs,
		Optimizer:       optimizer,
		Scheduler:       tutorial.Scheduler(optimizer),
		FrozenBatchNorm: o.frozenBN,
		CheckpointDir:   o.out,
		Resume:          s.Resume,
		Log:             out.stdout,
	})
	if err != nil {
		return err
	}
	for _, name := range []string{"history.json", "history.csv"} {
		if err := history.Save(filepath.Join(o.out, name)); err != nil {
			return err
		}
	}
	curvesFigure := viz.CurvesFigure(history, fmt.Sprintf("%s: loss and accuracy", scenario))
	curves := filepath.Join(o.out, "curves"+curvesFigure.Ext())
	if err := atomicfile.Write(curves, curvesFigure.Encode); err != nil {
		return fmt.Errorf("writing %s: %w", curves, err)
	}
	fmt.Fprintf(out.stderr, "wrote %s, %s, %s and %s\n", filepath.Join(o.out, train.BestCheckpoint),
		filepath.Join(o.out, "history.json"), filepath.Join(o.out, "history.csv"), curves)
	return nil
}

// describeWeights names the starting weights plainly (see tutorial.WeightsDescription).
func describeWeights(weights string) string {
	if weights != tutorial.ImageNetWeights {
		return tutorial.WeightsDescription(weights)
	}
	file, err := models.ResNet18ImageNet1KV1.Fetch(context.Background(), nil)
	if err != nil {
		return err.Error()
	}
	return tutorial.WeightsDescription(file)
}
