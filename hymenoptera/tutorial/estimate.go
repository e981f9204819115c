package tutorial

import (
	"context"

	"github.com/gomlx/compute"

	"github.com/hymenoptera-go/tutorial/hymenoptera/datasets"
	"github.com/hymenoptera-go/tutorial/hymenoptera/estimate"
	"github.com/hymenoptera-go/tutorial/hymenoptera/train"
)

// EstimateNotebook estimates on backend the notebook's two trainings with these settings, before any data is
// loaded (the set-up cell prints it): the epochs, batch and image size of s, over the tutorial's dataset (244
// training and 153 validation images, at most MaxImages of each). A dataset of one's own changes the figures in
// proportion to its size.
func (s Settings) EstimateNotebook(ctx context.Context, backend compute.Backend) (estimate.Estimate, error) {
	trainImages, valImages := datasets.HymenopteraTrainImages, datasets.HymenopteraValImages
	if s.MaxImages > 0 {
		trainImages, valImages = min(trainImages, s.MaxImages), min(valImages, s.MaxImages)
	}
	return estimate.Calibrate(ctx, backend, estimate.Run{
		Scenarios: []train.Scenario{train.FineTune, train.FixedFeatureExtractor}, Epochs: s.Epochs,
		TrainImages: trainImages, ValImages: valImages, Batch: s.BatchSize, ImageSize: s.ImageSize,
	})
}
