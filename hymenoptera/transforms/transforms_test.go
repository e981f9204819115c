package transforms

import (
	"math"
	"slices"
	"strings"
	"testing"
)

func TestRandStreams(t *testing.T) {
	draws := func(seed int64, epoch, index int) []float32 {
		r := NewRand(seed, epoch, index)
		out := make([]float32, 8)
		for i := range out {
			out[i] = r.Uniform(0, 1)
		}
		return out
	}
	a := draws(1, 2, 3)
	if !slices.Equal(a, draws(1, 2, 3)) {
		t.Error("the same (seed, epoch, index) gives other draws")
	}
	for _, other := range [][]float32{draws(2, 2, 3), draws(1, 3, 3), draws(1, 2, 4), draws(1, 3, 2)} {
		if slices.Equal(a, other) {
			t.Error("different (seed, epoch, index) give the same draws")
		}
	}
	r := NewRand(0, 0, 0)
	var sum float64
	const n = 20000
	for range n {
		u := r.Uniform(-2, 3)
		if u < -2 || u >= 3 {
			t.Fatalf("Uniform(-2, 3) = %v", u)
		}
		sum += float64(u)
		if k := r.IntN(7); k < 0 || k >= 7 {
			t.Fatalf("IntN(7) = %d", k)
		}
	}
	if mean := sum / n; math.Abs(mean-0.5) > 0.05 {
		t.Errorf("mean of Uniform(-2, 3) is %v", mean)
	}
}

// fixed is a Source whose uniform draws are all u.
type fixed float32

func (f fixed) Uniform(lo, hi float32) float32 { return lo + (hi-lo)*float32(f) }
func (fixed) IntN(int) int                     { return 0 }

func TestRandomHorizontalFlip(t *testing.T) {
	img := coordinateImage(5, 3)
	out, err := RandomHorizontalFlip(0.5).Apply(img, fixed(0.49))
	if err != nil {
		t.Fatal(err)
	}
	flipped := out.(*Image)
	for y := range 3 {
		for x := range 5 {
			if got, want := flipped.Row(y)[3*x:3*x+3], img.Row(y)[3*(4-x):3*(4-x)+3]; !slices.Equal(got, want) {
				t.Fatalf("pixel (%d,%d) is %v, want %v", x, y, got, want)
			}
		}
	}
	if out, _ := RandomHorizontalFlip(0.5).Apply(img, fixed(0.5)); out != Value(img) {
		t.Error("a draw of 0.5 flips with p=0.5 (torch flips when the draw is below p)")
	}
	tensor, _ := ToTensor().Apply(img, nil)
	out, _ = RandomHorizontalFlip(1).Apply(tensor, fixed(0))
	back, _ := ToTensor().Apply(flipped, nil)
	if !slices.Equal(out.(*Tensor).Data, back.(*Tensor).Data) {
		t.Error("flipping the tensor differs from flipping the image")
	}
}

func TestNormalizeAndUnnormalize(t *testing.T) {
	img := coordinateImage(256, 3)
	v, err := Compose(ToTensor(), Normalize(ImageNetMean, ImageNetStd)).Apply(img, nil)
	if err != nil {
		t.Fatal(err)
	}
	tensor := v.(*Tensor)
	if tensor.H != 3 || tensor.W != 256 || tensor.C != 3 {
		t.Fatalf("tensor %d×%d×%d", tensor.H, tensor.W, tensor.C)
	}
	back, err := Unnormalize(tensor.Data, tensor.W, tensor.H, ImageNetMean, ImageNetStd)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 256 * 3 {
		if !slices.Equal(back.Pix[4*i:4*i+3], img.Pix[3*i:3*i+3]) || back.Pix[4*i+3] != 255 {
			t.Fatalf("pixel %d: %v, want %v", i, back.Pix[4*i:4*i+4], img.Pix[3*i:3*i+3])
		}
	}
	if _, err := Unnormalize(tensor.Data[1:], tensor.W, tensor.H, ImageNetMean, ImageNetStd); err == nil {
		t.Error("Unnormalize of a short slice: no error")
	}
}

func TestTransformsRefuseTheWrongInput(t *testing.T) {
	img := coordinateImage(4, 4)
	tensor, _ := ToTensor().Apply(img, nil)
	for _, c := range []struct {
		tf Transform
		in Value
	}{
		{Normalize(ImageNetMean, ImageNetStd), img},
		{ToTensor(), tensor},
		{Resize(3), tensor},
		{CenterCrop(3), tensor},
		{RandomResizedCrop(3), tensor},
	} {
		if _, err := c.tf.Apply(c.in, fixed(0)); err == nil || !strings.Contains(err.Error(), "ToTensor") {
			t.Errorf("%v on a %T: error %v, want one saying where ToTensor goes", c.tf, c.in, err)
		}
	}
}

func TestPipelinesDescribeThemselves(t *testing.T) {
	want := "Compose(\n    RandomResizedCrop(size=(224, 224), scale=(0.08, 1.0), ratio=(0.75, 1.3333), " +
		"interpolation=bilinear)\n    RandomHorizontalFlip(p=0.5)\n    ToTensor()\n    " +
		"Normalize(mean=[0.485 0.456 0.406], std=[0.229 0.224 0.225])\n)"
	if got := Train(224).String(); got != want {
		t.Errorf("Train(224):\n%s\nwant\n%s", got, want)
	}
	got := Val(224).String()
	if !strings.Contains(got, "Resize(size=256") || !strings.Contains(got, "CenterCrop(size=(224, 224))") {
		t.Errorf("Val(224):\n%s", got)
	}
	if got := Val(32).String(); !strings.Contains(got, "Resize(size=37") {
		t.Errorf("Val(32):\n%s", got)
	}
}

func TestSplitDeterministicComposesToThePipeline(t *testing.T) {
	if prefix, rest := SplitDeterministic(Train(224)); prefix != nil || rest.String() != Train(224).String() {
		t.Errorf("Train splits into %v and %v, want no prefix", prefix, rest)
	}
	val := Val(32)
	prefix, rest := SplitDeterministic(val)
	if prefix == nil || !strings.HasPrefix(rest.String(), "Compose(\n    ToTensor()") {
		t.Fatalf("Val splits into %v and %v, want Resize and CenterCrop, then ToTensor and Normalize", prefix, rest)
	}
	// Larger than the resize, already at its size (37×40), and smaller than the crop.
	for _, size := range [][2]int{{61, 45}, {37, 40}, {20, 50}} {
		img := NewImage(size[0], size[1])
		for i := range img.Pix {
			img.Pix[i] = uint8(i * 7 % 251)
		}
		want, err := val.Apply(img, nil)
		if err != nil {
			t.Fatal(err)
		}
		cached, err := prefix.Apply(img, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := cached.(*Image); !ok {
			t.Fatalf("%dx%d: the prefix gave %T, not an image", size[0], size[1], cached)
		}
		got, err := rest.Apply(cached, NewRand(0, 0, 0))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.(*Tensor).Data, want.(*Tensor).Data) {
			t.Errorf("%dx%d: prefix then rest differs from the whole pipeline", size[0], size[1])
		}
	}
}
