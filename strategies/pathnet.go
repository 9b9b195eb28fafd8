package strategies

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand"

	"github.com/clgraph/clgraph/graphs"
	"github.com/clgraph/clgraph/stream"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// PathNet is PathNet (Fernando et al. 2017) in task-IL. Each hidden layer l is Modules small
// dense modules of Hidden[l]/Modules ReLU units; a path picks Active modules per layer, and the
// layer's output is the sum of its active modules' outputs (graphs.ModuleSum over the modules,
// the inactive ones gated to 0). Each task has its own head.
//
// Within a task a population of Population paths (drawn at the task's start from the
// strategy's random source) evolves by binary tournaments: two paths drawn at random are each
// trained for Steps steps (the task's steps spread over Generations tournaments: Steps =
// Iterations / (2 Generations)), a path's fitness is minus its mean training loss over its
// steps, and the loser is overwritten by a copy of the winner in which each module index moves,
// with probability 1/(Active·layers), by a shift drawn uniformly from -2..2 (modulo Modules), as
// in the paper. Only the modules of the path being trained that no earlier task froze, and the
// task's head, are updated (Adam, moments reset per task). At the task's end the last
// tournament's winner is the task's path: its modules are frozen, every module no task has
// frozen is re-initialised, and the task is evaluated through its path from then on.
type PathNet struct {
	Base
	// Modules per hidden layer, Active modules per layer in a path, Population paths, and
	// Generations tournaments per task.
	Modules, Active, Population, Generations int

	mods   [][]graphs.Dense // [layer][module]: a conv module's weight and bias as a Dense
	convs  [][]graphs.Conv  // [layer][module] of the conv layers (the first len(convs) layers)
	width  []int            // units per module, per layer
	gw     []int            // gate values per module and row, per layer: width, or 1 for conv
	frozen [][]int          // [layer][module]: 0 free, t+1 frozen by task t
	pop    [][][]int        // [path][layer][k]: module indices
	fit    []float64        // latest fitness of each path (NaN: not evaluated)
	pair   [2]int           // the tournament's paths
	phase  int              // 0: training pair[0], 1: pair[1]
	count  int              // steps of the phase so far
	loss   float64          // their summed loss
	winner int              // the last tournament's winner (-1: none yet)
	paths  [][][]int        // per task ended: its path
	active int              // the task being trained
	gates  map[int][]*tensor.Dense
	filled int // the path whose gates fill the training graph's rows (-1: none, or overwritten)
	update []*graphs.Param
}

// Compile-time interface checks.
var (
	_ Strategy       = (*PathNet)(nil)
	_ TaskStarter    = (*PathNet)(nil)
	_ TaskEnder      = (*PathNet)(nil)
	_ Checkpointer   = (*PathNet)(nil)
	_ Requirer       = (*PathNet)(nil)
	_ CapacityReport = (*PathNet)(nil)
)

// Requires reports that the paths need the example's task at test time.
func (p *PathNet) Requires() Requirements { return Requirements{TaskIdentity: true} }

// Setup builds the modules, one head per task and the model.
func (p *PathNet) Setup(env *Env) error {
	if len(env.Hidden) == 0 {
		return fmt.Errorf("pathnet: the modules make up the hidden layers: give the trunk at least one (hidden)")
	}
	if env.Iterations <= 0 {
		return fmt.Errorf("pathnet: the tournaments are spread over the task's steps: it needs Env.Iterations, which the runner sets")
	}
	if p.Active > p.Modules {
		return fmt.Errorf("pathnet: active=%d modules of modules=%d: a path cannot use more modules than a layer has", p.Active, p.Modules)
	}
	for _, h := range env.Hidden {
		if h < p.Modules {
			return fmt.Errorf("pathnet: a hidden layer of %d units cannot hold modules=%d modules of at least one unit", h, p.Modules)
		}
	}
	for _, f := range env.Filters {
		if f < p.Modules {
			return fmt.Errorf("pathnet: a conv layer of %d filters cannot hold modules=%d modules of at least one filter", f, p.Modules)
		}
	}
	p.ResolveHeads(env.Stream)
	if p.Heads != stream.MultiHead {
		return fmt.Errorf("pathnet: a shared output layer (heads=single) would be retrained by every task; pathnet needs one head per task (heads=auto or multi, task-IL)")
	}
	p.gates, p.filled = map[int][]*tensor.Dense{}, -1
	p.TrunkFunc, p.ForwardFunc = p.trunk, p.forward
	if err := p.Base.Setup(env); err != nil {
		return fmt.Errorf("pathnet: %w", err)
	}
	p.frozen = make([][]int, len(p.mods))
	for l := range p.frozen {
		p.frozen[l] = make([]int, p.Modules)
	}
	p.paths, p.active = nil, -1
	return p.StartTask(0)
}

// trunk adds the modules: layer l has Modules dense layers of Hidden[l]/Modules units, after,
// on a conv trunk (Env.Filters), conv layers of Modules conv modules of Filters[l]/Modules
// filters each (summed, not stacked: the next layer reads Filters[l]/Modules channels).
func (p *PathNet) trunk(ps *graphs.ParamSet, env *Env) (int, error) {
	p.mods, p.width, p.convs, p.gw = nil, nil, nil, nil
	in := env.Stream.InputDim
	if len(env.Filters) > 0 {
		im, err := SquareImage(env.Stream)
		if err != nil {
			return 0, err
		}
		for l, f := range env.Filters {
			w := f / p.Modules
			var ms []graphs.Dense
			var cs []graphs.Conv
			for m := range p.Modules {
				c, err := graphs.NewConv(ps, fmt.Sprintf("pathnet/c%d/m%d", l, m), "trunk", im, ConvKernel, w, env.Rng)
				if err != nil {
					return 0, err
				}
				cs, ms = append(cs, c), append(ms, graphs.Dense{W: c.W, B: c.B})
			}
			im = cs[0].Out
			p.mods, p.convs = append(p.mods, ms), append(p.convs, cs)
			p.width, p.gw = append(p.width, w), append(p.gw, 1)
		}
		in = im.Size()
	}
	for l, h := range env.Hidden {
		l += len(p.convs)
		w := h / p.Modules
		var ms []graphs.Dense
		for m := range p.Modules {
			ms = append(ms, graphs.NewDense(ps, fmt.Sprintf("pathnet/l%d/m%d", l-len(p.convs), m), "trunk", in, w, env.Rng))
		}
		p.mods, p.width, p.gw = append(p.mods, ms), append(p.width, w), append(p.gw, w)
		in = w
	}
	return in, nil
}

// forward runs every layer's modules as one fused op, gates them by the rows' paths and sums
// each layer's modules.
func (p *PathNet) forward(bd *graphs.Binder, x *G.Node) (*G.Node, error) {
	n := x.Shape()[0]
	g, ok := p.gates[n]
	if !ok {
		for l := range p.mods {
			g = append(g, tensor.New(tensor.WithShape(n, p.Modules*p.gw[l]), tensor.Of(tensor.Float32)))
		}
		p.gates[n] = g
	}
	h := x
	for l, cs := range p.convs {
		zs := make([]*G.Node, len(cs))
		for m, c := range cs {
			var err error
			if zs[m], err = graphs.ApplyConv(bd, h, c); err != nil {
				return nil, err
			}
		}
		var err error
		if h, err = graphs.GatedSum(zs, bd.Const(fmt.Sprintf("pathnet/gate%d", l), g[l])); err != nil {
			return nil, err
		}
	}
	for l, ms := range p.mods {
		if l < len(p.convs) {
			continue
		}
		z, err := graphs.Linear(bd, h, ms...)
		if err != nil {
			return nil, err
		}
		if z, err = graphs.ReLU(z); err != nil {
			return nil, err
		}
		if z, err = graphs.Gate(z, bd.Const(fmt.Sprintf("pathnet/gate%d", l), g[l])); err != nil {
			return nil, err
		}
		if h, err = graphs.ModuleSum(z, p.Modules); err != nil {
			return nil, err
		}
	}
	return p.Out.Apply(bd, h)
}

// setRow opens, in row i of the gates of an n-row graph, the units of path's modules.
func (p *PathNet) setRow(n, i int, path [][]int) {
	for l, g := range p.gates[n] {
		w := p.gw[l]
		row := g.Float32s()[i*p.Modules*w : (i+1)*p.Modules*w]
		clear(row)
		for _, m := range path[l] {
			for j := range w {
				row[m*w+j] = 1
			}
		}
	}
}

// Steps is the number of steps each path of a tournament trains.
func (p *PathNet) Steps() int { return max(1, p.Env.Iterations/(2*p.Generations)) }

// StartTask draws the task's population and its first tournament, and resets Adam's moments.
func (p *PathNet) StartTask(cur int) error {
	if cur == p.active {
		return nil
	}
	rng := p.Env.Rng
	p.pop = make([][][]int, p.Population)
	for i := range p.pop {
		p.pop[i] = make([][]int, len(p.mods))
		for l := range p.mods {
			p.pop[i][l] = rng.Perm(p.Modules)[:p.Active]
		}
	}
	p.fit = make([]float64, p.Population)
	for i := range p.fit {
		p.fit[i] = math.NaN()
	}
	p.active, p.winner, p.phase, p.count, p.loss, p.filled = cur, -1, 0, 0, 0, -1
	p.drawPair(rng)
	p.Opt.Reset()
	return nil
}

// drawPair draws two distinct paths for the next tournament.
func (p *PathNet) drawPair(rng *rand.Rand) {
	a := rng.Intn(p.Population)
	b := rng.Intn(p.Population - 1)
	if b >= a {
		b++
	}
	p.pair = [2]int{a, b}
}

// Step trains the path whose turn it is on bt: its unfrozen modules and the task's head.
func (p *PathNet) Step(cur int, bt *stream.Batch) (StepInfo, error) {
	if cur != p.active {
		if err := p.StartTask(cur); err != nil {
			return StepInfo{}, err
		}
	}
	path := p.pop[p.pair[p.phase]]
	if p.filled != p.pair[p.phase] { // gates change only with the path (or after an evaluation)
		for i := range p.Rows {
			p.setRow(p.Rows, i, path)
		}
		p.filled = p.pair[p.phase]
	}
	if err := p.Fill(cur, Part{Batch: bt, Weight: 1}); err != nil {
		return StepInfo{}, fmt.Errorf("pathnet: %w", err)
	}
	loss, pen, err := p.Net.Step()
	info := StepInfo{Loss: loss, Penalty: pen, Samples: bt.N}
	if err != nil {
		return info, err
	}
	if l := float64(loss + pen); math.IsNaN(l) || math.IsInf(l, 0) {
		return info, Diverged(loss, pen)
	}
	p.update = p.update[:0]
	for l, ms := range path {
		for _, m := range ms {
			if p.frozen[l][m] == 0 {
				p.update = append(p.update, p.mods[l][m].W, p.mods[l][m].B)
			}
		}
	}
	head := p.Out.Layers[cur]
	p.update = append(p.update, head.W, head.B)
	p.Opt.Update(p.update, p.Net.Grad)
	p.loss += float64(loss)
	p.count++
	if p.count == p.Steps() {
		p.fit[p.pair[p.phase]] = -p.loss / float64(p.count)
		p.count, p.loss = 0, 0
		if p.phase == 0 {
			p.phase = 1
		} else {
			p.Tournament(p.Env.Rng)
		}
	}
	return info, nil
}

// Tournament ends the current tournament: the fitter of the pair (the first on a tie) wins,
// the loser becomes a mutated copy of it, and the next pair is drawn.
func (p *PathNet) Tournament(rng *rand.Rand) {
	w, l := p.pair[0], p.pair[1]
	if p.fit[l] > p.fit[w] {
		w, l = l, w
	}
	p.winner = w
	prob := 1 / float64(p.Active*len(p.mods))
	for li, ms := range p.pop[w] {
		dst := p.pop[l][li]
		copy(dst, ms)
		for k := range dst {
			if rng.Float64() < prob {
				dst[k] = ((dst[k]+rng.Intn(5)-2)%p.Modules + p.Modules) % p.Modules
			}
		}
	}
	p.fit[l] = math.NaN()
	p.phase = 0
	if p.filled == l {
		p.filled = -1 // the loser's path changed
	}
	p.drawPair(rng)
}

// best is the active task's path: the last tournament's winner, else the first path of the
// pair.
func (p *PathNet) best() [][]int {
	if p.winner >= 0 {
		return p.pop[p.winner]
	}
	return p.pop[p.pair[0]]
}

// EndTask freezes the task's path and re-initialises every module no task has frozen.
func (p *PathNet) EndTask(cur int) error {
	path := p.best()
	keep := make([][]int, len(path))
	for l, ms := range path {
		keep[l] = append([]int(nil), ms...)
		for _, m := range ms {
			if p.frozen[l][m] == 0 {
				p.frozen[l][m] = cur + 1
			}
		}
	}
	p.paths = append(p.paths[:cur], keep)
	for l, ms := range p.mods {
		for m, d := range ms {
			if p.frozen[l][m] == 0 {
				graphs.InitLinear(d.W, d.B, p.Env.Rng)
			}
		}
	}
	return nil
}

// Paths returns each ended task's path ([task][layer] module indices) and the task that froze
// each module ([layer][module], 0 for none).
func (p *PathNet) Paths() (paths [][][]int, frozen [][]int) { return p.paths, p.frozen }

// Capacity returns, per task ended, the share of the modules it froze and the share frozen so
// far.
func (p *PathNet) Capacity() (of string, task, cumulative []float64) {
	all := float64(len(p.mods) * p.Modules)
	for t := range p.paths {
		var mine, taken float64
		for _, fs := range p.frozen {
			for _, f := range fs {
				if f == t+1 {
					mine++
				}
				if f != 0 && f <= t+1 {
					taken++
				}
			}
		}
		task, cumulative = append(task, mine/all), append(cumulative, taken/all)
	}
	return "modules", task, cumulative
}

// Scores evaluates bt, each example through its task's path (the active task's best so far for
// a task not ended).
func (p *PathNet) Scores(bt *stream.Batch, out []float32) error {
	p.filled = -1 // the evaluation graph may share the training graph's gates (same rows)
	return p.ScoresByTask("pathnet", "the paths need", bt, out, false, func(rows int, tasks []int32) {
		for i, t := range tasks {
			path := p.best()
			if int(t) < len(p.paths) {
				path = p.paths[t]
			}
			p.setRow(rows, i, path)
		}
	})
}

// pathnetState is what SaveState writes (the modules' weights are parameters, saved by the
// runner).
type pathnetState struct {
	Active int       `json:"active"`
	Pop    [][][]int `json:"population"`
	Fit    []float64 `json:"fitness"` // 0 where not evaluated (FitSet false)
	Pair   [2]int    `json:"pair"`
	Phase  int       `json:"phase"`
	Count  int       `json:"count"`
	Loss   float64   `json:"loss"`
	Winner int       `json:"winner"`
	Paths  [][][]int `json:"paths"`
	Frozen [][]int   `json:"frozen"`
	FitSet []bool    `json:"fitness_set"`
}

// SaveState saves the population, the tournament in progress, the tasks' paths and the frozen
// modules.
func (p *PathNet) SaveState() ([]byte, error) {
	st := pathnetState{Active: p.active, Pop: p.pop, Pair: p.pair, Phase: p.phase, Count: p.count, Loss: p.loss, Winner: p.winner, Paths: p.paths, Frozen: p.frozen}
	for _, f := range p.fit {
		st.FitSet = append(st.FitSet, !math.IsNaN(f))
		if math.IsNaN(f) {
			f = 0
		}
		st.Fit = append(st.Fit, f)
	}
	return json.Marshal(st)
}

// LoadState restores what SaveState saved.
func (p *PathNet) LoadState(data []byte) error {
	var st pathnetState
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("pathnet: state: %w", err)
	}
	L := len(p.mods)
	bad := len(st.Pop) != p.Population || len(st.Fit) != p.Population || len(st.FitSet) != p.Population || len(st.Frozen) != L ||
		st.Active < 0 || st.Active >= len(p.Env.Stream.Tasks) || len(st.Paths) > len(p.Env.Stream.Tasks)
	for _, path := range append(st.Pop, st.Paths...) {
		bad = bad || len(path) != L
		for _, ms := range path {
			bad = bad || len(ms) != p.Active
			for _, m := range ms {
				bad = bad || m < 0 || m >= p.Modules
			}
		}
	}
	for _, fs := range st.Frozen {
		bad = bad || len(fs) != p.Modules
	}
	if bad {
		return fmt.Errorf("pathnet: state of %d paths over %d layers does not fit %d paths of %d of %d modules over %d layers", len(st.Pop), len(st.Frozen), p.Population, p.Active, p.Modules, L)
	}
	p.active, p.pop, p.pair, p.phase, p.count, p.loss, p.winner, p.paths, p.frozen = st.Active, st.Pop, st.Pair, st.Phase, st.Count, st.Loss, st.Winner, st.Paths, st.Frozen
	p.filled = -1
	p.fit = make([]float64, p.Population)
	for i, f := range st.Fit {
		if !st.FitSet[i] {
			f = math.NaN()
		}
		p.fit[i] = f
	}
	return nil
}

func init() {
	Register(Info{
		Name: "pathnet",
		Doc:  "PathNet (Fernando et al. 2017), task-IL only: hidden layers of small modules, paths of active modules evolved by binary tournaments on the training loss, the winner's modules frozen after each task",
		Options: []Option{
			{Name: "modules", Default: "10", Doc: "modules per hidden layer (each of hidden/modules units; the paper: 10)"},
			{Name: "active", Default: "3", Doc: "active modules per layer in a path (the paper: at most 3 or 4)"},
			{Name: "population", Default: "64", Doc: "paths in the population (the paper: 64)"},
			{Name: "generations", Default: "10", Doc: "binary tournaments per task; each of the two paths trains iterations/(2 generations) steps"},
			HeadsOption,
		},
	}, func(o *Options) (Strategy, error) {
		p := &PathNet{Modules: o.Int("modules"), Active: o.Int("active"), Population: o.Int("population"), Generations: o.Int("generations")}
		p.ParseHeads(o)
		o.Check("modules", p.Modules >= 1, "an integer of at least 1")
		o.Check("active", p.Active >= 1, "an integer of at least 1")
		o.Check("population", p.Population >= 2, "an integer of at least 2 (a tournament takes two paths)")
		o.Check("generations", p.Generations >= 1, "an integer of at least 1")
		return p, nil
	})
}
