package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hymenoptera-go/tutorial/hymenoptera/internal/testenv"
	"github.com/hymenoptera-go/tutorial/hymenoptera/predict"
)

// predictFixtures is .fixtures/predict/expected.json, written by reference/predict_fixtures.py.
type predictFixtures struct {
	Checkpoint       string `json:"checkpoint"`
	CheckpointSHA256 string `json:"checkpoint_sha256"`
	Images           []struct {
		File   string    `json:"file"`
		Logits []float64 `json:"logits"`
	} `json:"images"`
}

// loadPredictFixtures returns the fixtures, the path of the checkpoint they were made with and the paths of
// their images.
func loadPredictFixtures(t *testing.T) (fixtures predictFixtures, checkpoint string, images []string) {
	t.Helper()
	expected := testenv.Fixture(t, "predict", "expected.json")
	data, err := os.ReadFile(expected)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &fixtures); err != nil {
		t.Fatalf("%s: %v", expected, err)
	}
	checkpoint = testenv.Fixture(t, "model", fixtures.Checkpoint)
	weights, err := os.ReadFile(checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(weights); hex.EncodeToString(sum[:]) != fixtures.CheckpointSHA256 {
		t.Fatalf("%s is not the checkpoint %s was made with: run `GOEXPERIMENT=simd go generate ./...`",
			checkpoint, expected)
	}
	for _, img := range fixtures.Images {
		images = append(images, filepath.Join(filepath.Dir(expected), "images", img.File))
	}
	return fixtures, checkpoint, images
}

// parsePredictions decodes predict's --json output, one object per line.
func parsePredictions(t *testing.T, stdout string) []prediction {
	t.Helper()
	var predictions []prediction
	for _, line := range strings.Split(strings.TrimSuffix(stdout, "\n"), "\n") {
		var p prediction
		decoder := json.NewDecoder(strings.NewReader(line))
		decoder.DisallowUnknownFields()
		if err := decoder.Decode(&p); err != nil {
			t.Fatalf("output line %q is not a prediction: %v", line, err)
		}
		predictions = append(predictions, p)
	}
	return predictions
}

// TestPredictMatchesPyTorch: predict --json on dataset images gives the logits torchvision computes for them
// with the same checkpoint and the tutorial's validation transform (PIL decoding, Resize(256), CenterCrop(224),
// ToTensor, Normalize).
//
// Tolerance: 1e-4 absolute on logits of magnitude up to 7, as the model's golden tests. Go's JPEG decoding is
// not libjpeg-turbo's bit for bit, but the antialiased resize smooths the difference away: over all 153
// validation images with this checkpoint on the pure-Go backend, the largest difference measured was 3.8e-6.
// The batch size of 4 splits the 6 images into a full batch and a short one.
func TestPredictMatchesPyTorch(t *testing.T) {
	fixtures, checkpoint, images := loadPredictFixtures(t)
	code, stdout, _ := runCLI(t, append([]string{"predict", "--weights", checkpoint, "--json", "--batch", "4"},
		images...)...)
	if code != 0 {
		t.Fatalf("exit status %d", code)
	}
	predictions := parsePredictions(t, stdout)
	if len(predictions) != len(images) {
		t.Fatalf("%d predictions for %d images", len(predictions), len(images))
	}
	var worst float64
	for i, p := range predictions {
		want := fixtures.Images[i].Logits
		if p.Image != images[i] || len(p.Logits) != len(want) {
			t.Fatalf("prediction %d is of %s with %d logits, want %s with %d", i, p.Image, len(p.Logits),
				images[i], len(want))
		}
		if p.Top1 != predict.ArgMax(p.Logits) {
			t.Errorf("%s: top1 %d is not the arg-max of its logits %v", p.Image, p.Top1, p.Logits)
		}
		if p.Label != strconv.Itoa(p.Top1) { // the fixture checkpoint names no classes
			t.Errorf("%s: label %q, want the index %d", p.Image, p.Label, p.Top1)
		}
		wantTop1 := 0
		for j, l := range want {
			worst = max(worst, math.Abs(float64(p.Logits[j])-l))
			if l > want[wantTop1] {
				wantTop1 = j
			}
		}
		if p.Top1 != wantTop1 {
			t.Errorf("%s: top1 %d, PyTorch's %d", p.Image, p.Top1, wantTop1)
		}
	}
	t.Logf("largest difference from PyTorch's logits: %.2g", worst)
	if worst > 1e-4 {
		t.Errorf("logits differ from PyTorch's by up to %.3g (> 1e-4)", worst)
	}
}

// TestPredictBadImages: images that cannot be read are reported, naming them, the others are still classified,
// and the exit status is 1.
func TestPredictBadImages(t *testing.T) {
	_, checkpoint, images := loadPredictFixtures(t)
	dir := t.TempDir()
	notAnImage := filepath.Join(dir, "notes.jpg")
	if err := os.WriteFile(notAnImage, []byte("not a JPEG"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.jpg")
	code, stdout, stderr := runCLI(t, "predict", "--weights", checkpoint, "--json", notAnImage, images[0], missing)
	if code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
	for _, bad := range []string{notAnImage, missing} {
		if !strings.Contains(stderr, bad) {
			t.Errorf("stderr does not name %s:\n%s", bad, stderr)
		}
	}
	if predictions := parsePredictions(t, stdout); len(predictions) != 1 || predictions[0].Image != images[0] {
		t.Errorf("predictions %+v, want one, of %s", predictions, images[0])
	}
}

// TestPredictBadCheckpoint: a checkpoint that cannot be loaded fails the command, naming the file.
func TestPredictBadCheckpoint(t *testing.T) {
	checkpoint := filepath.Join(t.TempDir(), "model.pth")
	if err := os.WriteFile(checkpoint, []byte("not a checkpoint"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, "predict", "--weights", checkpoint, "image.jpg")
	if code != 1 || stdout != "" || !strings.Contains(stderr, checkpoint) {
		t.Errorf("exit status %d, stdout %q, stderr %q; want 1, nothing, the file named", code, stdout, stderr)
	}
}

// TestPredictText: without --json, one readable line per image with its label and softmax probability.
func TestPredictText(t *testing.T) {
	fixtures, checkpoint, images := loadPredictFixtures(t)
	code, stdout, _ := runCLI(t, "predict", "--weights", checkpoint, images[0])
	if code != 0 {
		t.Fatalf("exit status %d", code)
	}
	logits := fixtures.Images[0].Logits
	top1 := 0
	if logits[1] > logits[0] {
		top1 = 1
	}
	probability := 1 / (1 + math.Exp(logits[1-top1]-logits[top1]))
	want := images[0] + ": " + strconv.Itoa(top1) + " (" + strconv.FormatFloat(100*probability, 'f', 1, 64) + "%)\n"
	if stdout != want {
		t.Errorf("output %q, want %q", stdout, want)
	}
}
