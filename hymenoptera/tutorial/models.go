package tutorial

import (
	"context"
	"io"

	"github.com/hymenoptera-go/tutorial/hymenoptera/backends"
	"github.com/hymenoptera-go/tutorial/hymenoptera/models"
)

// TransferModelFrom is the tutorial's model setup, for the command line: ResNet-18 with the starting weights
// s.Weights (see Settings.WeightsFile; progress of a first download goes to progress), its fc replaced by a new
// one with a class per name, initialised like nn.Linear from s.Seed.
func TransferModelFrom(ctx context.Context, s Settings, classes []string, progress io.Writer) (*models.ResNet, error) {
	file, err := s.WeightsFile(ctx, progress)
	if err != nil {
		return nil, err
	}
	backend, err := backends.New(progress)
	if err != nil {
		return nil, err
	}
	m, err := models.FromCheckpoint(backend, file)
	if err != nil {
		return nil, err
	}
	if err := m.ReplaceFC(m.FCInFeatures(), len(classes), uint64(s.Seed)); err != nil {
		return nil, err
	}
	m.Classes = classes
	return m, nil
}
