package dataloader_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hymenoptera-go/tutorial/hymenoptera/dataloader"
	"github.com/hymenoptera-go/tutorial/hymenoptera/transforms"
)

// fakeDataset has n images of varied sizes, pixel values derived from the index, and counts its loads.
type fakeDataset struct {
	n      int
	loads  []atomic.Int32
	broken int // index whose Load fails; -1 for none
	delay  time.Duration
}

func newFake(n int) *fakeDataset {
	return &fakeDataset{n: n, loads: make([]atomic.Int32, n), broken: -1}
}

func (d *fakeDataset) Len() int        { return d.n }
func (d *fakeDataset) Label(i int) int { return i % 3 }
func (d *fakeDataset) Load(i int) (*transforms.Image, error) {
	d.loads[i].Add(1)
	time.Sleep(d.delay)
	if i == d.broken {
		return nil, fmt.Errorf("sample %d.jpg is broken", i)
	}
	img := transforms.NewImage(20+i%7, 17+i%5)
	for j := range img.Pix {
		img.Pix[j] = uint8(i*31 + j)
	}
	return img, nil
}

func collect(t *testing.T, l *dataloader.Loader, epoch int) []dataloader.Batch {
	t.Helper()
	var batches []dataloader.Batch
	for b, err := range l.Epoch(context.Background(), epoch) {
		if err != nil {
			t.Fatal(err)
		}
		batches = append(batches, b)
	}
	return batches
}

func TestEverySampleOncePerEpoch(t *testing.T) {
	for _, c := range []struct {
		n, batch int
		dropLast bool
		want     []int // batch sizes
	}{
		{153, 4, false, append(slices.Repeat([]int{4}, 38), 1)},
		{153, 4, true, slices.Repeat([]int{4}, 38)},
		{12, 4, false, []int{4, 4, 4}},
		{3, 5, false, []int{3}},
		{3, 5, true, nil},
	} {
		for _, shuffle := range []bool{false, true} {
			name := fmt.Sprintf("n=%d,batch=%d,dropLast=%v,shuffle=%v", c.n, c.batch, c.dropLast, shuffle)
			t.Run(name, func(t *testing.T) {
				ds := newFake(c.n)
				l := dataloader.New(ds, transforms.Compose(transforms.CenterCrop(8), transforms.ToTensor()),
					dataloader.Options{BatchSize: c.batch, Shuffle: shuffle, Seed: 7, DropLast: c.dropLast, Workers: 3})
				if l.Len() != len(c.want) || l.DatasetLen() != c.n {
					t.Errorf("Len %d, DatasetLen %d; want %d, %d", l.Len(), l.DatasetLen(), len(c.want), c.n)
				}
				seen := map[int]int{}
				var sizes []int
				for _, b := range collect(t, l, 0) {
					sizes = append(sizes, b.N)
					if b.H != 8 || b.W != 8 || len(b.Images) != b.N*8*8*3 || len(b.Labels) != b.N || len(b.Indices) != b.N {
						t.Fatalf("batch of %d: %d×%d, %d values, %d labels, %d indices", b.N, b.H, b.W, len(b.Images),
							len(b.Labels), len(b.Indices))
					}
					for i, idx := range b.Indices {
						seen[idx]++
						if b.Labels[i] != ds.Label(idx) {
							t.Errorf("sample %d labelled %d, want %d", idx, b.Labels[i], ds.Label(idx))
						}
					}
				}
				if !slices.Equal(sizes, c.want) {
					t.Errorf("batch sizes %v, want %v", sizes, c.want)
				}
				wantSeen := c.n
				if c.dropLast {
					wantSeen = c.n / c.batch * c.batch
				}
				if len(seen) != wantSeen {
					t.Errorf("%d distinct samples, want %d", len(seen), wantSeen)
				}
				for idx, k := range seen {
					if k != 1 {
						t.Errorf("sample %d seen %d times", idx, k)
					}
				}
			})
		}
	}
}

// TestBatchesHoldTheTransformedSamples checks the NHWC layout: image i of a batch is the transform's tensor of
// sample Indices[i], drawn from the sample's own stream.
func TestBatchesHoldTheTransformedSamples(t *testing.T) {
	ds := newFake(10)
	tf := transforms.Train(9)
	l := dataloader.New(ds, tf, dataloader.Options{BatchSize: 4, Shuffle: true, Seed: 3, Workers: 2})
	for _, b := range collect(t, l, 5) {
		size := b.H * b.W * 3
		for i, idx := range b.Indices {
			img, _ := ds.Load(idx)
			want, err := tf.Apply(img, transforms.NewRand(3, 5, idx))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(b.Images[i*size:(i+1)*size], want.(*transforms.Tensor).Data) {
				t.Errorf("image %d of the batch is not sample %d transformed", i, idx)
			}
		}
	}
}

func TestDeterministicWhateverTheWorkers(t *testing.T) {
	run := func(workers, epoch int, seed int64) []dataloader.Batch {
		l := dataloader.New(newFake(23), transforms.Train(11), dataloader.Options{BatchSize: 5, Shuffle: true,
			Seed: seed, Workers: workers})
		return collect(t, l, epoch)
	}
	same := func(a, b []dataloader.Batch) bool {
		return slices.EqualFunc(a, b, func(x, y dataloader.Batch) bool {
			return slices.Equal(x.Indices, y.Indices) && slices.Equal(x.Images, y.Images)
		})
	}
	reference := run(1, 2, 42)
	for _, workers := range []int{2, 8} {
		if !same(reference, run(workers, 2, 42)) {
			t.Errorf("%d workers give other batches than 1 worker", workers)
		}
	}
	if same(reference, run(1, 3, 42)) {
		t.Error("epochs 2 and 3 are the same")
	}
	if same(reference, run(1, 2, 43)) {
		t.Error("seeds 42 and 43 give the same epoch")
	}
}

func TestDecodedImagesAreCached(t *testing.T) {
	ds := newFake(9)
	l := dataloader.New(ds, transforms.Train(8), dataloader.Options{BatchSize: 2, Shuffle: true, Seed: 1})
	for epoch := range 3 {
		collect(t, l, epoch)
	}
	for i := range ds.loads {
		if n := ds.loads[i].Load(); n != 1 {
			t.Errorf("sample %d decoded %d times in 3 epochs", i, n)
		}
	}
	// A cache too small for any image decodes every epoch.
	ds = newFake(9)
	l = dataloader.New(ds, transforms.Train(8), dataloader.Options{BatchSize: 2, CacheBytes: 100})
	for epoch := range 3 {
		collect(t, l, epoch)
	}
	for i := range ds.loads {
		if n := ds.loads[i].Load(); n != 3 {
			t.Errorf("uncached sample %d decoded %d times in 3 epochs", i, n)
		}
	}
}

// goroutinesSettle waits for the number of goroutines to come back to at most n.
func goroutinesSettle(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines left, %d before:\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestStoppingEarlyLeaksNoGoroutine(t *testing.T) {
	before := runtime.NumGoroutine()
	ds := newFake(200)
	ds.delay = time.Millisecond
	l := dataloader.New(ds, transforms.Train(8), dataloader.Options{BatchSize: 4, Workers: 6})
	n := 0
	for _, err := range l.Epoch(context.Background(), 0) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 3 {
			break
		}
	}
	goroutinesSettle(t, before)
	loaded := 0
	for i := range ds.loads {
		loaded += int(ds.loads[i].Load())
	}
	if loaded > 100 {
		t.Errorf("%d of 200 samples decoded for 3 batches of 4: prefetching is not bounded", loaded)
	}
}

func TestCancellation(t *testing.T) {
	before := runtime.NumGoroutine()
	ds := newFake(100)
	ds.delay = 2 * time.Millisecond
	l := dataloader.New(ds, transforms.Train(8), dataloader.Options{BatchSize: 2, Workers: 2})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got error
	n := 0
	for _, err := range l.Epoch(ctx, 0) {
		if err != nil {
			got = err
			break
		}
		if n++; n == 2 {
			cancel()
		}
	}
	if !errors.Is(got, context.Canceled) {
		t.Errorf("after cancelling: %v after %d batches, want context.Canceled", got, n)
	}
	goroutinesSettle(t, before)
}

func TestErrorsStopTheEpoch(t *testing.T) {
	ds := newFake(30)
	ds.broken = 13
	l := dataloader.New(ds, transforms.Train(8), dataloader.Options{BatchSize: 4, Workers: 3})
	var errs []error
	batches := 0
	for b, err := range l.Epoch(context.Background(), 0) {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		batches++
		if slices.Contains(b.Indices, 13) {
			t.Error("a batch holds the broken sample")
		}
	}
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "13.jpg") || batches != 3 {
		t.Errorf("errors %v after %d batches; want one error naming 13.jpg after 3 batches", errs, batches)
	}

	for name, tf := range map[string]transforms.Transform{
		"no tensor":   transforms.CenterCrop(4),
		"mixed sizes": transforms.Compose(transforms.Resize(5), transforms.ToTensor()),
	} {
		l := dataloader.New(newFake(8), tf, dataloader.Options{BatchSize: 8})
		for _, err := range l.Epoch(context.Background(), 0) {
			if err == nil {
				t.Errorf("%s: no error", name)
			}
		}
	}
	for _, opts := range []dataloader.Options{{BatchSize: -1}, {Workers: -2}, {Prefetch: -1}} {
		for _, err := range dataloader.New(newFake(8), transforms.Train(8), opts).Epoch(context.Background(), 0) {
			if err == nil {
				t.Errorf("options %+v: no error", opts)
			}
		}
	}
}

// TestBatchesOfVaryingSizes: a transform whose output size varies is fine with batches of one, each batch having
// its sample's size (the loader allocates batches from the previous sample's size, and must notice when that
// guess is wrong).
func TestBatchesOfVaryingSizes(t *testing.T) {
	ds := newFake(15)
	tf := transforms.Compose(transforms.Resize(6), transforms.ToTensor())
	l := dataloader.New(ds, tf, dataloader.Options{BatchSize: 1, Workers: 3})
	for _, b := range collect(t, l, 0) {
		img, _ := ds.Load(b.Indices[0])
		want, _ := tf.Apply(img, nil)
		w := want.(*transforms.Tensor)
		if b.H != w.H || b.W != w.W || !slices.Equal(b.Images, w.Data) {
			t.Errorf("sample %d: batch %d×%d, want its own %d×%d tensor", b.Indices[0], b.W, b.H, w.W, w.H)
		}
	}
}

// TestConcurrentEpochs runs the epochs of two loaders sharing a dataset at once, as a training loop that
// evaluates while training would; the race detector checks the cache and the batch assembly.
func TestConcurrentEpochs(t *testing.T) {
	ds := newFake(40)
	var wg sync.WaitGroup
	for seed := range 2 {
		l := dataloader.New(ds, transforms.Train(8), dataloader.Options{BatchSize: 3, Shuffle: true, Seed: int64(seed)})
		wg.Go(func() {
			for epoch := range 3 {
				for _, err := range l.Epoch(context.Background(), epoch) {
					if err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
}

// TestReleasedMemoryIsRefilled: batches whose memory was released and recycled hold exactly what fresh ones do,
// and Release empties the batch it is called on.
func TestReleasedMemoryIsRefilled(t *testing.T) {
	opts := dataloader.Options{BatchSize: 3, Shuffle: true, Seed: 7, Workers: 2}
	want := collect(t, dataloader.New(newFake(17), transforms.Train(9), opts), 4)
	l := dataloader.New(newFake(17), transforms.Train(9), opts)
	for epoch := range 2 { // the second epoch runs on recycled memory
		i := 0
		for b, err := range l.Epoch(context.Background(), 4) {
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(b.Indices, want[i].Indices) || !slices.Equal(b.Images, want[i].Images) {
				t.Fatalf("pass %d, batch %d differs from a loader that never recycles", epoch, i)
			}
			b.Release()
			if b.Images != nil {
				t.Fatal("Release left the images in the batch")
			}
			i++
		}
	}
}

func TestValidationImagesAreCachedResizedAndCropped(t *testing.T) {
	epochs := func(ds *fakeDataset, cacheBytes int64) [][]float32 {
		l := dataloader.New(ds, transforms.Val(8), dataloader.Options{BatchSize: 4, CacheBytes: cacheBytes})
		var images [][]float32
		for epoch := range 3 {
			for _, b := range collect(t, l, epoch) {
				images = append(images, b.Images)
			}
		}
		return images
	}
	cachedDS, uncachedDS := newFake(9), newFake(9)
	// 9 crops of 8×8 fit in 9·192 bytes; the decoded images (at least 20×17) would not.
	cached, uncached := epochs(cachedDS, 9*8*8*3), epochs(uncachedDS, -1)
	for i := range cachedDS.loads {
		if n := cachedDS.loads[i].Load(); n != 1 {
			t.Errorf("sample %d decoded %d times in 3 epochs, want once", i, n)
		}
	}
	if !slices.EqualFunc(cached, uncached, slices.Equal) {
		t.Error("batches from the cached crops differ from batches transformed from the decoded images")
	}
}
