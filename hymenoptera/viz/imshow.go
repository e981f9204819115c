package viz

import (
	"fmt"
	"image"

	"github.com/hymenoptera-go/tutorial/hymenoptera/transforms"
)

// Unnormalized turns a tensor normalised with ImageNet's mean and standard deviation (what the transforms feed
// the model) back into an image: x·std + mean, clipped to [0, 1], as the tutorial's imshow does.
func Unnormalized(t *transforms.Tensor) (*image.NRGBA, error) {
	if t == nil {
		return nil, fmt.Errorf("viz: no image tensor")
	}
	if t.C != 3 {
		return nil, fmt.Errorf("viz: a %d×%d tensor with %d channels is not an RGB image", t.H, t.W, t.C)
	}
	img, err := transforms.Unnormalize(t.Data, t.W, t.H, transforms.ImageNetMean, transforms.ImageNetStd)
	if err != nil {
		return nil, fmt.Errorf("viz: %w", err)
	}
	return img, nil
}

// ToImage turns an image tensor of values in [0, 1] (channels last, RGB) into an 8-bit image, as matplotlib's
// imshow draws floats; values outside [0, 1] are clipped.
func ToImage(t *transforms.Tensor) (*image.NRGBA, error) {
	if t == nil || t.C != 3 {
		return nil, fmt.Errorf("viz: ToImage needs an RGB image tensor")
	}
	img, err := transforms.Unnormalize(t.Data, t.W, t.H, [3]float32{0, 0, 0}, [3]float32{1, 1, 1})
	if err != nil {
		return nil, fmt.Errorf("viz: %w", err)
	}
	return img, nil
}

// ImageFigure is an image under a title, as matplotlib's imshow and title show it. It saves as
// <title>.png ("image.png" without a title).
func ImageFigure(img image.Image, title string) Figure {
	return &panelGrid{name: fileName(title, "image"), title: title, panels: []panel{{image: shrink(img, imageFigureSize)}},
		cols: 1}
}

// imageFigureSize is the longest side, in pixels, of an ImageFigure: the tutorial's grid of four 224×224 crops is
// shown 640 wide.
const imageFigureSize = 640

// Imshow is the tutorial's imshow: it un-normalises t (one image, or a grid from MakeGrid) and shows it under
// title with the Default display.
func Imshow(t *transforms.Tensor, title string) error {
	img, err := Unnormalized(t)
	if err != nil {
		return err
	}
	return Show(ImageFigure(img, title))
}
