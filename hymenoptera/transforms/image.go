// Package transforms is torchvision.transforms for the tutorial's pipelines, computing the same numbers:
// RandomResizedCrop, RandomHorizontalFlip, Resize, CenterCrop, ToTensor and Normalize, chained with Compose.
//
// Images are 8-bit RGB (*Image, the role PIL images play in torchvision); ToTensor turns them into float32 tensors
// (*Tensor) in channels-last layout (H, W, C), the NHWC layout of the model's input, not torchvision's CHW.
// Resize reproduces PIL's bilinear resampling bit for bit (see resample.go), crops follow torchvision's rounding,
// and the tensor arithmetic is float32 in torch's order, so a pipeline given the same decoded pixels and the same
// random draws gives torchvision's tensor.
//
// Random transforms draw from a Source passed to Apply, never from a global generator: NewRand derives a sample's
// stream from (seed, epoch, index), so that results depend neither on the number of workers nor on scheduling.
package transforms

// Image is an 8-bit RGB image, 3 bytes a pixel, its rows Stride bytes apart. Sub-images share their parent's
// pixels, so that a crop costs nothing: transforms never write into their input.
type Image struct {
	Pix    []uint8
	Stride int
	W, H   int
}

// NewImage returns a black w×h image.
func NewImage(w, h int) *Image {
	return &Image{Pix: make([]uint8, w*h*3), Stride: w * 3, W: w, H: h}
}

// Row returns the 3·W bytes of row y.
func (m *Image) Row(y int) []uint8 {
	start := y * m.Stride
	return m.Pix[start : start+m.W*3 : start+m.W*3]
}

// sub returns the w×h region of m whose top-left corner is (x, y), sharing m's pixels; callers keep it inside m.
func (m *Image) sub(x, y, w, h int) *Image {
	if w == 0 || h == 0 {
		return &Image{W: w, H: h}
	}
	start := y*m.Stride + x*3
	end := (y+h-1)*m.Stride + (x+w)*3
	return &Image{Pix: m.Pix[start:end:end], Stride: m.Stride, W: w, H: h}
}

func (m *Image) value() {}

// Size returns the width and height.
func (m *Image) Size() (w, h int) { return m.W, m.H }

// Tensor is a float32 image in channels-last layout: the C values of pixel (y, x) are Data[(y*W+x)*C:][:C].
type Tensor struct {
	Data    []float32
	H, W, C int
}

// NewTensor returns a zero h×w×c tensor.
func NewTensor(h, w, c int) *Tensor {
	return &Tensor{Data: make([]float32, h*w*c), H: h, W: w, C: c}
}

func (t *Tensor) value() {}

// Size returns the width and height.
func (t *Tensor) Size() (w, h int) { return t.W, t.H }

// Value is what flows through a pipeline: an *Image before ToTensor, a *Tensor after it.
type Value interface {
	Size() (w, h int)
	value()
}
