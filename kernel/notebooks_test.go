package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

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

func codeCells(nb *nbcheck.Notebook) []string {
	var sources []string
	for _, c := range nb.Cells {
		if c.Type == "code" {
			sources = append(sources, c.Source.String())
		}
	}
	return sources
}

// TestNotebooksShareCodeCells: the Korean and English notebooks run the same code, cell for cell; only prose
// differs.
func TestNotebooksShareCodeCells(t *testing.T) {
	dir := notebooksDir(t)
	var cells [][]string
	for _, name := range tutorialNotebooks {
		nb, err := nbcheck.Load(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		cells = append(cells, codeCells(nb))
	}
	if len(cells[0]) == 0 || len(cells[0]) != len(cells[1]) {
		t.Fatalf("%s has %d code cells, %s has %d", tutorialNotebooks[0], len(cells[0]), tutorialNotebooks[1], len(cells[1]))
	}
	for i := range cells[0] {
		if cells[0][i] != cells[1][i] {
			t.Errorf("code cell %d differs:\n--- %s\n%s\n--- %s\n%s", i, tutorialNotebooks[0], cells[0][i],
				tutorialNotebooks[1], cells[1][i])
		}
	}
}

// expectedFigures are the cells (found by a call they make) that must display at least one image: the training
// batch grid, both scenarios' curves and predictions, the single-image probabilities, the closing comparison.
var expectedFigures = []string{
	"viz.Imshow(",
	"trainModel(train.FineTune,",
	"visualizeModel(train.FineTune,",
	"trainModel(train.FixedFeatureExtractor,",
	"visualizeModel(train.FixedFeatureExtractor,",
	"tutorial.PredictImage(",
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

// TestTutorialNotebooksRunHeadless executes both notebooks through the kernel, nbconvert and Chromium in a tiny
// configuration (a few images at 64×64, one epoch, the pure-Go backend, the dataset zip from ../shared/data and
// PyTorch-made random weights from the fixtures) and checks every cell, the expected figures in the executed
// notebook and in its HTML export, and that a screenshot of the HTML is not blank.
func TestTutorialNotebooksRunHeadless(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: executes the notebooks")
	}
	_, err := findJupyter()
	requireTool(t, err, "Jupyter's nbconvert")
	_, err = nbcheck.FindBrowser()
	requireTool(t, err, "headless Chromium")
	r, err := findRepo()
	if err != nil {
		t.Fatal(err)
	}
	weights := filepath.Join(r.Root, ".fixtures", "model", "resnet18_random.pth")
	_, err = os.Stat(weights)
	requireTool(t, err, "the PyTorch-made test weights (GOEXPERIMENT=simd go generate ./...)")
	dataset := os.Getenv("HYMENOPTERA_TEST_ZIP")
	if dataset == "" {
		dataset = filepath.Join(filepath.Dir(r.Root), "shared", "data", "hymenoptera_data.zip")
	}
	_, err = os.Stat(dataset)
	requireTool(t, err, "the dataset zip (set HYMENOPTERA_TEST_ZIP)")

	tmp := t.TempDir()
	for _, v := range []string{"JUPYTER_DATA_DIR", "JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR"} {
		t.Setenv(v, filepath.Join(tmp, strings.ToLower(v)))
	}
	t.Setenv("JUPYTER_PATH", "")
	for key, value := range map[string]string{
		"GOMLX_BACKEND":          "go",
		"HYMENOPTERA_EPOCHS":     "1",
		"HYMENOPTERA_MAX_IMAGES": "8",
		"HYMENOPTERA_IMAGE_SIZE": "64",
		"HYMENOPTERA_DATA_URL":   dataset,
		"HYMENOPTERA_WEIGHTS":    weights,
		"HYMENOPTERA_CACHE":      filepath.Join(tmp, "cache"),
		"HYMENOPTERA_DATA":       filepath.Join(tmp, "data"),
		"HYMENOPTERA_RUNS":       filepath.Join(tmp, "runs"),
	} {
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
		for _, want := range []string{"NOT the ImageNet weights", "train Loss: ", "val Loss: ", "Best val Acc: "} {
			if !strings.Contains(stdout, want) {
				t.Errorf("%s: output lacks %q", name, want)
			}
		}
	}
}
