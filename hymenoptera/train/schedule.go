package train

import "math"

// StepLR is torch.optim.lr_scheduler.StepLR: the learning rate is multiplied by Gamma every StepSize epochs
// (stepped once per epoch, after the training phase, as the tutorial does). A zero StepSize keeps the rate
// constant.
type StepLR struct {
	StepSize int
	Gamma    float64
}

// LearningRate returns the rate for a 0-based epoch, given the optimiser's initial rate.
func (s StepLR) LearningRate(initial float64, epoch int) float64 {
	if s.StepSize <= 0 {
		return initial
	}
	return initial * math.Pow(s.Gamma, float64(epoch/s.StepSize))
}
