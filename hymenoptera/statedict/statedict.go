// Package statedict reads and writes PyTorch state dicts (the name → tensor maps that torch.save writes and
// nn.Module.load_state_dict reads) and safetensors files, without PyTorch.
//
// Load reads torch's zip format (torch >= 1.6), its legacy pickle format (_use_new_zipfile_serialization=False)
// and safetensors, telling them apart by their content, not their file name, since checkpoints are named
// ".pth", ".pt", ".bin" or ".ckpt" at random. Tensors come back as flat row-major slices: floating-point tensors as
// float32 (the precision the tutorial's model uses), integer and bool tensors as int64; Tensor.DType keeps the dtype
// of the file.
//
// SavePTH writes files that torch.load reads (torch 1.13 and later) and that
// torchvision.models.resnet18(num_classes=2).load_state_dict accepts strictly: the string Metadata travels in the
// state dict's _metadata attribute, which torch keeps beside the tensors rather than as a key. SaveSafetensors keeps
// Metadata in the header's __metadata__.
//
// The package knows nothing of any model: mapping keys to model variables is the caller's job.
package statedict

//go:generate /usr/bin/python3 ../reference/statedict_fixtures.py

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"unicode/utf8"
)

// DType is a tensor's element type in the file, named as torch names it.
type DType int

// The dtypes Load reads. SavePTH and SaveSafetensors write floating-point tensors as Float32 and the others as
// Int64, the Go-side representation.
const (
	Float32 DType = iota + 1
	Float64
	Float16
	BFloat16
	Int64
	Int32
	Int16
	Int8
	Uint8
	Bool
)

var dtypeNames = map[DType]string{
	Float32: "float32", Float64: "float64", Float16: "float16", BFloat16: "bfloat16",
	Int64: "int64", Int32: "int32", Int16: "int16", Int8: "int8", Uint8: "uint8", Bool: "bool",
}

// String returns torch's name of the dtype ("float32", "int64", ...).
func (d DType) String() string {
	if name, ok := dtypeNames[d]; ok {
		return name
	}
	return fmt.Sprintf("DType(%d)", int(d))
}

// IsFloat reports whether tensors of this dtype hold their values in Tensor.Float32 (else in Tensor.Int64).
func (d DType) IsFloat() bool {
	return d == Float32 || d == Float64 || d == Float16 || d == BFloat16
}

// size returns the bytes per element in a file.
func (d DType) size() int {
	switch d {
	case Float64, Int64:
		return 8
	case Float32, Int32:
		return 4
	case Float16, BFloat16, Int16:
		return 2
	default:
		return 1
	}
}

// Tensor is one entry of a state dict: a dense, row-major array.
type Tensor struct {
	// DType is the element type in the file the tensor came from; it says which of Float32 and Int64 holds the
	// values. Tensors made to be saved use Float32 or Int64.
	DType DType
	// Shape lists the dimensions; empty for a 0-dim (scalar) tensor.
	Shape []int
	// Float32 holds the values of floating-point dtypes, converted to float32.
	Float32 []float32
	// Int64 holds the values of integer and bool dtypes, converted to int64.
	Int64 []int64
}

// check reports a tensor whose fields disagree with each other.
func (t *Tensor) check() error {
	n, err := numElements(t.Shape)
	if err != nil {
		return err
	}
	have := len(t.Int64)
	if t.DType.IsFloat() {
		have = len(t.Float32)
	}
	switch {
	case dtypeNames[t.DType] == "":
		return fmt.Errorf("unknown dtype %v", t.DType)
	case t.DType.IsFloat() && t.Int64 != nil, !t.DType.IsFloat() && t.Float32 != nil:
		return fmt.Errorf("dtype %s, but its values are in the wrong field (Float32 for floating dtypes, Int64 for the rest)", t.DType)
	case have != n:
		return fmt.Errorf("shape %v needs %d values, has %d", t.Shape, n, have)
	}
	return nil
}

// StateDict is an ordered map from names (e.g. "layer1.0.conv1.weight") to tensors.
type StateDict struct {
	// Keys lists the names in the file's order (torch's state_dict order: module registration order).
	Keys []string
	// Tensors maps every name in Keys to its tensor.
	Tensors map[string]*Tensor
	// Metadata holds free-form strings saved with the tensors (e.g. "classes" as JSON); never nil after Load.
	Metadata map[string]string
}

// New returns an empty state dict, ready for Set.
func New() *StateDict {
	return &StateDict{Tensors: map[string]*Tensor{}, Metadata: map[string]string{}}
}

// Set stores t under key, appending key to Keys when it is new, so that Keys and Tensors stay in step.
func (sd *StateDict) Set(key string, t *Tensor) {
	if sd.Tensors == nil {
		sd.Tensors = map[string]*Tensor{}
	}
	if _, exists := sd.Tensors[key]; !exists {
		sd.Keys = append(sd.Keys, key)
	}
	sd.Tensors[key] = t
}

// check reports what would make a written file disagree with sd: keys without tensors (or the reverse), duplicate
// keys, inconsistent tensors, and strings that Python could not decode.
func (sd *StateDict) check() error {
	for k, v := range sd.Metadata {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return fmt.Errorf("metadata %q: %q is not valid UTF-8", k, v)
		}
	}
	seen := make(map[string]bool, len(sd.Keys))
	for _, key := range sd.Keys {
		if seen[key] {
			return fmt.Errorf("key %q appears twice in Keys", key)
		}
		if !utf8.ValidString(key) {
			return fmt.Errorf("key %q is not valid UTF-8", key)
		}
		seen[key] = true
		t := sd.Tensors[key]
		if t == nil {
			return fmt.Errorf("key %q has no tensor", key)
		}
		if err := t.check(); err != nil {
			return fmt.Errorf("key %q: %w", key, err)
		}
	}
	if len(sd.Tensors) != len(seen) {
		for key := range sd.Tensors {
			if !seen[key] {
				return fmt.Errorf("tensor %q is missing from Keys", key)
			}
		}
	}
	return nil
}

// errNotCheckpoint is wrapped by Load's error for files in none of the formats it reads.
var errNotCheckpoint = errors.New("not a PyTorch checkpoint (zip or legacy format) nor a safetensors file")

// DefaultMaxElements is Load's budget: the elements (tensor values, and storages they are copied from) that one
// file may make it allocate. It is four times the largest torchvision ResNet (ResNet-152, 60 million parameters)
// counted twice, about 2 GB of float32 at most.
const DefaultMaxElements = 1 << 29

// maxPickleBytes bounds a zip checkpoint's data.pkl record, which holds only the state dict's structure (tens of
// kilobytes for a ResNet); a larger record, compressed to a few bytes, would only be there to exhaust memory.
const maxPickleBytes = 1 << 26

// Load reads a state dict from a torch.save file (zip or legacy format) or a safetensors file. A checkpoint that
// wraps the state dict in a dict under "state_dict" or "model" (as training scripts save them) is unwrapped; the
// rest of such a checkpoint (optimizer state, epoch, arguments) is skipped. Metadata comes from where SavePTH and
// SaveSafetensors put it, and is empty for files written elsewhere (except a safetensors __metadata__).
// Errors name the file. A file is untrusted input: its pickle runs no code, and what it makes Load allocate is
// bounded (see LoadBounded; Load's budget is DefaultMaxElements).
func Load(path string) (*StateDict, error) {
	return LoadBounded(path, DefaultMaxElements)
}

// LoadBounded is Load for a file whose tensors hold at most maxElements values in all: the caller knows the model
// the file is for and passes a small multiple of its size. Every tensor's view is checked against its storage
// (no view may hold more elements than the storage it reads, as a stride-0 expand would), and the elements to
// allocate against maxElements, before any tensor data is read; a file too large for that budget is not even
// read. So no file, however crafted, makes the process allocate more than a small multiple of maxElements values.
func LoadBounded(path string, maxElements int) (*StateDict, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("statedict: %w", err)
	}
	if limit := 8*int64(maxElements) + maxPickleBytes; info.Size() > limit {
		return nil, fmt.Errorf("statedict: %s: a file of %d bytes, larger than a checkpoint of at most %d values "+
			"can be (%d bytes)", path, info.Size(), maxElements, limit)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("statedict: %w", err)
	}
	sd, err := parse(data, maxElements)
	if err != nil {
		return nil, fmt.Errorf("statedict: %s: %w", path, err)
	}
	return sd, nil
}

// parse dispatches on the content; a panic from the pickle decoder on malformed input becomes an error.
func parse(data []byte, budget int) (sd *StateDict, err error) {
	defer func() {
		if r := recover(); r != nil {
			sd, err = nil, fmt.Errorf("malformed file: %v", r)
		}
	}()
	switch {
	case bytes.HasPrefix(data, []byte("PK\x03\x04")):
		return parseZip(data, budget)
	case len(data) > 0 && data[0] == pickleProto:
		return parseLegacy(data, budget)
	case len(data) > 512 && string(data[257:262]) == "ustar":
		return nil, errors.New("an early PyTorch tar-format checkpoint, unsupported: load it with torch and save it again")
	case looksLikeSafetensors(data):
		return parseSafetensors(data, budget)
	}
	head := data[:min(len(data), 16)]
	return nil, fmt.Errorf("%w (%d bytes, starting %q)", errNotCheckpoint, len(data), head)
}

// looksLikeSafetensors checks the start of the safetensors framing: 8 bytes of header size, then a JSON object.
func looksLikeSafetensors(data []byte) bool {
	return len(data) > 8 && data[8] == '{'
}
