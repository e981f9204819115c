package docker

import (
	"reflect"
	"testing"
)

func TestParseDockerfile(t *testing.T) {
	df, err := parseDockerfile(`# syntax comment
ARG BASE=debian:12.5
FROM ${BASE} AS one
RUN apt-get update \
  # a comment inside a continuation
 && apt-get install -y curl
ENV A=1 B="two words"
FROM one AS two
ENV LEGACY value with spaces
COPY --from=one --chown=1:1 ["/a b", "/c"]
`)
	if err != nil {
		t.Fatal(err)
	}
	if len(df.Stages) != 2 || df.Stages[0].Image != "debian:12.5" || df.Stages[1].Parent != df.Stages[0] {
		t.Fatalf("stages = %+v", df.Stages)
	}
	run := df.Stages[0].Body[0]
	if run.Cmd != "RUN" || run.Args != "apt-get update  && apt-get install -y curl" || run.Line != 4 {
		t.Errorf("continued RUN = %+v", run)
	}
	env := df.Stages[1].env()
	if want := map[string]string{"A": "1", "B": "two words", "LEGACY": "value with spaces"}; !reflect.DeepEqual(env, want) {
		t.Errorf("env = %v, want %v", env, want)
	}
	spec, err := parseCopy(df.Stages[1].Body[1])
	if err != nil || spec.From != "one" || !reflect.DeepEqual(spec.Sources, []string{"/a b"}) || spec.Dest != "/c" {
		t.Errorf("COPY = %+v, %v", spec, err)
	}
}

func TestParseDockerfileRefusesWhatItCannotRead(t *testing.T) {
	for name, src := range map[string]string{
		"no FROM":           "RUN true\n",
		"heredoc":           "FROM debian:12\nRUN <<EOF\necho\nEOF\n",
		"dangling continue": "FROM debian:12\nRUN true \\",
		"bad FROM":          "FROM a b c d\n",
	} {
		if _, err := parseDockerfile(src); err == nil {
			t.Errorf("%s: parsed without error", name)
		}
	}
}

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "x", "EMPTY": ""}
	for in, want := range map[string]string{
		"${A}-$A": "x-x", "${B:-def}": "def", "${EMPTY:-d}": "d", "${MISSING}": "", "127.0.0.1:${P:-8888}:8888": "127.0.0.1:8888:8888",
	} {
		if got := expand(in, vars); got != want {
			t.Errorf("expand(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestIsBareReference(t *testing.T) {
	for value, want := range map[string]bool{
		"${JUPYTER_TOKEN}": true, "${JUPYTER_TOKEN:-}": true, "${JUPYTER_TOKEN:?set it}": true,
		"${JUPYTER_TOKEN:-abc}": false, "abc": false, "$JUPYTER_TOKEN x": false,
	} {
		if got := isBareReference(value); got != want {
			t.Errorf("isBareReference(%q) = %v", value, got)
		}
	}
}

func TestCheckImageRef(t *testing.T) {
	for ref, ok := range map[string]bool{
		"golang:1.26.5-bookworm": true, "registry:5000/team/img:1.2": true, "img@sha256:abc": true,
		"golang": false, "golang:latest": false, "registry:5000/team/img": false,
	} {
		if got := checkImageRef(ref) == ""; got != ok {
			t.Errorf("checkImageRef(%q) ok = %v, want %v", ref, got, ok)
		}
	}
}
