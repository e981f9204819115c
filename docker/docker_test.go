package docker

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// repoInfo is what the container files must agree with.
type repoInfo struct {
	Root      string
	GoVersion string            // the Go release go.mod asks for, e.g. "1.26.5"
	Pins      map[string]string // module → version selected by go.mod
}

// pinnedModules are the modules whose versions the container files may mention, by the directory of the go.mod
// that pins them (gopls has a module of its own, see kernel/gopls/go.mod).
var pinnedModules = map[string][]string{
	".":            {"github.com/janpfeifer/gonb", "golang.org/x/tools", "github.com/gomlx/go-xla"},
	"kernel/gopls": {"golang.org/x/tools/gopls"},
}

func loadRepo(t *testing.T) repoInfo {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		if parent := filepath.Dir(dir); parent != dir {
			dir = parent
		} else {
			t.Fatal("no go.mod above the test's directory")
		}
	}
	var mod struct{ Go, Toolchain string }
	if err := json.Unmarshal(goCmd(t, dir, "mod", "edit", "-json"), &mod); err != nil {
		t.Fatal(err)
	}
	info := repoInfo{Root: dir, GoVersion: mod.Go, Pins: map[string]string{}}
	if mod.Toolchain != "" {
		info.GoVersion = strings.TrimPrefix(mod.Toolchain, "go")
	}
	for modDir, modules := range pinnedModules {
		listed := goCmd(t, filepath.Join(dir, modDir), append([]string{"list", "-m", "-json"}, modules...)...)
		dec := json.NewDecoder(bytes.NewReader(listed))
		for dec.More() {
			var m struct{ Path, Version string }
			if err := dec.Decode(&m); err != nil {
				t.Fatal(err)
			}
			info.Pins[m.Path] = m.Version
		}
	}
	return info
}

func goCmd(t *testing.T, dir string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s: %v", strings.Join(args, " "), err)
	}
	return out
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

var (
	// secretName matches variable names that hold credentials: they must never get a value in the files.
	secretName = regexp.MustCompile(`(?i)token|passw(or)?d|secret|api_?key`)
	// tokenOption matches Jupyter options that set (or empty, which disables) the login token or password.
	tokenOption = regexp.MustCompile(`(?i)(NotebookApp|ServerApp|IdentityProvider|PasswordIdentityProvider)\.(token|password|hashed_password)`)
	// toolVersionRef matches explicit module@version references to the kernel's tools.
	toolVersionRef = regexp.MustCompile(`(github\.com/janpfeifer/gonb|golang\.org/x/tools/gopls|golang\.org/x/tools)(?:/[\w./-]*)?@(\S+)`)
	kernelInstall  = regexp.MustCompile(`\bgo run \./kernel install\b`)
	kernelPJRT     = regexp.MustCompile(`\bgo run \./kernel pjrt\b.*--plugin[= ](\S+)(?:.*--version[= ](\S+))?`)
	// otherKernelInstalls are ways of installing a kernelspec that bypass kernel/'s install command.
	otherKernelInstalls = regexp.MustCompile(`\bgonb\s+-{1,2}install\b|\bkernelspec\s+install\b|kernel\.json`)
)

// checkImageRef returns a problem when ref is untagged or :latest (a digest pins it too).
func checkImageRef(ref string) string {
	if strings.Contains(ref, "@sha256:") {
		return ""
	}
	name := ref[strings.LastIndex(ref, "/")+1:]
	_, tag, tagged := strings.Cut(name, ":")
	switch {
	case !tagged || tag == "":
		return fmt.Sprintf("image %q is untagged: pin a version", ref)
	case tag == "latest":
		return fmt.Sprintf("image %q uses :latest: pin a version", ref)
	}
	return ""
}

func isRootUser(user string) bool {
	name, _, _ := strings.Cut(strings.TrimSpace(user), ":")
	return name == "" || name == "root" || name == "0"
}

// checkDockerfile lists everything wrong with the Dockerfile; an empty list means it passes.
func checkDockerfile(df *dockerfile, repo repoInfo) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	for _, s := range df.Stages {
		if s.Parent != nil {
			continue
		}
		if p := checkImageRef(s.Image); p != "" {
			add("line %d: %s", s.Line, p)
		}
		if rest, ok := strings.CutPrefix(s.Image, "golang:"); ok {
			version, _, _ := strings.Cut(rest, "-")
			if version != repo.GoVersion {
				add("line %d: the image has Go %s but go.mod asks for %s", s.Line, version, repo.GoVersion)
			}
		}
	}

	var installsKernel, installsCPUPlugin bool
	for _, in := range df.All {
		switch in.Cmd {
		case "COPY", "ADD":
			spec, err := parseCopy(in)
			if err != nil {
				add("%v", err)
				continue
			}
			if spec.From != "" {
				if df.stage(spec.From) == nil {
					if p := checkImageRef(spec.From); p != "" {
						add("line %d: COPY --from %s", in.Line, p)
					}
				}
				continue
			}
			for _, src := range spec.Sources {
				clean := path.Clean(src)
				if path.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
					add("line %d: %s source %q leaves the build context", in.Line, in.Cmd, src)
				} else if _, err := os.Stat(filepath.Join(repo.Root, filepath.FromSlash(clean))); err != nil {
					add("line %d: %s source %q does not exist in the repository", in.Line, in.Cmd, src)
				}
			}
		case "RUN":
			if kernelInstall.MatchString(in.Args) {
				installsKernel = true
			}
			if m := kernelPJRT.FindStringSubmatch(in.Args); m != nil && m[1] == "cpu" {
				installsCPUPlugin = true
			}
			if otherKernelInstalls.MatchString(in.Args) {
				add("line %d: installs a kernelspec by another way than kernel/'s install command", in.Line)
			}
			for _, m := range toolVersionRef.FindAllStringSubmatch(in.Args, -1) {
				if pinned := repo.Pins[m[1]]; m[2] != pinned {
					add("line %d: %s@%s, but go.mod pins %s", in.Line, m[1], m[2], pinned)
				}
			}
		case "ENV", "ARG":
			for name, value := range keyValues(in.Args) {
				if secretName.MatchString(name) && value != "" {
					add("line %d: %s %s bakes a credential into the image", in.Line, in.Cmd, name)
				}
			}
		}
		if tokenOption.MatchString(in.Args) {
			add("line %d: sets Jupyter's token or password in the image", in.Line)
		}
	}
	for name, value := range df.GlobalArgs {
		if secretName.MatchString(name) && value != "" {
			add("global ARG %s bakes a credential into the image", name)
		}
	}
	if !installsKernel {
		add("the kernel is not installed with kernel/'s install command (RUN go run ./kernel install ...)")
	}
	if !installsCPUPlugin {
		add("the XLA CPU plugin is not installed with go run ./kernel pjrt --plugin cpu")
	}

	cpu, cuda := df.stage("cpu"), df.stage("cuda")
	if cpu == nil || cuda == nil {
		add("the Dockerfile needs stages named cpu and cuda")
		return problems
	}
	if df.Stages[len(df.Stages)-1] != cpu {
		add("cpu must be the last stage, so that a plain docker build makes the CPU image")
	}
	for _, s := range []*stage{cpu, cuda} {
		if user := s.last("USER"); user == nil || isRootUser(user.Args) {
			add("stage %s runs as root: end with USER <non-root user>", s.Name)
		}
		if hc := s.last("HEALTHCHECK"); hc == nil || strings.EqualFold(strings.TrimSpace(hc.Args), "NONE") {
			add("stage %s has no HEALTHCHECK", s.Name)
		}
		if !strings.Contains(","+s.env()["GOEXPERIMENT"]+",", ",simd,") {
			add("stage %s does not set GOEXPERIMENT=simd", s.Name)
		}
	}
	if backend, set := cpu.env()["GOMLX_BACKEND"]; set {
		add("the cpu stage sets GOMLX_BACKEND=%s: leave it unset, so that the pure-Go backend takes over "+
			"when the XLA plugin is missing", backend)
	}
	if backend := cuda.env()["GOMLX_BACKEND"]; backend != "xla:cuda" {
		add("the cuda stage sets GOMLX_BACKEND=%q, want xla:cuda", backend)
	}
	stageArgs := map[string]string{}
	var cudaVersion string
	var installsCUDA bool
	for _, in := range cuda.Body {
		if in.Cmd == "ARG" {
			for k, v := range keyValues(in.Args) {
				stageArgs[k] = v
			}
		}
		if m := kernelPJRT.FindStringSubmatch(in.Args); in.Cmd == "RUN" && m != nil && strings.HasPrefix(m[1], "cuda") {
			installsCUDA, cudaVersion = true, strings.Trim(expand(m[2], stageArgs), `"'`)
		}
	}
	switch {
	case !installsCUDA:
		add("the cuda stage does not install the CUDA plugin with go run ./kernel pjrt --plugin cuda13")
	case cudaVersion == "" || cudaVersion == "latest":
		add("the cuda stage's plugin version is %q: pin a JAX release", cudaVersion)
	}
	return problems
}

// checkCompose lists everything wrong with the compose file (in composeDir) given the Dockerfile it builds.
func checkCompose(c *composeFile, df *dockerfile, composeDir string, repo repoInfo) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	var hasDefault, hasGPU bool
	for name, svc := range c.Services {
		if svc.Image != "" {
			if p := checkImageRef(svc.Image); p != "" {
				add("service %s: %s", name, p)
			}
		}
		var target *stage
		if svc.Build == nil {
			add("service %s: no build section", name)
		} else {
			context := filepath.Join(composeDir, svc.Build.Context)
			if filepath.Clean(context) != filepath.Clean(repo.Root) {
				add("service %s: build context %s is not the repository root", name, svc.Build.Context)
			}
			if _, err := os.Stat(filepath.Join(context, svc.Build.Dockerfile)); err != nil {
				add("service %s: Dockerfile %s does not exist", name, svc.Build.Dockerfile)
			}
			if target = df.stage(svc.Build.Target); target == nil {
				add("service %s: build target %q is not a stage of the Dockerfile", name, svc.Build.Target)
			}
		}
		if svc.User != "" && isRootUser(expand(svc.User, nil)) {
			add("service %s: runs as root (user %q)", name, svc.User)
		}
		ports, err := svc.ports()
		if err != nil {
			add("service %s: %v", name, err)
		}
		for _, p := range ports {
			if p.Published == "" {
				continue // not published on the host
			}
			if ip := p.HostIP; ip != "127.0.0.1" && ip != "::1" && ip != "localhost" {
				add("service %s: port %s is published on all interfaces (host IP %q): bind it to 127.0.0.1",
					name, p.Target, ip)
			}
		}
		env, err := svc.env()
		if err != nil {
			add("service %s: %v", name, err)
		}
		values := map[string]string{}
		for _, e := range env {
			values[e.Name] = e.Value
			if secretName.MatchString(e.Name) && e.HasValue && !isBareReference(e.Value) {
				add("service %s: environment %s=%q bakes a credential into the file: pass it through instead",
					name, e.Name, e.Value)
			}
		}
		if tokenOption.MatchString(words(svc.Command) + " " + words(svc.Entrypoint)) {
			add("service %s: sets Jupyter's token or password on the command line", name)
		}
		if svc.Healthcheck != nil {
			if svc.Healthcheck["disable"] == true || strings.HasPrefix(words(svc.Healthcheck["test"]), "NONE") {
				add("service %s: disables the health check", name)
			}
		} else if target != nil && target.last("HEALTHCHECK") == nil {
			add("service %s: no health check (neither in the service nor in its image)", name)
		}
		mounts, err := svc.mounts(c)
		if err != nil {
			add("service %s: %v", name, err)
		}
		var notebooks bool
		for _, m := range mounts {
			if !m.Named && filepath.Clean(filepath.Join(composeDir, m.Source)) == filepath.Join(repo.Root, "notebooks") {
				notebooks = true
			}
		}
		if !notebooks {
			add("service %s: does not mount the repository's notebooks/", name)
		}
		for _, v := range []string{"HYMENOPTERA_DATA", "HYMENOPTERA_CACHE"} {
			if !onNamedVolume(values[v], mounts) {
				add("service %s: %s=%q is not on a named volume", name, v, values[v])
			}
		}
		switch {
		case len(svc.Profiles) == 0 && svc.Build != nil && svc.Build.Target == "cpu":
			hasDefault = true
		case contains(svc.Profiles, "gpu") && svc.Build != nil && svc.Build.Target == "cuda":
			for _, d := range svc.Deploy.Resources.Reservations.Devices {
				if contains(d.Capabilities, "gpu") {
					hasGPU = true
				}
			}
		}
	}
	if !hasDefault {
		add("no service builds the cpu target without a profile")
	}
	if !hasGPU {
		add("no service in profile gpu builds the cuda target and reserves GPUs")
	}
	return problems
}

var bareReference = regexp.MustCompile(`^\$\{[A-Za-z_][A-Za-z0-9_]*(:?\?[^}]*)?(:?-)?\}$`)

// isBareReference accepts ${VAR}, ${VAR:-} and ${VAR:?message}: values that come from the caller's environment,
// with no literal default.
func isBareReference(value string) bool { return bareReference.MatchString(value) }

func onNamedVolume(dir string, mounts []mount) bool {
	if dir == "" {
		return false
	}
	for _, m := range mounts {
		if m.Named && (dir == m.Target || strings.HasPrefix(dir, strings.TrimSuffix(m.Target, "/")+"/")) {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, item := range list {
		if item == s {
			return true
		}
	}
	return false
}

// The real files.

func loadFiles(t *testing.T) (repoInfo, string, string) {
	repo := loadRepo(t)
	return repo, readFile(t, filepath.Join(repo.Root, "docker", "Dockerfile")),
		readFile(t, filepath.Join(repo.Root, "docker", "compose.yaml"))
}

func problemsOf(t *testing.T, repo repoInfo, dockerfileSrc, composeSrc string) []string {
	t.Helper()
	df, err := parseDockerfile(dockerfileSrc)
	if err != nil {
		return []string{"Dockerfile: " + err.Error()}
	}
	problems := checkDockerfile(df, repo)
	c, err := parseCompose(composeSrc)
	if err != nil {
		return append(problems, "compose: "+err.Error())
	}
	return append(problems, checkCompose(c, df, filepath.Join(repo.Root, "docker"), repo)...)
}

func TestContainerFilesPass(t *testing.T) {
	repo, dockerfileSrc, composeSrc := loadFiles(t)
	if problems := problemsOf(t, repo, dockerfileSrc, composeSrc); len(problems) > 0 {
		t.Errorf("docker/Dockerfile and docker/compose.yaml:\n  %s", strings.Join(problems, "\n  "))
	}
}

// mutation is a change to a copy of a real file, and the problem the checks must then report.
type mutation struct {
	name, old, new, want string
}

func (m mutation) apply(t *testing.T, src string) string {
	t.Helper()
	if !strings.Contains(src, m.old) {
		t.Fatalf("%s: the file no longer contains %q: update this test case", m.name, m.old)
	}
	return strings.Replace(src, m.old, m.new, 1)
}

func expectProblem(t *testing.T, m mutation, problems []string) {
	t.Helper()
	for _, p := range problems {
		if strings.Contains(p, m.want) {
			return
		}
	}
	t.Errorf("%s: no problem mentions %q; got:\n  %s", m.name, m.want, strings.Join(problems, "\n  "))
}

func TestDockerfileMutationsFail(t *testing.T) {
	repo, dockerfileSrc, composeSrc := loadFiles(t)
	for _, m := range []mutation{
		{"older Go", "FROM golang:" + repo.GoVersion + "-bookworm", "FROM golang:1.25.0-bookworm", "go.mod asks for"},
		{"latest image", "FROM golang:" + repo.GoVersion + "-bookworm", "FROM golang:latest", ":latest"},
		{"untagged image", "FROM golang:" + repo.GoVersion + "-bookworm AS base", "FROM golang AS base", "untagged"},
		{"missing COPY source", "COPY kernel ./kernel", "COPY kernels ./kernel", `"kernels" does not exist`},
		{"COPY outside the context", "COPY kernel ./kernel", "COPY ../secrets ./kernel", "leaves the build context"},
		{"kernel not installed by kernel/", "RUN go run ./kernel install --prefix /usr/local",
			"RUN go run github.com/janpfeifer/gonb --install", "kernel/'s install command"},
		{"tool at another version", "RUN go mod download",
			"RUN go mod download && go install golang.org/x/tools/gopls@v0.20.0", "but go.mod pins"},
		{"no CPU plugin", "RUN go run ./kernel pjrt --plugin cpu --lib /usr/local/lib", "RUN true", "XLA CPU plugin"},
		{"token in ENV", "ENV GOEXPERIMENT=simd", "ENV JUPYTER_TOKEN=abc123 GOEXPERIMENT=simd", "JUPYTER_TOKEN bakes"},
		{"password ARG", "ARG UID=1000", "ARG NOTEBOOK_PASSWORD=hunter2\nARG UID=1000", "NOTEBOOK_PASSWORD bakes"},
		{"token disabled", `"--no-browser"`, `"--no-browser", "--IdentityProvider.token="`, "token or password"},
		{"legacy token option", `"--no-browser"`, `"--no-browser", "--NotebookApp.token=''"`, "token or password"},
		{"runs as root", "USER hymenoptera\nWORKDIR", "USER root\nWORKDIR", "runs as root"},
		{"no health check", "HEALTHCHECK --interval", "# HEALTHCHECK --interval", "no HEALTHCHECK"},
		{"no simd", "ENV GOEXPERIMENT=simd", "ENV GOEXPERIMENT=", "GOEXPERIMENT=simd"},
		{"CPU image pins the backend", "FROM runtime AS cpu", "FROM runtime AS cpu\nENV GOMLX_BACKEND=xla:cpu",
			"leave it unset"},
		{"CUDA backend unset", "ENV GOMLX_BACKEND=xla:cuda", "ENV OTHER=1", "want xla:cuda"},
		{"CUDA plugin unpinned", "ARG JAX_CUDA_VERSION=0.12.0.1", "ARG JAX_CUDA_VERSION=latest", "pin a JAX release"},
		{"cpu not the default target", "FROM runtime AS cpu\n", "FROM runtime AS cpu\nFROM runtime AS extra\n",
			"cpu must be the last stage"},
	} {
		t.Run(m.name, func(t *testing.T) {
			expectProblem(t, m, problemsOf(t, repo, m.apply(t, dockerfileSrc), composeSrc))
		})
	}
}

func TestComposeMutationsFail(t *testing.T) {
	repo, dockerfileSrc, composeSrc := loadFiles(t)
	for _, m := range []mutation{
		{"all interfaces", `"127.0.0.1:${JUPYTER_PORT:-8888}:8888"`, `"${JUPYTER_PORT:-8888}:8888"`, "all interfaces"},
		{"0.0.0.0", `"127.0.0.1:${JUPYTER_PORT:-8888}:8888"`, `"0.0.0.0:8888:8888"`, "all interfaces"},
		{"long syntax without host_ip", `- "127.0.0.1:${JUPYTER_PORT:-8888}:8888"`,
			"- target: 8888\n      published: 8888", "all interfaces"},
		{"literal token", "- JUPYTER_TOKEN\n", "- JUPYTER_TOKEN=letmein\n", "bakes a credential"},
		{"token default", "- JUPYTER_TOKEN\n", "- JUPYTER_TOKEN=${JUPYTER_TOKEN:-letmein}\n", "bakes a credential"},
		{"token disabled on the command line", "  restart: unless-stopped",
			"  restart: unless-stopped\n  command: [\"jupyter\", \"lab\", \"--ServerApp.token=\"]", "token or password"},
		{"root user", `user: "${HOST_UID:-1000}:${HOST_GID:-1000}"`, `user: "0:0"`, "runs as root"},
		{"latest image", "image: hymenoptera-notebooks:cpu", "image: hymenoptera-notebooks:latest", ":latest"},
		{"untagged image", "image: hymenoptera-notebooks:cpu", "image: hymenoptera-notebooks", "untagged"},
		{"no notebooks mount", "    - ../notebooks:/home/hymenoptera/notebooks\n", "", "notebooks/"},
		{"cache off the volume", "HYMENOPTERA_CACHE=/data/cache", "HYMENOPTERA_CACHE=/tmp/cache",
			"HYMENOPTERA_CACHE=\"/tmp/cache\" is not on a named volume"},
		{"unknown target", "target: cpu", "target: gpu-nonexistent", "is not a stage"},
		{"health check disabled", "  restart: unless-stopped", "  restart: unless-stopped\n  healthcheck:\n    disable: true",
			"disables the health check"},
		{"no GPU profile", `profiles: ["gpu"]`, `profiles: ["cuda"]`, "profile gpu"},
		{"wrong context", "context: ..", "context: .", "not the repository root"},
	} {
		t.Run(m.name, func(t *testing.T) {
			expectProblem(t, m, problemsOf(t, repo, dockerfileSrc, m.apply(t, composeSrc)))
		})
	}
}

// versionMention finds versions the README states for the pinned tools and Go.
var versionMention = regexp.MustCompile(`\b(GoNB|gopls|goimports|go-xla|Go) (v?\d+\.\d+(?:\.\d+)?)\b`)

func TestReadmeVersionsAgreeWithGoMod(t *testing.T) {
	repo := loadRepo(t)
	readme := readFile(t, filepath.Join(repo.Root, "docker", "README.md"))
	modules := map[string]string{"GoNB": "github.com/janpfeifer/gonb", "gopls": "golang.org/x/tools/gopls",
		"goimports": "golang.org/x/tools", "go-xla": "github.com/gomlx/go-xla"}
	mentions := versionMention.FindAllStringSubmatch(readme, -1)
	if len(mentions) == 0 {
		t.Fatal("docker/README.md states no versions: this test would check nothing")
	}
	for _, m := range mentions {
		want := repo.GoVersion
		if m[1] != "Go" {
			want = repo.Pins[modules[m[1]]]
		}
		if m[2] != want {
			t.Errorf("docker/README.md says %q, but go.mod pins %s", m[0], want)
		}
	}
	if !strings.Contains(readme, "not built in CI") {
		t.Error("docker/README.md must say that the image is not built in CI")
	}
}
