package train

import (
	"fmt"
	"math"
)

// checkLoss stops training at the first loss that is not a finite number: from there on every weight the step
// touched is NaN, and the rest of the run would only spend time to write NaN checkpoints. The learner meets it by
// choosing too large a learning rate, so the message says so.
func checkLoss(loss float64, epoch int, phase string, batch int) error {
	if !math.IsNaN(loss) && !math.IsInf(loss, 0) {
		return nil
	}
	return fmt.Errorf("train: the %s loss is %v in epoch %d, batch %d: training diverged (a learning rate too "+
		"large for this model and batch size is the usual cause; try one ten times smaller). The checkpoint "+
		"directory keeps the last completed epoch and the best weights before this", phase, loss, epoch, batch)
}

// checkHyperparameters refuses values that cannot train or be recorded (NaN and infinities do neither: JSON
// has no spelling for them), naming the Config field and the value.
func checkHyperparameters(cfg Config) error {
	for _, v := range []struct {
		name     string
		value    float64
		positive bool
	}{
		{"Optimizer.LR", cfg.Optimizer.LR, true}, {"Optimizer.Momentum", cfg.Optimizer.Momentum, false},
		{"Optimizer.WeightDecay", cfg.Optimizer.WeightDecay, false}, {"Scheduler.Gamma", cfg.Scheduler.Gamma, false},
	} {
		if math.IsNaN(v.value) || math.IsInf(v.value, 0) || v.value < 0 || (v.positive && v.value == 0) {
			want := "a finite number ≥ 0"
			if v.positive {
				want = "a finite number > 0"
			}
			return fmt.Errorf("train: %s is %v: want %s", v.name, v.value, want)
		}
	}
	return nil
}
