package transforms

import (
	"math"
	"sync"
)

// This file is PIL's bilinear resize (ImagingResample in Pillow's Resample.c, which torchvision's Resize and
// RandomResizedCrop call on PIL images), rewritten so that it gives PIL's bytes: the same triangle filter widened
// by the scale when downscaling (PIL's antialiasing), the same double-precision weights normalised per output
// pixel and rounded to 22-bit fixed point, the same two passes (horizontal into 8-bit rows, then vertical) each
// rounding and clipping to uint8, and the same rows of the source read by the horizontal pass.

// precisionBits is PIL's PRECISION_BITS (32 - 8 - 2): fixed-point weights keep a sum of 255·weights in int32.
const precisionBits = 32 - 8 - 2

// kernel holds the fixed-point weights of a 1-D resampling: output pixel i reads the inputs
// first[i] ≤ j < first[i]+len(weights of i), with weights[i*taps:][:count[i]].
type kernel struct {
	taps    int
	first   []int
	count   []int
	weights []int32
}

// bilinearKernel computes PIL's precompute_coeffs then normalize_coeffs_8bpc for resizing inSize samples to
// outSize with the bilinear (triangle) filter, whose support is 1.
func bilinearKernel(inSize, outSize int) kernel {
	scale := float64(inSize) / float64(outSize)
	filterScale := max(scale, 1)
	support := filterScale // the triangle's support, 1, widened by the scale when downscaling
	taps := int(math.Ceil(support))*2 + 1
	k := kernel{taps: taps, first: make([]int, outSize), count: make([]int, outSize), weights: make([]int32, outSize*taps)}
	w := make([]float64, taps)
	inverseScale := 1 / filterScale
	for i := range outSize {
		center := (float64(i) + 0.5) * scale
		lo := max(int(center-support+0.5), 0)
		hi := min(int(center+support+0.5), inSize)
		n := hi - lo
		sum := 0.0
		for j := range n {
			w[j] = triangle((float64(j+lo) - center + 0.5) * inverseScale)
			sum += w[j]
		}
		for j := range n {
			v := w[j]
			if sum != 0 {
				v /= sum
			}
			// C's (int) cast truncates toward zero, as Go's conversion does.
			if v < 0 {
				k.weights[i*taps+j] = int32(-0.5 + v*(1<<precisionBits))
			} else {
				k.weights[i*taps+j] = int32(0.5 + v*(1<<precisionBits))
			}
		}
		k.first[i], k.count[i] = lo, n
	}
	return k
}

func triangle(x float64) float64 {
	x = math.Abs(x)
	if x < 1 {
		return 1 - x
	}
	return 0
}

// clip8 is PIL's clip8: the fixed-point sum (which carries its rounding half) back to a byte.
func clip8(acc int32) uint8 { return uint8(min(max(acc>>precisionBits, 0), 255)) }

// resizeBilinear returns src resized to w×h as PIL's Image.resize((w, h), Image.BILINEAR) does.
func resizeBilinear(src *Image, w, h int) *Image {
	if src.W == w && src.H == h {
		return src
	}
	return resizeRegion(src, w, h, 0, 0, w, h)
}

// resizeRegion returns the cw×ch region at (x0, y0) of src resized to w×h, computing only that region: each
// output pixel of PIL's resize depends on its own kernel alone, so this is a crop of resizeBilinear's result.
func resizeRegion(src *Image, w, h, x0, y0, cw, ch int) *Image {
	horizontal := bilinearKernel(src.W, w).window(x0, cw)
	if src.H == h { // PIL makes no vertical pass
		src = src.sub(0, y0, src.W, ch)
		if src.W == w {
			return src.sub(x0, 0, cw, ch)
		}
		dst := NewImage(cw, ch)
		resampleRows(dst, src, horizontal)
		return dst
	}
	vertical := bilinearKernel(src.H, h).window(y0, ch)
	dst := NewImage(cw, ch)
	if src.W == w { // nor a horizontal one
		resampleColumns(dst, src.sub(x0, 0, cw, src.H), vertical)
		return dst
	}
	// Only the rows that the vertical pass reads are resampled horizontally.
	top := vertical.first[0]
	bottom := vertical.first[ch-1] + vertical.count[ch-1]
	for i := range vertical.first {
		vertical.first[i] -= top
	}
	// The intermediate rows never leave this function: their memory is recycled.
	rows := rowsPool.get(cw, bottom-top)
	defer rowsPool.put(rows)
	resampleRows(rows, src.sub(0, top, src.W, bottom-top), horizontal)
	resampleColumns(dst, rows, vertical)
	return dst
}

// imagePool recycles the memory of intermediate images, sparing its allocation and zeroing.
type imagePool struct{ pool sync.Pool }

var rowsPool imagePool

// get returns a w×h image with unspecified pixels.
func (p *imagePool) get(w, h int) *Image {
	n := w * h * 3
	if buf, ok := p.pool.Get().(*[]uint8); ok && cap(*buf) >= n {
		return &Image{Pix: (*buf)[:n], Stride: 3 * w, W: w, H: h}
	}
	return NewImage(w, h)
}

func (p *imagePool) put(img *Image) {
	buf := img.Pix[:cap(img.Pix)]
	p.pool.Put(&buf)
}

// window keeps the n outputs from the first-th on.
func (k kernel) window(first, n int) kernel {
	return kernel{taps: k.taps, first: k.first[first : first+n], count: k.count[first : first+n],
		weights: k.weights[first*k.taps : (first+n)*k.taps]}
}

// The passes: the portable implementations below, replaced by vectorised ones where the CPU has them
// (resample_amd64.go). Both compute PIL's sums exactly.
var (
	resampleRows    = resampleRowsGeneric
	resampleColumns = resampleColumnsGeneric
)

// resampleRowsGeneric is PIL's horizontal pass (ImagingResampleHorizontal_8bpc), into dst (as high as src).
func resampleRowsGeneric(dst, src *Image, k kernel) {
	w := dst.W
	for y := range src.H {
		in := src.Row(y)
		out := dst.Row(y)
		for x := range w {
			first := k.first[x] * 3
			weights := k.weights[x*k.taps : x*k.taps+k.count[x]]
			r, g, b := int32(1)<<(precisionBits-1), int32(1)<<(precisionBits-1), int32(1)<<(precisionBits-1)
			px := in[first : first+3*len(weights)]
			for j, c := range weights {
				p := px[3*j : 3*j+3 : 3*j+3]
				r += int32(p[0]) * c
				g += int32(p[1]) * c
				b += int32(p[2]) * c
			}
			o := out[3*x : 3*x+3 : 3*x+3]
			o[0], o[1], o[2] = clip8(r), clip8(g), clip8(b)
		}
	}
}

// resampleColumnsGeneric is PIL's vertical pass (ImagingResampleVertical_8bpc), into dst (as wide as src),
// accumulating whole rows so that memory is read in order.
func resampleColumnsGeneric(dst, src *Image, k kernel) {
	acc := make([]int32, src.W*3)
	for y := range dst.H {
		for i := range acc {
			acc[i] = 1 << (precisionBits - 1)
		}
		weights := k.weights[y*k.taps : y*k.taps+k.count[y]]
		for j, c := range weights {
			in := src.Row(k.first[y] + j)
			in = in[:len(acc)]
			for i, p := range in {
				acc[i] += int32(p) * c
			}
		}
		out := dst.Row(y)
		out = out[:len(acc)]
		for i, a := range acc {
			out[i] = clip8(a)
		}
	}
}
