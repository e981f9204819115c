// Package models is torchvision's ResNet-18 written in GoMLX: the same topology, the same state_dict keys, the
// same BatchNorm semantics, so that torchvision checkpoints load into it and give the same numbers.
//
// Its images are NHWC float32 batches [N, H, W, 3] (the data loader's layout), normalised as torchvision's
// ImageNet weights expect. Every variable of the model lives in a GoMLX model.Store under the path of its
// torchvision key, "layer2.0.downsample.1.running_var" being "/layer2/0/downsample/1/running_var".
package models

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/hymenoptera-go/tutorial/hymenoptera/models/internal/lowering"
)

// FeatureWidth is the width of the features that ResNet-18's head reads (torchvision's fc.in_features).
const FeatureWidth = 512

// stageWidths are the channel widths of ResNet-18's four stages; each stage has two BasicBlocks.
var stageWidths = [4]int{64, 128, 256, 512}

const blocksPerStage = 2

// Options configure a new ResNet-18.
type Options struct {
	// NumClasses is the width of the head (fc); 0 means ImageNet's 1000.
	NumClasses int
	// Seed drives the random initialisation (torchvision's scheme: Kaiming-normal convolutions, unit BatchNorm,
	// nn.Linear's uniform head). The same seed gives the same weights.
	Seed uint64
}

// ResNet is a ResNet-18 bound to a GoMLX backend. Like a torch.nn.Module it is in training or evaluation mode
// (Train, Eval): training mode normalises with batch statistics and updates the BatchNorm running statistics.
//
// Its methods are safe for use by one goroutine at a time.
type ResNet struct {
	backend  compute.Backend
	store    *model.Store
	ops      lowering.Ops // how the layers run on this backend, chosen by its name
	training bool

	// Classes optionally names the head's outputs (e.g. "ants", "bees"); it travels with checkpoints.
	Classes []string

	stem   convBN
	stages [4][blocksPerStage]basicBlock
	fc     linear

	mu        sync.Mutex
	execCache map[bool]*model.Exec // forward executors by training mode
}

// convBN is a bias-free convolution followed by BatchNorm, the unit ResNet is built of.
type convBN struct {
	kernel          *model.Variable
	bn              batchNorm
	stride, padding int
}

type basicBlock struct {
	conv1, conv2 convBN
	downsample   *convBN // 1×1 stride-2 projection when the block changes width or resolution
}

type linear struct {
	weight, bias *model.Variable
}

// ResNet18 builds a randomly initialised ResNet-18 (torchvision's initialisation) on backend.
// For pretrained weights, load a checkpoint with LoadStateDict or use LoadWeights.
func ResNet18(backend compute.Backend, opts Options) (*ResNet, error) {
	if opts.NumClasses == 0 {
		opts.NumClasses = 1000
	}
	if opts.NumClasses < 0 {
		return nil, fmt.Errorf("models: NumClasses must be positive, got %d", opts.NumClasses)
	}
	m := &ResNet{
		backend:   backend,
		store:     model.NewStore(),
		ops:       lowering.ForBackend(backend.String()),
		training:  true, // a new torch.nn.Module starts in training mode
		execCache: map[bool]*model.Exec{},
	}
	init := newInitializer(opts.Seed)
	var err error
	if m.stem, err = m.newConvBN(init, "", "conv1", "bn1", 3, 64, 7, 2, 3); err != nil {
		return nil, err
	}
	in := 64
	for s, width := range stageWidths {
		for b := range blocksPerStage {
			stride := 1
			if s > 0 && b == 0 {
				stride = 2
			}
			block, err := m.newBasicBlock(init, fmt.Sprintf("layer%d.%d.", s+1, b), in, width, stride)
			if err != nil {
				return nil, err
			}
			m.stages[s][b] = block
			in = width
		}
	}
	if err := m.newHead(init, opts.NumClasses); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *ResNet) newBasicBlock(init *initializer, prefix string, in, out, stride int) (basicBlock, error) {
	var block basicBlock
	var err error
	if block.conv1, err = m.newConvBN(init, prefix, "conv1", "bn1", in, out, 3, stride, 1); err != nil {
		return block, err
	}
	if block.conv2, err = m.newConvBN(init, prefix, "conv2", "bn2", out, out, 3, 1, 1); err != nil {
		return block, err
	}
	if stride != 1 || in != out {
		ds, err := m.newConvBN(init, prefix, "downsample.0", "downsample.1", in, out, 1, stride, 0)
		if err != nil {
			return block, err
		}
		block.downsample = &ds
	}
	return block, nil
}

func (m *ResNet) newConvBN(init *initializer, prefix, convName, bnName string, in, out, kernel, stride, padding int) (convBN, error) {
	c := convBN{stride: stride, padding: padding}
	var err error
	if c.kernel, err = m.newVariable(prefix+convName+".weight", init.kaimingNormalFanOut(out, in, kernel, kernel)); err != nil {
		return c, err
	}
	bn := prefix + bnName + "."
	for _, v := range []struct {
		target **model.Variable
		name   string
		value  *tensors.Tensor
	}{
		{&c.bn.weight, "weight", constant(out, 1)},
		{&c.bn.bias, "bias", constant(out, 0)},
		{&c.bn.runningMean, "running_mean", constant(out, 0)},
		{&c.bn.runningVar, "running_var", constant(out, 1)},
		{&c.bn.numBatchesTracked, "num_batches_tracked", tensors.FromScalar(int64(0))},
	} {
		if *v.target, err = m.newVariable(bn+v.name, v.value); err != nil {
			return c, err
		}
	}
	// Running statistics are buffers, not parameters: they change by the BatchNorm update, never by gradients.
	for _, buffer := range []*model.Variable{c.bn.runningMean, c.bn.runningVar, c.bn.numBatchesTracked} {
		buffer.SetTrainable(false)
	}
	return c, nil
}

// newHead creates fc for numClasses outputs, initialised like nn.Linear: weight and bias uniform in
// [−1/√fan_in, 1/√fan_in].
func (m *ResNet) newHead(init *initializer, numClasses int) error {
	bound := 1 / math.Sqrt(FeatureWidth)
	var err error
	if m.fc.weight, err = m.newVariable("fc.weight", init.uniform(bound, numClasses, FeatureWidth)); err != nil {
		return err
	}
	m.fc.bias, err = m.newVariable("fc.bias", init.uniform(bound, numClasses))
	return err
}

// ReplaceHead gives the model a new, freshly initialised fc with numClasses outputs: the tutorial's
// `model.fc = nn.Linear(num_ftrs, 2)`. The rest of the network keeps its weights.
func (m *ResNet) ReplaceHead(numClasses int, seed uint64) error {
	if numClasses <= 0 {
		return fmt.Errorf("models: the head needs a positive number of classes, got %d", numClasses)
	}
	for _, v := range []*model.Variable{m.fc.weight, m.fc.bias} {
		if err := m.store.DeleteVariable(v.Path()); err != nil {
			return fmt.Errorf("models: removing the old head: %w", err)
		}
	}
	m.Classes = nil
	m.resetExecs()
	return m.newHead(newInitializer(seed), numClasses)
}

// FCInFeatures is the width of the features fc reads (fc.in_features): 512 for ResNet-18.
func (m *ResNet) FCInFeatures() int { return m.fc.weight.Shape().Dimensions[1] }

// ReplaceFC is the tutorial's `model.fc = nn.Linear(num_ftrs, n)`: a new fc from inFeatures (which must be
// FCInFeatures) to outFeatures, initialised like nn.Linear from seed; its parameters train (requires_grad is
// True for a new module).
func (m *ResNet) ReplaceFC(inFeatures, outFeatures int, seed uint64) error {
	if inFeatures != m.FCInFeatures() {
		return fmt.Errorf("models: fc must read the backbone's %d features, not %d", m.FCInFeatures(), inFeatures)
	}
	return m.ReplaceHead(outFeatures, seed)
}

// NumClasses is the width of the head.
func (m *ResNet) NumClasses() int { return m.fc.weight.Shape().Dimensions[0] }

// Backend is the GoMLX backend the model runs on.
func (m *ResNet) Backend() compute.Backend { return m.backend }

// Store is the GoMLX store holding the model's variables, for code that builds its own graphs (training).
func (m *ResNet) Store() *model.Store { return m.store }

// Train puts the model in training mode, like torch's model.train().
func (m *ResNet) Train() { m.training = true }

// Eval puts the model in evaluation mode, like torch's model.eval().
func (m *ResNet) Eval() { m.training = false }

// Training reports whether the model is in training mode.
func (m *ResNet) Training() bool { return m.training }

// SetTraining sets the mode, like torch's model.train(mode): code that switches to evaluation for a while puts
// the caller's mode back with it.
func (m *ResNet) SetTraining(training bool) { m.training = training }

func (m *ResNet) newVariable(key string, value *tensors.Tensor) (*model.Variable, error) {
	return m.store.CreateVariable(keyToPath(key), value)
}

// keyToPath maps a torchvision state_dict key to its variable path in the store.
func keyToPath(key string) string { return "/" + strings.ReplaceAll(key, ".", "/") }

// pathToKey maps a variable path back to its torchvision key.
func pathToKey(path string) string {
	return strings.ReplaceAll(strings.TrimPrefix(path, "/"), "/", ".")
}

// BuildLogits builds the graph of the forward pass: images [N, H, W, 3] to logits [N, NumClasses], in the model's
// current mode (Train, Eval), which is read here, when the graph is built: a graph compiled in one mode stays in
// that mode, so callers keep one executor per mode (as Forward and train.Stepper do). In training mode it also
// records the BatchNorm running-statistics updates, which model.Exec applies after the call. Training code calls
// it inside its own model.Exec on m.Store().
func (m *ResNet) BuildLogits(images *graph.Node) *graph.Node {
	return m.BuildHead(m.BuildFeatures(images))
}

// BuildFeatures builds the backbone, in the model's current mode: images [N, H, W, 3] to the pooled features
// [N, FeatureWidth] that the head reads.
func (m *ResNet) BuildFeatures(images *graph.Node) *graph.Node {
	return PoolTrunk(m.BuildTrunk(images))
}

// BuildTrunk builds the network up to layer4's output, before the average pool, in the model's current mode:
// images [N, H, W, 3] to [N, H/32, W/32, FeatureWidth] (7×7 for 224×224 images). Explanations such as Grad-CAM
// read these activations.
func (m *ResNet) BuildTrunk(images *graph.Node) *graph.Node {
	training := m.training
	// [N, H, W, C] → [C, N, H, W], the layout in which the pure-Go backend multiplies the convolutions' matrices
	// without copying them (see package lowering).
	x := graph.TransposeAllAxes(images, 3, 0, 1, 2)
	x = lowering.Relu(m.stem.apply(x, training, m.ops))
	x = m.ops.MaxPool2d(x, 3, 2, 1)
	for s := range m.stages {
		for b := range m.stages[s] {
			x = m.stages[s][b].apply(x, training, m.ops)
		}
	}
	return graph.TransposeAllAxes(x, 1, 2, 3, 0)
}

// PoolTrunk is the global average pool between BuildTrunk and BuildHead (torchvision's avgpool and flatten):
// [N, h, w, C] to [N, C].
func PoolTrunk(trunk *graph.Node) *graph.Node { return graph.ReduceMean(trunk, 1, 2) }

// BuildHead builds fc: features [N, FeatureWidth] to logits [N, NumClasses].
func (m *ResNet) BuildHead(features *graph.Node) *graph.Node {
	g := features.Graph()
	logits := graph.DotGeneral(features, []int{1}, nil, m.fc.weight.NodeValue(g), []int{1}, nil)
	return graph.Add(logits, graph.ExpandAxes(m.fc.bias.NodeValue(g), 0))
}

func (c *convBN) apply(x *graph.Node, training bool, ops lowering.Ops) *graph.Node {
	if training {
		return c.bn.train(ops.Conv2d(x, c.kernel.NodeValue(x.Graph()), c.stride, c.padding), ops)
	}
	// Eval: fold BatchNorm's scale into the kernel (small at batch 32, but 11M values a pass, as many as the
	// activations at batch 4) rather than multiplying the activations; per output channel, as a PerChannel
	// operand (an implicit broadcast is the pure-Go backend's slow path: 9% of a batch-4 forward pass).
	scale, shift := c.bn.evalScaleShift(x.Graph())
	kernel := c.kernel.NodeValue(x.Graph())
	kernel = graph.Mul(kernel, ops.PerChannel(scale, kernel))
	y := ops.Conv2d(x, kernel, c.stride, c.padding)
	return graph.Add(y, ops.PerChannel(shift, y))
}

func (b *basicBlock) apply(x *graph.Node, training bool, ops lowering.Ops) *graph.Node {
	identity := x
	if b.downsample != nil {
		identity = b.downsample.apply(x, training, ops)
	}
	y := lowering.Relu(b.conv1.apply(x, training, ops))
	y = b.conv2.apply(y, training, ops)
	return lowering.Relu(graph.Add(y, identity))
}

// Forward runs the model on images [N, H, W, 3] float32 and returns the logits [N, NumClasses]. In training mode
// it normalises with batch statistics and updates the running statistics, as torch's forward does.
func (m *ResNet) Forward(images *tensors.Tensor) (logits *tensors.Tensor, err error) {
	if err := checkImages(images.Shape().Dimensions); err != nil {
		return nil, err
	}
	exec, err := m.forwardExec()
	if err != nil {
		return nil, err
	}
	defer recoverError(&err, "forward pass")
	return exec.Call1(images)
}

func checkImages(dims []int) error {
	if len(dims) != 4 || dims[3] != 3 {
		return fmt.Errorf("models: images must be a float32 batch [N, H, W, 3], got shape %v", dims)
	}
	if dims[1] < 32 || dims[2] < 32 {
		return fmt.Errorf("models: images of %d×%d are too small for ResNet-18's five halvings (at least 32×32)",
			dims[1], dims[2])
	}
	return nil
}

// forwardExec returns the forward executor of the current mode. Its graphs are built (per input shape) only
// while the model is in that mode, since Forward calls it in that mode alone.
func (m *ResNet) forwardExec() (*model.Exec, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	training := m.training
	if exec, ok := m.execCache[training]; ok {
		return exec, nil
	}
	exec, err := model.NewExec(m.backend, m.store, func(_ *model.Scope, images *graph.Node) *graph.Node {
		return m.BuildLogits(images)
	})
	if err != nil {
		return nil, fmt.Errorf("models: building the forward executor: %w", err)
	}
	m.execCache[training] = exec
	return exec, nil
}

// resetExecs drops compiled graphs, after the variables' set or shapes change.
func (m *ResNet) resetExecs() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, exec := range m.execCache {
		exec.Finalize()
	}
	m.execCache = map[bool]*model.Exec{}
}

// recoverError turns a GoMLX panic (its graph-building functions panic on errors) into an error.
func recoverError(err *error, what string) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("models: %s failed: %v", what, r)
	}
}

// initializer draws torchvision's initial values from one seeded stream.
type initializer struct{ rng *rand.Rand }

func newInitializer(seed uint64) *initializer {
	return &initializer{rng: rand.New(rand.NewPCG(seed, 0x5e5e7))}
}

// kaimingNormalFanOut is torch.nn.init.kaiming_normal_(mode="fan_out", nonlinearity="relu"), which torchvision
// uses for every ResNet convolution: N(0, 2/fan_out), fan_out = out·kh·kw.
func (i *initializer) kaimingNormalFanOut(out, in, kh, kw int) *tensors.Tensor {
	std := math.Sqrt(2 / float64(out*kh*kw))
	data := make([]float32, out*in*kh*kw)
	for j := range data {
		data[j] = float32(i.rng.NormFloat64() * std)
	}
	return tensors.FromFlatDataAndDimensions(data, out, in, kh, kw)
}

func (i *initializer) uniform(bound float64, dims ...int) *tensors.Tensor {
	n := 1
	for _, d := range dims {
		n *= d
	}
	data := make([]float32, n)
	for j := range data {
		data[j] = float32((2*i.rng.Float64() - 1) * bound)
	}
	return tensors.FromFlatDataAndDimensions(data, dims...)
}

func constant(n int, value float32) *tensors.Tensor {
	data := make([]float32, n)
	for j := range data {
		data[j] = value
	}
	return tensors.FromFlatDataAndDimensions(data, n)
}

// Parameter is one entry of the model's state, in torchvision's state_dict order.
type Parameter struct {
	Key      string // torchvision's state_dict key
	Variable *model.Variable
}

// Parameters lists every variable (parameters and BatchNorm buffers) in torchvision's state_dict order.
// Buffers (running statistics, num_batches_tracked) are the non-trainable ones.
func (m *ResNet) Parameters() []Parameter {
	var params []Parameter
	add := func(v *model.Variable) { params = append(params, Parameter{Key: pathToKey(v.Path()), Variable: v}) }
	addConvBN := func(c *convBN) {
		add(c.kernel)
		for _, v := range []*model.Variable{c.bn.weight, c.bn.bias, c.bn.runningMean, c.bn.runningVar, c.bn.numBatchesTracked} {
			add(v)
		}
	}
	addConvBN(&m.stem)
	for s := range m.stages {
		for b := range m.stages[s] {
			block := &m.stages[s][b]
			addConvBN(&block.conv1)
			addConvBN(&block.conv2)
			if block.downsample != nil {
				addConvBN(block.downsample)
			}
		}
	}
	add(m.fc.weight)
	add(m.fc.bias)
	return params
}

// FCParameters lists the head's parameters (fc.weight, fc.bias): what the fixed feature extractor's optimizer
// updates, as the tutorial's optim.SGD(model_conv.fc.parameters(), ...).
func (m *ResNet) FCParameters() []Parameter {
	var params []Parameter
	for _, p := range m.Parameters() {
		if IsHead(p.Key) {
			params = append(params, p)
		}
	}
	return params
}

// IsBuffer reports whether key names a BatchNorm buffer (running statistics or batch count) rather than a
// learnable parameter.
func IsBuffer(key string) bool {
	return strings.HasSuffix(key, ".running_mean") || strings.HasSuffix(key, ".running_var") ||
		strings.HasSuffix(key, ".num_batches_tracked")
}

// IsHead reports whether key belongs to the head (fc), the only part that trains when the network is used as a
// fixed feature extractor.
func IsHead(key string) bool { return strings.HasPrefix(key, "fc.") }

// CountParameters is the number of learnable scalars (buffers excluded), as torchvision's metadata counts them.
func (m *ResNet) CountParameters() int {
	total := 0
	for _, p := range m.Parameters() {
		if !IsBuffer(p.Key) {
			total += p.Variable.Shape().Size()
		}
	}
	return total
}
