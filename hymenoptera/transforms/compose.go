package transforms

import (
	"fmt"
	"strings"
)

// Transform is one step of a pipeline, as a torchvision transform is: it maps an *Image or a *Tensor to an *Image
// or a *Tensor. Random transforms draw from rng; the others ignore it. A transform never modifies its input.
type Transform interface {
	Apply(v Value, rng Source) (Value, error)
	// String describes the transform as torchvision's repr does, e.g. "Resize(size=256)".
	String() string
}

// Compose chains transforms, as torchvision's transforms.Compose does.
func Compose(steps ...Transform) Transform { return compose(steps) }

type compose []Transform

func (c compose) Apply(v Value, rng Source) (Value, error) { return c.applyInto(v, rng, nil) }

// ApplyInto is tf.Apply(v, rng), except that a pipeline ending with ToTensor (and Normalize) writes its tensor
// into dst when dst has exactly the tensor's size, sparing an allocation and a copy: the tensor's Data is dst then.
// The data loader has each sample written into its batch this way.
func ApplyInto(tf Transform, v Value, rng Source, dst []float32) (Value, error) {
	if c, ok := tf.(compose); ok {
		return c.applyInto(v, rng, dst)
	}
	return tf.Apply(v, rng)
}

func (c compose) applyInto(v Value, rng Source, dst []float32) (Value, error) {
	for i := 0; i < len(c); i++ {
		var err error
		// Pairs of steps that are cheaper together, with the same result.
		if n, ok := normalizeAfterToTensor(c, i); ok {
			// One pass, one tensor, the same float32 arithmetic.
			v, err = n.fromImage(v, finalOnly(dst, i+2 == len(c)))
			i++
		} else if t, ok := c[i].(toTensor); ok {
			v, err = t.into(v, finalOnly(dst, i+1 == len(c)))
		} else if crop, ok := centerCropAfterResize(c, i); ok {
			// Only the pixels that the crop keeps are resampled.
			v, err = crop.afterResize(c[i].(resize), v)
			i++
		} else {
			v, err = c[i].Apply(v, rng)
		}
		if err != nil {
			return nil, err
		}
	}
	return v, nil
}

// finalOnly returns dst for the steps that end the pipeline, nil for the others.
func finalOnly(dst []float32, final bool) []float32 {
	if final {
		return dst
	}
	return nil
}

// centerCropAfterResize returns the CenterCrop that follows a Resize at step i.
func centerCropAfterResize(steps []Transform, i int) (centerCrop, bool) {
	if _, ok := steps[i].(resize); !ok || i+1 == len(steps) {
		return 0, false
	}
	c, ok := steps[i+1].(centerCrop)
	return c, ok
}

// normalizeAfterToTensor returns the Normalize that follows a ToTensor at step i.
func normalizeAfterToTensor(steps []Transform, i int) (normalize, bool) {
	if _, ok := steps[i].(toTensor); !ok || i+1 == len(steps) {
		return normalize{}, false
	}
	n, ok := steps[i+1].(normalize)
	return n, ok
}

// SplitDeterministic splits a pipeline into its leading steps that draw no random numbers and map an image to an
// image (Resize, CenterCrop), and the steps after them: rest.Apply(prefix.Apply(v, nil), rng) is tf.Apply(v, rng).
// The data loader caches prefix's output across epochs instead of the decoded image, so that the tutorial's
// validation images are kept as 224×224 crops (23 MB instead of 103 MB) and not resized again every epoch.
// prefix is nil when tf does not start with such a step (the training pipeline starts with a random crop).
func SplitDeterministic(tf Transform) (prefix, rest Transform) {
	c, ok := tf.(compose)
	if !ok {
		return nil, tf
	}
	n := 0
	for n < len(c) && isDeterministicImageStep(c[n]) {
		n++
	}
	if n == 0 {
		return nil, tf
	}
	return c[:n:n], c[n:]
}

// isDeterministicImageStep reports whether a step maps an *Image to an *Image without drawing from its Source.
func isDeterministicImageStep(t Transform) bool {
	switch t.(type) {
	case resize, centerCrop:
		return true
	}
	return false
}

func (c compose) String() string {
	var b strings.Builder
	b.WriteString("Compose(\n")
	for _, step := range c {
		fmt.Fprintf(&b, "    %s\n", step)
	}
	b.WriteString(")")
	return b.String()
}
