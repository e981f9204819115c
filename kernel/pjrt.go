package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/gomlx/go-xla/installer"
)

// runPJRT installs an XLA PJRT plugin with go-xla's own installer package, at the go-xla version go.mod pins.
// (go-xla's command-line installer, cmd/pjrt_installer, is a separate module that requires an older go-xla and
// that the module proxy serves at no release version, so it cannot be pinned alongside.) Plugins go to
// LIB/go-xla, where go-xla looks for them.
func runPJRT(args []string, stdout io.Writer) error {
	fs := newFlagSet("pjrt", "[--plugin cpu|cuda13|cuda12] [--version V] [--lib DIR]")
	plugin := fs.String("plugin", "cpu", "plugin to install: cpu (the version go-xla was tested with), "+
		"cuda13 or cuda12 (from JAX's releases; needs --version)")
	version := fs.String("version", "", "for CUDA plugins, the JAX release `V` to take the plugin and NVIDIA "+
		"libraries from, e.g. 0.12.0.1")
	lib := fs.String("lib", defaultPJRTLib(), "library `DIR`: plugins go to DIR/go-xla")
	positional, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(positional) > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, positional)
	}
	libDir, err := filepath.Abs(*lib)
	if err != nil {
		return err
	}
	switch *plugin {
	case "cpu":
		if *version != "" {
			return fmt.Errorf("%w: the CPU plugin's version is the one go-xla was tested with; drop --version", errUsage)
		}
		err = installer.AutoInstallPlugin("cpu", libDir, true, installer.Normal)
	case "cuda13", "cuda12":
		if *version == "" {
			return fmt.Errorf("%w: --plugin %s needs --version (a JAX release, e.g. 0.12.0.1), so that builds "+
				"are reproducible", errUsage, *plugin)
		}
		err = installer.CudaInstall(*plugin, *version, filepath.Join(libDir, "go-xla"), true, installer.Normal)
	default:
		return fmt.Errorf("%w: unknown plugin %q (want cpu, cuda13 or cuda12)", errUsage, *plugin)
	}
	if err != nil {
		return fmt.Errorf("installing the %s PJRT plugin into %s: %w", *plugin, libDir, err)
	}
	goXLA := filepath.Join(libDir, "go-xla")
	for _, f := range findPJRTFiles([]string{goXLA, filepath.Join(goXLA, "nvidia")}) {
		fmt.Fprintf(stdout, "\nplugin %s: %s", f.Name, f.Path)
	}
	fmt.Fprintln(stdout)
	return nil
}

// defaultPJRTLib is where go-xla looks by default: /usr/local/lib for root, ~/.local/lib otherwise.
func defaultPJRTLib() string {
	if os.Geteuid() == 0 {
		return "/usr/local/lib"
	}
	if lib, err := installer.DefaultHomeLibPath(); err == nil {
		return lib
	}
	return "/usr/local/lib"
}
