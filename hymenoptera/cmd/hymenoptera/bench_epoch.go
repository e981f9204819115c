package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"text/tabwriter"

	"github.com/hymenoptera-go/tutorial/hymenoptera/backends"
	"github.com/hymenoptera-go/tutorial/hymenoptera/internal/torchref"
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
	Mode     string        `json:"mode"`
	Scenario string        `json:"scenario"`
	Batch    int           `json:"batch"`
	Threads  int           `json:"threads"`
	Backend  string        `json:"backend"`
	Go       []epochPhases `json:"go"`
	// Torch is null when PyTorch's side did not run, and TorchSkipped says why.
	Torch        []epochPhases `json:"torch"`
	TorchVersion string        `json:"torch_version,omitempty"`
	TorchSkipped string        `json:"torch_skipped,omitempty"`
}

// benchEpoch times the tutorial's epochs of one scenario on the whole dataset: TrainModel on the Go side,
// reference/bench_epoch.py's train_model loop on PyTorch's.
func (o *benchOptions) benchEpoch(ctx context.Context, out streams) error {
	scenario, err := train.ParseScenario(o.scenario)
	if err != nil {
		return usagef("--scenario %q: want finetune or fixed", o.scenario)
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(o.threads))
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
	history, err := train.TrainModel(ctx, m, data.TrainLoader, data.ValLoader, train.Config{
		Scenario: scenario, Epochs: o.epochs, Optimizer: optimizer, Scheduler: tutorial.Scheduler(optimizer),
		CheckpointDir: dir, Log: out.stderr, Progress: train.Silent,
	})
	if err != nil {
		return err
	}
	report := epochReport{Mode: o.mode, Scenario: string(scenario), Batch: o.batch, Threads: o.threads,
		Backend: backends.Choose().Config}
	for _, e := range history.Epochs {
		report.Go = append(report.Go, epochPhases{TrainS: e.Train.Seconds, ValS: e.Val.Seconds})
	}
	var torchErr error
	if !o.torch {
		report.TorchSkipped = "disabled by --torch=false"
	} else {
		var result struct {
			Torch  string        `json:"torch"`
			Epochs []epochPhases `json:"epochs"`
		}
		restore := setenv("OMP_NUM_THREADS", strconv.Itoa(o.threads))
		err := torchref.RunJSON(&result, "bench_epoch.py", "--scenario", string(scenario), "--data", data.Dir,
			"--epochs", strconv.Itoa(o.epochs), "--batch", strconv.Itoa(o.batch), "--threads", strconv.Itoa(o.threads),
			"--workers", strconv.Itoa(o.threads))
		restore()
		switch {
		case err == nil:
			report.Torch, report.TorchVersion = result.Epochs, result.Torch
		case errors.Is(err, torchref.ErrUnavailable):
			report.TorchSkipped = err.Error()
		default:
			report.TorchSkipped, torchErr = err.Error(), err
		}
	}
	if o.json {
		err = json.NewEncoder(out.stdout).Encode(report)
	} else {
		err = report.writeTable(out.stdout)
	}
	return errors.Join(err, torchErr)
}

func (r *epochReport) writeTable(w io.Writer) error {
	fmt.Fprintf(w, "Tutorial epochs, scenario %s, batch %d, %d threads, Go backend %s\n"+
		"(the first Go epoch also compiles the graphs and decodes every image; later ones use the loader's cache)\n\n",
		r.Scenario, r.Batch, r.Threads, r.Backend)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "epoch\tGo train s\tGo val s\tPyTorch train s\tPyTorch val s\tGo time / PyTorch time\t")
	for i, g := range r.Go {
		if i < len(r.Torch) {
			t := r.Torch[i]
			fmt.Fprintf(tw, "%d\t%.1f\t%.1f\t%.1f\t%.1f\t%.2f×\t\n", i, g.TrainS, g.ValS, t.TrainS, t.ValS,
				(g.TrainS+g.ValS)/(t.TrainS+t.ValS))
		} else {
			fmt.Fprintf(tw, "%d\t%.1f\t%.1f\t-\t-\t-\t\n", i, g.TrainS, g.ValS)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if r.TorchSkipped != "" {
		_, err := fmt.Fprintf(w, "\nPyTorch skipped: %s\n", r.TorchSkipped)
		return err
	}
	return nil
}
