package tutorial

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/hymenoptera-go/tutorial/hymenoptera/backends"
	"github.com/hymenoptera-go/tutorial/hymenoptera/models"
	"github.com/hymenoptera-go/tutorial/hymenoptera/predict"
	"github.com/hymenoptera-go/tutorial/hymenoptera/train"
	"github.com/hymenoptera-go/tutorial/hymenoptera/transforms"
	"github.com/hymenoptera-go/tutorial/hymenoptera/viz"
)

// DescribeWeights fetches the starting weights of the settings FromEnv reads (downloading the pretrained ones
// once, see Settings.WeightsFile) and says which weights they are (see WeightsDescription).
func DescribeWeights(ctx context.Context) (string, error) {
	s, err := FromEnv()
	if err != nil {
		return "", err
	}
	file, err := s.WeightsFile(ctx, nil)
	if err != nil {
		return "", err
	}
	return WeightsDescription(file), nil
}

// NewTransferModel is the tutorial's model setup: ResNet-18 with the starting weights of the settings FromEnv
// reads (progress of a first download goes to progress), its fc replaced by a new layer with one output per
// class, initialised from seed.
func NewTransferModel(ctx context.Context, classes []string, seed int64, progress io.Writer) (*models.ResNet, error) {
	s, err := FromEnv()
	if err != nil {
		return nil, err
	}
	s.Seed = seed
	return TransferModelFrom(ctx, s, classes, progress)
}

// TransferModelFrom is NewTransferModel with explicit settings: the starting weights s.Weights (see
// Settings.WeightsFile), the head initialised from s.Seed.
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
	if err := m.ReplaceHead(len(classes), uint64(s.Seed)); err != nil {
		return nil, err
	}
	m.Classes = classes
	return m, nil
}

// LoadBest returns the best model that a scenario's training saved (its run directory's best.pth).
func LoadBest(s Settings, scenario train.Scenario) (*models.ResNet, error) {
	dir, err := s.RunDir(string(scenario))
	if err != nil {
		return nil, err
	}
	backend, err := backends.New(io.Discard)
	if err != nil {
		return nil, err
	}
	m, err := models.FromCheckpoint(backend, filepath.Join(dir, train.BestCheckpoint))
	if err != nil {
		return nil, fmt.Errorf("tutorial: no trained %s model (run its training first): %w", scenario, err)
	}
	m.Eval()
	return m, nil
}

// PredictValidation is the tutorial's visualize_model: the model's predictions on the first n validation images,
// with their true classes, ready for viz.VisualizeModel.
func PredictValidation(ctx context.Context, m *models.ResNet, data *Data, n int) ([]viz.Prediction, error) {
	m.Eval()
	var shown []viz.Prediction
	for batch, err := range data.ValLoader.Epoch(ctx, 0) {
		if err != nil {
			return nil, err
		}
		results, err := predict.Batch(m, batch.Images, batch.N, batch.H, batch.W)
		if err != nil {
			return nil, err
		}
		images, err := viz.SplitBatch(batch.Images, batch.N, batch.H, batch.W)
		if err != nil {
			return nil, err
		}
		for i, r := range results {
			shown = append(shown, viz.Prediction{Image: images[i], Predicted: r.Label, Actual: data.Classes[batch.Labels[i]]})
			if len(shown) == n {
				return shown, nil
			}
		}
	}
	return shown, nil
}

// PredictImage classifies one image file (the validation transform at imageSize) and returns a figure of the
// image with the class probabilities.
func PredictImage(m *models.ResNet, path string, imageSize int) (viz.Figure, error) {
	m.Eval()
	inputs, errs := predict.PrepareFiles([]string{path}, transforms.Val(imageSize))
	if errs[0] != nil {
		return nil, errs[0]
	}
	results, err := predict.Tensors(m, inputs)
	if err != nil {
		return nil, err
	}
	probabilities := make([]float32, len(results[0].Probabilities))
	for i, p := range results[0].Probabilities {
		probabilities[i] = float32(p)
	}
	return viz.ProbabilitiesFigure(inputs[0], m.Classes, probabilities, "")
}
