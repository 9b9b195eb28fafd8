package strategies

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// ErrUnknown is returned (wrapped) for an unknown strategy name or option.
var ErrUnknown = errors.New("strategies: unknown")

// Option documents one option a strategy accepts.
//
// An option is of one of two kinds. A plain option holds text its factory reads with one of
// Options' typed accessors (Float, Int, Bool, Choice, String). An auto option (Auto set) is a
// non-negative number or "auto": the value the stream registers for it (AutoTable), settled when
// the strategy is set up on a stream; the factory reads it with Options.FloatOrAuto, and
// Regularizer resolves it and reports it (Resolver) without more code.
type Option struct {
	Name    string
	Default string // the value used when the option is not given
	Doc     string
	// Auto, when set, makes this an auto option: "auto" takes the stream's default from this
	// table. Listings describe it (Help).
	Auto *AutoTable
}

// Help is the option's documentation for listings: Doc and, for an auto option, what "auto"
// means, e.g. "penalty strength; auto: the stream's default (ewc.lambda), else 100".
func (o Option) Help() string {
	if o.Auto == nil {
		return o.Doc
	}
	h := "auto: the stream's default (" + o.Auto.Key + "), else " + strconv.FormatFloat(o.Auto.Fallback, 'g', -1, 64)
	if o.Doc == "" {
		return h
	}
	return o.Doc + "; " + h
}

// Info describes a registered strategy for listings and option checking. What a strategy needs
// from the scenario is not declared here but asked of the strategy itself (Requirer), for its
// default options or any spec: see Registry.Requirements.
type Info struct {
	Name    string
	Doc     string   // one line
	Options []Option // every option the strategy accepts
}

// Factory builds a strategy from its parsed options.
type Factory func(opts *Options) (Strategy, error)

type entry struct {
	info    Info
	factory Factory
}

// Registry maps strategy names to factories. The zero value is not usable: call NewRegistry.
type Registry struct {
	m map[string]entry
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{m: map[string]entry{}} }

// Default is the registry used by the CLI; the built-in strategies register themselves in it.
var Default = NewRegistry()

// Register adds a strategy to the Default registry. See Registry.Register.
func Register(info Info, f Factory) { Default.Register(info, f) }

// Register adds a strategy. It panics on an empty or malformed name, a nil factory, a duplicate
// name or an auto option whose table has no Key: these are programming errors found at start-up.
func (r *Registry) Register(info Info, f Factory) {
	if info.Name == "" || strings.ContainsAny(info.Name, ":,= ") {
		panic(fmt.Sprintf("strategies: invalid strategy name %q", info.Name))
	}
	if f == nil {
		panic("strategies: Register of " + info.Name + " with a nil factory")
	}
	if _, dup := r.m[info.Name]; dup {
		panic("strategies: Register called twice for " + info.Name)
	}
	for _, o := range info.Options {
		if o.Auto != nil && o.Auto.Key == "" {
			panic("strategies: Register of " + info.Name + ": auto option " + o.Name + " has a table without a Key")
		}
	}
	r.m[info.Name] = entry{info: info, factory: f}
}

// Names returns the registered names, sorted.
func (r *Registry) Names() []string {
	n := make([]string, 0, len(r.m))
	for k := range r.m {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// Infos returns every strategy's Info, sorted by name.
func (r *Registry) Infos() []Info {
	var out []Info
	for _, n := range r.Names() {
		out = append(out, r.m[n].info)
	}
	return out
}

// Lookup returns the Info of a registered strategy.
func (r *Registry) Lookup(name string) (Info, bool) {
	e, ok := r.m[name]
	return e.info, ok
}

// Requirements returns what the strategy built from spec needs from the scenario: a strategy
// name gives its default options' requirements (what a listing shows), a full spec those of its
// options (e.g. naive:heads=multi needs task identity, naive does not). It asks the strategy New
// builds (RequirementsOf), the very value the runner checks, so a listing and a run cannot
// disagree.
func (r *Registry) Requirements(spec string) (Requirements, error) {
	s, err := r.New(spec)
	if err != nil {
		return Requirements{}, err
	}
	return RequirementsOf(s), nil
}

// Spec is a parsed strategy spec: a name and options, e.g. "ewc:lambda=100,online=true".
type Spec struct {
	Name    string
	Options map[string]string
	keys    []string
}

// String returns the canonical spec: the name, then the options sorted by key.
func (s Spec) String() string {
	if len(s.Options) == 0 {
		return s.Name
	}
	keys := make([]string, 0, len(s.Options))
	for k := range s.Options {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + s.Options[k]
	}
	return s.Name + ":" + strings.Join(parts, ",")
}

// ParseSpec parses "name" or "name:key=value,key=value". It checks syntax only.
func ParseSpec(spec string) (Spec, error) {
	spec = strings.TrimSpace(spec)
	name, rest, hasOpts := strings.Cut(spec, ":")
	s := Spec{Name: strings.TrimSpace(name), Options: map[string]string{}}
	if s.Name == "" {
		return s, fmt.Errorf("strategies: empty strategy name in %q (write e.g. naive or ewc:lambda=100)", spec)
	}
	if strings.ContainsAny(s.Name, ",= ") {
		return s, fmt.Errorf("strategies: invalid strategy name %q in %q", s.Name, spec)
	}
	if !hasOpts {
		return s, nil
	}
	for _, kv := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(kv, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || v == "" {
			return s, fmt.Errorf("strategies: option %q in %q is not key=value", kv, spec)
		}
		if _, dup := s.Options[k]; dup {
			return s, fmt.Errorf("strategies: option %q given twice in %q", k, spec)
		}
		s.Options[k] = v
		s.keys = append(s.keys, k)
	}
	return s, nil
}

// Named is implemented by strategies that report the spec they were built from; New sets it.
type Named interface {
	SetSpec(spec string)
	Spec() string
}

// Resolver is implemented by strategies that settle options at Setup, such as lambda=auto. The
// runner records Resolved's map (option name to the value used, in the spec's syntax) in each
// result, so a result file names the strength it ran with.
type Resolver interface {
	Resolved() map[string]string
}

// New parses spec, checks its name and options against the registry, and builds the strategy.
func (r *Registry) New(spec string) (Strategy, error) {
	st, _, err := r.build(spec)
	return st, err
}

// Key returns the configuration spec stands for, to tell whether two specs train the same: the
// strategy's name and every option it accepts, given or defaulted, sorted by name, with the
// values its factory reads through Options' typed accessors in normal form (numbers as
// strconv.FormatFloat or Itoa writes them, booleans true or false, "auto" in lower case). So
// "ewc" and "ewc:lambda=auto", or "ewc:lambda=100" and "ewc:lambda=1e2", have one Key, though
// their canonical specs (Spec.String, which names results folders and sweep cells) differ.
// Options left empty are omitted. It returns New's error for a spec New refuses.
func (r *Registry) Key(spec string) (string, error) {
	_, opts, err := r.build(spec)
	if err != nil {
		return "", err
	}
	k := Spec{Name: opts.spec.Name, Options: map[string]string{}}
	for _, op := range opts.info.Options {
		v := opts.Raw(op.Name)
		if n, ok := opts.norm[op.Name]; ok {
			v = n
		}
		if v != "" {
			k.Options[op.Name] = v
		}
	}
	return k.String(), nil
}

// build is New, also returning the Options the factory read.
func (r *Registry) build(spec string) (Strategy, *Options, error) {
	s, err := ParseSpec(spec)
	if err != nil {
		return nil, nil, err
	}
	e, ok := r.m[s.Name]
	if !ok {
		return nil, nil, fmt.Errorf("%w strategy %q (known: %s)", ErrUnknown, s.Name, strings.Join(r.Names(), ", "))
	}
	known := map[string]bool{}
	var names []string
	for _, o := range e.info.Options {
		known[o.Name] = true
		names = append(names, o.Name)
	}
	for _, k := range s.keys {
		if !known[k] {
			list := strings.Join(names, ", ")
			if list == "" {
				list = "none"
			}
			return nil, nil, fmt.Errorf("%w option %q for strategy %s (known: %s)", ErrUnknown, k, s.Name, list)
		}
	}
	opts := &Options{spec: s, info: e.info}
	st, err := e.factory(opts)
	if err == nil {
		err = opts.Err()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("strategies: %s: %w", spec, err)
	}
	if n, ok := st.(Named); ok {
		n.SetSpec(s.String())
	}
	return st, opts, nil
}

// Options gives a factory typed access to a spec's options, falling back to the defaults in the
// strategy's Info. The first invalid value is kept and reported by Err (and by Registry.New).
type Options struct {
	spec Spec
	info Info
	err  error
	// norm holds the options read by a typed accessor, in normal form (Registry.Key).
	norm map[string]string
}

// NewOptions returns Options for a spec string checked against info, for tests and wrappers that
// call a factory directly.
func NewOptions(info Info, spec string) (*Options, error) {
	s, err := ParseSpec(spec)
	if err != nil {
		return nil, err
	}
	return &Options{spec: s, info: info}, nil
}

// Err returns the first error met while reading options.
func (o *Options) Err() error { return o.err }

// Raw returns the option's text: given, else its default, else "".
func (o *Options) Raw(name string) string {
	if v, ok := o.spec.Options[name]; ok {
		return v
	}
	if op, ok := o.option(name); ok {
		return op.Default
	}
	return ""
}

// option returns the Info's documentation of option name.
func (o *Options) option(name string) (Option, bool) {
	for _, op := range o.info.Options {
		if op.Name == name {
			return op, true
		}
	}
	return Option{}, false
}

// note records the normal form of option name's value, as a typed accessor read it.
func (o *Options) note(name, v string) {
	if o.norm == nil {
		o.norm = map[string]string{}
	}
	o.norm[name] = v
}

// FloatOrAuto reads an auto option (Option.Auto set): "auto" (any case), which Resolve settles
// at Setup from the option's table, or a non-negative number float32 can hold (see Float).
func (o *Options) FloatOrAuto(name string) AutoFloat {
	a := AutoFloat{Name: name}
	op, _ := o.option(name)
	if op.Auto != nil {
		a.Table = *op.Auto
	}
	if v := o.Raw(name); strings.EqualFold(v, "auto") {
		if op.Auto == nil {
			o.fail(name, v, "a non-negative number (the option has no automatic value)")
		}
		a.Auto = true
		o.note(name, "auto")
		return a
	}
	a.Value = o.Float(name)
	o.Check(name, a.Value >= 0 && !math.IsInf(a.Value, 0), "auto or a non-negative number")
	return a
}

func (o *Options) fail(name, v, want string) {
	if o.err == nil {
		o.err = fmt.Errorf("option %s=%q: want %s", name, v, want)
	}
}

// String returns the option's value.
func (o *Options) String(name string) string { return o.Raw(name) }

// float32Want describes the numbers float32 can hold, for option errors.
var float32Want = "a number float32 can hold (at most " + strconv.FormatFloat(math.MaxFloat32, 'g', -1, 32) + " in magnitude, and 0 or at least " + strconv.FormatFloat(math.SmallestNonzeroFloat32, 'g', -1, 32) + "): strategies apply their options in float32"

// InFloat32 reports whether float32 can hold v: v is finite, at most math.MaxFloat32 in
// magnitude and, unless 0, at least math.SmallestNonzeroFloat32 (smaller values become 0).
func InFloat32(v float64) bool {
	a := math.Abs(v)
	return a <= math.MaxFloat32 && (a == 0 || a >= math.SmallestNonzeroFloat32)
}

// Float returns the option as a float64. Strategies apply their options in float32 arithmetic
// (the training graph, the optimizer, the penalty), so a value float32 cannot hold (InFloat32:
// NaN, infinities, beyond math.MaxFloat32, or so small it becomes 0) is refused.
func (o *Options) Float(name string) float64 {
	v := o.Raw(name)
	f, err := strconv.ParseFloat(v, 64)
	switch {
	case err != nil && !errors.Is(err, strconv.ErrRange):
		o.fail(name, v, "a number")
	case err != nil || !InFloat32(f):
		o.fail(name, v, float32Want)
	default:
		o.note(name, strconv.FormatFloat(f, 'g', -1, 64))
	}
	return f
}

// Int returns the option as an int.
func (o *Options) Int(name string) int {
	v := o.Raw(name)
	i, err := strconv.Atoi(v)
	if err != nil {
		o.fail(name, v, "an integer")
	} else {
		o.note(name, strconv.Itoa(i))
	}
	return i
}

// Bool returns the option as a bool (true/false, 1/0, yes/no).
func (o *Options) Bool(name string) bool {
	v := strings.ToLower(o.Raw(name))
	switch v {
	case "true", "1", "yes":
		o.note(name, "true")
		return true
	case "false", "0", "no":
		o.note(name, "false")
		return false
	}
	o.fail(name, v, "true or false")
	return false
}

// Choice returns the option, checking it is one of choices.
func (o *Options) Choice(name string, choices ...string) string {
	v := o.Raw(name)
	for _, c := range choices {
		if v == c {
			o.note(name, v)
			return v
		}
	}
	o.fail(name, v, "one of "+strings.Join(choices, ", "))
	return v
}

// Check records err (if it is the first) as an invalid option value.
func (o *Options) Check(name string, ok bool, want string) {
	if !ok {
		o.fail(name, o.Raw(name), want)
	}
}
