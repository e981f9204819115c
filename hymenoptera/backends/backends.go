// Package backends picks the GoMLX compute backend that runs the model, the same way everywhere (notebooks, CLI,
// tests), and says which one runs and why.
//
// GoMLX's own default (import gomlx/backends/default with GOMLX_BACKEND unset) tries to download the XLA CPU
// plugin, which panics on a machine without internet. This package never downloads: it honours GOMLX_BACKEND,
// else uses XLA when a PJRT plugin is already installed, else the pure-Go backend.
package backends

import (
	"fmt"
	"io"
	"os"
	"reflect"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/gomlx/compute"
	_ "github.com/gomlx/compute/gobackend"  // Registers the pure-Go backend, "go".
	_ "github.com/gomlx/go-xla/compute/xla" // Registers "xla", without its auto-installer.
	"github.com/gomlx/go-xla/pjrt"
)

// GoBackend is the name of GoMLX's pure-Go backend.
const GoBackend = "go"

// Choice is the backend configuration that New would use, and why.
type Choice struct {
	Config string // e.g. "go", "xla:cpu", "xla:cuda"
	Reason string // one human sentence
}

// Choose decides the backend configuration without creating it.
func Choose() Choice {
	if config, ok := os.LookupEnv(compute.ConfigEnvVar); ok && config != "" {
		return Choice{Config: config, Reason: fmt.Sprintf("set by %s", compute.ConfigEnvVar)}
	}
	plugins := InstalledPlugins()
	for _, preferred := range []string{"cuda", "cpu"} {
		if path, ok := plugins[preferred]; ok {
			return Choice{Config: "xla:" + preferred,
				Reason: fmt.Sprintf("%s is unset and the XLA PJRT %s plugin is installed (%s)", compute.ConfigEnvVar,
					preferred, path)}
		}
	}
	return Choice{Config: GoBackend,
		Reason: fmt.Sprintf("%s is unset and no XLA PJRT plugin is installed: using the pure-Go backend", compute.ConfigEnvVar)}
}

// InstalledPlugins lists the PJRT plugins that go-xla finds (name → path), searching PJRT_PLUGIN_LIBRARY_PATH and
// the standard library directories. It downloads nothing. go-xla v0.4.5 panics on a plugin file that fails to
// load (a truncated download, say): such a search counts as finding nothing, with a warning, rather than crashing
// every program that picks a backend.
func InstalledPlugins() (plugins map[string]string) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(os.Stderr, "warning: searching for XLA PJRT plugins failed (%v): a plugin file in %s or the "+
				"library path may be damaged; ignoring XLA\n", r, "PJRT_PLUGIN_LIBRARY_PATH")
			plugins = map[string]string{}
		}
	}()
	return pjrt.AvailablePlugins()
}

// PluginNames returns the installed plugins' names, sorted.
func PluginNames() []string {
	var names []string
	for name := range InstalledPlugins() {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// New creates the chosen backend and writes its Report to log (nil: os.Stderr). Errors (an unknown backend name,
// a plugin that fails to load) are returned, never panicked.
func New(log io.Writer) (backend compute.Backend, err error) {
	if log == nil {
		log = os.Stderr
	}
	choice := Choose()
	backend, err = NewWithConfig(choice.Config)
	if err != nil {
		return nil, err
	}
	report(log, backend, choice)
	return backend, nil
}

// Report writes which backend runs and why, the CPU and the kernels backend multiplies matrices with, and a
// warning when the pure-Go backend has no SIMD kernels here (see Kernels). backend is the one New created.
func Report(w io.Writer, backend compute.Backend) { report(w, backend, Choose()) }

// report is Report for the choice that created backend (New has it already: Choose searches the plugin
// directories).
func report(w io.Writer, backend compute.Backend, choice Choice) {
	kernels := DescribeKernels(backend, choice.Config)
	fmt.Fprintf(w, "GoMLX backend: %s (%s)\nCPU and kernels: %s\n", backend.Description(), choice.Reason, kernels)
	if warning := kernels.Warning(); warning != "" {
		fmt.Fprintln(w, warning)
	}
}

// NewWithConfig creates the backend of config ("go", "xla:cpu", ...), turning GoMLX's panics into errors.
func NewWithConfig(config string) (backend compute.Backend, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("cannot create GoMLX backend %q (known: %s): %v", config,
				strings.Join(compute.List(), ", "), r)
		}
	}()
	backend, err = compute.NewWithConfig(config)
	if err != nil {
		return nil, fmt.Errorf("cannot create GoMLX backend %q: %w", config, err)
	}
	if name, options, _ := strings.Cut(config, ":"); name == GoBackend && !strings.Contains(options, "parallelism") {
		if unboundWorkers(backend) != nil {
			// This compute version moved the pool (TestUnboundWorkersFindsThePool says so): fall back to the
			// documented option, which does the same and prints one line to standard output.
			backend.Finalize()
			if options != "" {
				options += ","
			}
			return NewWithConfig(GoBackend + ":" + options + "parallelism=-1")
		}
	}
	return backend, nil
}

// unboundWorkers lifts the bound on the pure-Go backend's worker pool, as its option "parallelism=-1" does,
// without the line that option prints to standard output (in a notebook, an output under every cell that
// creates a backend). compute v0.1.6 offers no quiet way: the option is parsed in an internal package, so the
// pool is reached by reflection, through the backend's exported field Workers. If a later compute version moves
// it, unboundWorkers returns an error, NewWithConfig uses the option instead, and TestUnboundWorkersFindsThePool
// fails with a message that names the field.
//
// Why the bound must go: with the default bound, 2·GOMAXPROCS workers, the backend hangs for ever once that many
// matrix multiplications are ready at the same time: each holds a worker while it waits for free workers to split
// its work across (compute v0.1.6, workerspool.Pool.Saturate). ResNet-18's graphs reach that, in the backward
// pass and with its per-channel broadcasts. Without the bound every operation runs in its own goroutine and each
// multiplication splits across GOMAXPROCS of them, so none waits for a worker.
func unboundWorkers(backend compute.Backend) error {
	pool, err := findWorkerPool(backend)
	if err != nil {
		return err
	}
	pool.SetMaxParallelism(-1)
	return nil
}

// workerPool is the pure-Go backend's worker pool, the field Workers of its backend struct.
type workerPool interface {
	SetMaxParallelism(int)
	IsUnlimited() bool
}

func findWorkerPool(backend compute.Backend) (workerPool, error) {
	value := reflect.ValueOf(backend)
	if value.Kind() == reflect.Pointer && value.Elem().Kind() == reflect.Struct {
		if workers := value.Elem().FieldByName("Workers"); workers.IsValid() && workers.CanInterface() {
			if pool, ok := workers.Interface().(workerPool); ok {
				return pool, nil
			}
		}
	}
	return nil, fmt.Errorf("the pure-Go backend (%T) has no exported field Workers with methods SetMaxParallelism "+
		"and IsUnlimited, as in github.com/gomlx/compute v0.1.6", backend)
}

// BuiltWithSIMD reports whether this binary was compiled with GOEXPERIMENT=simd, without which the pure-Go
// backend has no SIMD kernels at all (see Kernels.Warning). The second result is false when the build
// information is unavailable.
func BuiltWithSIMD() (simd bool, known bool) {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return false, false
	}
	for _, setting := range info.Settings {
		if setting.Key == "GOEXPERIMENT" {
			for _, experiment := range strings.Split(setting.Value, ",") {
				if experiment == "simd" {
					return true, true
				}
			}
		}
	}
	return false, true
}
