package main

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// This file lists where go-xla looks for XLA PJRT plugins, so that doctor can say what is installed where, and
// why a plugin is not used. It follows go-xla v0.4.5's pjrt/dynamiclib_base.go and pjrt/dynamiclib_posix.go
// (Linux), which keep that logic unexported: PJRT_PLUGIN_LIBRARY_PATH (a ':'-separated list) replaces the
// defaults when set; otherwise ~/.local/lib/go-xla (and nvidia/), ~/.local/lib/gomlx/pjrt, the same three under
// /usr/local/lib, the absolute entries of LD_LIBRARY_PATH and the directories of /etc/ld.so.conf (following its
// include lines). Whether go-xla accepts a plugin it finds (it dlopens it, and skips CUDA without an NVIDIA
// device) is asked of go-xla itself, through hymenoptera/backends.

// pjrtPathsEnv overrides the default search path, as in go-xla.
const pjrtPathsEnv = "PJRT_PLUGIN_LIBRARY_PATH"

// pjrtSearchPaths returns go-xla's plugin directories, in search order. lookupEnv and home make it testable.
func pjrtSearchPaths(lookupEnv func(string) (string, bool), home, ldSoConf string) []string {
	if list, ok := lookupEnv(pjrtPathsEnv); ok {
		var paths []string
		for _, p := range strings.Split(list, ":") {
			if p != "" {
				paths = append(paths, p)
			}
		}
		return paths
	}
	var paths []string
	if home != "" {
		goXLA := filepath.Join(home, ".local", "lib", "go-xla")
		paths = append(paths, goXLA, filepath.Join(goXLA, "nvidia"), filepath.Join(home, ".local", "lib", "gomlx", "pjrt"))
	}
	paths = append(paths, "/usr/local/lib/go-xla", "/usr/local/lib/go-xla/nvidia", "/usr/local/lib/gomlx/pjrt")
	ldPath, _ := lookupEnv("LD_LIBRARY_PATH")
	for _, p := range strings.Split(ldPath, ":") {
		if p != "" && filepath.IsAbs(p) {
			paths = append(paths, p)
		}
	}
	return appendLdSoConf(paths, ldSoConf)
}

var (
	ldConfInclude = regexp.MustCompile(`^\s*include\s*(.*)$`)
	ldConfComment = regexp.MustCompile(`^\s*#`)
)

// appendLdSoConf adds the directories listed in an ld.so.conf file and the files it includes.
func appendLdSoConf(paths []string, file string) []string {
	f, err := os.Open(file)
	if err != nil {
		return paths
	}
	defer f.Close()
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		line := scanner.Text()
		switch {
		case ldConfInclude.MatchString(line):
			included, _ := filepath.Glob(ldConfInclude.FindStringSubmatch(line)[1])
			for _, inc := range included {
				paths = appendLdSoConf(paths, inc)
			}
		case ldConfComment.MatchString(line) || strings.TrimSpace(line) == "":
		default:
			paths = append(paths, strings.TrimSpace(line))
		}
	}
	return paths
}

// pjrtFile is a plugin library found on disk.
type pjrtFile struct {
	Name string // plugin name as go-xla derives it, e.g. "cpu", "cpu_v0.114.0", "cuda"
	Path string
}

// pjrtPluginPatterns are the file names go-xla recognises as plugins, with the plugin name as the first group.
var pjrtPluginPatterns = []*regexp.Regexp{
	regexp.MustCompile(`^pjrt_c_api_(.+)_plugin\.so$`),
	regexp.MustCompile(`^pjrt[-_]plugin[-_](.+)\.so$`),
}

// findPJRTFiles lists the plugin files in dirs, in search order.
func findPJRTFiles(dirs []string) []pjrtFile {
	var found []pjrtFile
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			for _, re := range pjrtPluginPatterns {
				if m := re.FindStringSubmatch(e.Name()); m != nil {
					found = append(found, pjrtFile{Name: m[1], Path: filepath.Join(dir, e.Name())})
					break
				}
			}
		}
	}
	return found
}
