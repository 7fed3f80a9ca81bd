package router

import (
	"errors"
	"fmt"
	"strings"
)

// Defaults of Config's paths, as in the guest image.
const (
	DefaultModuleList = "/lib/modules/router-load-order"
	DefaultModuleDir  = "/lib/modules"
	DefaultNft        = "nft"
	DefaultProcSys    = "/proc/sys"
)

// Config says which interfaces the router joins; the zero value is no
// router.
type Config struct {
	In  string // access side: connections may start here
	Out string // core side: what leaves here is masqueraded

	// ModuleList lists the modules to load, one path a line relative to
	// ModuleDir, dependencies first (testbed/image writes it).
	ModuleList, ModuleDir string
	Nft                   string // the nft binary
	ProcSys               string // where /proc/sys is
}

// Enabled reports whether c asks for a router.
func (c Config) Enabled() bool { return c.In != "" || c.Out != "" }

// Parse parses the --router value "IN:OUT" (or "IN,OUT"; a colon passes
// on the guest's kernel command line, where commas separate the vnf's
// arguments).
func Parse(s string) (Config, error) {
	in, out, ok := strings.Cut(s, ":")
	if !ok {
		in, out, ok = strings.Cut(s, ",")
	}
	if !ok {
		return Config{}, fmt.Errorf("router %q: want IN:OUT, the access and the core interface", s)
	}
	c := Config{In: in, Out: out}
	if err := c.validate(); err != nil {
		return Config{}, fmt.Errorf("router %q: %w", s, err)
	}
	return c, nil
}

func (c *Config) setDefaults() {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.ModuleList, DefaultModuleList)
	def(&c.ModuleDir, DefaultModuleDir)
	def(&c.Nft, DefaultNft)
	def(&c.ProcSys, DefaultProcSys)
}

func (c Config) validate() error {
	var errs []error
	for _, n := range []struct{ side, name string }{{"access", c.In}, {"core", c.Out}} {
		if err := validIfname(n.name); err != nil {
			errs = append(errs, fmt.Errorf("%s interface: %w", n.side, err))
		}
	}
	if c.In != "" && c.In == c.Out {
		errs = append(errs, fmt.Errorf("access and core interface are both %q", c.In))
	}
	return errors.Join(errs...)
}

// validIfname accepts what Linux takes as an interface name, less the
// characters that would need quoting in the ruleset.
func validIfname(s string) error {
	switch {
	case s == "":
		return errors.New("empty name")
	case len(s) > 15:
		return fmt.Errorf("%q longer than 15 bytes", s)
	case s == "." || s == "..":
		return fmt.Errorf("%q is not a name", s)
	case strings.ContainsAny(s, "/:,\"\\ \t\n"):
		return fmt.Errorf("%q holds a character not allowed in an interface name", s)
	}
	return nil
}
