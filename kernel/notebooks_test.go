package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hymenoptera-go/tutorial/hymenoptera/tutorial"
	"github.com/hymenoptera-go/tutorial/kernel/nbcheck"
)

// The tutorial notebooks: Korean (the tutorial we reproduce is the Korean translation) and its English twin.
var tutorialNotebooks = []string{"transfer_learning_tutorial.ipynb", "transfer_learning_tutorial.en.ipynb"}

func notebooksDir(t *testing.T) string {
	t.Helper()
	r, err := findRepo()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(r.Root, "notebooks")
}

// TestNotebooksShareCodeCells: the Korean and English notebooks run the same code, cell for cell; only prose and
// comments differ.
func TestNotebooksShareCodeCells(t *testing.T) {
	dir := notebooksDir(t)
	var nbs []*nbcheck.Notebook
	for _, name := range tutorialNotebooks {
		nb, err := nbcheck.Load(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		nbs = append(nbs, nb)
	}
	if nbs[0].CodeCells() == 0 {
		t.Fatalf("%s has no code cells", tutorialNotebooks[0])
	}
	if err := nbcheck.CodeCellsEqualModuloComments(nbs[0], nbs[1]); err != nil {
		t.Errorf("%s (a) and %s (b): %v", tutorialNotebooks[0], tutorialNotebooks[1], err)
	}
}

// TestCommittedNotebooksAreSmallAndTidy: each committed notebook is at most nbcheck.MaxNotebookBytes, shows at most
// one progress display per cell and no terminal progress bars, and names Go's highlighter in language_info.
func TestCommittedNotebooksAreSmallAndTidy(t *testing.T) {
	dir := notebooksDir(t)
	for _, name := range tutorialNotebooks {
		path := filepath.Join(dir, name)
		nb, err := nbcheck.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := nbcheck.CheckSaved(path, nb); err != nil {
			t.Error(err)
		}
	}
}

// expectedFigures are the cells (found by a call they make) that must display at least one image: the training
// batch grid, both scenarios' curves and predictions, the single-image probabilities, the explanations (Grad-CAM,
// confusion matrix and mistakes, feature space) and the closing comparison.
var expectedFigures = []string{
	"imshow(out,",
	`trainModel("finetune",`,
	`visualizeModel(trainedModel("finetune"),`,
	`trainModel("fixed",`,
	`visualizeModel(trainedModel("fixed"),`,
	"visualizeModelPredictions(trainedModel(",
	".GradCAMFigure(",
	".ConfusionFigure(",
	".MistakesFigure(",
	".FeatureSpaceFigure(",
	"viz.ComparisonFigure(",
}

// checkExpectedFigures reports each expected figure cell that shows no image.
func checkExpectedFigures(t *testing.T, name string, nb *nbcheck.Notebook) {
	t.Helper()
	imagesPerCell := map[int]int{}
	for _, img := range nb.Images() {
		imagesPerCell[img.Cell]++
	}
	for _, marker := range expectedFigures {
		found := false
		for i, c := range nb.Cells {
			if c.Type == "code" && strings.Contains(c.Source.String(), marker) {
				found = true
				if imagesPerCell[i] == 0 {
					t.Errorf("%s: the cell calling %s shows no image", name, marker)
				}
			}
		}
		if !found {
			t.Errorf("%s: no cell calls %s", name, marker)
		}
	}
}

// TestNotebooksUseTheRecipe: the numbers a learner reads in the notebooks' cells (SGD's learning rate and
// momentum, StepLR's step and factor, for both scenarios) are the recipe that the command line and the benchmarks
// take from package tutorial.
func TestNotebooksUseTheRecipe(t *testing.T) {
	optimizer := regexp.MustCompile(`&train\.SGD\{Params: \w+\.(?:Parameters|FCParameters)\(\), LR: ([0-9.]+), Momentum: ([0-9.]+)\}`)
	scheduler := regexp.MustCompile(`&train\.StepLR\{Optimizer: \w+, StepSize: ([0-9]+), Gamma: ([0-9.]+)\}`)
	want := [][]string{
		{fmt.Sprint(tutorial.LearningRate), fmt.Sprint(tutorial.Momentum)},
		{fmt.Sprint(tutorial.StepSize), fmt.Sprint(tutorial.Gamma)},
	}
	dir := notebooksDir(t)
	for _, name := range tutorialNotebooks {
		nb, err := nbcheck.Load(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		var code strings.Builder
		for _, c := range nb.Cells {
			if c.Type == "code" {
				code.WriteString(c.Source.String())
			}
		}
		for i, re := range []*regexp.Regexp{optimizer, scheduler} {
			found := re.FindAllStringSubmatch(code.String(), -1)
			if len(found) != 2 { // fine-tuning and fixed feature extractor
				t.Errorf("%s: %d cells match %s, want 2", name, len(found), re)
			}
			for _, m := range found {
				if !slices.Equal(m[1:], want[i]) {
					t.Errorf("%s: %q, but the recipe is %v", name, m[0], want[i])
				}
			}
		}
	}
}

// TestCommittedNotebooksCarryOutputs: the notebooks in the repository are executed ones, every cell ran without
// error, and every expected figure is there.
func TestCommittedNotebooksCarryOutputs(t *testing.T) {
	dir := notebooksDir(t)
	for _, name := range tutorialNotebooks {
		nb, err := nbcheck.Load(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if f := nb.FirstFailure(); f != nil {
			t.Errorf("%s: %v", name, f)
		}
		checkExpectedFigures(t, name, nb)
	}
}

// tinyConfiguration returns the environment that runs the tutorial notebooks in a tiny configuration (a few
// images at 64×64, one epoch, the pure-Go backend, the dataset zip from ../shared/data and PyTorch-made random
// weights from the fixtures), writing under tmp. It skips the test when Jupyter, Chromium, the weights or the
// dataset are missing (fails under CI) and when -short is set.
func tinyConfiguration(t *testing.T, r *repo, tmp string) map[string]string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: executes a tutorial notebook")
	}
	_, err := findJupyter()
	requireTool(t, err, "Jupyter's nbconvert")
	_, err = nbcheck.FindBrowser()
	requireTool(t, err, "headless Chromium")
	weights := filepath.Join(r.Root, ".fixtures", "model", "resnet18_random.pth")
	_, err = os.Stat(weights)
	requireTool(t, err, "the PyTorch-made test weights (GOEXPERIMENT=simd go generate ./...)")
	dataset := os.Getenv("HYMENOPTERA_TEST_ZIP")
	if dataset == "" {
		dataset = filepath.Join(filepath.Dir(r.Root), "shared", "data", "hymenoptera_data.zip")
	}
	_, err = os.Stat(dataset)
	requireTool(t, err, "the dataset zip (set HYMENOPTERA_TEST_ZIP)")
	return map[string]string{
		"GOMLX_BACKEND":          "go",
		"HYMENOPTERA_EPOCHS":     "1",
		"HYMENOPTERA_MAX_IMAGES": "8",
		"HYMENOPTERA_IMAGE_SIZE": "64",
		"HYMENOPTERA_DATA_URL":   dataset,
		"HYMENOPTERA_WEIGHTS":    weights,
		"HYMENOPTERA_CACHE":      filepath.Join(tmp, "cache"),
		"HYMENOPTERA_DATA":       filepath.Join(tmp, "data"),
		"HYMENOPTERA_RUNS":       filepath.Join(tmp, "runs"),
	}
}

// TestTutorialNotebooksRunHeadless executes both notebooks through the kernel, nbconvert and Chromium in the tiny
// configuration and checks every cell, the expected figures in the executed notebook and in its HTML export, and
// that a screenshot of the HTML is not blank.
func TestTutorialNotebooksRunHeadless(t *testing.T) {
	r, err := findRepo()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	config := tinyConfiguration(t, r, tmp)
	for _, v := range []string{"JUPYTER_DATA_DIR", "JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR"} {
		t.Setenv(v, filepath.Join(tmp, strings.ToLower(v)))
	}
	t.Setenv("JUPYTER_PATH", "")
	for key, value := range config {
		t.Setenv(key, value)
	}
	prefix := filepath.Join(tmp, "prefix")
	out := filepath.Join(tmp, "out")
	var log bytes.Buffer
	args := []string{"--prefix", prefix, "--out", out, "--timeout", "20m", "--check", "--min-images", "7"}
	for _, name := range tutorialNotebooks {
		args = append(args, filepath.Join(r.Root, "notebooks", name))
	}
	if err := runRun(args, &log); err != nil {
		t.Fatalf("run: %v\n%s", err, log.String())
	}
	t.Logf("run:\n%s", log.String())
	for _, name := range tutorialNotebooks {
		nb, err := nbcheck.Load(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		if f := nb.FirstFailure(); f != nil {
			t.Fatalf("%s: %v", name, f)
		}
		checkExpectedFigures(t, name, nb)
		stdout := nb.Stdout()
		for _, want := range []string{"NOT the ImageNet weights", "CPU and kernels: ", "Estimated time on this machine",
			"train Loss: ", "val Loss: ", "Best val Acc: "} {
			if !strings.Contains(stdout, want) {
				t.Errorf("%s: output lacks %q", name, want)
			}
		}
	}
}

// freshMachineEnv names the variable that runs TestFreshMachineRunsANotebook outside CI.
const freshMachineEnv = "HYMENOPTERA_FRESH_MACHINE_TEST"

// TestFreshMachineRunsANotebook is a first run on a fresh machine that reaches only the Go module proxy: `go run
// ./kernel run NB --check` with an empty HOME, module cache and build cache, and a checksum database that cannot be
// reached (GOSUMDB points at a closed local port), in the tiny configuration. The kernel tool, GoNB, goimports and
// gopls, and every module a notebook cell's `go get` adds, must then be verified from committed go.sum files alone,
// with checksum verification on. It runs under CI (CI=true) or when HYMENOPTERA_FRESH_MACHINE_TEST is set: it
// downloads every module and compiles everything from scratch, minutes of work.
func TestFreshMachineRunsANotebook(t *testing.T) {
	if os.Getenv("CI") != "true" && os.Getenv(freshMachineEnv) == "" {
		t.Skipf("downloads and compiles everything from scratch: runs under CI=true or with %s=1", freshMachineEnv)
	}
	r, err := findRepo()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	config := tinyConfiguration(t, r, tmp)
	sumdb, err := goOutput(r.Root, nil, "env", "GOSUMDB")
	if err != nil {
		t.Fatal(err)
	}
	sumdbKey, _, _ := strings.Cut(strings.TrimSpace(string(sumdb)), " ")
	if sumdbKey == "off" || sumdbKey == "" {
		t.Fatalf("GOSUMDB=%q: the test proves that nothing needs checksum verification off, so it needs it on", sumdb)
	}
	home := filepath.Join(tmp, "home")
	fresh := map[string]string{
		"HOME":       home,
		"GOPATH":     filepath.Join(home, "go"),
		"GOMODCACHE": filepath.Join(tmp, "gomodcache"),
		"GOCACHE":    filepath.Join(tmp, "gocache"),
		// The database's usual key, but a URL nothing answers at: any lookup fails, as on a machine that reaches
		// only the module proxy (and one that does not proxy the database).
		"GOSUMDB":      sumdbKey + " https://127.0.0.1:1",
		"GOEXPERIMENT": "simd",
	}
	for key, value := range config {
		fresh[key] = value
	}
	var env []string
	for _, kv := range os.Environ() {
		key, _, _ := strings.Cut(kv, "=")
		if _, replaced := fresh[key]; !replaced && !strings.HasPrefix(key, "XDG_") && !strings.HasPrefix(key, "JUPYTER_") {
			env = append(env, kv)
		}
	}
	for key, value := range fresh {
		env = append(env, key+"="+value)
	}
	// The module cache is read-only, as the go command makes it: empty it the go command's way before the
	// temporary directory goes.
	t.Cleanup(func() {
		clean := exec.Command("go", "clean", "-modcache")
		clean.Env = env
		if out, err := clean.CombinedOutput(); err != nil {
			t.Logf("go clean -modcache: %v\n%s", err, out)
		}
	})

	name := tutorialNotebooks[0] // the Korean notebook: it also exercises the Hangul rendering check
	out := filepath.Join(tmp, "out")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "run", "./kernel", "run", filepath.Join("notebooks", name), "--check",
		"--min-images", "7", "--timeout", "40m", "--out", out)
	cmd.Dir = r.Root
	cmd.Env = env
	log, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, log)
	}
	t.Logf("%s:\n%s", cmd, log)
	nb, err := nbcheck.Load(filepath.Join(out, name))
	if err != nil {
		t.Fatal(err)
	}
	checkExpectedFigures(t, name, nb)
}
