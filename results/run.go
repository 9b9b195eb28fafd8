package results

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clgraph/clgraph/runspec"
)

// SchemaVersion identifies the run directory format written by this package.
// It is stored in config.json, result.json and summary.json.
const SchemaVersion = "clgraph.run/v2"

const (
	schemaPrefix  = "clgraph.run/v"
	schemaCurrent = 2
)

// Result statuses.
const (
	// StatusOK marks a run that trained and evaluated every task.
	StatusOK = "ok"
	// StatusFailed marks a run that stopped early; its R may be partial.
	StatusFailed = "failed"
	// StatusInterrupted marks a run stopped by the user (a signal) before it finished; its R
	// may be partial, and it can be resumed from its checkpoint (clgraph run --resume).
	StatusInterrupted = "interrupted"
)

// File names inside a run directory.
const (
	ConfigFile      = "config.json"
	ResultFile      = "result.json"
	MatrixFile      = "matrix.csv"
	BaselineFile    = "b.csv"
	SummaryJSONFile = "summary.json"
	SummaryMDFile   = "summary.md"
)

// ErrUnsupportedSchema is wrapped by Read's error when a file has a missing,
// unknown or newer schema version.
var ErrUnsupportedSchema = errors.New("unsupported schema version")

// Config describes the command that produced a run; it is stored as
// RUN_DIR/config.json.
type Config struct {
	// Schema is the format version; WriteConfig fills in SchemaVersion when empty.
	Schema string `json:"schema"`
	// CreatedAt is when the run started.
	CreatedAt time.Time `json:"created_at"`
	// Command is the command line (os.Args) that produced the run.
	Command []string `json:"command"`
	// Spec is the run spec every result of the folder shares, as the runner used it (stream,
	// scenario, protocol settings, checkpoint cadence; Strategy and Seed empty: they are listed
	// in Strategies and Seeds).
	Spec runspec.Spec `json:"spec"`
	// Tasks are the task names in training order, e.g. "0/1".
	Tasks []string `json:"tasks"`
	// Seeds are the random seeds every strategy is run with.
	Seeds []int64 `json:"seeds"`
	// Strategies are the strategy specs, e.g. "ewc:lambda=100", in report order.
	Strategies []string `json:"strategies"`
	// Versions maps components (go, clgraph, gorgonia, ...) to their versions.
	Versions map[string]string `json:"versions"`
	// Data describes the input data.
	Data DataInfo `json:"data"`
	// Extra holds free-form, JSON-encodable facts about the run that are not settings (the
	// BLAS, the number of outputs, a sweep's fingerprint). Unlike the typed fields, non-finite
	// floats here cannot be written.
	Extra map[string]any `json:"extra"`
}

// legacyConfig is config.json as schema v1 wrote it: the settings at the top level, some of
// them in Extra.
type legacyConfig struct {
	Stream       string         `json:"stream"`
	Scenario     string         `json:"scenario"`
	Protocol     string         `json:"protocol"`
	ClassOrder   []int          `json:"class_order"`
	Iterations   int            `json:"iterations"`
	BatchSize    int            `json:"batch_size"`
	EvalBatch    int            `json:"eval_batch"`
	LearningRate float64        `json:"learning_rate"`
	Hidden       []int          `json:"hidden"`
	Extra        map[string]any `json:"extra"`
}

// UnmarshalJSON reads config.json of schema v2, or of schema v1 (settings at the top level and
// in extra), into the v2 layout.
func (c *Config) UnmarshalJSON(data []byte) error {
	type plain Config
	var probe struct {
		Spec json.RawMessage `json:"spec"`
	}
	if err := json.Unmarshal(data, (*plain)(c)); err != nil {
		return err
	}
	if err := json.Unmarshal(data, &probe); err != nil || len(probe.Spec) > 0 {
		return err
	}
	var l legacyConfig
	if err := json.Unmarshal(data, &l); err != nil {
		return err
	}
	num := func(k string) int {
		if v, ok := l.Extra[k].(float64); ok {
			return int(v)
		}
		return 0
	}
	c.Spec = runspec.Spec{Stream: l.Stream, Scenario: l.Scenario, Tasks: len(c.Tasks), ClassOrder: l.ClassOrder,
		TrainLimit: num("train_limit"), TestLimit: num("test_limit"), Protocol: l.Protocol, Iterations: l.Iterations,
		Batch: l.BatchSize, EvalBatch: l.EvalBatch, LR: l.LearningRate, Hidden: l.Hidden, CheckpointEvery: num("checkpoint_every")}
	for _, k := range []string{"train_limit", "test_limit", "checkpoint_every", "tasks"} {
		delete(c.Extra, k)
	}
	return nil
}

// DataInfo identifies the data a run was trained on.
type DataInfo struct {
	// Source is where the data came from (a directory, URL or generator name).
	Source string `json:"source"`
	// Files maps data file names to their hex SHA-256 digests.
	Files map[string]string `json:"files"`
}

// Cost records the compute spent on one result.
type Cost struct {
	// TrainSeconds is wall-clock time spent training.
	TrainSeconds float64 `json:"train_seconds"`
	// EvalSeconds is wall-clock time spent evaluating.
	EvalSeconds float64 `json:"eval_seconds"`
	// Steps is the number of optimiser steps.
	Steps int `json:"steps"`
	// StepsPerSecond is Steps / TrainSeconds.
	StepsPerSecond float64 `json:"steps_per_second"`
	// SamplesPerSecond is the training throughput in samples.
	SamplesPerSecond float64 `json:"samples_per_second"`
	// Params is the number of trainable parameters at the end of training.
	Params int `json:"params"`
	// ParamsPerTask is the parameter count after each task (growing architectures).
	ParamsPerTask []int `json:"params_per_task"`
	// PeakRSSBytes is the peak resident set size of the process.
	PeakRSSBytes int64 `json:"peak_rss_bytes"`
}

// Result is the outcome of one strategy with one seed; it is stored in
// RUN_DIR/<Slug(Strategy)>/seed-<Seed>/.
type Result struct {
	// Strategy is the strategy spec, e.g. "ewc:lambda=100".
	Strategy string `json:"strategy"`
	// Seed is the random seed.
	Seed int64 `json:"seed"`
	// Status is StatusOK, StatusFailed or StatusInterrupted.
	Status string `json:"status"`
	// Error is the failure message of a failed run.
	Error string `json:"error,omitempty"`
	// Tasks are the task names in training order.
	Tasks []string `json:"tasks"`
	// ClassOrder is the order in which a class-split stream dealt classes into tasks (fixed, or
	// drawn from the seed with class_order_mode random); nil for other streams and in files
	// written before it was recorded.
	ClassOrder []int `json:"class_order,omitempty"`
	// R[i][j] is the accuracy on task j after training on tasks 0..i. It may
	// have fewer rows than Tasks for a failed run.
	R [][]float64 `json:"r"`
	// B[j] is the accuracy of the randomly initialised model on task j.
	B []float64 `json:"b"`
	// RVal and BVal are R and B on the tasks' validation splits (val_per_task examples carved
	// from each task's training data, never trained on); nil when the run made none.
	RVal [][]float64 `json:"r_val,omitempty"`
	BVal []float64   `json:"b_val,omitempty"`
	// Metrics are computed from R and B; nil when failed or partial.
	Metrics *Metrics `json:"metrics"`
	// Cost is the compute spent.
	Cost Cost `json:"cost"`
	// Capacity is, for a strategy that gives each task a part of the network (hat, packnet), the share
	// each task uses and the share the tasks so far use together, after each task; nil for
	// the others.
	Capacity *Capacity `json:"capacity,omitempty"`
	// Init says what the model started from when it did not start from its own random
	// initialisation (init_from, pretrain_classes); nil otherwise.
	Init *Init `json:"init,omitempty"`
	// Resolved holds options the strategy settled at setup (strategies.Resolver), e.g.
	// {"lambda": "1e+09"} for ewc with lambda=auto; omitted when none.
	Resolved map[string]string `json:"resolved,omitempty"`
	// Spec is the run spec the result was made with (Strategy and Seed included), so a resume
	// or a report can check it against its folder's config.json; nil in files written before
	// schema v2.
	Spec *runspec.Spec `json:"spec,omitempty"`
}

// Init is what a run's model was initialised from before its first task.
type Init struct {
	// From is the model file (init_from) the parameters Loaded came from; empty when none.
	From string `json:"from,omitempty"`
	// Loaded names the parameters that took the file's values, Kept those that kept their own
	// initialisation (absent from the file, or of another shape).
	Loaded []string `json:"loaded,omitempty"`
	Kept   []string `json:"kept,omitempty"`
	// Pretrain is the pre-training stage (pretrain_classes); nil when none.
	Pretrain *Pretrain `json:"pretrain,omitempty"`
}

// Pretrain records a pre-training stage: the classes, the steps, the final training loss, the
// accuracy on those classes' test images, its seconds, and the trunk parameters it handed to
// the strategy.
type Pretrain struct {
	Classes  []int    `json:"classes"`
	Steps    int      `json:"steps"`
	Loss     float64  `json:"loss"`
	TestAcc  float64  `json:"test_acc"`
	Seconds  float64  `json:"seconds"`
	Transfer []string `json:"transfer"`
}

// Describe says in one line what the model was initialised from, e.g. "pre-trained on classes
// 5,6,7,8,9 (2000 steps, test accuracy 0.981; 4 trunk tensors)".
func (in *Init) Describe() string {
	if in == nil {
		return ""
	}
	var parts []string
	if in.From != "" {
		parts = append(parts, fmt.Sprintf("parameters from %s (%d tensors; %d kept their initialisation)", in.From, len(in.Loaded), len(in.Kept)))
	}
	if p := in.Pretrain; p != nil {
		cs := make([]string, len(p.Classes))
		for i, c := range p.Classes {
			cs[i] = fmt.Sprint(c)
		}
		parts = append(parts, fmt.Sprintf("pre-trained on classes %s (%d steps, test accuracy %.3f; %d trunk tensors)", strings.Join(cs, ","), p.Steps, p.TestAcc, len(p.Transfer)))
	}
	return strings.Join(parts, ", then ")
}

// Capacity is the share of a network's units (or weights) the tasks use, one entry per task
// in stream order: Task[k] the share task k uses, Cumulative[k] the share tasks 0..k use
// together (fractions in [0, 1]). Of names what is counted ("hidden units" for hat, "trunk
// weights" for packnet; empty in results written before it was recorded).
type Capacity struct {
	Of         string    `json:"of,omitempty"`
	Task       []float64 `json:"task"`
	Cumulative []float64 `json:"cumulative"`
}

// Run is a run directory loaded into memory.
type Run struct {
	// Dir is the run directory.
	Dir string `json:"dir"`
	// Config is the content of config.json.
	Config Config `json:"config"`
	// Results are all results, ordered by the position of their strategy in
	// Config.Strategies and then of their seed in Config.Seeds (unknown
	// strategies and seeds last, sorted).
	Results []*Result `json:"results"`
}

// Slug turns a strategy spec such as "ewc:lambda=100,online=true" into a
// file-system-safe directory name. A spec made only of [a-z0-9._-] that does
// not start with '.' or '-' and is at most 64 bytes long is used unchanged;
// otherwise every other byte becomes '_' (after lower-casing), the result is
// truncated to 64 bytes, and "+" and the first 8 hex digits of the spec's
// SHA-256 are appended. Unchanged slugs never contain '+', so two different
// specs map to different slugs (up to a 32-bit hash collision), also on
// case-insensitive file systems.
func Slug(spec string) string {
	const maxLen = 64
	var b strings.Builder
	changed := spec == "" || len(spec) > maxLen || spec[0] == '.' || spec[0] == '-'
	for i := 0; i < len(spec) && b.Len() < maxLen; i++ {
		c := spec[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_':
			b.WriteByte(c)
		case (c == '.' || c == '-') && i > 0:
			b.WriteByte(c)
		case c >= 'A' && c <= 'Z':
			b.WriteByte(c - 'A' + 'a')
			changed = true
		case c == '=' && i > 0:
			b.WriteByte('-')
			changed = true
		default:
			b.WriteByte('_')
			changed = true
		}
	}
	if !changed {
		return spec
	}
	if b.Len() == 0 {
		b.WriteByte('_')
	}
	sum := sha256.Sum256([]byte(spec))
	return b.String() + "+" + hex.EncodeToString(sum[:4])
}

// ResultDir returns the folder of a result inside the run directory dir:
// dir/<Slug(strategy)>/seed-<seed>.
func ResultDir(dir, strategy string, seed int64) string {
	return filepath.Join(dir, Slug(strategy), "seed-"+strconv.FormatInt(seed, 10))
}

// WriteFileAtomic writes data to path so that readers see either the old
// file or the complete new one: it writes a temporary file in the same
// directory, fsyncs it, renames it over path and fsyncs the directory.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	return WriteFileAtomicFunc(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteFileAtomicFunc is WriteFileAtomic for contents that write streams to the file (through
// no buffer of its own: write in large pieces): a reader sees the old file or the whole new
// one, and nothing changes when write fails.
func WriteFileAtomicFunc(path string, perm os.FileMode, write func(w io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = write(f); err != nil {
		return err
	}
	if err = f.Chmod(perm); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	// Persist the rename; not all platforms support syncing directories.
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("results: encoding %s: %w", path, err)
	}
	data = append(data, '\n')
	if err := WriteFileAtomic(path, data, 0o644); err != nil {
		return fmt.Errorf("results: writing %s: %w", path, err)
	}
	return nil
}

// WriteConfig writes dir/config.json, creating dir if needed. An empty
// c.Schema is set to SchemaVersion; any other value than SchemaVersion is an
// error.
func WriteConfig(dir string, c Config) error {
	if c.Schema == "" {
		c.Schema = SchemaVersion
	}
	if c.Schema != SchemaVersion {
		return fmt.Errorf("results: WriteConfig: config has schema %q, this package writes %q", c.Schema, SchemaVersion)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("results: %w", err)
	}
	return writeJSON(filepath.Join(dir, ConfigFile), c)
}

// WriteResult writes the folder of r inside the run directory dir
// (see ResultDir): matrix.csv, b.csv and result.json.
//
// matrix.csv has the header "after,<task names...>" and one row per row of
// R, whose first column is the task after which the row was measured; b.csv
// has the header "task,accuracy". Accuracies are written with 6 decimals
// (NaN/Inf as "NaN", "+Inf", "-Inf").
func WriteResult(dir string, r *Result) error {
	if r == nil {
		return errors.New("results: WriteResult: nil result")
	}
	rd := ResultDir(dir, r.Strategy, r.Seed)
	if err := os.MkdirAll(rd, 0o755); err != nil {
		return fmt.Errorf("results: %w", err)
	}
	if err := WriteFileAtomic(filepath.Join(rd, MatrixFile), matrixCSV(r), 0o644); err != nil {
		return fmt.Errorf("results: writing %s: %w", filepath.Join(rd, MatrixFile), err)
	}
	if err := WriteFileAtomic(filepath.Join(rd, BaselineFile), baselineCSV(r), 0o644); err != nil {
		return fmt.Errorf("results: writing %s: %w", filepath.Join(rd, BaselineFile), err)
	}
	return writeJSON(filepath.Join(rd, ResultFile), r)
}

func taskName(tasks []string, i int) string {
	if i < len(tasks) {
		return tasks[i]
	}
	return strconv.Itoa(i)
}

func fmtAcc(v float64) string { return strconv.FormatFloat(v, 'f', 6, 64) }

func matrixCSV(r *Result) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	cols := len(r.Tasks)
	for _, row := range r.R {
		cols = max(cols, len(row))
	}
	header := []string{"after"}
	for j := 0; j < cols; j++ {
		header = append(header, taskName(r.Tasks, j))
	}
	w.Write(header)
	for i, row := range r.R {
		rec := []string{taskName(r.Tasks, i)}
		for _, v := range row {
			rec = append(rec, fmtAcc(v))
		}
		for len(rec) < cols+1 {
			rec = append(rec, "")
		}
		w.Write(rec)
	}
	w.Flush()
	return buf.Bytes()
}

func baselineCSV(r *Result) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write([]string{"task", "accuracy"})
	for j, v := range r.B {
		w.Write([]string{taskName(r.Tasks, j), fmtAcc(v)})
	}
	w.Flush()
	return buf.Bytes()
}

// checkSchema reports whether s is a schema this package can read.
func checkSchema(path, s string) error {
	if s == SchemaVersion || s == schemaPrefix+"1" {
		return nil // v1 differs only in config.json's layout, which Config reads
	}
	if s == "" {
		return fmt.Errorf("results: %s: missing \"schema\" field (want %q): %w", path, SchemaVersion, ErrUnsupportedSchema)
	}
	if rest, ok := strings.CutPrefix(s, schemaPrefix); ok {
		if n, err := strconv.Atoi(rest); err == nil && n > schemaCurrent {
			return fmt.Errorf("results: %s: schema %q is newer than %q; upgrade github.com/clgraph/clgraph/results: %w", path, s, SchemaVersion, ErrUnsupportedSchema)
		}
	}
	return fmt.Errorf("results: %s: unknown schema %q (want %q): %w", path, s, SchemaVersion, ErrUnsupportedSchema)
}

func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("results: %w", err)
	}
	var head struct {
		Schema string `json:"schema"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return fmt.Errorf("results: %s: malformed JSON: %w", path, err)
	}
	if err := checkSchema(path, head.Schema); err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("results: %s: malformed JSON: %w", path, err)
	}
	return nil
}

func validateResult(r *Result) error {
	if r.Status != StatusOK && r.Status != StatusFailed && r.Status != StatusInterrupted {
		return fmt.Errorf("status %q is not %q, %q or %q", r.Status, StatusOK, StatusFailed, StatusInterrupted)
	}
	T := len(r.Tasks)
	if len(r.R) > T {
		return fmt.Errorf("r has %d rows but there are %d tasks", len(r.R), T)
	}
	for i, row := range r.R {
		if len(row) != T {
			return fmt.Errorf("r row %d has %d columns, want %d (one per task)", i, len(row), T)
		}
	}
	if len(r.B) != 0 && len(r.B) != T {
		return fmt.Errorf("b has %d entries, want %d (one per task)", len(r.B), T)
	}
	return nil
}

// Read loads the run directory dir: config.json and every result.json below
// it (other files, including the CSVs and summaries, are ignored). It fails
// with an error naming the file when config.json is missing, a file has a
// missing, unknown or newer schema version (wrapping ErrUnsupportedSchema),
// a file is not valid JSON, a result is inconsistent (bad status, R or B
// not matching its tasks) or two results share a strategy and seed.
func Read(dir string) (*Run, error) {
	run := &Run{Dir: dir}
	cfgPath := filepath.Join(dir, ConfigFile)
	if _, err := os.Stat(cfgPath); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("results: %s is not a run directory: missing %s: %w", dir, ConfigFile, err)
		}
		return nil, fmt.Errorf("results: %w", err)
	}
	if err := readJSON(cfgPath, &run.Config); err != nil {
		return nil, err
	}
	type key struct {
		strategy string
		seed     int64
	}
	seen := map[key]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("results: %w", err)
		}
		if d.IsDir() || d.Name() != ResultFile || path == filepath.Join(dir, ResultFile) {
			return nil
		}
		r := new(Result)
		if err := readJSON(path, r); err != nil {
			return err
		}
		if err := validateResult(r); err != nil {
			return fmt.Errorf("results: %s: %w", path, err)
		}
		k := key{r.Strategy, r.Seed}
		if prev, ok := seen[k]; ok {
			return fmt.Errorf("results: %s: duplicate result for strategy %q seed %d (also in %s)", path, r.Strategy, r.Seed, prev)
		}
		seen[k] = path
		run.Results = append(run.Results, r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sortResults(run.Results, run.Config)
	return run, nil
}

// sortResults orders results by strategy position in c.Strategies, then by
// seed position in c.Seeds; unknown strategies and seeds go last, sorted.
func sortResults(rs []*Result, c Config) {
	sIdx := indexOf(c.Strategies)
	dIdx := indexOf(c.Seeds)
	slices.SortStableFunc(rs, func(a, b *Result) int {
		if c := cmpIndexed(sIdx, a.Strategy, b.Strategy); c != 0 {
			return c
		}
		return cmpIndexed(dIdx, a.Seed, b.Seed)
	})
}

func indexOf[T comparable](xs []T) map[T]int {
	m := make(map[T]int, len(xs))
	for i, x := range xs {
		if _, ok := m[x]; !ok {
			m[x] = i
		}
	}
	return m
}

func cmpIndexed[T cmp.Ordered](idx map[T]int, a, b T) int {
	ia, oka := idx[a]
	ib, okb := idx[b]
	switch {
	case oka && okb:
		return cmp.Compare(ia, ib)
	case oka:
		return -1
	case okb:
		return 1
	}
	return cmp.Compare(a, b)
}

// ErrMixedSettings is wrapped by CheckSpecs's error: a result of the folder was made with other
// settings than its config.json.
var ErrMixedSettings = errors.New("results: a result was made with other settings than config.json")

// CheckSpecs checks that every result of the run was made with the settings of its config.json:
// its spec (the settings that change results; runspec.Diff) or, for results written before
// results recorded their spec, its task names and the training steps of a finished run. The
// error (wrapping ErrMixedSettings) names the first result and the settings that differ.
func (run *Run) CheckSpecs() error {
	c := run.Config
	for _, r := range run.Results {
		who := fmt.Sprintf("%s seed %d", r.Strategy, r.Seed)
		// Task names may differ per seed (a random class order); a result without a spec is
		// checked by them.
		if r.Spec == nil && len(r.Tasks) > 0 && len(c.Tasks) > 0 && !slices.Equal(r.Tasks, c.Tasks) {
			return fmt.Errorf("%w: %s has tasks %v, config.json %v", ErrMixedSettings, who, r.Tasks, c.Tasks)
		}
		if r.Spec != nil {
			s := r.Spec.Clone()
			s.Strategy, s.Seed = "", 0
			if ds := runspec.Diff(c.Spec, s, runspec.Results); len(ds) > 0 {
				parts := make([]string, len(ds))
				for i, d := range ds {
					parts[i] = fmt.Sprintf("%s %s in config.json, %s in the result", d.Name(), d.Show(d.A), d.Show(d.B))
				}
				return fmt.Errorf("%w: %s: %s", ErrMixedSettings, who, strings.Join(parts, "; "))
			}
			continue
		}
		if want := c.Spec.Iterations * len(c.Tasks); r.Status == StatusOK && want > 0 && r.Cost.Steps != want {
			return fmt.Errorf("%w: %s trained %d steps, config.json says %d iterations x %d tasks = %d", ErrMixedSettings, who, r.Cost.Steps, c.Spec.Iterations, len(c.Tasks), want)
		}
	}
	return nil
}
