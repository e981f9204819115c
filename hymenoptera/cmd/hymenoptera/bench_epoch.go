package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"text/tabwriter"

	"github.com/hymenoptera-go/tutorial/hymenoptera/backends"
	"github.com/hymenoptera-go/tutorial/hymenoptera/models"
	"github.com/hymenoptera-go/tutorial/hymenoptera/train"
	"github.com/hymenoptera-go/tutorial/hymenoptera/tutorial"
)

// epochPhases are the seconds of one epoch's two phases.
type epochPhases struct {
	TrainS float64 `json:"train_s"`
	ValS   float64 `json:"val_s"`
}

// epochReport is the result of bench --mode epoch; its JSON form is the --json output.
type epochReport struct {
	Mode             string        `json:"mode"`
	Scenario         string        `json:"scenario"`
	Batch            int           `json:"batch"`
	Threads          int           `json:"threads"`
	backends.Kernels               // "backend", "cpu", "arch", "simd", "matmul", "switches"
	Go               []epochPhases `json:"go"`
	// Torch is null when PyTorch's side did not run, and TorchSkipped says why.
	Torch        []epochPhases `json:"torch"`
	TorchVersion string        `json:"torch_version,omitempty"`
	TorchSkipped string        `json:"torch_skipped,omitempty"`
	// Ratio is Go's seconds over PyTorch's, per epoch and over all of them; null when PyTorch did not run.
	Ratio *epochRatios `json:"ratio"`
	Mem   *memReport   `json:"mem,omitempty"` // with --mem
}

// phaseRatios are Go's seconds over PyTorch's for the training phase, the validation phase and both.
type phaseRatios struct {
	Train float64 `json:"train"`
	Val   float64 `json:"val"`
	Total float64 `json:"total"`
}

type epochRatios struct {
	Epochs  []phaseRatios `json:"epochs"`
	Overall phaseRatios   `json:"overall"`
}

// ratios compares goSide with torchSide epoch by epoch (as many as both have) and in sum.
func ratios(goSide, torchSide []epochPhases) *epochRatios {
	n := min(len(goSide), len(torchSide))
	if n == 0 {
		return nil
	}
	of := func(g, t epochPhases) phaseRatios {
		return phaseRatios{Train: g.TrainS / t.TrainS, Val: g.ValS / t.ValS, Total: (g.TrainS + g.ValS) / (t.TrainS + t.ValS)}
	}
	r := &epochRatios{}
	var goSum, torchSum epochPhases
	for i := range n {
		r.Epochs = append(r.Epochs, of(goSide[i], torchSide[i]))
		goSum.TrainS, goSum.ValS = goSum.TrainS+goSide[i].TrainS, goSum.ValS+goSide[i].ValS
		torchSum.TrainS, torchSum.ValS = torchSum.TrainS+torchSide[i].TrainS, torchSum.ValS+torchSide[i].ValS
	}
	r.Overall = of(goSum, torchSum)
	return r
}

// benchEpoch times the tutorial's epochs of one scenario on the whole dataset: TrainModel on the Go side,
// reference/bench_epoch.py's train_model loop on PyTorch's.
func (o *benchOptions) benchEpoch(ctx context.Context, out streams) error {
	scenario, err := train.ParseScenario(o.scenario)
	if err != nil {
		return usagef("--scenario %q: want finetune or fixed", o.scenario)
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(o.threads))
	defer collectForTraining()() // as train does, so that --mem reports what a training run takes
	s := tutorial.Defaults()
	s.Epochs, s.BatchSize, s.Workers, s.DataSource = o.epochs, o.batch, o.threads, o.data
	data, err := tutorial.LoadData(ctx, s)
	if err != nil {
		return err
	}
	backend, err := backends.New(out.stderr)
	if err != nil {
		return err
	}
	defer backend.Finalize()
	m, err := models.ResNet18(backend, models.Options{NumClasses: benchClasses, Seed: 1})
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "hymenoptera-bench-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	optimizer := tutorial.Optimizer(scenario.Parameters(m), tutorial.LearningRate)
	stopProfile, err := startProfile(o.profile)
	if err != nil {
		return err
	}
	history, err := train.TrainModel(ctx, m, data.TrainLoader, data.ValLoader, train.Config{
		Scenario: scenario, Epochs: o.epochs, Optimizer: optimizer, Scheduler: tutorial.Scheduler(optimizer),
		CheckpointDir: dir, Log: out.stderr, Progress: train.Silent,
	})
	if err := errors.Join(err, stopProfile()); err != nil {
		return err
	}
	report := epochReport{Mode: o.mode, Scenario: string(scenario), Batch: o.batch, Threads: o.threads,
		Kernels: backends.DescribeKernels(backend, backends.Choose().Config)}
	for _, e := range history.Epochs {
		report.Go = append(report.Go, epochPhases{TrainS: e.Train.Seconds, ValS: e.Val.Seconds})
	}
	var torch struct {
		Torch             string        `json:"torch"`
		Epochs            []epochPhases `json:"epochs"`
		PeakRSSKiB        float64       `json:"peak_rss_kib"`
		WorkersPeakRSSKiB float64       `json:"workers_peak_rss_kib"`
	}
	skipped, torchErr := o.runTorch(&torch, "bench_epoch.py", "--scenario", string(scenario), "--data", data.Dir,
		"--epochs", strconv.Itoa(o.epochs), "--batch", strconv.Itoa(o.batch), "--threads", strconv.Itoa(o.threads),
		"--workers", strconv.Itoa(o.threads))
	report.TorchSkipped = skipped
	if skipped == "" {
		report.Torch, report.TorchVersion, report.Ratio = torch.Epochs, torch.Torch, ratios(report.Go, torch.Epochs)
	}
	if o.mem {
		if report.Mem, err = newMemReport(report.Torch != nil, torch.PeakRSSKiB, torch.WorkersPeakRSSKiB); err != nil {
			return errors.Join(err, torchErr)
		}
	}
	return errors.Join(o.printReport(out, &report), torchErr)
}

func (r *epochReport) writeTable(w io.Writer) error {
	fmt.Fprintf(w, "Tutorial epochs, scenario %s, batch %d, %d threads, Go backend %s\nCPU and kernels: %s\n"+
		"(the first Go epoch also compiles the graphs and decodes every image; later ones use the loader's cache)\n\n",
		r.Scenario, r.Batch, r.Threads, r.Backend, r.Kernels)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "epoch\tGo train s\tGo val s\tPyTorch train s\tPyTorch val s\tGo / PyTorch: train\tval\tepoch\t")
	for i, g := range r.Go {
		if r.Ratio != nil && i < len(r.Ratio.Epochs) {
			t, q := r.Torch[i], r.Ratio.Epochs[i]
			fmt.Fprintf(tw, "%d\t%.1f\t%.1f\t%.1f\t%.1f\t%.2f×\t%.2f×\t%.2f×\t\n", i, g.TrainS, g.ValS, t.TrainS,
				t.ValS, q.Train, q.Val, q.Total)
		} else {
			fmt.Fprintf(tw, "%d\t%.1f\t%.1f\t-\t-\t-\t-\t-\t\n", i, g.TrainS, g.ValS)
		}
	}
	if r.Ratio != nil {
		q := r.Ratio.Overall
		fmt.Fprintf(tw, "all\t\t\t\t\t%.2f×\t%.2f×\t%.2f×\t\n", q.Train, q.Val, q.Total)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if r.TorchSkipped != "" {
		fmt.Fprintf(w, "\nPyTorch skipped: %s\n", r.TorchSkipped)
	}
	if r.Mem != nil {
		return r.Mem.writeTable(w)
	}
	return nil
}
