package transforms

import (
	"fmt"
	"math"
)

// asImage returns v as an image, or an error saying that transform name works on images, not tensors.
func asImage(name string, v Value) (*Image, error) {
	img, ok := v.(*Image)
	if !ok {
		return nil, fmt.Errorf("transforms: %s takes an image, got a tensor: put it before ToTensor", name)
	}
	return img, nil
}

// roundHalfEven is Python 3's round(), which torchvision's size arithmetic uses.
func roundHalfEven(x float64) int { return int(math.RoundToEven(x)) }

// Resize resizes an image so that its shorter side is size pixels, keeping the aspect ratio, as torchvision's
// Resize(size) with bilinear interpolation does on a PIL image (PIL antialiases when downscaling). The longer side
// is int(size·long/short), truncated as torchvision truncates it.
func Resize(size int) Transform { return resize(size) }

type resize int

// ResizedSize is the (width, height) that Resize(size) gives a w×h image: torchvision's
// _compute_resized_output_size.
func ResizedSize(w, h, size int) (int, int) {
	short, long := min(w, h), max(w, h)
	newLong := int(float64(size) * float64(long) / float64(short))
	if w <= h {
		return size, newLong
	}
	return newLong, size
}

func (r resize) Apply(v Value, _ Source) (Value, error) {
	img, err := asImage("Resize", v)
	if err != nil {
		return nil, err
	}
	w, h := ResizedSize(img.W, img.H, int(r))
	return resizeBilinear(img, w, h), nil
}

func (r resize) String() string {
	return fmt.Sprintf("Resize(size=%d, interpolation=bilinear)", int(r))
}

// CenterCrop crops the size×size centre of an image, as torchvision's CenterCrop(size) does: the offsets are
// round((H-size)/2) and round((W-size)/2) with Python's half-to-even rounding, and an image smaller than the crop
// is first padded with black, (size-W)/2 columns on the left (rounded down) and the rest on the right, likewise
// for rows.
func CenterCrop(size int) Transform { return centerCrop(size) }

type centerCrop int

// CenterCropBox is where CenterCrop(size) takes its crop in a w×h image: the offset of the crop's top-left corner
// in the image, negative where the image is padded.
func CenterCropBox(w, h, size int) (left, top int) {
	return centerOffset(w, size), centerOffset(h, size)
}

func centerOffset(length, crop int) int {
	if crop > length {
		return -((crop - length) / 2)
	}
	return roundHalfEven(float64(length-crop) / 2)
}

func (c centerCrop) Apply(v Value, _ Source) (Value, error) {
	img, err := asImage("CenterCrop", v)
	if err != nil {
		return nil, err
	}
	size := int(c)
	left, top := CenterCropBox(img.W, img.H, size)
	if size <= img.W && size <= img.H {
		return img.sub(left, top, size, size), nil
	}
	// Pad: copy the part of the image that the crop covers into a black canvas.
	out := NewImage(size, size)
	srcX, srcY := max(left, 0), max(top, 0)
	dstX, dstY := srcX-left, srcY-top
	w, h := min(img.W-srcX, size-dstX), min(img.H-srcY, size-dstY)
	for y := range h {
		copy(out.Row(dstY + y)[dstX*3:], img.Row(srcY + y)[srcX*3:(srcX+w)*3])
	}
	return out, nil
}

// afterResize is Resize(r) then CenterCrop(c) computing only the kept pixels, unless the crop pads.
func (c centerCrop) afterResize(r resize, v Value) (Value, error) {
	img, err := asImage("Resize", v)
	if err != nil {
		return nil, err
	}
	w, h := ResizedSize(img.W, img.H, int(r))
	size := int(c)
	if size > w || size > h || w == img.W && h == img.H {
		resized, err := r.Apply(img, nil)
		if err != nil {
			return nil, err
		}
		return c.Apply(resized, nil)
	}
	left, top := CenterCropBox(w, h, size)
	return resizeRegion(img, w, h, left, top, size, size), nil
}

func (c centerCrop) String() string { return fmt.Sprintf("CenterCrop(size=(%d, %d))", int(c), int(c)) }

// Default ranges of RandomResizedCrop: the crop covers 8% to 100% of the image, its aspect ratio from 3/4 to 4/3.
var (
	DefaultCropScale = [2]float64{0.08, 1}
	DefaultCropRatio = [2]float64{3.0 / 4.0, 4.0 / 3.0}
)

// RandomResizedCrop crops a random region of an image and resizes it to size×size (bilinear, as Resize), as
// torchvision's RandomResizedCrop(size) does with its default scale and ratio ranges.
func RandomResizedCrop(size int) Transform { return randomResizedCrop(size) }

type randomResizedCrop int

func (c randomResizedCrop) Apply(v Value, rng Source) (Value, error) {
	img, err := asImage("RandomResizedCrop", v)
	if err != nil {
		return nil, err
	}
	top, left, h, w := RandomResizedCropParams(img.W, img.H, DefaultCropScale, DefaultCropRatio, rng)
	return resizeBilinear(img.sub(left, top, w, h), int(c), int(c)), nil
}

func (c randomResizedCrop) String() string {
	return fmt.Sprintf("RandomResizedCrop(size=(%d, %d), scale=(0.08, 1.0), ratio=(0.75, 1.3333), interpolation=bilinear)",
		int(c), int(c))
}

// RandomResizedCropParams chooses the crop of RandomResizedCrop in a w×h image, as torchvision's
// RandomResizedCrop.get_params does: up to 10 attempts, each drawing an area (a fraction of the image's, from
// scale) and a log-uniform aspect ratio (from ratio), keeping the first crop that fits, at a uniform position;
// when none fits, the centre crop of the image clamped to the ratio range. The draws and their float32 arithmetic
// follow torch's, so that the same draws give the same crop.
func RandomResizedCropParams(w, h int, scale, ratio [2]float64, rng Source) (top, left, height, width int) {
	area := float64(w * h)
	// torch.log(torch.tensor(ratio)): float32.
	logLo := float32(math.Log(float64(float32(ratio[0]))))
	logHi := float32(math.Log(float64(float32(ratio[1]))))
	for range 10 {
		targetArea := area * float64(rng.Uniform(float32(scale[0]), float32(scale[1])))
		aspect := float64(float32(math.Exp(float64(rng.Uniform(logLo, logHi)))))
		cw := roundHalfEven(math.Sqrt(targetArea * aspect))
		ch := roundHalfEven(math.Sqrt(targetArea / aspect))
		if 0 < cw && cw <= w && 0 < ch && ch <= h {
			top = rng.IntN(h - ch + 1)
			left = rng.IntN(w - cw + 1)
			return top, left, ch, cw
		}
	}
	// Fallback: the central crop.
	inRatio := float64(w) / float64(h)
	lo, hi := min(ratio[0], ratio[1]), max(ratio[0], ratio[1])
	width, height = w, h
	switch {
	case inRatio < lo:
		height = roundHalfEven(float64(w) / lo)
	case inRatio > hi:
		width = roundHalfEven(float64(h) * hi)
	}
	return (h - height) / 2, (w - width) / 2, height, width
}

// RandomHorizontalFlip mirrors an image or a tensor left to right with probability p, as torchvision's
// RandomHorizontalFlip(p) does: it draws one uniform float32 and flips when it is below p (as a float32, as torch
// compares).
func RandomHorizontalFlip(p float64) Transform { return randomHorizontalFlip(p) }

type randomHorizontalFlip float64

func (f randomHorizontalFlip) Apply(v Value, rng Source) (Value, error) {
	if !(rng.Uniform(0, 1) < float32(f)) {
		return v, nil
	}
	switch v := v.(type) {
	case *Image:
		out := NewImage(v.W, v.H)
		for y := range v.H {
			flipRow(out.Row(y), v.Row(y), 3)
		}
		return out, nil
	case *Tensor:
		out := NewTensor(v.H, v.W, v.C)
		rowLen := v.W * v.C
		for y := range v.H {
			flipRow(out.Data[y*rowLen:(y+1)*rowLen], v.Data[y*rowLen:(y+1)*rowLen], v.C)
		}
		return out, nil
	}
	return nil, fmt.Errorf("transforms: RandomHorizontalFlip cannot flip a %T", v)
}

// flipRow writes src's pixels of c values each into dst in reverse order.
func flipRow[T any](dst, src []T, c int) {
	n := len(src)
	for x := 0; x < n; x += c {
		copy(dst[n-x-c:n-x], src[x:x+c])
	}
}

func (f randomHorizontalFlip) String() string {
	return fmt.Sprintf("RandomHorizontalFlip(p=%g)", float64(f))
}
