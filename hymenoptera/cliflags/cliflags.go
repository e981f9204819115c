// Package cliflags parses command lines whose flags may come before, between or after the positional
// arguments, which Go's flag package does not do (it stops at the first positional one): so that
// `hymenoptera predict a.jpg --json b.jpg` and `go run ./kernel run a.ipynb --out x b.ipynb` work. The project's
// two programs share it.
package cliflags

import "flag"

// ParseInterspersed parses args with fs and returns the positional arguments in order. Everything after "--" is
// positional. Errors are fs.Parse's (flag.ErrHelp for -h), for the caller to report as usage errors.
func ParseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}
