package viz

import (
	"errors"
	"fmt"
	"image"
	"image/color"

	xdraw "golang.org/x/image/draw"

	"github.com/hymenoptera-go/tutorial/hymenoptera/transforms"
)

// explainPanelSize is the longest side, in pixels, of the images in the Grad-CAM and mistakes figures: enough to
// see where a heat map lies, and small enough that a notebook of several such figures stays small.
const explainPanelSize = 112

// HeatmapPanel is one image with a heat map over it and the prediction it explains.
type HeatmapPanel struct {
	// Image is the image as the model saw it: normalised with ImageNet's statistics.
	Image *transforms.Tensor
	// Heat has one non-negative value per pixel of Image (row-major H×W), on any scale: it is shown divided by its
	// largest value. An all-zero map leaves the image as it is.
	Heat []float32
	// Predicted is the explained class's name and Probability its probability.
	Predicted   string
	Probability float64
	// Actual is the true class's name, or "" when unknown.
	Actual string
}

// GradCAMFigure lays out heat maps over their images (a "jet" colour map, half transparent: blue for no
// evidence, red for the strongest), cols to a row, each captioned with the explained class and its probability
// and, when known, the true class. It saves as <title>.png ("grad-cam.png" without a title).
func GradCAMFigure(panels []HeatmapPanel, cols int, title string) (Figure, error) {
	if len(panels) == 0 {
		return nil, errors.New("viz: GradCAMFigure: no image to show")
	}
	if cols < 1 {
		return nil, fmt.Errorf("viz: GradCAMFigure: %d columns: must be at least 1", cols)
	}
	grid := &panelGrid{name: fileName(title, "grad-cam"), title: title, cols: cols}
	for i, p := range panels {
		img, err := Unnormalized(p.Image)
		if err != nil {
			return nil, fmt.Errorf("viz: GradCAMFigure: image %d: %w", i, err)
		}
		if len(p.Heat) != p.Image.H*p.Image.W {
			return nil, fmt.Errorf("viz: GradCAMFigure: image %d is %d×%d but its heat map has %d values",
				i, p.Image.H, p.Image.W, len(p.Heat))
		}
		overlayHeat(img, p.Heat)
		grid.panels = append(grid.panels, panel{image: shrink(img, explainPanelSize),
			caption: scoredCaption(p.Predicted, p.Probability, p.Actual)})
	}
	return grid, nil
}

// overlayHeat blends the jet colour of heat/max(heat) half and half with img's pixels.
func overlayHeat(img *image.NRGBA, heat []float32) {
	var top float32
	for _, v := range heat {
		top = max(top, v)
	}
	if top <= 0 {
		return
	}
	w := img.Rect.Dx()
	for i, v := range heat {
		c := jet(float64(v / top))
		o := img.PixOffset(i%w, i/w)
		for k, channel := range []uint8{c.R, c.G, c.B} {
			img.Pix[o+k] = uint8((uint16(img.Pix[o+k]) + uint16(channel) + 1) / 2)
		}
	}
}

// jet is matplotlib's and OpenCV's "jet" colour map at v in [0, 1]: dark blue, cyan, yellow, dark red.
func jet(v float64) color.RGBA {
	channel := func(centre float64) uint8 {
		return uint8(255*min(max(1.5-abs(4*v-centre), 0), 1) + 0.5)
	}
	return color.RGBA{R: channel(3), G: channel(2), B: channel(1), A: 255}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// scoredCaption is "predicted: <class> (<probability>%)" and, when the true class is known, "true: <class>", in
// the colour that says whether the prediction is right.
func scoredCaption(predicted string, probability float64, actual string) []textLine {
	first := fmt.Sprintf("predicted: %s (%.1f%%)", predicted, 100*probability)
	if actual == "" {
		return []textLine{{first, textColor}}
	}
	c := wrongColor
	if predicted == actual {
		c = rightColor
	}
	return []textLine{{first, c}, {"true: " + actual, c}}
}

// shrink scales img down, bilinearly, so that its longest side is at most size; smaller images are kept.
func shrink(img image.Image, size int) image.Image {
	b := img.Bounds()
	longest := max(b.Dx(), b.Dy())
	if longest <= size {
		return img
	}
	dst := image.NewNRGBA(image.Rect(0, 0, max(1, b.Dx()*size/longest), max(1, b.Dy()*size/longest)))
	xdraw.ApproxBiLinear.Scale(dst, dst.Bounds(), img, b, xdraw.Src, nil)
	return dst
}
