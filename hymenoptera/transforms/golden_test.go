package transforms

//go:generate /usr/bin/python3 ../reference/data_fixtures.py

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"testing"

	"github.com/hymenoptera-go/tutorial/hymenoptera/internal/testenv"
)

// The golden tests compare with torchvision 0.14 and PIL 9.4, as hymenoptera/reference/data_fixtures.py ran them.

func readJSON(t *testing.T, name string, v any) {
	t.Helper()
	data, err := os.ReadFile(testenv.Fixture(t, "data", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func readBytes(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(testenv.Fixture(t, "data", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func readF32(t *testing.T, name string) []float32 {
	t.Helper()
	data := readBytes(t, name)
	out := make([]float32, len(data)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
	}
	return out
}

// photo is the fixtures' photo.png: lossless, so that image/png gives exactly the pixels PIL resized.
func photo(t *testing.T) *Image {
	t.Helper()
	f, err := os.Open(testenv.Fixture(t, "data", "photo.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	decoded, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	rgba, ok := decoded.(*image.RGBA)
	if !ok {
		t.Fatalf("photo.png decodes to a %T, not an opaque RGB image", decoded)
	}
	b := rgba.Bounds()
	img := NewImage(b.Dx(), b.Dy())
	for i := range b.Dx() * b.Dy() {
		copy(img.Pix[3*i:3*i+3], rgba.Pix[4*i:4*i+3])
	}
	return img
}

// packed returns the pixels of img without row padding.
func packed(img *Image) []uint8 {
	out := make([]uint8, 0, img.W*img.H*3)
	for y := range img.H {
		out = append(out, img.Row(y)...)
	}
	return out
}

type goldenPNG struct {
	Width, Height int
	Resizes       []struct {
		Width, Height int
		File          string
	}
	Val []struct {
		Size, Width, Height int
		File                string
	}
	Train []struct {
		Size  int
		File  string
		Draws []torchDraw
	}
}

func TestResizeMatchesPIL(t *testing.T) {
	var golden goldenPNG
	readJSON(t, "png_golden.json", &golden)
	src := photo(t)
	for _, r := range golden.Resizes {
		t.Run(fmt.Sprintf("%dx%d", r.Width, r.Height), func(t *testing.T) {
			got := packed(resizeBilinear(src, r.Width, r.Height))
			want := readBytes(t, r.File)
			if len(got) != len(want) {
				t.Fatalf("got %d bytes, PIL %d", len(got), len(want))
			}
			differ, maxDiff := 0, 0
			for i := range got {
				if d := absDiff(got[i], want[i]); d > 0 {
					differ++
					maxDiff = max(maxDiff, d)
				}
			}
			if differ > 0 {
				t.Errorf("%d of %d bytes differ from PIL's, by up to %d", differ, len(got), maxDiff)
			}
		})
	}
}

func absDiff(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}

// compareTensor fails unless got is bit for bit torchvision's tensor want.
func compareTensor(t *testing.T, got *Tensor, want []float32, h, w int) {
	t.Helper()
	if got.H != h || got.W != w || got.C != 3 {
		t.Fatalf("tensor is %d×%d×%d, torchvision's %d×%d×3", got.H, got.W, got.C, h, w)
	}
	differ, maxDiff := 0, 0.0
	for i := range want {
		if got.Data[i] != want[i] {
			differ++
			maxDiff = max(maxDiff, math.Abs(float64(got.Data[i]-want[i])))
		}
	}
	if differ > 0 {
		t.Errorf("%d of %d values differ from torchvision's, by up to %g", differ, len(want), maxDiff)
	}
}

func TestValPipelineMatchesTorchvisionOnPNG(t *testing.T) {
	var golden goldenPNG
	readJSON(t, "png_golden.json", &golden)
	src := photo(t)
	for _, v := range golden.Val {
		t.Run(fmt.Sprint(v.Size), func(t *testing.T) {
			out, err := Val(v.Size).Apply(src, nil)
			if err != nil {
				t.Fatal(err)
			}
			compareTensor(t, out.(*Tensor), readF32(t, v.File), v.Height, v.Width)
		})
	}
}

// torchDraw is one random torchDraw that torch made, recorded by the fixture script.
type torchDraw struct {
	Kind          string
	Lo, Hi, Value float64
	N             int
}

// replay is a Source that hands out torch's recorded draws, checking that each is asked for with torch's
// arguments.
type replay struct {
	t     *testing.T
	draws []torchDraw
}

func (r *replay) next(kind string) torchDraw {
	r.t.Helper()
	if len(r.draws) == 0 {
		r.t.Fatalf("torch made no more draws, but a %s is asked for", kind)
	}
	d := r.draws[0]
	r.draws = r.draws[1:]
	if d.Kind != kind {
		r.t.Fatalf("torch's next torchDraw is a %s, but a %s is asked for", d.Kind, kind)
	}
	return d
}

func (r *replay) Uniform(lo, hi float32) float32 {
	d := r.next("uniform")
	if lo != float32(d.Lo) || hi != float32(d.Hi) {
		r.t.Errorf("uniform torchDraw on [%v, %v), torch drew on [%v, %v)", lo, hi, float32(d.Lo), float32(d.Hi))
	}
	return float32(d.Value)
}

func (r *replay) IntN(n int) int {
	d := r.next("intn")
	if n != d.N {
		r.t.Errorf("integer torchDraw in [0, %d), torch drew in [0, %d)", n, d.N)
	}
	return int(d.Value)
}

func TestTrainPipelineMatchesTorchvisionGivenItsDraws(t *testing.T) {
	var golden goldenPNG
	readJSON(t, "png_golden.json", &golden)
	src := photo(t)
	for _, tr := range golden.Train {
		t.Run(tr.File, func(t *testing.T) {
			rng := &replay{t: t, draws: tr.Draws}
			out, err := Train(tr.Size).Apply(src, rng)
			if err != nil {
				t.Fatal(err)
			}
			if len(rng.draws) > 0 {
				t.Errorf("%d of torch's draws left unused", len(rng.draws))
			}
			compareTensor(t, out.(*Tensor), readF32(t, tr.File), tr.Size, tr.Size)
		})
	}
}

func TestRandomResizedCropParamsMatchTorchvision(t *testing.T) {
	var golden struct {
		Cases []struct {
			Width, Height, Top, Left int
			CropHeight               int `json:"crop_height"`
			CropWidth                int `json:"crop_width"`
			Scale, Ratio             [2]float64
			Draws                    []torchDraw
		}
	}
	readJSON(t, "crop_params.json", &golden)
	fallbacks := 0
	for _, c := range golden.Cases {
		rng := &replay{t: t, draws: c.Draws}
		top, left, h, w := RandomResizedCropParams(c.Width, c.Height, c.Scale, c.Ratio, rng)
		if top != c.Top || left != c.Left || h != c.CropHeight || w != c.CropWidth {
			t.Errorf("%d×%d, scale %v, ratio %v: crop (top %d, left %d, %d×%d), torchvision's (top %d, left %d, %d×%d)",
				c.Width, c.Height, c.Scale, c.Ratio, top, left, w, h, c.Top, c.Left, c.CropWidth, c.CropHeight)
		}
		if len(rng.draws) > 0 {
			t.Errorf("%d×%d: %d of torch's draws left unused", c.Width, c.Height, len(rng.draws))
		}
		if len(c.Draws) == 20 {
			fallbacks++
		}
	}
	if fallbacks == 0 || fallbacks == len(golden.Cases) {
		t.Errorf("%d of %d cases fall back to the central crop: the fixtures should cover both paths", fallbacks,
			len(golden.Cases))
	}
}

type sizeFixtures struct {
	Resize []struct {
		Width, Height, Size int
		OutWidth            int `json:"out_width"`
		OutHeight           int `json:"out_height"`
	}
	CenterCrop []struct {
		Width, Height, Size, Left, Top int
	} `json:"center_crop"`
	CenterCropImages []struct {
		Width, Height, Offset int
	} `json:"center_crop_images"`
}

func TestResizedSizeMatchesTorchvision(t *testing.T) {
	var golden sizeFixtures
	readJSON(t, "sizes.json", &golden)
	for _, c := range golden.Resize {
		w, h := ResizedSize(c.Width, c.Height, c.Size)
		if w != c.OutWidth || h != c.OutHeight {
			t.Errorf("Resize(%d) of %d×%d: %d×%d, torchvision %d×%d", c.Size, c.Width, c.Height, w, h, c.OutWidth,
				c.OutHeight)
		}
	}
}

func TestCenterCropMatchesTorchvision(t *testing.T) {
	var golden sizeFixtures
	readJSON(t, "sizes.json", &golden)
	for _, c := range golden.CenterCrop {
		left, top := CenterCropBox(c.Width, c.Height, c.Size)
		if left != c.Left || top != c.Top {
			t.Errorf("CenterCrop(%d) of %d×%d at (%d, %d), torchvision's at (%d, %d)", c.Size, c.Width, c.Height,
				left, top, c.Left, c.Top)
		}
	}
	crops := readBytes(t, "center_crops.u8")
	for _, c := range golden.CenterCropImages {
		out, err := CenterCrop(224).Apply(coordinateImage(c.Width, c.Height), nil)
		if err != nil {
			t.Fatal(err)
		}
		got := packed(out.(*Image))
		want := crops[c.Offset : c.Offset+224*224*3]
		if string(got) != string(want) {
			t.Errorf("CenterCrop(224) of a %d×%d image differs from torchvision's", c.Width, c.Height)
		}
	}
}

// coordinateImage is the fixture script's coordinate_image: pixel (x, y) is (x mod 256, y mod 256,
// x/256 + 16·(y/256)).
func coordinateImage(w, h int) *Image {
	img := NewImage(w, h)
	for y := range h {
		row := img.Row(y)
		for x := range w {
			row[3*x], row[3*x+1], row[3*x+2] = uint8(x), uint8(y), uint8(x/256+16*(y/256))
		}
	}
	return img
}
