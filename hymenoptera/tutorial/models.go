package tutorial

import (
	"context"
	"io"

	"github.com/hymenoptera-go/tutorial/hymenoptera/backends"
	"github.com/hymenoptera-go/tutorial/hymenoptera/models"
)

// ImageNetWeights names torchvision's pretrained IMAGENET1K_V1 weights where a weights file could be given.
const ImageNetWeights = "imagenet"

// WeightsFile is the file of the weights a run starts from: weights names a checkpoint file, or ImageNetWeights
// for torchvision's ResNet-18 IMAGENET1K_V1 (downloaded once and cached, see models.Weights.Fetch; progress of a
// first download goes to progress, which may be nil).
func WeightsFile(ctx context.Context, weights string, progress io.Writer) (string, error) {
	if weights != ImageNetWeights {
		return weights, nil
	}
	return models.ResNet18ImageNet1KV1.Fetch(ctx, progress)
}

// TransferModelFrom is the tutorial's model setup, for the command line: ResNet-18 with the given weights (see
// WeightsFile), its fc replaced by a new one with a class per name (nn.Linear's initialisation from seed).
func TransferModelFrom(ctx context.Context, weights string, classes []string, seed int64, progress io.Writer) (*models.ResNet, error) {
	backend, err := backends.New(progress)
	if err != nil {
		return nil, err
	}
	file, err := WeightsFile(ctx, weights, progress)
	if err != nil {
		return nil, err
	}
	m, err := models.FromCheckpoint(backend, file)
	if err != nil {
		return nil, err
	}
	if err := m.ReplaceFC(m.FCInFeatures(), len(classes), uint64(seed)); err != nil {
		return nil, err
	}
	m.Classes = classes
	return m, nil
}
