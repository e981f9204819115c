package backends

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"golang.org/x/sys/cpu"
)

// TestChooseHonoursEnvironment: GOMLX_BACKEND decides when set.
func TestChooseHonoursEnvironment(t *testing.T) {
	t.Setenv("GOMLX_BACKEND", "go")
	if c := Choose(); c.Config != "go" || !strings.Contains(c.Reason, "GOMLX_BACKEND") {
		t.Errorf("Choose() = %+v", c)
	}
	if _, err := NewWithConfig("nonexistent"); err == nil || !strings.Contains(err.Error(), "nonexistent") {
		t.Errorf("an unknown backend gave %v, want an error naming it", err)
	}
}

// TestDamagedPluginFallsBackToGo: a plugin file that fails to load (go-xla panics on it) makes the search find
// nothing, so the pure-Go backend is chosen. go-xla reads PJRT_PLUGIN_LIBRARY_PATH when the program starts, so
// the check runs in a child process.
func TestDamagedPluginFallsBackToGo(t *testing.T) {
	if os.Getenv("BACKENDS_TEST_CHILD") == "1" {
		os.Stdout.WriteString("choice=" + Choose().Config + "\n")
		return
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pjrt_c_api_cpu_plugin.so"), []byte("not a shared library"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestDamagedPluginFallsBackToGo$")
	cmd.Env = append(os.Environ(), "BACKENDS_TEST_CHILD=1", "PJRT_PLUGIN_LIBRARY_PATH="+dir, "GOMLX_BACKEND=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child failed: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "choice=go\n") {
		t.Errorf("with a damaged plugin the choice was not the Go backend:\n%s", out)
	}
}

// TestUnboundWorkersFindsThePool: the quiet way to lift the worker bound reaches the pool by reflection. When a
// new compute version moves it, NewWithConfig falls back to the option "parallelism=-1" (which prints a line), and
// this test says what to review.
func TestUnboundWorkersFindsThePool(t *testing.T) {
	backend, err := compute.NewWithConfig(GoBackend)
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Finalize()
	if err := unboundWorkers(backend); err != nil {
		t.Fatalf("%v: update findWorkerPool for this version of github.com/gomlx/compute, or drop it for the "+
			"option parallelism=-1", err)
	}
	pool, _ := findWorkerPool(backend)
	if !pool.IsUnlimited() {
		t.Fatal("unboundWorkers left the worker pool bounded")
	}
	if _, err := findWorkerPool(fakeBackend{}); err == nil {
		t.Fatal("a backend without a Workers field gave no error")
	}
}

// fakeBackend is a backend of another shape than the pure-Go one's.
type fakeBackend struct{ compute.Backend }

// TestManyConcurrentMatMulsDoNotHang: a graph with many independent large matrix multiplications, run repeatedly.
// With the pure-Go backend's default bounded worker pool, each multiplication occupies a worker while waiting for
// more workers to fan out to, and once as many are ready as there are workers they all wait for ever (the
// process sits idle). NewWithConfig lifts the bound.
func TestManyConcurrentMatMulsDoNotHang(t *testing.T) {
	backend, err := NewWithConfig(GoBackend)
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Finalize()
	const products, size = 16, 256
	exec, err := graph.NewExec(backend, func(a *graph.Node) *graph.Node {
		sum := graph.ScalarZero(a.Graph(), a.DType())
		for i := range products {
			b := graph.AddScalar(a, float64(i)) // independent operands, so the products can run at once
			sum = graph.Add(sum, graph.ReduceAllSum(graph.DotGeneral(b, []int{1}, nil, b, []int{0}, nil)))
		}
		return sum
	})
	if err != nil {
		t.Fatal(err)
	}
	input := tensors.FromShape(shapes.Make(dtypes.Float32, size, size))
	done := make(chan error, 1)
	go func() {
		for range 30 {
			if _, err := exec.Exec(input); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("30 runs of 16 independent matrix multiplications did not finish in 2 minutes: the worker pool hangs")
	}
}

// TestKernelsReportTheBackendsChoice: the matrix multiplication that DescribeKernels reports is the one the CPU's
// features, the build and the GOMLX_SIMD_* switches select under compute's rules (AVX-512 when the CPU has F, CD,
// BW, DQ and VL, else AVX2, else plain Go), for each setting of the switches. The report comes from the backend's
// own log, the expectation from the CPU flags here: each checks the other. Each case runs in a new process,
// since the backend reads the switches when the program starts.
func TestKernelsReportTheBackendsChoice(t *testing.T) {
	if os.Getenv("HYMENOPTERA_KERNELS_HELPER") == "1" {
		backend, err := NewWithConfig(GoBackend)
		if err != nil {
			t.Fatal(err)
		}
		k := DescribeKernels(backend, GoBackend)
		os.Stdout.WriteString("MATMUL=" + k.Matmul + "\nWARNING=" + k.Warning() + "\n")
		return
	}
	simd, _ := BuiltWithSIMD()
	avx512 := cpu.X86.HasAVX512F && cpu.X86.HasAVX512CD && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512DQ &&
		cpu.X86.HasAVX512VL
	for _, c := range []struct {
		env              []string
		avx512On, avx2On bool
	}{
		{nil, true, true},
		{[]string{"GOMLX_SIMD_AVX512=false"}, false, true},
		{[]string{"GOMLX_SIMD_AVX512=false", "GOMLX_SIMD_AVX2=false"}, false, false},
	} {
		want := MatmulNoSIMD
		switch {
		case simd && runtime.GOARCH == "amd64" && c.avx512On && avx512:
			want = MatmulAVX512
		case simd && runtime.GOARCH == "amd64" && c.avx2On && cpu.X86.HasAVX2:
			want = MatmulAVX2
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestKernelsReportTheBackendsChoice$")
		// The last value of a variable wins: the case's switches over the cleared ones.
		cmd.Env = append(os.Environ(), "HYMENOPTERA_KERNELS_HELPER=1", "GOMLX_SIMD_AVX512=", "GOMLX_SIMD_AVX2=")
		cmd.Env = append(cmd.Env, c.env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", c.env, err, out)
		}
		t.Logf("%v: %s", c.env, strings.Fields(string(out))[0])
		if !strings.Contains(string(out), "MATMUL="+want+"\n") {
			t.Errorf("with %v: want matrix multiplication %s, the report says:\n%s", c.env, want, out)
		}
		if warned := !strings.Contains(string(out), "WARNING=\n"); warned != (want == MatmulNoSIMD) {
			t.Errorf("with %v (%s): warning shown %v, want %v:\n%s", c.env, want, warned, want == MatmulNoSIMD, out)
		}
	}
}
