// Package train fine-tunes a models.ResNet the way PyTorch's tutorial does: cross-entropy loss, SGD with
// momentum, a step learning-rate schedule, and a train_model loop that keeps the best validation weights.
package train

import (
	"github.com/gomlx/gomlx/core/graph"
)

// CrossEntropyLoss is torch.nn.CrossEntropyLoss with its defaults: the mean over the batch of
// −log softmax(logits)[label]. logits is [N, C] float; labels is [N] of any integer dtype.
func CrossEntropyLoss(logits, labels *graph.Node) *graph.Node {
	logProbs := graph.LogSoftmax(logits, -1)
	numClasses := logits.Shape().Dimensions[1]
	oneHot := graph.OneHot(labels, numClasses, logits.DType())
	return graph.Neg(graph.ReduceAllMean(graph.ReduceSum(graph.Mul(oneHot, logProbs), -1)))
}
