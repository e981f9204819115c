package statedict

import (
	"encoding/binary"
	"fmt"
	"math"
)

// storageRef is what a torch pickle's persistent id stands for: a typed storage, whose bytes live outside the
// pickle (a zip record, or the tail of a legacy file) and are read only for the tensors a state dict keeps.
type storageRef struct {
	key   string
	dtype DType
	numel int
}

// tensorRef is a tensor as torch pickles it: a strided view into a storage, which other tensors may share.
type tensorRef struct {
	storage       *storageRef
	offset        int
	shape, stride []int
}

// storageValues is a storage's content converted to the Go-side representation of its dtype.
type storageValues struct {
	floats []float32
	ints   []int64
}

// decodeStorage converts little-endian raw bytes of the given dtype, whose length the caller has checked.
func decodeStorage(dtype DType, raw []byte) storageValues {
	n := len(raw) / dtype.size()
	le := binary.LittleEndian
	if dtype.IsFloat() {
		out := make([]float32, n)
		switch dtype {
		case Float32:
			for i := range out {
				out[i] = math.Float32frombits(le.Uint32(raw[4*i:]))
			}
		case Float64:
			for i := range out {
				out[i] = float32(math.Float64frombits(le.Uint64(raw[8*i:])))
			}
		case Float16:
			for i := range out {
				out[i] = float16To32(le.Uint16(raw[2*i:]))
			}
		case BFloat16: // bfloat16 is the top half of a float32.
			for i := range out {
				out[i] = math.Float32frombits(uint32(le.Uint16(raw[2*i:])) << 16)
			}
		}
		return storageValues{floats: out}
	}
	out := make([]int64, n)
	switch dtype {
	case Int64:
		for i := range out {
			out[i] = int64(le.Uint64(raw[8*i:]))
		}
	case Int32:
		for i := range out {
			out[i] = int64(int32(le.Uint32(raw[4*i:])))
		}
	case Int16:
		for i := range out {
			out[i] = int64(int16(le.Uint16(raw[2*i:])))
		}
	case Int8:
		for i := range out {
			out[i] = int64(int8(raw[i]))
		}
	case Uint8, Bool:
		for i := range out {
			out[i] = int64(raw[i])
		}
	}
	return storageValues{ints: out}
}

// float16To32 converts IEEE 754 half precision to single precision, exactly (every float16 is a float32).
// (gopickle's pytorch.FloatBits16to32 gets subnormals wrong.)
func float16To32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exponent := uint32(h>>10) & 0x1f
	mantissa := uint32(h) & 0x3ff
	switch exponent {
	case 0x1f: // Infinity and NaN.
		return math.Float32frombits(sign | 0x7f800000 | mantissa<<13)
	case 0: // Zero and subnormals: mantissa × 2⁻²⁴, a normal float32.
		f := float32(mantissa) / (1 << 24)
		if sign != 0 {
			f = -f
		}
		return f
	}
	return math.Float32frombits(sign | (exponent+127-15)<<23 | mantissa<<13)
}

// materialize copies the tensor's view out of its storage's values into a dense row-major Tensor. When the
// tensor is the storage's only user (exclusive), it may take the values without a copy.
func (ref *tensorRef) materialize(values storageValues, exclusive bool) (*Tensor, error) {
	t := &Tensor{DType: ref.storage.dtype, Shape: ref.shape}
	var err error
	if t.DType.IsFloat() {
		t.Float32, err = gather(values.floats, ref.offset, ref.shape, ref.stride, exclusive)
	} else {
		t.Int64, err = gather(values.ints, ref.offset, ref.shape, ref.stride, exclusive)
	}
	return t, err
}

// elements checks the view against its storage before any of the storage's bytes is read, and returns the view's
// element count. A view must stay inside its storage and hold no more elements than the storage: torch.save keeps
// an expanded tensor (stride 0) as its few real elements, so a file of a few hundred bytes could otherwise ask
// for a tensor of gigabytes; no state dict of a model holds such a view.
func (ref *tensorRef) elements() (int, error) {
	shape, stride := ref.shape, ref.stride
	if len(shape) != len(stride) {
		return 0, fmt.Errorf("shape %v and stride %v differ in rank", shape, stride)
	}
	n, err := numElements(shape)
	if err != nil || n == 0 {
		return n, err
	}
	if ref.offset < 0 || ref.offset > maxElements {
		return 0, fmt.Errorf("invalid storage offset %d", ref.offset)
	}
	last := ref.offset // at most maxElements·(1+34): only 34 dimensions can exceed 1 when n ≤ maxElements
	for i, d := range shape {
		if stride[i] < 0 || (stride[i] > 0 && d-1 > maxElements/stride[i]) {
			return 0, fmt.Errorf("invalid stride %v for shape %v", stride, shape)
		}
		last += (d - 1) * stride[i]
	}
	if last >= ref.storage.numel {
		return 0, fmt.Errorf("view (offset %d, shape %v, stride %v) reaches past its storage of %d elements",
			ref.offset, shape, stride, ref.storage.numel)
	}
	if n > ref.storage.numel {
		return 0, fmt.Errorf("view of shape %v (stride %v) repeats the %d elements of its storage %d times over: "+
			"an expanded tensor, not a model's weights", shape, stride, ref.storage.numel, n/ref.storage.numel)
	}
	return n, nil
}

// gather returns the elements of the strided view (offset, shape, stride) of src in row-major order, a view that
// elements has checked. Views may overlap or skip elements (slices, transposes), as torch.save keeps them. The
// result is a copy, unless src is exclusive (used by nothing else) and the view covers it exactly.
func gather[T any](src []T, offset int, shape, stride []int, exclusive bool) ([]T, error) {
	n, err := numElements(shape)
	if err != nil {
		return nil, err
	}
	contiguous := isContiguous(shape, stride)
	if exclusive && contiguous && offset == 0 && n == len(src) && n > 0 {
		return src, nil
	}
	dst := make([]T, n)
	if n == 0 {
		return dst, nil
	}
	if contiguous {
		copy(dst, src[offset:offset+n])
		return dst, nil
	}
	// Odometer over the outer dimensions; the innermost one is a strided run.
	inner, innerStride := shape[len(shape)-1], stride[len(shape)-1]
	index := make([]int, len(shape)-1)
	pos := offset
	for out := 0; out < n; {
		for j, p := 0, pos; j < inner; j, p = j+1, p+innerStride {
			dst[out] = src[p]
			out++
		}
		for d := len(index) - 1; d >= 0; d-- {
			index[d]++
			pos += stride[d]
			if index[d] < shape[d] {
				break
			}
			pos -= shape[d] * stride[d]
			index[d] = 0
		}
	}
	return dst, nil
}

// maxElements bounds every count read from a file (a shape's product, a storage's size, a stride), so that
// arithmetic on them cannot overflow; what may be allocated is bounded much lower, by the Load's element budget.
const maxElements = 1 << 34

// numElements returns the number of elements of shape (1 for a 0-dim tensor), checking its dimensions.
func numElements(shape []int) (int, error) {
	n := 1
	for _, d := range shape {
		if d < 0 || (d > 0 && n > maxElements/d) {
			return 0, fmt.Errorf("invalid shape %v", shape)
		}
		n *= d
	}
	return n, nil
}

// isContiguous reports whether stride is the row-major layout of shape (dimensions of size 1 may have any stride).
func isContiguous(shape, stride []int) bool {
	expected := 1
	for i := len(shape) - 1; i >= 0; i-- {
		if shape[i] != 1 && stride[i] != expected {
			return false
		}
		expected *= shape[i]
	}
	return true
}

// contiguousStrides returns the row-major strides of shape, as torch computes them.
func contiguousStrides(shape []int) []int {
	stride := make([]int, len(shape))
	expected := 1
	for i := len(shape) - 1; i >= 0; i-- {
		stride[i] = expected
		expected *= max(shape[i], 1)
	}
	return stride
}
