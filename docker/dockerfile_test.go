// Package docker holds the static checks of the project's container files: docker/Dockerfile and
// docker/compose.yaml. No Docker engine runs in CI, so these tests are what keeps the files honest: they parse
// both files (Dockerfile instructions, build stages, arguments; compose's YAML with variable defaults) and check
// the properties docker/README.md promises.
package docker

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	Cmd  string // upper-case keyword: FROM, RUN, COPY, ...
	Args string // the rest of the instruction
	Line int    // 1-based line of its first line
}

// stage is one build stage: FROM to the next FROM.
type stage struct {
	Name   string // the AS name ("" if none)
	Image  string // the FROM reference, arguments expanded
	Parent *stage // the stage it builds FROM, when it builds on an earlier one
	Body   []instruction
	Line   int
}

// dockerfile is a parsed Dockerfile.
type dockerfile struct {
	GlobalArgs map[string]string // ARGs before the first FROM, with their defaults
	Stages     []*stage
	All        []instruction
}

var heredoc = regexp.MustCompile(`<<-?["']?[A-Za-z_]`)

// parseDockerfile splits a Dockerfile into instructions and stages. It supports what docker/Dockerfile uses:
// comments, `\` continuations, ARG defaults and ${VAR} references in FROM. Heredocs are refused rather than
// misread.
func parseDockerfile(src string) (*dockerfile, error) {
	df := &dockerfile{GlobalArgs: map[string]string{}}
	lines := strings.Split(src, "\n")
	for i := 0; i < len(lines); i++ {
		text := strings.TrimSpace(lines[i])
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		start := i + 1
		for strings.HasSuffix(text, "\\") {
			text = strings.TrimSuffix(text, "\\")
			i++
			for i < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[i]), "#") {
				i++ // comment lines inside a continued instruction are dropped
			}
			if i >= len(lines) {
				return nil, fmt.Errorf("line %d: continuation at end of file", start)
			}
			text += " " + strings.TrimSpace(lines[i])
		}
		cmd, args, _ := strings.Cut(text, " ")
		in := instruction{Cmd: strings.ToUpper(cmd), Args: strings.TrimSpace(args), Line: start}
		if heredoc.MatchString(in.Args) {
			return nil, fmt.Errorf("line %d: heredocs are not supported by this checker", start)
		}
		df.All = append(df.All, in)
		if err := df.add(in); err != nil {
			return nil, err
		}
	}
	if len(df.Stages) == 0 {
		return nil, fmt.Errorf("no FROM instruction")
	}
	return df, nil
}

func (df *dockerfile) add(in instruction) error {
	if in.Cmd == "FROM" {
		words := shellWords(in.Args)
		for len(words) > 0 && strings.HasPrefix(words[0], "--") {
			words = words[1:] // --platform=...
		}
		if len(words) != 1 && !(len(words) == 3 && strings.EqualFold(words[1], "AS")) {
			return fmt.Errorf("line %d: cannot parse FROM %s", in.Line, in.Args)
		}
		s := &stage{Image: expand(words[0], df.GlobalArgs), Line: in.Line}
		if len(words) == 3 {
			s.Name = words[2]
		}
		s.Parent = df.stage(s.Image)
		df.Stages = append(df.Stages, s)
		return nil
	}
	if len(df.Stages) == 0 {
		if in.Cmd != "ARG" {
			return fmt.Errorf("line %d: %s before the first FROM", in.Line, in.Cmd)
		}
		for name, value := range keyValues(in.Args) {
			df.GlobalArgs[name] = value
		}
		return nil
	}
	s := df.Stages[len(df.Stages)-1]
	s.Body = append(s.Body, in)
	return nil
}

// stage returns the earlier stage called name, or nil.
func (df *dockerfile) stage(name string) *stage {
	for _, s := range df.Stages {
		if s.Name != "" && strings.EqualFold(s.Name, name) {
			return s
		}
	}
	return nil
}

// chain returns a stage and the stages it builds on, the base first.
func (s *stage) chain() []*stage {
	if s.Parent == nil {
		return []*stage{s}
	}
	return append(s.Parent.chain(), s)
}

// instructions returns every instruction that applies to the stage's image, its ancestors' first.
func (s *stage) instructions() []instruction {
	var all []instruction
	for _, st := range s.chain() {
		all = append(all, st.Body...)
	}
	return all
}

// env returns the environment the stage's image ends with.
func (s *stage) env() map[string]string {
	env := map[string]string{}
	for _, in := range s.instructions() {
		if in.Cmd == "ENV" {
			for k, v := range keyValues(in.Args) {
				env[k] = v
			}
		}
	}
	return env
}

// last returns the stage's last instruction of kind cmd (its ancestors' count too), or nil.
func (s *stage) last(cmd string) *instruction {
	all := s.instructions()
	for i := len(all) - 1; i >= 0; i-- {
		if all[i].Cmd == cmd {
			return &all[i]
		}
	}
	return nil
}

// copySpec is a parsed COPY or ADD.
type copySpec struct {
	From    string // --from value, "" for the build context
	Sources []string
	Dest    string
}

func parseCopy(in instruction) (copySpec, error) {
	var words []string
	args := in.Args
	var spec copySpec
	for strings.HasPrefix(args, "--") {
		flag, rest, _ := strings.Cut(args, " ")
		if v, ok := strings.CutPrefix(flag, "--from="); ok {
			spec.From = v
		}
		args = strings.TrimSpace(rest)
	}
	if strings.HasPrefix(args, "[") {
		if err := json.Unmarshal([]byte(args), &words); err != nil {
			return spec, fmt.Errorf("line %d: bad JSON form: %v", in.Line, err)
		}
	} else {
		words = shellWords(args)
	}
	if len(words) < 2 {
		return spec, fmt.Errorf("line %d: %s needs a source and a destination", in.Line, in.Cmd)
	}
	spec.Sources, spec.Dest = words[:len(words)-1], words[len(words)-1]
	return spec, nil
}

// shellWords splits on blanks, honouring single and double quotes (without expanding anything).
func shellWords(s string) []string {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// keyValues parses ARG and ENV arguments: NAME, NAME=value pairs, or ENV's legacy "NAME value with spaces".
func keyValues(args string) map[string]string {
	words := shellWords(args)
	kv := map[string]string{}
	if len(words) > 1 && !strings.Contains(words[0], "=") {
		kv[words[0]] = strings.Join(words[1:], " ")
		return kv
	}
	for _, w := range words {
		name, value, _ := strings.Cut(w, "=")
		kv[name] = value
	}
	return kv
}

var varRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)`)

// expand substitutes ${VAR}, ${VAR:-default} and $VAR from vars (a missing variable takes its default, or "").
func expand(s string, vars map[string]string) string {
	return varRef.ReplaceAllStringFunc(s, func(ref string) string {
		m := varRef.FindStringSubmatch(ref)
		name := m[1] + m[3]
		if v, ok := vars[name]; ok && v != "" {
			return v
		}
		return m[2]
	})
}
