// Package dataloader is torch.utils.data.DataLoader for image datasets: it decodes and transforms samples on
// parallel goroutines, prefetching batches while the model computes, caches decoded images across epochs (after
// the transform's deterministic steps: validation images resized and cropped), and hands out batches in the
// model's layout, NHWC float32.
//
//	loader := dataloader.New(ds, transforms.Train(224), dataloader.Options{BatchSize: 4, Shuffle: true, Seed: 1})
//	for batch, err := range loader.Epoch(ctx, epoch) {
//		if err != nil { ... }
//		// batch.Images: batch.N×batch.H×batch.W×3 float32; batch.Labels
//	}
//
// Results depend only on the seed, the epoch and the dataset, never on the number of workers or on scheduling:
// the order of an epoch comes from (seed, epoch), and each sample's random transforms draw from a stream of its
// own, (seed, epoch, index) (see transforms.NewRand).
package dataloader

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/hymenoptera-go/tutorial/hymenoptera/transforms"
)

// Dataset is what a Loader reads: indexed samples that decode to 8-bit RGB images, with integer labels.
// datasets.ImageFolder is one. Load is called from several goroutines at once.
type Dataset interface {
	Len() int
	Label(i int) int
	Load(i int) (*transforms.Image, error)
}

// DefaultCacheBytes bounds the decoded-image cache when Options.CacheBytes is 0: the tutorial's 244 training
// images take about 140 MB decoded, its 153 validation images 23 MB once resized and cropped.
const DefaultCacheBytes = 2 << 30

// Options configure a Loader. The zero value of each field picks its default.
type Options struct {
	// BatchSize is the number of samples per batch (default 1, as torch's DataLoader).
	BatchSize int
	// Shuffle visits the samples in a new random order each epoch, drawn from (Seed, epoch).
	Shuffle bool
	// Seed seeds the shuffling and the random transforms: the same seed gives the same epochs.
	Seed int64
	// DropLast leaves out the last batch when it is short. By default it is kept, so that every sample is seen
	// once per epoch (the tutorial's 153 validation images make 38 batches of 4 and one of 1); with XLA this
	// costs one more compilation, for the short batch's shape.
	DropLast bool
	// Workers is the number of goroutines decoding and transforming samples (default runtime.NumCPU()).
	Workers int
	// Prefetch is the number of batches prepared ahead of the consumer (default: enough to keep every worker
	// busy, plus 2).
	Prefetch int
	// CacheBytes bounds the memory of decoded images kept across epochs, so that each file is decoded once per
	// run and random crops are taken from the cached image each epoch. What is cached is the image after the
	// transform's leading deterministic steps (transforms.SplitDeterministic): the decoded image for the
	// training pipeline, the resized and cropped one for the validation pipeline. 0 means DefaultCacheBytes;
	// negative disables the cache. When the images do not all fit, the first ones decoded stay and the others
	// are decoded every epoch (with random access, evicting would only trade one miss for another).
	CacheBytes int64
}

// Batch is a batch of transformed samples in the model's layout.
type Batch struct {
	Images  []float32 // N*H*W*3 row-major NHWC (channels last)
	N, H, W int
	Labels  []int // Labels[i] is the label of image i
	Indices []int // Indices[i] is the dataset index of image i

	buffers *bufferPool // where Release returns Images
}

// Release hands the batch's image memory back to its loader, which fills it again for a later batch instead of
// allocating (and zeroing) megabytes per batch: about a sixth of an epoch's time once the images are cached.
// Call it when done with Images, or never; the batch must not be used after it.
func (b *Batch) Release() {
	if b.buffers != nil && b.Images != nil {
		b.buffers.put(b.Images)
	}
	b.Images = nil
}

// bufferPool recycles the image memory of released batches.
type bufferPool struct{ pool sync.Pool }

// get returns a slice of n float32, recycled when possible. Its content is arbitrary: every slot of a batch is
// written before the batch is handed out.
func (p *bufferPool) get(n int) []float32 {
	if recycled, ok := p.pool.Get().(*[]float32); ok && cap(*recycled) >= n {
		return (*recycled)[:n]
	}
	return make([]float32, n)
}

func (p *bufferPool) put(images []float32) { p.pool.Put(&images) }

// Loader iterates over a dataset in batches. Its methods may be called from several goroutines.
type Loader struct {
	ds Dataset
	// prefix is the transform's leading deterministic steps, applied once before an image is cached (nil: none),
	// and tf the rest, applied to every sample of every epoch.
	prefix, tf transforms.Transform
	opts       Options
	cache      *imageCache
	// shape is the height<<32 | width of the last tensor the transform made: batches are allocated with it
	// beforehand, so that samples are written into them directly.
	shape atomic.Uint64
	// buffers recycles the image memory of released batches.
	buffers *bufferPool
}

// New returns a loader of ds, each sample transformed by tf, which must end with a tensor (ToTensor) of the same
// size for every sample. Invalid options are reported by Epoch.
func New(ds Dataset, tf transforms.Transform, opts Options) *Loader {
	if opts.BatchSize == 0 {
		opts.BatchSize = 1
	}
	if opts.Workers == 0 {
		opts.Workers = runtime.NumCPU()
	}
	if opts.Prefetch == 0 {
		opts.Prefetch = (opts.Workers+opts.BatchSize-1)/max(opts.BatchSize, 1) + 2
	}
	if opts.CacheBytes == 0 {
		opts.CacheBytes = DefaultCacheBytes
	}
	prefix, rest := transforms.SplitDeterministic(tf)
	return &Loader{ds: ds, prefix: prefix, tf: rest, opts: opts, cache: newImageCache(opts.CacheBytes),
		buffers: &bufferPool{}}
}

// DatasetLen is the number of samples in the dataset.
func (l *Loader) DatasetLen() int { return l.ds.Len() }

// Len is the number of batches per epoch.
func (l *Loader) Len() int {
	n, bs := l.ds.Len(), max(l.opts.BatchSize, 1)
	if l.opts.DropLast {
		return n / bs
	}
	return (n + bs - 1) / bs
}

func (l *Loader) validate() error {
	switch {
	case l.ds == nil || l.tf == nil:
		return errors.New("dataloader: New needs a dataset and a transform")
	case l.opts.BatchSize < 1:
		return fmt.Errorf("dataloader: BatchSize %d: must be positive", l.opts.BatchSize)
	case l.opts.Workers < 1:
		return fmt.Errorf("dataloader: Workers %d: must be positive", l.opts.Workers)
	case l.opts.Prefetch < 1:
		return fmt.Errorf("dataloader: Prefetch %d: must be positive", l.opts.Prefetch)
	}
	return nil
}

// order returns the dataset indices in the order epoch visits them.
func (l *Loader) order(epoch int) []int {
	n := l.ds.Len()
	if !l.opts.Shuffle {
		order := make([]int, n)
		for i := range order {
			order[i] = i
		}
		return order
	}
	return rand.New(rand.NewPCG(uint64(l.opts.Seed), uint64(epoch)^0x5851f42d4c957f2d)).Perm(n)
}

// Epoch returns the batches of one epoch, in order. Iteration stops at the first error (a file that fails to
// decode, a transform that fails, the context's cancellation), which is yielded with an empty batch. Stopping
// early (break) stops the workers: no goroutine outlives the loop. Each Batch is newly allocated: keep it as
// long as needed.
func (l *Loader) Epoch(ctx context.Context, epoch int) iter.Seq2[Batch, error] {
	return func(yield func(Batch, error) bool) {
		if err := l.validate(); err != nil {
			yield(Batch{}, err)
			return
		}
		r := l.startEpoch(ctx, epoch)
		defer r.stop()
		for b := range r.batches {
			batch, err := r.wait(b)
			if err != nil {
				yield(Batch{}, err)
				return
			}
			if !yield(batch, nil) {
				return
			}
		}
	}
}

// pendingBatch is a batch being filled by the workers.
type pendingBatch struct {
	indices []int
	done    chan struct{} // closed when every sample is in, or one failed

	mu        sync.Mutex
	remaining int // samples not finished
	images    []float32
	buffers   *bufferPool
	// h and w are the size of the images: guessed (from the loader's previous samples) when the batch is
	// allocated before its first sample arrives, fixed by the first sample that arrives.
	h, w    int
	fixed   bool
	err     error
	doneSet bool
}

// slot returns the memory of image slot when the batch has (or can now be given, from the size of the previous
// samples) its images, else nil.
func (p *pendingBatch) slot(slot int, shape uint64) []float32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.images == nil && shape != 0 {
		p.h, p.w = int(shape>>32), int(shape&(1<<32-1))
		p.images = p.buffers.get(len(p.indices) * p.h * p.w * 3)
	}
	if p.images == nil {
		return nil
	}
	size := p.h * p.w * 3
	return p.images[slot*size : (slot+1)*size]
}

// store puts tensor t into slot, unless the transform wrote it there already.
func (p *pendingBatch) store(slot int, t *transforms.Tensor, idx int) error {
	p.mu.Lock()
	if !p.fixed && (p.images == nil || t.H != p.h || t.W != p.w) {
		p.h, p.w = t.H, t.W
		p.images = p.buffers.get(len(p.indices) * t.H * t.W * 3)
	}
	p.fixed = true
	h, w, images := p.h, p.w, p.images
	p.mu.Unlock()
	if t.H != h || t.W != w {
		return fmt.Errorf("dataloader: sample %d is %d×%d, others in its batch %d×%d: the transform must give "+
			"one size (end it with a crop to a fixed size)", idx, t.W, t.H, w, h)
	}
	size := h * w * 3
	if dst := images[slot*size : (slot+1)*size]; &dst[0] != &t.Data[0] {
		copy(dst, t.Data)
	}
	return nil
}

// finish records one sample's outcome, closing done after the last one or at the first error.
func (p *pendingBatch) finish(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil && p.err == nil {
		p.err = err
	}
	p.remaining--
	if (p.remaining == 0 || p.err != nil) && !p.doneSet {
		p.doneSet = true
		close(p.done)
	}
}

// epochRun is one epoch's producer, workers and batches.
type epochRun struct {
	l       *Loader
	epoch   int
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	window  chan struct{} // one token per batch in flight, bounding the prefetch
	batches []*pendingBatch
}

type job struct {
	batch *pendingBatch
	slot  int
}

func (l *Loader) startEpoch(parent context.Context, epoch int) *epochRun {
	ctx, cancel := context.WithCancel(parent)
	r := &epochRun{l: l, epoch: epoch, ctx: ctx, cancel: cancel, window: make(chan struct{}, l.opts.Prefetch)}
	order := l.order(epoch)
	bs := l.opts.BatchSize
	r.batches = make([]*pendingBatch, l.Len())
	for b := range r.batches {
		indices := order[b*bs : min((b+1)*bs, len(order))]
		r.batches[b] = &pendingBatch{indices: indices, remaining: len(indices), done: make(chan struct{}),
			buffers: l.buffers}
	}
	jobs := make(chan job)
	r.wg.Go(func() {
		defer close(jobs)
		for _, p := range r.batches {
			select {
			case r.window <- struct{}{}:
			case <-ctx.Done():
				return
			}
			for slot := range p.indices {
				select {
				case jobs <- job{p, slot}:
				case <-ctx.Done():
					return
				}
			}
		}
	})
	for range l.opts.Workers {
		r.wg.Go(func() {
			for j := range jobs {
				if ctx.Err() == nil {
					j.batch.finish(r.process(j.batch, j.slot))
				}
			}
		})
	}
	return r
}

// wait returns batch b once it is complete, releasing its prefetch slot.
func (r *epochRun) wait(b int) (Batch, error) {
	p := r.batches[b]
	select {
	case <-p.done:
	case <-r.ctx.Done():
		return Batch{}, r.ctx.Err()
	}
	r.batches[b] = nil // the consumer owns it now
	<-r.window
	if p.err != nil {
		return Batch{}, p.err
	}
	batch := Batch{Images: p.images, N: len(p.indices), H: p.h, W: p.w, Indices: p.indices,
		Labels: make([]int, len(p.indices)), buffers: p.buffers}
	for i, idx := range p.indices {
		batch.Labels[i] = r.l.ds.Label(idx)
	}
	return batch, nil
}

// stop cancels the epoch and waits for its goroutines.
func (r *epochRun) stop() {
	r.cancel()
	r.wg.Wait()
}

// process loads, transforms and stores the sample in slot of batch p.
func (r *epochRun) process(p *pendingBatch, slot int) error {
	idx := p.indices[slot]
	img, err := r.l.image(idx)
	if err != nil {
		return fmt.Errorf("dataloader: sample %d: %w", idx, err)
	}
	dst := p.slot(slot, r.l.shape.Load())
	out, err := transforms.ApplyInto(r.l.tf, img, transforms.NewRand(r.l.opts.Seed, r.epoch, idx), dst)
	if err != nil {
		return fmt.Errorf("dataloader: sample %d: %w", idx, err)
	}
	t, ok := out.(*transforms.Tensor)
	if !ok || t.C != 3 || len(t.Data) == 0 {
		return fmt.Errorf("dataloader: the transform must end with an RGB tensor (ToTensor), it gave %T", out)
	}
	r.l.shape.Store(uint64(t.H)<<32 | uint64(t.W))
	return p.store(slot, t, idx)
}

// image returns the decoded image of sample idx after the transform's deterministic prefix, from the cache when
// it is there.
func (l *Loader) image(idx int) (*transforms.Image, error) {
	if img := l.cache.get(idx); img != nil {
		return img, nil
	}
	img, err := l.ds.Load(idx)
	if err != nil {
		return nil, err
	}
	if l.prefix != nil {
		v, err := l.prefix.Apply(img, nil)
		if err != nil {
			return nil, err
		}
		if img, _ = v.(*transforms.Image); img == nil {
			return nil, fmt.Errorf("%s gave %T, not an image", l.prefix, v)
		}
	}
	l.cache.add(idx, img)
	return img, nil
}

// imageCache keeps decoded images up to a memory bound, first come first kept.
type imageCache struct {
	mu     sync.Mutex
	images map[int]*transforms.Image
	bytes  int64
	limit  int64
}

func newImageCache(limit int64) *imageCache {
	return &imageCache{images: map[int]*transforms.Image{}, limit: limit}
}

func (c *imageCache) get(idx int) *transforms.Image {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.images[idx]
}

func (c *imageCache) add(idx int, img *transforms.Image) {
	size := int64(len(img.Pix))
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.images[idx]; ok || c.bytes+size > c.limit {
		return
	}
	c.images[idx] = img
	c.bytes += size
}
