package train

import (
	"math"
	"strings"
	"testing"
)

func TestCheckLoss(t *testing.T) {
	if err := checkLoss(0.69, 3, PhaseTrain, 5); err != nil {
		t.Errorf("finite loss: %v", err)
	}
	for _, loss := range []float64{math.NaN(), math.Inf(1)} {
		err := checkLoss(loss, 3, PhaseTrain, 5)
		if err == nil || !strings.Contains(err.Error(), "epoch 3, batch 5") || !strings.Contains(err.Error(), "learning rate") {
			t.Errorf("checkLoss(%v) = %v; want an error naming the epoch and batch and the learning rate", loss, err)
		}
	}
}

func TestCheckHyperparameters(t *testing.T) {
	newConfig := func() Config {
		optimizer := &SGD{LR: 0.001, Momentum: 0.9}
		return Config{Optimizer: optimizer, Scheduler: &StepLR{Optimizer: optimizer, StepSize: 7, Gamma: 0.1}}
	}
	if err := checkHyperparameters(newConfig()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		change func(*Config)
		want   string
	}{
		{func(c *Config) { c.Optimizer.LR = math.Inf(1) }, "Optimizer.LR is +Inf"},
		{func(c *Config) { c.Optimizer.LR = math.NaN() }, "Optimizer.LR is NaN"},
		{func(c *Config) { c.Optimizer.LR = 0 }, "Optimizer.LR is 0"},
		{func(c *Config) { c.Optimizer.Momentum = -1 }, "Optimizer.Momentum is -1"},
		{func(c *Config) { c.Scheduler.Gamma = math.Inf(-1) }, "Scheduler.Gamma is -Inf"},
	} {
		cfg := newConfig()
		tc.change(&cfg)
		if err := checkHyperparameters(cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("checkHyperparameters = %v, want %q", err, tc.want)
		}
	}
}
