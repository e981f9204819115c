package dataloader_test

import (
	"testing"

	"github.com/hymenoptera-go/tutorial/hymenoptera/dataloader"
)

func TestBatchImageSharesTheBatch(t *testing.T) {
	b := &dataloader.Batch{Images: make([]float32, 2*1*2*3), N: 2, H: 1, W: 2, Labels: []int{0, 1}}
	img := b.Image(1)
	if img.H != 1 || img.W != 2 || img.C != 3 || len(img.Data) != 6 {
		t.Fatalf("image 1 is %d×%d×%d with %d values", img.H, img.W, img.C, len(img.Data))
	}
	img.Data[0] = 5
	if b.Images[6] != 5 {
		t.Fatal("image 1 does not start at value 6 of the batch")
	}
	if cap(img.Data) != 6 {
		t.Fatalf("image 1 can grow into the next image: capacity %d", cap(img.Data))
	}
	images, labels := b.Tensors()
	if got := images.Shape().Dimensions; len(got) != 4 || got[0] != 2 || got[1] != 1 || got[2] != 2 || got[3] != 3 {
		t.Fatalf("images tensor shape %v, want [2 1 2 3]", got)
	}
	if got := labels.Shape().Dimensions; len(got) != 1 || got[0] != 2 {
		t.Fatalf("labels tensor shape %v, want [2]", got)
	}
}
