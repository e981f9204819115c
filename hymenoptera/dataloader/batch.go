package dataloader

import (
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/hymenoptera-go/tutorial/hymenoptera/transforms"
)

// Tensors returns the batch as the model's inputs: images [N, H, W, 3] float32 and labels [N] int32, copies that
// outlive Release.
func (b *Batch) Tensors() (images, labels *tensors.Tensor) {
	ints := make([]int32, len(b.Labels))
	for i, l := range b.Labels {
		ints[i] = int32(l)
	}
	return tensors.FromFlatDataAndDimensions(b.Images, b.N, b.H, b.W, 3), tensors.FromFlatDataAndDimensions(ints, len(ints))
}

// Image returns image i of the batch (inputs[i] in PyTorch), sharing the batch's memory: valid until Release.
func (b *Batch) Image(i int) *transforms.Tensor {
	size := b.H * b.W * 3
	return &transforms.Tensor{Data: b.Images[i*size : (i+1)*size : (i+1)*size], H: b.H, W: b.W, C: 3}
}
