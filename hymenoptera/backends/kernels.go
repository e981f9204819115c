package backends

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/go-logr/logr/funcr"
	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"golang.org/x/sys/cpu"
	"k8s.io/klog/v2"
)

// Matrix-multiplication implementations of the pure-Go backend (compute v0.1.6 registers them under these names,
// the most specific one the CPU and the switches allow).
const (
	MatmulAVX512 = "simd:avx512"
	MatmulAVX2   = "simd:avx2"
	MatmulNoSIMD = "simd:nosimd" // plain Go loops: arm64, x86 without AVX2, or both switches off
)

// The backend's switches, read once when a program starts (compute's support/envutil names them).
const (
	EnvSIMDAVX512 = "GOMLX_SIMD_AVX512"
	EnvSIMDAVX2   = "GOMLX_SIMD_AVX2"
)

// Kernels says what does the model's arithmetic on this machine. The pure-Go backend's speed depends on the CPU
// far more than PyTorch's: ResNet-18's time is mostly matrix multiplications, and compute v0.1.6 has AVX-512
// and AVX2 kernels for them and none for arm64, where (as on an x86 CPU without AVX2) they run as plain Go
// loops, about 10× slower than with AVX-512. Learners' laptops are mostly AVX2-only x86 or Apple Silicon, so
// benchmarks, doctor and the start of a training run say which case applies.
type Kernels struct {
	Backend string   `json:"backend"` // the backend's configuration: "go", "xla:cpu", "xla:cuda"
	CPU     string   `json:"cpu"`     // the CPU's model name, or "unknown"
	Arch    string   `json:"arch"`    // GOARCH
	SIMD    []string `json:"simd"`    // the CPU's vector features that the backends' kernels use
	// Matmul is the pure-Go backend's matrix-multiplication implementation (MatmulAVX512, MatmulAVX2,
	// MatmulNoSIMD), as the backend itself reports when it builds one; for XLA, "XLA's own".
	Matmul string `json:"matmul"`
	// Switches are the GOMLX_SIMD_* variables set in the environment, as NAME=value.
	Switches []string `json:"switches,omitempty"`
}

// DescribeKernels describes the CPU and, for the pure-Go backend (config "go..."), asks backend which
// matrix-multiplication kernels it uses.
func DescribeKernels(backend compute.Backend, config string) Kernels {
	k := Kernels{Backend: config, CPU: cpuModel(), Arch: runtime.GOARCH, SIMD: simdFeatures()}
	for _, name := range []string{EnvSIMDAVX512, EnvSIMDAVX2} {
		if value, ok := os.LookupEnv(name); ok {
			k.Switches = append(k.Switches, name+"="+value)
		}
	}
	if !IsGo(config) {
		k.Matmul = "XLA's own"
		return k
	}
	matmul, err := matmulImplementation(backend)
	if err != nil {
		k.Matmul = "unknown (" + err.Error() + ")"
	} else {
		k.Matmul = matmul
	}
	return k
}

// IsGo reports whether a backend configuration names the pure-Go backend.
func IsGo(config string) bool {
	name, _, _ := strings.Cut(config, ":")
	return name == GoBackend
}

// String is one line: "AMD EPYC (amd64: avx2 fma avx512f), matrix multiplication simd:avx512".
func (k Kernels) String() string {
	simd := "no SIMD features used here"
	if len(k.SIMD) > 0 {
		simd = strings.Join(k.SIMD, " ")
	}
	line := fmt.Sprintf("%s (%s: %s), matrix multiplication %s", k.CPU, k.Arch, simd, k.Matmul)
	if len(k.Switches) > 0 {
		line += " (" + strings.Join(k.Switches, ", ") + ")"
	}
	return line
}

// Warning is a sentence for the learner when the pure-Go backend multiplies matrices without SIMD, saying why
// and naming the faster way; "" otherwise.
func (k Kernels) Warning() string {
	if !IsGo(k.Backend) || k.Matmul != MatmulNoSIMD {
		return ""
	}
	var why string
	switch simd, known := BuiltWithSIMD(); {
	case known && !simd:
		why = "this program was built without GOEXPERIMENT=simd"
	case k.Arch != "amd64":
		why = "compute v0.1.6 has no SIMD kernels for " + k.Arch
	case !slices.Contains(k.SIMD, "avx2"):
		why = "this CPU has no AVX2"
	default:
		why = "switched off by " + strings.Join(k.Switches, ", ")
	}
	return "warning: the pure-Go backend multiplies matrices without SIMD here (" + why + "): the model runs " +
		"7 to 11 times slower than with the AVX2 or AVX-512 kernels. XLA is much faster: " +
		"`go run ./kernel pjrt --plugin cpu` installs it (see README)"
}

// matmulProbe caches matmulImplementation: the backend chooses its kernels once, when the program starts.
var matmulProbe struct {
	sync.Mutex
	done bool
	name string
	err  error
}

// dotGeneralLine is what compute v0.1.6 logs (klog, verbosity 1) when it builds a matrix multiplication.
var dotGeneralLine = regexp.MustCompile(`Using DotGeneral implementation \\?"([^"\\]+)\\?"`)

// matmulImplementation builds and runs a small float32 matrix product on backend with klog's verbosity raised,
// and returns the implementation that the backend logs for it. compute v0.1.6 decides its kernels in an internal
// package and reports them only through that log line; reading it (klog's public API) tells the truth about the
// backend at hand, where repeating its rules here (CPU flags, switches, build tags) would drift from it.
func matmulImplementation(backend compute.Backend) (string, error) {
	matmulProbe.Lock()
	defer matmulProbe.Unlock()
	if matmulProbe.done {
		return matmulProbe.name, matmulProbe.err
	}
	flags := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(flags)
	verbosity := flags.Lookup("v").Value.String()
	var lines []string
	klog.SetLogger(funcr.New(func(prefix, args string) { lines = append(lines, args) }, funcr.Options{Verbosity: 1}))
	_ = flags.Set("v", "1")
	err := multiplySmallMatrices(backend)
	_ = flags.Set("v", verbosity)
	klog.ClearLogger()
	matmulProbe.done = true
	if err != nil {
		matmulProbe.err = fmt.Errorf("probing the matrix multiplication: %w", err)
		return "", matmulProbe.err
	}
	for _, line := range lines {
		if m := dotGeneralLine.FindStringSubmatch(line); m != nil {
			matmulProbe.name = m[1]
			return m[1], nil
		}
	}
	matmulProbe.err = errors.New("the backend did not say which matrix multiplication it uses")
	return "", matmulProbe.err
}

// multiplySmallMatrices runs a [2,3]×[3,2] float32 product on backend, turning GoMLX's panics into errors.
func multiplySmallMatrices(backend compute.Backend) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	a := [][]float32{{1, 2, 3}, {4, 5, 6}}
	product, err := graph.ExecOnce(backend, func(x *graph.Node) *graph.Node { return graph.MatMul(x, graph.Transpose(x, 0, 1)) }, a)
	if err != nil {
		return err
	}
	return product.FinalizeAll()
}

// simdFeatures lists the CPU's vector features that matter to the backends, in the order of their width.
func simdFeatures() []string {
	var features []string
	add := func(name string, has bool) {
		if has {
			features = append(features, name)
		}
	}
	switch runtime.GOARCH {
	case "amd64", "386":
		add("avx", cpu.X86.HasAVX)
		add("avx2", cpu.X86.HasAVX2)
		add("fma", cpu.X86.HasFMA)
		add("avx512f", cpu.X86.HasAVX512F)
		add("avx512bw", cpu.X86.HasAVX512BW)
		add("avx512vl", cpu.X86.HasAVX512VL)
		add("avx512bf16", cpu.X86.HasAVX512BF16)
	case "arm64":
		add("asimd", cpu.ARM64.HasASIMD)
		add("fphp", cpu.ARM64.HasFPHP)
		add("sve", cpu.ARM64.HasSVE)
	}
	return features
}

// cpuModel returns the CPU's model name: /proc/cpuinfo's "model name" on Linux (x86), sysctl's brand string on
// macOS, else "unknown".
func cpuModel() string {
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		defer f.Close()
		scanner := bufio.NewScanner(f)
		for scanner.Scan() {
			key, value, ok := strings.Cut(scanner.Text(), ":")
			if ok && strings.TrimSpace(key) == "model name" {
				return strings.Join(strings.Fields(value), " ")
			}
		}
	}
	if runtime.GOOS == "darwin" {
		if out, err := exec.Command("sysctl", "-n", "machdep.cpu.brand_string").Output(); err == nil {
			if name := strings.TrimSpace(string(out)); name != "" {
				return name
			}
		}
	}
	return "unknown"
}
