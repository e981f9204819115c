package main

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"

	"github.com/hymenoptera-go/tutorial/hymenoptera/estimate"
	"github.com/hymenoptera-go/tutorial/hymenoptera/internal/atomicfile"
	"github.com/hymenoptera-go/tutorial/hymenoptera/train"
	"github.com/hymenoptera-go/tutorial/hymenoptera/tutorial"
	"github.com/hymenoptera-go/tutorial/hymenoptera/viz"
)

func init() {
	register(&command{
		name: "train",
		synopsis: "--scenario finetune|fixed [--epochs 25] [--batch 4] [--lr 0.001] [--seed S] " +
			"[--weights FILE|imagenet] [--data DIR|ZIP|URL] [--out DIR] [--resume] [--estimate=false]",
		summary: "run one of the tutorial's two scenarios, as the notebook does",
		details: `
Trains ResNet-18 on the hymenoptera dataset as the tutorial does: the starting weights (--weights: "imagenet"
for torchvision's IMAGENET1K_V1, fetched once into the cache or taken from torch.hub's cache; or a ResNet-18
checkpoint FILE) with a new 2-class head; SGD (momentum 0.9, --lr), StepLR (×0.1 every 7 epochs); batches of
--batch with the tutorial's augmentation; each epoch a training and a validation phase.

  --scenario finetune   every parameter trains
  --scenario fixed      the backbone is frozen and only the head trains (with --frozen-bn the backbone's
                        BatchNorm also stays in evaluation mode, and validation features are computed once)

The dataset comes from --data: the tutorial's zip (a URL, a file:// URL or a local path) or a directory holding
train/ and val/; by default the tutorial's URL. --image-size and --max-images make small runs.

Before the first epoch, standard error says which backend runs, on which CPU with which matrix kernels (and
warns when the pure-Go backend has no SIMD kernels there), and estimates the run's time on this machine from a
few timed steps of a throwaway model (--estimate=false skips that calibration, some seconds).

Settings: each flag marked ($HYMENOPTERA_...) takes its default from that environment variable, the one the
notebooks read, else the tutorial's value; a flag on the command line wins. An invalid value, from either, is
refused before any work. The first line on standard error says where each non-default setting came from.

Writes into --out (default: runs/SCENARIO): best.pth, the best validation weights as a torchvision state_dict
(torch.load + resnet18().load_state_dict after setting a 2-class fc, or hymenoptera predict --weights), written
whenever they improve; history.json and history.csv (loss, accuracy, learning rate, seconds per epoch and
phase); curves.svg (the training curves); and the state a run resumes from. The directory survives a crash at
any instant; one run at a time may use it (a second fails at once, naming the first's pid).

Ctrl-C or SIGTERM stops after the current batch, keeping the last completed epoch, and exits with status 130 or
143; a second signal stops at once. --resume continues from the last completed epoch; its settings (optimiser,
batch, image size, max images, seed, data) must be those of the saved run, and each difference is named.

Go's garbage collector runs with GOGC=25 unless GOGC is set: a fine-tuning epoch then peaks at about 1.3 GiB
resident instead of 2 GiB, in the same time.`,
		setup: setupTrain,
	})
}

type trainOptions struct {
	scenario, out string
	frozenBN      bool
	estimate      bool
	settings      tutorial.Settings
	envErr        error // a bad HYMENOPTERA_* value, reported before any work
}

// trainSettings are the tutorial settings that train takes as flags.
var trainSettings = []string{"epochs", "batch", "lr", "seed", "weights", "data", "data-dir", "skip-data-checksum",
	"cache", "resume", "image-size", "max-images", "workers"}

func setupTrain(fs *flag.FlagSet) runFunc {
	o := &trainOptions{}
	o.settings, o.envErr = tutorial.FromEnv()
	fs.StringVar(&o.scenario, "scenario", "", "`finetune` or fixed (required)")
	fs.StringVar(&o.out, "out", "", "output `directory` (default runs/SCENARIO)")
	fs.BoolVar(&o.frozenBN, "frozen-bn", false, "fixed scenario: keep the backbone's BatchNorm in evaluation mode")
	fs.BoolVar(&o.estimate, "estimate", true, "time a few steps first and estimate the run's duration")
	o.settings.Flags(fs, trainSettings...)
	return func(ctx context.Context, out streams, args []string) error {
		o.settings.RecordFlags(fs)
		return o.run(ctx, out, args)
	}
}

func (o *trainOptions) run(ctx context.Context, out streams, args []string) error {
	s := o.settings
	scenario, err := train.ParseScenario(o.scenario)
	switch {
	case o.envErr != nil:
		return usagef("%v", o.envErr)
	case len(args) > 0:
		return usagef("unexpected arguments %q", args)
	case o.scenario == "":
		return usagef("--scenario is required")
	case err != nil:
		return usagef("--scenario %q: want finetune or fixed", o.scenario)
	case o.frozenBN && scenario != train.FixedFeatureExtractor:
		return usagef("--frozen-bn applies to --scenario fixed only")
	}
	if o.out == "" {
		o.out = filepath.Join("runs", string(scenario))
	}
	fmt.Fprintf(out.stderr, "settings: %s\nfrom: %s\n", s, s.DescribeSources())
	defer collectForTraining()()
	if err := train.CheckNotInUse(o.out); err != nil {
		return err
	}
	data, err := tutorial.LoadData(ctx, s)
	if err != nil {
		return err
	}
	if len(data.Classes) < 2 {
		return fmt.Errorf("the dataset in %s has %d class (%v): a classifier needs at least two", data.Dir,
			len(data.Classes), data.Classes)
	}
	fingerprint, err := s.Fingerprint(data.Dir)
	if err != nil {
		return err
	}
	m, err := tutorial.TransferModelFrom(ctx, s, data.Classes, out.stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(out.stderr, "starting weights: %s\n", describeWeights(ctx, s))
	if epochs := o.epochsToRun(s); o.estimate && epochs > 0 {
		e, err := estimate.Calibrate(ctx, m.Backend(), estimate.Run{Scenarios: []train.Scenario{scenario},
			Epochs: epochs, TrainImages: data.Train.Len(), ValImages: data.Val.Len(), Batch: s.BatchSize,
			ImageSize: s.ImageSize})
		if err != nil {
			return err
		}
		fmt.Fprintln(out.stderr, e)
	}
	optimizer := tutorial.Optimizer(scenario.Parameters(m), s.LR)
	history, err := train.TrainModel(ctx, m, data.TrainLoader, data.ValLoader, train.Config{
		Scenario:        scenario,
		Epochs:          s.Epochs,
		Optimizer:       optimizer,
		Scheduler:       tutorial.Scheduler(optimizer),
		FrozenBatchNorm: o.frozenBN,
		CheckpointDir:   o.out,
		Resume:          s.Resume,
		Log:             out.stdout,
		Fingerprint:     fingerprint,
	})
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted after epoch %d of %d; continue with --resume", len(history.Epochs), s.Epochs)
	}
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

// epochsToRun is how many epochs this run will train: all of them, or with --resume those after the saved run's
// last completed epoch (TrainModel checks the saved run itself; a run it cannot read counts as none).
func (o *trainOptions) epochsToRun(s tutorial.Settings) int {
	if !s.Resume {
		return s.Epochs
	}
	history, err := train.ReadHistory(o.out)
	if err != nil {
		return s.Epochs
	}
	return max(s.Epochs-len(history.Epochs), 0)
}

// describeWeights names the starting weights plainly (see tutorial.WeightsDescription).
func describeWeights(ctx context.Context, s tutorial.Settings) string {
	file, err := s.WeightsFile(ctx, nil)
	if err != nil {
		return err.Error()
	}
	return tutorial.WeightsDescription(file)
}
