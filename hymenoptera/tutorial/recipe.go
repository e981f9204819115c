package tutorial

import (
	"github.com/hymenoptera-go/tutorial/hymenoptera/models"
	"github.com/hymenoptera-go/tutorial/hymenoptera/train"
)

// The tutorial's training recipe, owned here for the command line, the benchmarks and the tests. The notebooks
// write the same numbers out in their cells, where the learner reads them next to PyTorch's; a kernel test checks
// that they agree with these.
const (
	// LearningRate and Momentum are optim.SGD(params, lr=0.001, momentum=0.9).
	LearningRate = 0.001
	Momentum     = 0.9
	// StepSize and Gamma are lr_scheduler.StepLR(optimizer, step_size=7, gamma=0.1).
	StepSize = 7
	Gamma    = 0.1
)

// Optimizer is the tutorial's optimizer over params, at learning rate lr (LearningRate unless a command's flag
// says otherwise).
func Optimizer(params []models.Parameter, lr float64) *train.SGD {
	return &train.SGD{Params: params, LR: lr, Momentum: Momentum}
}

// Scheduler is the tutorial's schedule of o's learning rate.
func Scheduler(o *train.SGD) *train.StepLR {
	return &train.StepLR{Optimizer: o, StepSize: StepSize, Gamma: Gamma}
}
