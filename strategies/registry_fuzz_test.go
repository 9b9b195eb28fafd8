package strategies

import (
	"errors"
	"strings"
	"testing"
)

// fuzzRegistry has strategies with options of every kind the Options accessors read.
func fuzzRegistry() *Registry {
	r := NewRegistry()
	r.Register(Info{Name: "plain", Doc: "no options"}, func(*Options) (Strategy, error) { return &Naive{}, nil })
	r.Register(Info{Name: "typed", Doc: "typed options", Options: []Option{
		{Name: "f", Default: "1.5"}, {Name: "i", Default: "3"}, {Name: "b", Default: "false"},
		{Name: "c", Default: "x"}, {Name: "s", Default: ""}, HeadsOption,
	}}, func(o *Options) (Strategy, error) {
		s := &Naive{}
		s.ParseHeads(o)
		_ = o.Float("f")
		n := o.Int("i")
		o.Check("i", n >= 0, "a non-negative integer")
		_ = o.Bool("b")
		_ = o.Choice("c", "x", "y")
		_ = o.String("s")
		return s, nil
	})
	r.Register(Info{Name: "fails", Doc: "factory error", Options: []Option{{Name: "k", Default: "0"}}}, func(o *Options) (Strategy, error) {
		if o.Raw("k") == "boom" {
			return nil, errors.New("boom")
		}
		return &Naive{}, nil
	})
	return r
}

// FuzzParseSpec checks the strategy-spec parser and Registry.New on arbitrary strings: no
// panic; a parsed spec's canonical form parses back to the same spec; whatever New accepts it
// accepts again in canonical form, to the same canonical spec; errors name the problem.
func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{
		"naive", "naive:heads=multi", " naive : heads = multi ", "ewc:lambda=100,online=true", "joint:heads=single",
		"typed:f=2,i=4,b=yes,c=y,s=a=b", "typed:i=-1", "typed:f=x", "fails:k=boom", "plain:x=1",
		"", ":", "a:", "a:b", "a:=1", "a:b=", "a:b=1,b=2", "a,b", "a b:c=d", "a:b:c=d", "multihead:heads=multi",
		"naive:heads=multi,", "\x00", "naïve:ĥ=ü",
	} {
		f.Add(s)
	}
	regs := []*Registry{Default, fuzzRegistry()}
	f.Fuzz(func(t *testing.T, spec string) {
		sp, err := ParseSpec(spec)
		if err == nil {
			if sp.Name == "" || strings.ContainsAny(sp.Name, ":,= ") {
				t.Fatalf("ParseSpec(%q) accepted name %q", spec, sp.Name)
			}
			canon := sp.String()
			again, err := ParseSpec(canon)
			if err != nil {
				t.Fatalf("canonical %q of %q does not parse: %v", canon, spec, err)
			}
			if again.String() != canon || again.Name != sp.Name || len(again.Options) != len(sp.Options) {
				t.Fatalf("canonical %q of %q parses to %+v, not %+v", canon, spec, again, sp)
			}
			for k, v := range sp.Options {
				if again.Options[k] != v {
					t.Fatalf("option %q: %q became %q through %q", k, v, again.Options[k], canon)
				}
			}
		} else if err.Error() == "" {
			t.Fatal("empty error")
		}
		for _, r := range regs {
			st, err := r.New(spec)
			if err != nil {
				if st != nil {
					t.Fatalf("New(%q) returned a strategy and an error", spec)
				}
				if !strings.Contains(err.Error(), "strategies:") {
					t.Fatalf("New(%q): error without context: %v", spec, err)
				}
				continue
			}
			if sp.Name == "" {
				t.Fatalf("New(%q) accepted a spec ParseSpec refused", spec)
			}
			n, ok := st.(Named)
			if !ok {
				continue
			}
			canon := n.Spec()
			st2, err := r.New(canon)
			if err != nil {
				t.Fatalf("New(%q) accepted, its canonical spec %q is refused: %v", spec, canon, err)
			}
			if c2 := st2.(Named).Spec(); c2 != canon {
				t.Fatalf("canonical spec %q of %q is not stable: %q", canon, spec, c2)
			}
		}
	})
}
