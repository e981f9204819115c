package docker

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// composeFile is the part of a compose file the checks read. Values are decoded after YAML anchors and merge
// keys are resolved (yaml.v3 does that), so an x- extension shared by services is checked in each of them.
type composeFile struct {
	Services map[string]service `yaml:"services"`
	Volumes  map[string]any     `yaml:"volumes"`
}

type service struct {
	Image       string         `yaml:"image"`
	Build       *build         `yaml:"build"`
	User        string         `yaml:"user"`
	Ports       []any          `yaml:"ports"`       // short strings or long-syntax maps
	Environment any            `yaml:"environment"` // list of NAME[=value] or a map
	Volumes     []any          `yaml:"volumes"`     // short strings or long-syntax maps
	Profiles    []string       `yaml:"profiles"`
	Command     any            `yaml:"command"`
	Entrypoint  any            `yaml:"entrypoint"`
	Healthcheck map[string]any `yaml:"healthcheck"`
	Deploy      struct {
		Resources struct {
			Reservations struct {
				Devices []struct {
					Capabilities []string `yaml:"capabilities"`
				} `yaml:"devices"`
			} `yaml:"reservations"`
		} `yaml:"resources"`
	} `yaml:"deploy"`
}

type build struct {
	Context    string            `yaml:"context"`
	Dockerfile string            `yaml:"dockerfile"`
	Target     string            `yaml:"target"`
	Args       map[string]string `yaml:"args"`
}

func parseCompose(src string) (*composeFile, error) {
	var c composeFile
	if err := yaml.Unmarshal([]byte(src), &c); err != nil {
		return nil, err
	}
	if len(c.Services) == 0 {
		return nil, fmt.Errorf("no services")
	}
	return &c, nil
}

// envEntry is one environment variable of a service, as written (before interpolation).
type envEntry struct {
	Name     string
	Value    string
	HasValue bool // false: passed through from the caller's environment
}

func (s service) env() ([]envEntry, error) {
	var entries []envEntry
	switch env := s.Environment.(type) {
	case nil:
	case []any:
		for _, item := range env {
			text, ok := item.(string)
			if !ok {
				return nil, fmt.Errorf("environment entry %v is not a string", item)
			}
			name, value, has := strings.Cut(text, "=")
			entries = append(entries, envEntry{name, value, has})
		}
	case map[string]any:
		for name, value := range env {
			if value == nil {
				entries = append(entries, envEntry{Name: name})
			} else {
				entries = append(entries, envEntry{name, fmt.Sprint(value), true})
			}
		}
	default:
		return nil, fmt.Errorf("environment is neither a list nor a map")
	}
	return entries, nil
}

// publishedPort is one port mapping, variables at their defaults.
type publishedPort struct {
	HostIP, Published, Target string
}

func (s service) ports() ([]publishedPort, error) {
	var ports []publishedPort
	for _, p := range s.Ports {
		switch p := p.(type) {
		case string:
			parts := splitPortSpec(expand(p, nil))
			switch len(parts) {
			case 1:
				ports = append(ports, publishedPort{Target: parts[0]})
			case 2:
				ports = append(ports, publishedPort{Published: parts[0], Target: parts[1]})
			case 3:
				ports = append(ports, publishedPort{HostIP: strings.Trim(parts[0], "[]"), Published: parts[1], Target: parts[2]})
			default:
				return nil, fmt.Errorf("cannot parse port %q", p)
			}
		case map[string]any:
			ports = append(ports, publishedPort{HostIP: fmt.Sprint(valueOr(p["host_ip"], "")),
				Published: expand(fmt.Sprint(valueOr(p["published"], "")), nil), Target: fmt.Sprint(p["target"])})
		default:
			return nil, fmt.Errorf("cannot parse port %v", p)
		}
	}
	return ports, nil
}

// splitPortSpec splits "[ip:]host:container", keeping a bracketed IPv6 address whole.
func splitPortSpec(spec string) []string {
	if strings.HasPrefix(spec, "[") {
		if end := strings.Index(spec, "]"); end > 0 {
			return append([]string{spec[:end+1]}, strings.Split(strings.TrimPrefix(spec[end+1:], ":"), ":")...)
		}
	}
	return strings.Split(spec, ":")
}

func valueOr(v any, fallback any) any {
	if v == nil {
		return fallback
	}
	return v
}

// mount is one volume entry of a service.
type mount struct {
	Source, Target string
	Named          bool // a named volume rather than a bind mount
}

func (s service) mounts(c *composeFile) ([]mount, error) {
	var mounts []mount
	for _, v := range s.Volumes {
		var m mount
		switch v := v.(type) {
		case string:
			parts := strings.Split(v, ":")
			if len(parts) < 2 {
				return nil, fmt.Errorf("anonymous volume %q", v)
			}
			m = mount{Source: parts[0], Target: parts[1]}
		case map[string]any:
			m = mount{Source: fmt.Sprint(valueOr(v["source"], "")), Target: fmt.Sprint(v["target"])}
		default:
			return nil, fmt.Errorf("cannot parse volume %v", v)
		}
		_, m.Named = c.Volumes[m.Source]
		mounts = append(mounts, m)
	}
	return mounts, nil
}

// words flattens a command or entrypoint (string or list) for scanning.
func words(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case []any:
		var parts []string
		for _, p := range v {
			parts = append(parts, fmt.Sprint(p))
		}
		return strings.Join(parts, " ")
	default:
		return fmt.Sprint(v)
	}
}
