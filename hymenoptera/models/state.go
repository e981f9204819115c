package models

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/hymenoptera-go/tutorial/hymenoptera/statedict"
)

// ClassesMetadataKey is the checkpoint metadata entry that carries the head's class names, as a JSON list.
const ClassesMetadataKey = "classes"

// StateDict copies the model's variables into a torchvision-compatible state dict (torch's key order), with the
// class names, if known, in its metadata.
func (m *ResNet) StateDict() (*statedict.StateDict, error) {
	sd := statedict.New()
	for _, p := range m.Parameters() {
		value, err := p.Variable.Value()
		if err != nil {
			return nil, fmt.Errorf("models: reading %s: %w", p.Key, err)
		}
		t := &statedict.Tensor{Shape: slices.Clone(value.Shape().Dimensions)}
		if value.DType() == dtypes.Int64 {
			t.DType = statedict.Int64
			t.Int64, err = tensors.CopyFlatData[int64](value)
		} else {
			t.DType = statedict.Float32
			t.Float32, err = tensors.CopyFlatData[float32](value)
		}
		if err != nil {
			return nil, fmt.Errorf("models: reading %s: %w", p.Key, err)
		}
		sd.Set(p.Key, t)
	}
	if len(m.Classes) > 0 {
		names, err := json.Marshal(m.Classes)
		if err != nil {
			return nil, err
		}
		sd.Metadata[ClassesMetadataKey] = string(names)
	}
	return sd, nil
}

// LoadStateDict loads a torchvision ResNet-18 state dict into the model, strictly: every key must be present
// with its exact shape and no key may be left over. The head takes the checkpoint's size (a fine-tuned 2-class
// checkpoint loads as a 2-class model). source names the file in errors.
func (m *ResNet) LoadStateDict(sd *statedict.StateDict, source string) error {
	if err := m.checkKeys(sd, source); err != nil {
		return err
	}
	if fc := sd.Tensors["fc.weight"]; len(fc.Shape) == 2 && fc.Shape[0] != m.NumClasses() && fc.Shape[0] > 0 {
		if err := m.ReplaceHead(fc.Shape[0], 0); err != nil {
			return err
		}
	}
	params := m.Parameters()
	values := make([]*tensors.Tensor, len(params))
	for i, p := range params {
		value, err := tensorForVariable(sd.Tensors[p.Key], p.Variable.Shape().Dimensions, p.Variable.DType())
		if err != nil {
			return fmt.Errorf("models: %s: key %q: %w", source, p.Key, err)
		}
		values[i] = value
	}
	// Only once every tensor is known good: a failed load leaves the model as it was.
	for i, p := range params {
		if err := p.Variable.SetValue(values[i]); err != nil {
			return fmt.Errorf("models: %s: setting %q: %w", source, p.Key, err)
		}
	}
	m.Classes = nil
	if names, ok := sd.Metadata[ClassesMetadataKey]; ok {
		if err := json.Unmarshal([]byte(names), &m.Classes); err != nil {
			return fmt.Errorf("models: %s: metadata %q is not a JSON list of names: %w", source, ClassesMetadataKey, err)
		}
		if len(m.Classes) != m.NumClasses() {
			return fmt.Errorf("models: %s: metadata names %d classes but the head has %d outputs", source,
				len(m.Classes), m.NumClasses())
		}
	}
	return nil
}

// checkKeys compares the checkpoint's keys with the model's, ignoring the head's size.
func (m *ResNet) checkKeys(sd *statedict.StateDict, source string) error {
	want := map[string]bool{}
	for _, p := range m.Parameters() {
		want[p.Key] = true
	}
	var missing, unexpected []string
	for key := range want {
		if _, ok := sd.Tensors[key]; !ok {
			missing = append(missing, key)
		}
	}
	for key := range sd.Tensors {
		if !want[key] {
			unexpected = append(unexpected, key)
		}
	}
	if len(missing) == 0 && len(unexpected) == 0 {
		return nil
	}
	sort.Strings(missing)
	sort.Strings(unexpected)
	var problems []string
	if len(missing) > 0 {
		problems = append(problems, fmt.Sprintf("missing keys %s", summarize(missing)))
	}
	if len(unexpected) > 0 {
		problems = append(problems, fmt.Sprintf("unexpected keys %s", summarize(unexpected)))
	}
	hint := ""
	if slices.ContainsFunc(unexpected, func(k string) bool { return strings.HasPrefix(k, "layer1.2.") }) {
		hint = " (it looks like a deeper ResNet, e.g. resnet34: this model is ResNet-18)"
	}
	return fmt.Errorf("models: %s is not a torchvision ResNet-18 state dict%s: %s", source, hint,
		strings.Join(problems, "; "))
}

// summarize quotes the first few keys of a list.
func summarize(keys []string) string {
	const shown = 5
	quoted := make([]string, 0, shown)
	for _, k := range keys[:min(len(keys), shown)] {
		quoted = append(quoted, fmt.Sprintf("%q", k))
	}
	if len(keys) > shown {
		return fmt.Sprintf("%s and %d more", strings.Join(quoted, ", "), len(keys)-shown)
	}
	return strings.Join(quoted, ", ")
}

// tensorForVariable converts a checkpoint tensor into the value of a variable of the given shape and dtype.
func tensorForVariable(t *statedict.Tensor, dims []int, dtype dtypes.DType) (*tensors.Tensor, error) {
	shape := t.Shape
	// torch saves num_batches_tracked as a 0-dim tensor; very old checkpoints may hold a 1-element vector.
	if len(dims) == 0 && len(t.Float32)+len(t.Int64) == 1 {
		shape = nil
	}
	if !slices.Equal(shape, dims) {
		return nil, fmt.Errorf("shape %v, want %v", t.Shape, dims)
	}
	if dtype == dtypes.Int64 {
		if t.DType.IsFloat() {
			return nil, fmt.Errorf("dtype %s, want an integer", t.DType)
		}
		return tensors.FromScalar(t.Int64[0]), nil
	}
	if !t.DType.IsFloat() {
		return nil, fmt.Errorf("dtype %s, want a floating-point tensor", t.DType)
	}
	return tensors.FromFlatDataAndDimensions(slices.Clone(t.Float32), dims...), nil
}

// Save writes the model's state dict to path as a PyTorch .pth file (torch.save(model.state_dict(), path)),
// atomically: an interrupted save leaves the previous file in place.
func (m *ResNet) Save(path string) error {
	sd, err := m.StateDict()
	if err != nil {
		return err
	}
	return statedict.SavePTH(path, sd)
}

// Load reads a checkpoint file into the model (model.load_state_dict(torch.load(path))), strictly, as
// LoadStateDict does; the file is read bounded by what a ResNet-18 holds (see FromCheckpoint).
func (m *ResNet) Load(path string) error {
	sd, err := readCheckpoint(path)
	if err != nil {
		return err
	}
	return m.LoadStateDict(sd, path)
}
