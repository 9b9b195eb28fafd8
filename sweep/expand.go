package sweep

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/clgraph/clgraph/loop"
	"github.com/clgraph/clgraph/runspec"

	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/stream"
	"github.com/clgraph/clgraph/streams"
	"github.com/sirupsen/logrus"
)

// Plan is an expanded experiment file: its groups (one per stream and scenario, each a run
// folder) and its cells, numbered in grid order.
type Plan struct {
	// Name names the sweep.
	Name string
	// Groups are the stream x scenario groups, in the file's order.
	Groups []*Group
	// Cells are every cell, Cells[i].Index == i.
	Cells []Cell
	// Skipped lists the combinations left out because the strategy cannot run in the scenario.
	Skipped []Skip
}

// Group is one stream and scenario under the protocol: a run folder of the sweep.
type Group struct {
	// Dir is the folder's name inside the sweep folder: <stream or label>-<scenario>.
	Dir string
	// ID is a hash of Key.
	ID string
	// Key is the group's canonical settings, one "key=value" per line.
	Key string
	// Spec is the group's run spec (stream, scenario, protocol with the overrides applied);
	// each cell sets its Strategy and Seed.
	Spec runspec.Spec
	// Tasks are the task names.
	Tasks []string
	// Outputs is the stream's number of output units.
	Outputs int
	// Strategies are the canonical specs run in this group, in grid order.
	Strategies []string
	// Seeds are the seeds.
	Seeds []int64
}

// Cell is one strategy setting with one seed in one group.
type Cell struct {
	// Index is the cell's position in Plan.Cells.
	Index int
	// ID is a hash of the cell's canonical settings (CellKey).
	ID string
	// Group is the index of the cell's group in Plan.Groups.
	Group int
	// Strategy is the canonical strategy spec.
	Strategy string
	// Base is the strategy's registered name (the spec without options).
	Base string
	// Seed is the seed.
	Seed int64
}

// Skip is a combination left out of the grid.
type Skip struct {
	// Group is the group folder's name.
	Group string
	// Strategy is the canonical spec.
	Strategy string
	// Reason says why.
	Reason string
}

// CellKey returns a cell's canonical settings: its group's key, the strategy spec and the seed.
func CellKey(g *Group, spec string, seed int64) string {
	return g.Key + "strategy=" + spec + "\nseed=" + strconv.FormatInt(seed, 10) + "\n"
}

// hashID returns the first 16 hex digits of the SHA-256 of key.
func hashID(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:8])
}

// groupKey writes a group's canonical settings (the format that names cells: it must not change,
// or committed sweeps lose their cells).
func groupKey(sp runspec.Spec) string {
	var b strings.Builder
	ints := func(xs []int) string {
		s := make([]string, len(xs))
		for i, x := range xs {
			s[i] = strconv.Itoa(x)
		}
		return strings.Join(s, ",")
	}
	fmt.Fprintf(&b, "stream=%s\ntasks=%d\nclass_order=%s\nscenario=%s\ntrain_limit=%d\ntest_limit=%d\n",
		sp.Stream, sp.Tasks, ints(sp.ClassOrder), sp.Scenario, sp.TrainLimit, sp.TestLimit)
	fmt.Fprintf(&b, "protocol=%s\niterations=%d\nbatch=%d\neval_batch=%d\nlr=%s\nhidden=%s\n",
		sp.Protocol, sp.Iterations, sp.Batch, sp.EvalBatch, strconv.FormatFloat(sp.LR, 'g', -1, 64), ints(sp.Hidden))
	return b.String()
}

// Expand turns the file into a plan: it resolves every stream's protocol and overrides, builds
// each stream once on synthetic data of MNIST's shape to check its settings, and expands the
// strategies' option grids. With a registry, every spec is checked (name and options) and put
// in the strategy's canonical form, and combinations a strategy cannot run (it needs task
// identity in a domain or class scenario) are skipped; with a nil registry only the syntax is
// checked. Errors name the file and line.
func (f *File) Expand(reg *strategies.Registry) (*Plan, error) {
	el := &errorList{file: f.Path}
	p := &Plan{Name: f.Name}
	if len(f.Seeds) == 0 {
		el.add(f.SeedsLine, "no seeds: add e.g. seeds: [1, 2, 3]")
	}
	// Expand the strategy grids once; check them against the registry.
	type setting struct {
		spec, base string
		line       int
		req        strategies.Requirements
	}
	var settings []setting
	// seen maps a setting's configuration (Registry.Key: defaults filled in; the canonical spec
	// without a registry) to the first setting that has it.
	seen := map[string]setting{}
	for _, e := range f.Strategies {
		for _, opts := range product(e.Grid) {
			spec := strategies.Spec{Name: e.Name, Options: opts}.String()
			s := setting{spec: spec, base: e.Name, line: e.Line}
			key := spec
			if reg != nil {
				st, err := reg.New(spec)
				if err != nil {
					el.add(e.Line, "%s", strings.TrimPrefix(err.Error(), "strategies: "))
					break
				}
				if n, ok := st.(strategies.Named); ok && n.Spec() != "" {
					s.spec = n.Spec()
				}
				s.req = strategies.RequirementsOf(st)
				if key, err = reg.Key(spec); err != nil {
					el.add(e.Line, "%s", strings.TrimPrefix(err.Error(), "strategies: "))
					break
				}
			}
			if prev, dup := seen[key]; dup {
				if prev.spec == s.spec {
					el.add(e.Line, "strategy setting %s is also produced at line %d", s.spec, prev.line)
				} else {
					el.add(e.Line, "strategy setting %s is the same configuration as %s, produced at line %d, once defaults are filled in (%s): drop one", s.spec, prev.spec, prev.line, key)
				}
				continue
			}
			seen[key] = s
			settings = append(settings, s)
		}
	}
	synth := SyntheticData(100, 20)
	dirs := map[string]int{}
	for _, se := range f.Streams {
		def, ok := streams.Lookup(se.Name)
		if !ok {
			el.add(se.Line, "unknown stream %q (known: %s)", se.Name, strings.Join(streams.Names(), ", "))
			continue
		}
		name := def.Name
		if _, ok := def.Protocols[f.Protocol]; !ok {
			el.add(f.ProtocolLine, "unknown protocol %q (known: %s)", f.Protocol, strings.Join(def.ProtocolNames(), ", "))
			return nil, el.err()
		}
		ov := f.Overrides.Over(se.Overrides)
		line := ov.Line
		if line == 0 {
			line = se.Line
		}
		var o runspec.Overrides
		o.Set("stream", name)
		o.Set("protocol", f.Protocol)
		o = o.Over(ov.Overrides)
		if se.Tasks != 0 {
			o.SetValue("tasks", se.Tasks)
		}
		if se.ClassOrder != nil {
			if name != "split-mnist" {
				el.add(se.Line, "class_order applies to split-mnist only")
				continue
			}
			if !isIdentity(se.ClassOrder) {
				o.SetValue("class_order", se.ClassOrder)
			}
		}
		label := se.Label
		if label == "" {
			label = name
		}
		for _, sce := range f.Scenarios {
			so := o
			so.Set("scenario", sce.Scenario.String())
			spec, err := streams.Spec(so)
			if err != nil {
				el.add(line, "settings of %s: %v", name, err)
				break
			}
			st, err := streams.Build(synth, synthetic(spec))
			if err != nil {
				el.add(se.Line, "%s: %s", name, strings.TrimPrefix(err.Error(), "streams: "))
				break
			}
			g := &Group{Dir: label + "-" + sce.Scenario.String(), Spec: spec, Outputs: st.Outputs, Seeds: slices.Clone(f.Seeds)}
			if prev, dup := dirs[g.Dir]; dup {
				el.add(se.Line, "stream %s appears twice (also at line %d): give one a label, e.g. {name: %s, label: %s-b}", label, prev, se.Name, label)
				break
			}
			dirs[g.Dir] = se.Line
			for _, t := range st.Tasks {
				g.Tasks = append(g.Tasks, t.Name)
			}
			g.Key = groupKey(spec)
			g.ID = hashID(g.Key)
			gi := len(p.Groups)
			p.Groups = append(p.Groups, g)
			for _, s := range settings {
				if !slices.Contains(s.req.Runs(), sce.Scenario) {
					reason := s.req.Reason
					if s.req.TaskIdentity {
						reason = "needs task identity at test time, which the " + sce.Scenario.String() + " scenario does not give"
					}
					p.Skipped = append(p.Skipped, Skip{Group: g.Dir, Strategy: s.spec, Reason: reason})
					continue
				}
				if reg != nil {
					// What a strategy can only refuse at setup (a layer count beyond the trunk,
					// a strength float32 cannot apply), on data of the stream's shape.
					if err := TrySetup(reg, s.spec, st, spec); err != nil {
						el.add(s.line, "strategy %s in %s: %s", s.spec, g.Dir, oneLine(err))
						continue
					}
				}
				g.Strategies = append(g.Strategies, s.spec)
				for _, seed := range f.Seeds {
					p.Cells = append(p.Cells, Cell{Index: len(p.Cells), ID: hashID(CellKey(g, s.spec, seed)), Group: gi, Strategy: s.spec, Base: s.base, Seed: seed})
				}
			}
		}
	}
	if err := el.err(); err != nil {
		return nil, err
	}
	if len(p.Cells) == 0 {
		el.add(0, "the grid has no cells (every strategy was left out of every scenario: %d skipped)", len(p.Skipped))
		return nil, el.err()
	}
	return p, nil
}

// TrySetup builds the strategy spec from reg and sets it up once on stream st with the settings
// of rs (hidden layers, learning rate, batch sizes), then discards it: a pre-flight that finds,
// before any run trains, what a strategy can only refuse at setup. The strategy gets an Env of
// its own, with a random source of its own and a logger that discards, so that no run's random
// sources or logs are touched; Setup builds the model but trains nothing. A panic in Setup is
// returned as an error.
func TrySetup(reg *strategies.Registry, spec string, st *stream.Stream, rs runspec.Spec) (err error) {
	s, err := reg.New(spec)
	if err != nil {
		return err
	}
	// What the runner refuses before training (a conv trunk for pnn, normalised inputs for a
	// generator, a blurry stream for a strategy that draws its own batches).
	if err := loop.CheckSettings(rs, s, spec); err != nil {
		return err
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	rng, _ := strategies.NewRand(0, 0)
	env := &strategies.Env{Stream: st, Hidden: slices.Clone(rs.Hidden), Filters: rs.ConvFilters(), LR: rs.LR, Batch: rs.Batch, EvalBatch: rs.EvalBatch, Iterations: rs.Iterations, Optimizer: rs.Optimizer, Rng: rng, Log: log}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("setup panicked: %v", r)
		}
	}()
	return s.Setup(env)
}

// oneLine joins a multi-line message into one line.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

func isIdentity(order []int) bool {
	if len(order) != 10 {
		return false
	}
	for i, c := range order {
		if c != i {
			return false
		}
	}
	return true
}

// product returns the Cartesian product of a grid, the first option varying slowest.
func product(grid []OptionValues) []map[string]string {
	out := []map[string]string{{}}
	for _, ov := range grid {
		var next []map[string]string
		for _, m := range out {
			for _, v := range ov.Values {
				c := make(map[string]string, len(m)+1)
				for k, x := range m {
					c[k] = x
				}
				c[ov.Key] = v
				next = append(next, c)
			}
		}
		out = next
	}
	return out
}

// GroupOf returns the cell's group.
func (p *Plan) GroupOf(c Cell) *Group { return p.Groups[c.Group] }

// Shard returns the cells of shard i of n: those whose index modulo n is i.
func (p *Plan) Shard(i, n int) []Cell {
	var out []Cell
	for _, c := range p.Cells {
		if ShardOf(c.Index, n) == i {
			out = append(out, c)
		}
	}
	return out
}

// ShardOf returns the shard (0..n-1) that runs the cell with the given index.
func ShardOf(index, n int) int {
	if n <= 1 {
		return 0
	}
	return index % n
}
