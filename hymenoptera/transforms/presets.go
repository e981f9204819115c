package transforms

// Train is the tutorial's training pipeline at the given image size (224 in the tutorial):
// RandomResizedCrop(size), RandomHorizontalFlip(0.5), ToTensor, Normalize(ImageNet mean and std).
func Train(size int) Transform {
	return Compose(RandomResizedCrop(size), RandomHorizontalFlip(0.5), ToTensor(), Normalize(ImageNetMean, ImageNetStd))
}

// Val is the tutorial's evaluation pipeline at the given image size: Resize, CenterCrop(size), ToTensor,
// Normalize(ImageNet mean and std). Resize keeps the tutorial's 256:224 margin, so Val(224) resizes to 256; other
// sizes resize to size·256/224 rounded to the nearest pixel (Val(32) to 37), so small test pipelines crop alike.
func Val(size int) Transform {
	return Compose(Resize((size*256+112)/224), CenterCrop(size), ToTensor(), Normalize(ImageNetMean, ImageNetStd))
}
