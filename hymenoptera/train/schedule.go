package train

import "math"

// StepLR is torch.optim.lr_scheduler.StepLR: it multiplies its optimizer's learning rate by Gamma every StepSize
// epochs. Step is called once per epoch, after the training phase, as the tutorial does. A zero StepSize keeps
// the rate constant.
type StepLR struct {
	Optimizer *SGD
	StepSize  int
	Gamma     float64

	initialLR float64 // the optimizer's rate before the first step (torch's initial_lr)
	epoch     int     // steps taken (torch's last_epoch)
	started   bool
}

// Step ends an epoch: the optimizer's rate becomes the one for the next epoch.
func (s *StepLR) Step() { s.setEpoch(s.epoch + 1) }

// setEpoch puts the schedule at the start of a 0-based epoch (a resumed run starts past 0).
func (s *StepLR) setEpoch(epoch int) {
	if !s.started {
		s.initialLR, s.started = s.Optimizer.LR, true
	}
	s.epoch = epoch
	s.Optimizer.LR = LearningRate(s.initialLR, s.StepSize, s.Gamma, epoch)
}

// InitialLR is the optimizer's rate before the schedule changed it.
func (s *StepLR) InitialLR() float64 {
	if !s.started {
		return s.Optimizer.LR
	}
	return s.initialLR
}

// LearningRate is StepLR's rate for a 0-based epoch, given the initial rate.
func LearningRate(initial float64, stepSize int, gamma float64, epoch int) float64 {
	if stepSize <= 0 {
		return initial
	}
	return initial * math.Pow(gamma, float64(epoch/stepSize))
}
