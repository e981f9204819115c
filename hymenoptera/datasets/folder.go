// Package datasets is torchvision.datasets for the tutorial: it downloads and extracts the hymenoptera dataset
// (DownloadHymenoptera, ExtractZip), lists a class tree as torchvision's ImageFolder does (NewImageFolder), and
// decodes image files to the 8-bit RGB pixels that PIL gives torchvision (DecodeImage, LoadImage).
//
//	dir, err := datasets.DownloadHymenoptera(ctx, datasets.DownloadOptions{})
//	train, err := datasets.NewImageFolder(filepath.Join(dir, "train"))
package datasets

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"

	"github.com/hymenoptera-go/tutorial/hymenoptera/transforms"
)

// ImageExtensions are the file extensions that ImageFolder takes for images, compared case-insensitively:
// torchvision's IMG_EXTENSIONS. Other files (the tutorial dataset's imageNotFound.gif) are ignored.
var ImageExtensions = []string{".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp"}

// Sample is one image of an ImageFolder: its file and its class index.
type Sample struct {
	Path  string
	Label int
}

// ImageFolder is torchvision's datasets.ImageFolder: root holds one directory per class, the classes are their
// sorted names labelled 0..n-1, and the samples are the image files anywhere below each class directory, in
// torchvision's order. Images are decoded by Load, when the data loader needs them.
type ImageFolder struct {
	Root    string
	Classes []string
	Samples []Sample
}

// FolderOption configures NewImageFolder.
type FolderOption func(*folderConfig)

type folderConfig struct {
	skipUndecodable bool
	warnings        io.Writer
}

// SkipUndecodable makes NewImageFolder decode every image once (in parallel) and leave out the files that fail,
// writing a warning naming each to w (nil: no warnings), instead of the data loader failing with an error when it
// reaches one. It costs one extra decoding of the whole dataset. Classes keep their labels, even one whose every
// file is left out.
func SkipUndecodable(w io.Writer) FolderOption {
	return func(c *folderConfig) { c.skipUndecodable, c.warnings = true, w }
}

// NewImageFolder lists the classes and images under root as torchvision's ImageFolder(root) does:
//   - classes are the sub-directories of root (symbolic links to directories included), sorted by name;
//   - each class directory is walked like os.walk(followlinks=True), its directories visited in sorted path order
//     and the files of each in sorted name order, keeping those with an ImageExtensions extension;
//   - a class without any image is an error, as torchvision raises FileNotFoundError.
//
// Unlike os.walk, an unreadable directory is an error rather than silently skipped, and a symbolic link back to
// one of its own ancestors is not followed (os.walk would loop until paths grow too long).
func NewImageFolder(root string, opts ...FolderOption) (*ImageFolder, error) {
	var cfg folderConfig
	for _, opt := range opts {
		opt(&cfg)
	}
	classes, err := findClasses(root)
	if err != nil {
		return nil, err
	}
	f := &ImageFolder{Root: root, Classes: classes}
	var empty []string
	for label, class := range classes {
		files, err := imageFiles(filepath.Join(root, class))
		if err != nil {
			return nil, err
		}
		if len(files) == 0 {
			empty = append(empty, class)
		}
		for _, path := range files {
			f.Samples = append(f.Samples, Sample{Path: path, Label: label})
		}
	}
	if len(empty) > 0 {
		return nil, fmt.Errorf("datasets: found no image file for the classes %s in %s (image extensions: %s)",
			strings.Join(empty, ", "), root, strings.Join(ImageExtensions, ", "))
	}
	if cfg.skipUndecodable {
		f.dropUndecodable(cfg.warnings)
	}
	return f, nil
}

// findClasses is torchvision's find_classes: the sorted names of root's directories.
func findClasses(root string) ([]string, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("datasets: ImageFolder: %w", err)
	}
	var classes []string
	for _, e := range entries {
		if isDir(filepath.Join(root, e.Name()), e) {
			classes = append(classes, e.Name())
		}
	}
	if len(classes) == 0 {
		return nil, fmt.Errorf("datasets: found no class directory in %s", root)
	}
	return classes, nil // os.ReadDir sorts by name
}

// isDir reports whether entry is a directory or a symbolic link to one, as Python's DirEntry.is_dir() does.
func isDir(path string, e os.DirEntry) bool {
	if e.IsDir() {
		return true
	}
	if e.Type()&os.ModeSymlink == 0 {
		return false
	}
	info, err := os.Stat(path)
	return err == nil && info.IsDir()
}

// imageFiles lists the image files below dir in the order of torchvision's make_dataset:
// sorted(os.walk(dir, followlinks=True)), i.e. directories sorted by their whole path, each one's files by name.
func imageFiles(dir string) ([]string, error) {
	type listing struct {
		dir   string
		files []string
	}
	var listings []listing
	var walk func(dir string, ancestors []fileID) error
	walk = func(dir string, ancestors []fileID) error {
		info, err := os.Stat(dir)
		if err != nil {
			return fmt.Errorf("datasets: ImageFolder: %w", err)
		}
		id := idOf(info)
		if slices.Contains(ancestors, id) {
			return nil // a link to an ancestor: following it would never end
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			return fmt.Errorf("datasets: ImageFolder: %w", err)
		}
		l := listing{dir: dir}
		var subdirs []string
		for _, e := range entries {
			path := filepath.Join(dir, e.Name())
			if isDir(path, e) {
				subdirs = append(subdirs, path)
			} else if hasImageExtension(e.Name()) {
				l.files = append(l.files, path)
			}
		}
		listings = append(listings, l)
		for _, sub := range subdirs {
			if err := walk(sub, append(slices.Clip(ancestors), id)); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(dir, nil); err != nil {
		return nil, err
	}
	slices.SortFunc(listings, func(a, b listing) int { return strings.Compare(a.dir, b.dir) })
	var files []string
	for _, l := range listings {
		files = append(files, l.files...)
	}
	return files, nil
}

func hasImageExtension(name string) bool {
	lower := strings.ToLower(name)
	for _, ext := range ImageExtensions {
		if strings.HasSuffix(lower, ext) {
			return true
		}
	}
	return false
}

// fileID identifies a directory across the paths (links) that reach it.
type fileID struct{ dev, ino uint64 }

func idOf(info os.FileInfo) fileID {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return fileID{uint64(st.Dev), st.Ino}
	}
	return fileID{}
}

// dropUndecodable decodes every sample on all cores and removes those that fail, warning about each.
func (f *ImageFolder) dropUndecodable(warnings io.Writer) {
	failed := make([]error, len(f.Samples))
	var wg sync.WaitGroup
	next := make(chan int)
	for range runtime.NumCPU() {
		wg.Go(func() {
			for i := range next {
				_, failed[i] = f.Load(i)
			}
		})
	}
	for i := range f.Samples {
		next <- i
	}
	close(next)
	wg.Wait()
	kept := f.Samples[:0]
	for i, s := range f.Samples {
		if failed[i] != nil {
			if warnings != nil {
				fmt.Fprintf(warnings, "warning: skipping %v\n", failed[i])
			}
			continue
		}
		kept = append(kept, s)
	}
	f.Samples = kept
}

// Len is the number of samples.
func (f *ImageFolder) Len() int { return len(f.Samples) }

// Label is the class index of sample i.
func (f *ImageFolder) Label(i int) int { return f.Samples[i].Label }

// Load decodes sample i to 8-bit RGB (see DecodeImage); errors name the file.
func (f *ImageFolder) Load(i int) (*transforms.Image, error) { return LoadImage(f.Samples[i].Path) }
