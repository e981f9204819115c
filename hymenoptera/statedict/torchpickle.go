package statedict

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/nlpodyssey/gopickle/pickle"
	"github.com/nlpodyssey/gopickle/types"
)

// storageDTypes maps torch's storage class names, which torch.save pickles to tag a storage's dtype.
var storageDTypes = map[string]DType{
	"FloatStorage": Float32, "DoubleStorage": Float64, "HalfStorage": Float16, "BFloat16Storage": BFloat16,
	"LongStorage": Int64, "IntStorage": Int32, "ShortStorage": Int16, "CharStorage": Int8,
	"ByteStorage": Uint8, "BoolStorage": Bool,
}

// storageClass stands for a pickled torch.<X>Storage class.
type storageClass struct{ dtype DType }

// rebuildTensor stands for torch._utils._rebuild_tensor_v2, torch's pickle constructor of tensors.
type rebuildTensor struct{}

// Call takes (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]).
func (rebuildTensor) Call(args ...any) (any, error) {
	if len(args) < 4 {
		return nil, fmt.Errorf("_rebuild_tensor_v2 called with %d arguments, expected 6 or 7", len(args))
	}
	storage, ok := args[0].(*storageRef)
	if !ok {
		return nil, fmt.Errorf("_rebuild_tensor_v2: first argument is %T, not a storage", args[0])
	}
	offset, ok := args[1].(int)
	if !ok {
		return nil, fmt.Errorf("_rebuild_tensor_v2: storage offset is %T, not an int", args[1])
	}
	shape, err := intTuple(args[2], "size")
	if err != nil {
		return nil, err
	}
	stride, err := intTuple(args[3], "stride")
	if err != nil {
		return nil, err
	}
	return &tensorRef{storage: storage, offset: offset, shape: shape, stride: stride}, nil
}

// rebuildParameter stands for torch._utils._rebuild_parameter, with which state_dict(keep_vars=True) pickles
// nn.Parameter values: the parameter is its tensor.
type rebuildParameter struct{}

// Call takes (data, requires_grad, backward_hooks).
func (rebuildParameter) Call(args ...any) (any, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("_rebuild_parameter called without arguments")
	}
	t, ok := args[0].(*tensorRef)
	if !ok {
		return nil, fmt.Errorf("_rebuild_parameter: data is %T, not a tensor", args[0])
	}
	return t, nil
}

// opaqueClass stands for any other pickled class or function, e.g. an argparse.Namespace or a whole nn.Module
// in a training checkpoint: its objects are built and skipped, so that they do not stop the state dict beside
// them from loading.
type opaqueClass struct{ module, name string }

// opaqueObject is an instance of an opaqueClass.
type opaqueObject struct{ class *opaqueClass }

// Call builds an object by calling the class (pickle's REDUCE).
func (c *opaqueClass) Call(...any) (any, error) { return &opaqueObject{c}, nil }

// PyNew builds an object with cls.__new__ (pickle's NEWOBJ).
func (c *opaqueClass) PyNew(...any) (any, error) { return &opaqueObject{c}, nil }

// PySetState ignores the object's state (pickle's BUILD).
func (*opaqueObject) PySetState(any) error { return nil }

func (o *opaqueObject) String() string { return o.class.module + "." + o.class.name }

func findTorchClass(module, name string) (any, error) {
	switch {
	case module == "torch._utils" && name == "_rebuild_tensor_v2":
		return rebuildTensor{}, nil
	case module == "torch._utils" && name == "_rebuild_parameter":
		return rebuildParameter{}, nil
	case module == "torch" && strings.HasSuffix(name, "Storage"):
		dtype, ok := storageDTypes[name]
		if !ok {
			return nil, fmt.Errorf("unsupported storage type torch.%s", name)
		}
		return &storageClass{dtype}, nil
	}
	return &opaqueClass{module, name}, nil
}

// unpickleTorch decodes the torch pickle at the start of data and returns it with the bytes after its STOP opcode.
// Persistent ids, which torch writes for storages, go to persistentLoad with the id's fields after the "storage"
// tag.
func unpickleTorch(data []byte, persistentLoad func(fields []any) (any, error)) (any, []byte, error) {
	if err := checkPickleLengths(data); err != nil {
		return nil, nil, err
	}
	r := bytes.NewReader(data)
	u := pickle.NewUnpickler(r)
	u.FindClass = findTorchClass
	u.PersistentLoad = func(id any) (any, error) {
		tuple, ok := id.(*types.Tuple)
		if !ok || tuple.Len() == 0 {
			return nil, fmt.Errorf("persistent id %v is not a tuple", id)
		}
		switch tag := tuple.Get(0); tag {
		case "storage":
			return persistentLoad((*tuple)[1:])
		case "module": // A pickled nn.Module's class (legacy format): opaque, like the module.
			return &opaqueClass{"torch.nn", "Module"}, nil
		default:
			return nil, fmt.Errorf("unknown persistent id type %v", tag)
		}
	}
	obj, err := u.Load()
	if err != nil {
		return nil, nil, fmt.Errorf("malformed or truncated pickle: %w", err)
	}
	return obj, data[len(data)-r.Len():], nil
}

// newStorageRef checks the common fields of a storage persistent id: (storage class, key, location, numel).
func newStorageRef(fields []any) (*storageRef, error) {
	if len(fields) < 4 {
		return nil, fmt.Errorf("storage id %v has %d fields, expected at least 4", fields, len(fields))
	}
	class, okClass := fields[0].(*storageClass)
	key, okKey := fields[1].(string)
	numel, okNumel := fields[3].(int)
	if !okClass || !okKey || !okNumel || numel < 0 || numel > maxElements {
		return nil, fmt.Errorf("malformed storage id %v", fields)
	}
	return &storageRef{key: key, dtype: class.dtype, numel: numel}, nil
}

func intTuple(v any, what string) ([]int, error) {
	tuple, ok := v.(*types.Tuple)
	if !ok {
		return nil, fmt.Errorf("tensor %s is %T, not a tuple", what, v)
	}
	ints := make([]int, tuple.Len())
	for i := range ints {
		if ints[i], ok = tuple.Get(i).(int); !ok {
			return nil, fmt.Errorf("tensor %s %v holds a non-integer", what, *tuple)
		}
	}
	return ints, nil
}

// dictEntry is one key/value pair of a pickled dict, in order.
type dictEntry struct{ key, value any }

// dictEntries returns the entries of a pickled dict or OrderedDict, and for an OrderedDict its Python attributes
// (torch keeps a state dict's _metadata there).
func dictEntries(obj any) (entries []dictEntry, attrs map[string]any, ok bool) {
	switch d := obj.(type) {
	case *types.OrderedDict:
		for e := d.List.Front(); e != nil; e = e.Next() {
			entry := e.Value.(*types.OrderedDictEntry)
			entries = append(entries, dictEntry{entry.Key, entry.Value})
		}
		return entries, d.PyDict, true
	case *types.Dict:
		for _, entry := range *d {
			entries = append(entries, dictEntry{entry.Key, entry.Value})
		}
		return entries, nil, true
	}
	return nil, nil, false
}

func lookup(entries []dictEntry, key string) (any, bool) {
	for _, e := range entries {
		if e.key == key {
			return e.value, true
		}
	}
	return nil, false
}

// wrapperKeys are the keys under which training checkpoints commonly keep the state dict.
var wrapperKeys = []string{"state_dict", "model"}

// stateDictFromPickle turns the object torch.save pickled into a StateDict, unwrapping a checkpoint dict, and
// reading each tensor's storage with values (called once per storage key). Every view is checked against its
// storage, and the elements to allocate against budget, before any storage is read.
func stateDictFromPickle(obj any, budget int, values func(*storageRef) (storageValues, error)) (*StateDict, error) {
	entries, attrs, ok := dictEntries(obj)
	if !ok {
		return nil, fmt.Errorf("the file holds a pickled %s, not a dict of tensors (for a model, save model.state_dict())",
			describe(obj))
	}
	for _, wrapper := range wrapperKeys {
		inner, found := lookup(entries, wrapper)
		if _, isTensor := inner.(*tensorRef); !found || isTensor { // A tensor is a state dict entry by that name.
			continue
		}
		if entries, attrs, ok = dictEntries(inner); !ok {
			return nil, fmt.Errorf("checkpoint key %q holds a pickled %s, not a state dict (save model.state_dict())",
				wrapper, describe(inner))
		}
		break
	}
	users := map[string]int{} // Tensors per storage key.
	cost := 0                 // Elements to allocate: each storage read, and each tensor copied out of one.
	for _, e := range entries {
		key, ok := e.key.(string)
		if !ok {
			return nil, fmt.Errorf("state dict key %v is a %s, not a string", e.key, describe(e.key))
		}
		ref, ok := e.value.(*tensorRef)
		if !ok {
			return nil, fmt.Errorf("key %q holds a %s, not a tensor", key, describe(e.value))
		}
		n, err := ref.elements()
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", key, err)
		}
		if users[ref.storage.key] == 0 {
			cost += ref.storage.numel
		}
		users[ref.storage.key]++
		if cost += n; cost > budget {
			return nil, fmt.Errorf("key %q: the tensors up to it need more than %d elements, more than the model "+
				"this file is loaded for can hold", key, budget)
		}
	}
	sd := New()
	cache := map[string]storageValues{}
	for _, e := range entries {
		key, ref := e.key.(string), e.value.(*tensorRef)
		v, seen := cache[ref.storage.key]
		if !seen {
			var err error
			if v, err = values(ref.storage); err != nil {
				return nil, fmt.Errorf("key %q: %w", key, err)
			}
			cache[ref.storage.key] = v
		}
		t, err := ref.materialize(v, users[ref.storage.key] == 1)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", key, err)
		}
		sd.Set(key, t)
	}
	var err error
	sd.Metadata, err = metadataFromAttrs(attrs)
	return sd, err
}

// metadataKey names the entry of a state dict's _metadata[""] (the root module's metadata, which torch passes to
// the root module's _load_from_state_dict and otherwise ignores) that holds StateDict.Metadata.
const metadataKey = "hymenoptera"

func metadataFromAttrs(attrs map[string]any) (map[string]string, error) {
	metadata := map[string]string{}
	entries, _, _ := dictEntries(attrs["_metadata"])
	root, _ := lookup(entries, "")
	entries, _, _ = dictEntries(root)
	ours, _ := lookup(entries, metadataKey)
	entries, _, _ = dictEntries(ours)
	for _, e := range entries {
		key, okKey := e.key.(string)
		value, okValue := e.value.(string)
		if !okKey || !okValue {
			return nil, fmt.Errorf("_metadata[\"\"][%q] holds %v: %v, expected strings", metadataKey, e.key, e.value)
		}
		metadata[key] = value
	}
	return metadata, nil
}

// describe names a pickled value's Python type for error messages.
func describe(v any) string {
	switch v := v.(type) {
	case *opaqueObject:
		return v.String() + " object"
	case *tensorRef:
		return "tensor"
	case nil:
		return "None"
	case string:
		return "str"
	case int:
		return "int"
	case float64:
		return "float"
	case bool:
		return "bool"
	case *types.Dict:
		return "dict"
	case *types.OrderedDict:
		return "OrderedDict"
	case *types.List:
		return "list"
	case *types.Tuple:
		return "tuple"
	}
	return fmt.Sprintf("%T", v)
}
