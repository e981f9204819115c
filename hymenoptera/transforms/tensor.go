package transforms

import (
	"fmt"
	"image"
	"math"
)

// ImageNet's per-channel mean and standard deviation (RGB), which torchvision's pretrained weights expect inputs
// to be normalised with.
var (
	ImageNetMean = [3]float32{0.485, 0.456, 0.406}
	ImageNetStd  = [3]float32{0.229, 0.224, 0.225}
)

// ToTensor converts an 8-bit image to a float32 tensor with values in [0, 1] (x/255, divided in float32 as torch
// does), as torchvision's ToTensor does, but channels last (H, W, 3).
func ToTensor() Transform { return toTensor{} }

type toTensor struct{}

func (t toTensor) Apply(v Value, _ Source) (Value, error) { return t.into(v, nil) }

// into is Apply, writing the tensor into dst when dst has its size.
func (toTensor) into(v Value, dst []float32) (Value, error) {
	img, err := asImage("ToTensor", v)
	if err != nil {
		return nil, err
	}
	t := tensorInto(img.H, img.W, dst)
	rowLen := img.W * 3
	for y := range img.H {
		out := t.Data[y*rowLen : (y+1)*rowLen]
		for i, p := range img.Row(y) {
			out[i] = float32(p) / 255
		}
	}
	return t, nil
}

func (toTensor) String() string { return "ToTensor()" }

// tensorInto returns an h×w×3 tensor over dst's memory when dst has that size, else a new one.
func tensorInto(h, w int, dst []float32) *Tensor {
	if len(dst) == h*w*3 {
		return &Tensor{Data: dst, H: h, W: w, C: 3}
	}
	return NewTensor(h, w, 3)
}

// Normalize maps each channel c of a tensor to (x - mean[c]) / std[c] in float32, as torchvision's Normalize does.
func Normalize(mean, std [3]float32) Transform { return normalize{mean, std} }

type normalize struct{ mean, std [3]float32 }

func (n normalize) Apply(v Value, _ Source) (Value, error) {
	t, ok := v.(*Tensor)
	if !ok {
		return nil, fmt.Errorf("transforms: Normalize takes a tensor, got an image: put ToTensor before it")
	}
	if t.C != 3 {
		return nil, fmt.Errorf("transforms: Normalize has 3 channels' statistics, the tensor has %d channels", t.C)
	}
	out := NewTensor(t.H, t.W, 3)
	for i := 0; i < len(t.Data); i += 3 {
		in, o := t.Data[i:i+3:i+3], out.Data[i:i+3:i+3]
		o[0] = (in[0] - n.mean[0]) / n.std[0]
		o[1] = (in[1] - n.mean[1]) / n.std[1]
		o[2] = (in[2] - n.mean[2]) / n.std[2]
	}
	return out, nil
}

// fromImage is ToTensor then Normalize in one pass: a table per channel holds (v/255 - mean) / std for each byte
// v, computed in float32 in torch's order, so the result is the two steps' bit for bit.
func (n normalize) fromImage(v Value, dst []float32) (Value, error) {
	img, err := asImage("ToTensor", v)
	if err != nil {
		return nil, err
	}
	var lut [3][256]float32
	for c := range 3 {
		for b := range 256 {
			lut[c][b] = (float32(b)/255 - n.mean[c]) / n.std[c]
		}
	}
	t := tensorInto(img.H, img.W, dst)
	rowLen := img.W * 3
	for y := range img.H {
		out := t.Data[y*rowLen : (y+1)*rowLen]
		in := img.Row(y)
		for i := 0; i+2 < len(in); i += 3 {
			p, o := in[i:i+3:i+3], out[i:i+3:i+3]
			o[0], o[1], o[2] = lut[0][p[0]], lut[1][p[1]], lut[2][p[2]]
		}
	}
	return t, nil
}

func (n normalize) String() string { return fmt.Sprintf("Normalize(mean=%v, std=%v)", n.mean, n.std) }

// Unnormalize undoes Normalize(mean, std) on one h×w image of channels-last values (e.g. one image of a batch)
// for display: x·std + mean, clipped to [0, 1] as the tutorial's imshow does, then scaled to 8 bits.
func Unnormalize(hwc []float32, w, h int, mean, std [3]float32) (*image.NRGBA, error) {
	if len(hwc) != w*h*3 {
		return nil, fmt.Errorf("transforms: Unnormalize: %d values are not a %d×%d RGB image", len(hwc), w, h)
	}
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range w * h {
		for c := range 3 {
			x := hwc[i*3+c]*std[c] + mean[c]
			img.Pix[i*4+c] = uint8(math.Round(float64(min(max(x, 0), 1)) * 255))
		}
		img.Pix[i*4+3] = 255
	}
	return img, nil
}
