package sweep

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/clgraph/clgraph/results"
	"github.com/clgraph/clgraph/runspec"
	"github.com/clgraph/clgraph/stream"
)

// File names in a sweep folder and its cell folders.
const (
	// ManifestFile is the expanded grid (Manifest), in the sweep folder.
	ManifestFile = "sweep.json"
	// SummaryJSONFile is the sweep summary (Summary), in the sweep folder.
	SummaryJSONFile = "sweep-summary.json"
	// SummaryMDFile is the sweep summary as Markdown (MarkdownSummary), in the sweep folder.
	SummaryMDFile = "sweep-summary.md"
	// CellFile is a cell's CellInfo, in its folder.
	CellFile = "cell.json"
	// CellLogFile holds a cell's LogEvents, one JSON line each, in its folder.
	CellLogFile = "cell.log"
	// LockFile is a cell's lock, in its folder while a process runs it.
	LockFile = "cell.lock"
)

// Schema versions of the files this package writes.
const (
	// ManifestSchema is Manifest.Schema.
	ManifestSchema = "clgraph.sweep/v2"
	// CellSchema is CellInfo.Schema.
	CellSchema = "clgraph.sweep-cell/v1"
	// SummarySchema is Summary.Schema.
	SummarySchema = "clgraph.sweep-summary/v1"
)

// Manifest is the content of SWEEP_DIR/sweep.json: the expanded grid. Its content depends only
// on the experiment file, so every shard writes the same bytes.
type Manifest struct {
	// Schema is ManifestSchema.
	Schema string `json:"schema"`
	// Name names the sweep.
	Name string `json:"name"`
	// Source is the experiment file's text.
	Source string `json:"source"`
	// Groups are the plan's groups.
	Groups []ManifestGroup `json:"groups"`
	// Cells are the plan's cells.
	Cells []ManifestCell `json:"cells"`
	// Skipped are the combinations left out.
	Skipped []Skip `json:"skipped"`
}

// ManifestGroup is a Group as stored in the manifest.
type ManifestGroup struct {
	// Dir, ID and Key are Group's.
	Dir string `json:"dir"`
	ID  string `json:"id"`
	Key string `json:"key"`
	// Spec is Group.Spec, as config.json and checkpoints hold it.
	Spec runspec.Spec `json:"spec"`
	// TaskNames, Outputs, Strategies and Seeds are Group's Tasks, Outputs, Strategies and Seeds.
	TaskNames  []string `json:"task_names"`
	Outputs    int      `json:"outputs"`
	Strategies []string `json:"strategies"`
	Seeds      []int64  `json:"seeds"`
}

// UnmarshalJSON reads a group of a manifest of schema v2, or of v1 (the settings flat).
func (mg *ManifestGroup) UnmarshalJSON(data []byte) error {
	type plain ManifestGroup
	var v1 struct {
		plain
		Spec       *runspec.Spec `json:"spec"`
		Stream     string        `json:"stream"`
		Scenario   string        `json:"scenario"`
		Tasks      int           `json:"tasks"`
		ClassOrder []int         `json:"class_order"`
		TrainLimit int           `json:"train_limit"`
		TestLimit  int           `json:"test_limit"`
		Protocol   string        `json:"protocol"`
		Iterations int           `json:"iterations"`
		Batch      int           `json:"batch"`
		EvalBatch  int           `json:"eval_batch"`
		LR         float64       `json:"lr"`
		Hidden     []int         `json:"hidden"`
	}
	if err := json.Unmarshal(data, &v1); err != nil {
		return err
	}
	*mg = ManifestGroup(v1.plain)
	if v1.Spec != nil {
		mg.Spec = *v1.Spec
		return nil
	}
	mg.Spec = runspec.Spec{Stream: v1.Stream, Scenario: v1.Scenario, Tasks: v1.Tasks, ClassOrder: v1.ClassOrder, TrainLimit: v1.TrainLimit,
		TestLimit: v1.TestLimit, Protocol: v1.Protocol, Iterations: v1.Iterations, Batch: v1.Batch, EvalBatch: v1.EvalBatch, LR: v1.LR, Hidden: v1.Hidden}
	return nil
}

// ManifestCell is a Cell as stored in the manifest; Group is the group's folder name.
type ManifestCell struct {
	// Index, ID, Strategy, Base and Seed are Cell's.
	Index int    `json:"index"`
	ID    string `json:"id"`
	// Group is the name of the cell's group folder.
	Group    string `json:"group"`
	Strategy string `json:"strategy"`
	Base     string `json:"base"`
	Seed     int64  `json:"seed"`
}

// Manifest returns the plan's manifest; source is the experiment file's text.
func (p *Plan) Manifest(source []byte) *Manifest {
	m := &Manifest{Schema: ManifestSchema, Name: p.Name, Source: string(source), Skipped: p.Skipped}
	for _, g := range p.Groups {
		m.Groups = append(m.Groups, ManifestGroup{Dir: g.Dir, ID: g.ID, Key: g.Key, Spec: g.Spec, TaskNames: g.Tasks, Outputs: g.Outputs, Strategies: g.Strategies, Seeds: g.Seeds})
	}
	for _, c := range p.Cells {
		m.Cells = append(m.Cells, ManifestCell{Index: c.Index, ID: c.ID, Group: p.Groups[c.Group].Dir, Strategy: c.Strategy, Base: c.Base, Seed: c.Seed})
	}
	return m
}

// Plan rebuilds the plan a manifest was written from.
func (m *Manifest) Plan() (*Plan, error) {
	p := &Plan{Name: m.Name, Skipped: m.Skipped}
	idx := map[string]int{}
	for _, mg := range m.Groups {
		if _, err := stream.ParseScenario(mg.Spec.Scenario); err != nil {
			return nil, fmt.Errorf("sweep: manifest group %s: %w", mg.Dir, err)
		}
		g := &Group{Dir: mg.Dir, ID: mg.ID, Key: mg.Key, Tasks: mg.TaskNames, Outputs: mg.Outputs, Strategies: mg.Strategies, Seeds: mg.Seeds, Spec: mg.Spec}
		idx[g.Dir] = len(p.Groups)
		p.Groups = append(p.Groups, g)
	}
	for i, mc := range m.Cells {
		gi, ok := idx[mc.Group]
		if !ok || mc.Index != i {
			return nil, fmt.Errorf("sweep: manifest cell %d (%s) is inconsistent", i, mc.ID)
		}
		p.Cells = append(p.Cells, Cell{Index: mc.Index, ID: mc.ID, Group: gi, Strategy: mc.Strategy, Base: mc.Base, Seed: mc.Seed})
	}
	return p, nil
}

// WriteManifest writes dir/sweep.json atomically, creating dir.
func WriteManifest(dir string, m *Manifest) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("sweep: encoding the manifest: %w", err)
	}
	return results.WriteFileAtomic(filepath.Join(dir, ManifestFile), append(data, '\n'), 0o644)
}

// ReadManifest reads dir/sweep.json.
func ReadManifest(dir string) (*Manifest, error) {
	data, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("sweep: %s is not a sweep folder (no %s; clgraph sweep writes it)", dir, ManifestFile)
		}
		return nil, fmt.Errorf("sweep: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("sweep: %s: %w", filepath.Join(dir, ManifestFile), err)
	}
	if m.Schema != ManifestSchema && m.Schema != "clgraph.sweep/v1" {
		return nil, fmt.Errorf("sweep: %s: schema %q, this version reads %q", filepath.Join(dir, ManifestFile), m.Schema, ManifestSchema)
	}
	return &m, nil
}

// GroupDir returns the run folder of group g inside the sweep folder dir.
func GroupDir(dir string, g *Group) string { return filepath.Join(dir, g.Dir) }

// CellDir returns the folder of cell c inside the sweep folder dir (results.ResultDir of its group).
func (p *Plan) CellDir(dir string, c Cell) string {
	return results.ResultDir(GroupDir(dir, p.Groups[c.Group]), c.Strategy, c.Seed)
}

// GroupConfig returns the config.json of group g: tmpl (Command, Versions, Data, CreatedAt)
// with the group's settings, strategies and seeds, and the sweep's fingerprint in
// Extra["sweep"].
func (p *Plan) GroupConfig(g *Group, tmpl results.Config) results.Config {
	c := tmpl
	c.Spec, c.Tasks = g.Spec.Clone(), g.Tasks
	c.Seeds, c.Strategies = g.Seeds, g.Strategies
	c.Extra = map[string]any{
		"outputs": g.Outputs,
		"adam":    map[string]any{"beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
		"sweep":   map[string]any{"name": p.Name, "group": g.Dir, "group_id": g.ID, "key": g.Key},
	}
	maps.Copy(c.Extra, tmpl.Extra)
	return c
}

// sweepMark is the part of a group's config.json that identifies its settings.
type sweepMark struct {
	Extra struct {
		Sweep struct {
			Name    string `json:"name"`
			GroupID string `json:"group_id"`
			Key     string `json:"key"`
		} `json:"sweep"`
	} `json:"extra"`
}

// ConflictError says that a folder holds results of other settings.
type ConflictError struct {
	// Path is the conflicting file.
	Path string
	// Msg says what differs.
	Msg string
}

// Error names the file and what differs.
func (e *ConflictError) Error() string { return e.Path + ": " + e.Msg }

// CheckGroup checks that the group's config.json, if any, was written for g's settings.
func (p *Plan) CheckGroup(dir string, g *Group) error {
	path := filepath.Join(GroupDir(dir, g), results.ConfigFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	var m sweepMark
	if err := json.Unmarshal(data, &m); err != nil {
		return &ConflictError{path, fmt.Sprintf("unreadable (%v); use another sweep folder", err)}
	}
	if m.Extra.Sweep.GroupID == "" {
		return &ConflictError{path, "this folder holds a run that is not part of a sweep; use another sweep folder (--out)"}
	}
	if m.Extra.Sweep.GroupID != g.ID {
		what := keyDiff(m.Extra.Sweep.Key, g.Key)
		var cfg results.Config
		if json.Unmarshal(data, &cfg) == nil {
			if ds := runspec.Diff(cfg.Spec, g.Spec, runspec.Results); len(ds) > 0 {
				parts := make([]string, len(ds))
				for i, d := range ds {
					parts[i] = fmt.Sprintf("%s: %s there, %s here", d.Key, d.Show(d.A), d.Show(d.B))
				}
				what = strings.Join(parts, "; ")
			}
		}
		return &ConflictError{path, fmt.Sprintf("holds results of other settings (%s); use another sweep folder (--out), or restore the file's settings", what)}
	}
	// The group id hashes the settings a sweep file names, not every field a preset fills in:
	// a preset that changed (a protocol that gained a setting) keeps the id, so the specs are
	// compared too.
	var cfg results.Config
	if err := json.Unmarshal(data, &cfg); err == nil {
		if ds := runspec.Diff(cfg.Spec, g.Spec, runspec.Results); len(ds) > 0 {
			parts := make([]string, len(ds))
			for i, d := range ds {
				parts[i] = fmt.Sprintf("%s: %s there, %s here", d.Key, d.Show(d.A), d.Show(d.B))
			}
			return &ConflictError{path, fmt.Sprintf("holds results of other settings (%s: the protocol's preset or the defaults changed since it was made); use another sweep folder (--out)", strings.Join(parts, "; "))}
		}
	}
	return nil
}

// keyDiff describes how two canonical keys differ.
func keyDiff(there, here string) string {
	a, b := strings.Split(strings.TrimSpace(there), "\n"), strings.Split(strings.TrimSpace(here), "\n")
	var d []string
	for _, l := range b {
		k, _, _ := strings.Cut(l, "=")
		if slices.Contains(a, l) {
			continue
		}
		old := "unset"
		for _, o := range a {
			if strings.HasPrefix(o, k+"=") {
				old = strings.TrimPrefix(o, k+"=")
			}
		}
		d = append(d, fmt.Sprintf("%s: %s there, %s here", k, old, strings.TrimPrefix(l, k+"=")))
	}
	if len(d) == 0 {
		return "fingerprints differ"
	}
	return strings.Join(d, "; ")
}

// EnsureGroupConfig creates the group's config.json unless it exists: whichever process gets
// there first writes it (never overwriting), later ones check that its settings are g's.
func (p *Plan) EnsureGroupConfig(dir string, g *Group, tmpl results.Config) error {
	gd := GroupDir(dir, g)
	if err := os.MkdirAll(gd, 0o755); err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	c := p.GroupConfig(g, tmpl)
	if c.Schema == "" {
		c.Schema = results.SchemaVersion
	}
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("sweep: encoding %s's config: %w", g.Dir, err)
	}
	err = createExclusive(filepath.Join(gd, results.ConfigFile), append(data, '\n'))
	if err == nil {
		return nil
	}
	if !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("sweep: writing %s: %w", filepath.Join(gd, results.ConfigFile), err)
	}
	return p.CheckGroup(dir, g)
}

// State is a cell's state in a sweep folder.
type State string

// Cell states.
const (
	// Pending: no result, no lock.
	Pending State = "pending"
	// Running: no result yet, a lock file exists (its holder may be dead).
	Running State = "running"
	// Done: a result with status ok.
	Done State = "done"
	// Failed: a result with status failed; the next sweep runs it again.
	Failed State = "failed"
)

// CellInfo is the content of a cell's cell.json.
type CellInfo struct {
	// Schema is CellSchema.
	Schema string `json:"schema"`
	// ID is the cell's id.
	ID string `json:"id"`
	// Index is the cell's index in the plan that ran it.
	Index int `json:"index"`
	// Group is the group folder's name.
	Group string `json:"group"`
	// Strategy is the canonical spec.
	Strategy string `json:"strategy"`
	// Seed is the seed.
	Seed int64 `json:"seed"`
	// Settings is the cell's canonical key (CellKey).
	Settings string `json:"settings"`
	// Attempts counts the times a process started the cell.
	Attempts int `json:"attempts"`
	// State is "running", "done" or "aborted".
	State string `json:"state"`
	// Status is the result's status when done.
	Status string `json:"status,omitempty"`
	// Error is the failure or abort message.
	Error string `json:"error,omitempty"`
	// Shard, Host and PID identify the process of the last attempt.
	Shard string `json:"shard"`
	Host  string `json:"host"`
	PID   int    `json:"pid"`
	// Started and Finished time the last attempt.
	Started  time.Time  `json:"started"`
	Finished *time.Time `json:"finished,omitempty"`
	// Seconds is the last attempt's wall time.
	Seconds float64 `json:"seconds,omitempty"`
}

// LogEvent is one line of a cell's cell.log.
type LogEvent struct {
	// Event is "start", "done" or "abort".
	Event string `json:"event"`
	// Attempt numbers the starts of the cell, from 1.
	Attempt int `json:"attempt"`
	// Shard, Host and PID identify the process.
	Shard string `json:"shard"`
	Host  string `json:"host"`
	PID   int    `json:"pid"`
	// Time is when it happened.
	Time time.Time `json:"time"`
	// Status is the result's status (done).
	Status string `json:"status,omitempty"`
	// Error is the failure (done) or the reason (abort).
	Error string `json:"error,omitempty"`
}

// ReadCellLog reads a cell folder's cell.log (no events when it does not exist).
func ReadCellLog(cellDir string) ([]LogEvent, error) {
	f, err := os.Open(filepath.Join(cellDir, CellLogFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []LogEvent
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var e LogEvent
		if err := json.Unmarshal(line, &e); err != nil {
			continue // a line cut by a crash
		}
		out = append(out, e)
	}
	return out, sc.Err()
}

func appendLog(cellDir string, e LogEvent) error {
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(cellDir, CellLogFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(append(data, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func writeCellInfo(cellDir string, ci CellInfo) error {
	ci.Schema = CellSchema
	data, err := json.MarshalIndent(ci, "", "  ")
	if err != nil {
		return err
	}
	return results.WriteFileAtomic(filepath.Join(cellDir, CellFile), append(data, '\n'), 0o644)
}

// ReadCellInfo reads a cell folder's cell.json.
func ReadCellInfo(cellDir string) (*CellInfo, error) {
	data, err := os.ReadFile(filepath.Join(cellDir, CellFile))
	if err != nil {
		return nil, err
	}
	var ci CellInfo
	if err := json.Unmarshal(data, &ci); err != nil {
		return nil, fmt.Errorf("sweep: %s: %w", filepath.Join(cellDir, CellFile), err)
	}
	return &ci, nil
}

// StateOf returns the state of cell c in the sweep folder dir. It returns a *ConflictError when
// the cell's folder holds a result that is not this cell's (another cell id in cell.json, or no
// cell.json).
func (p *Plan) StateOf(dir string, c Cell) (State, error) {
	cd := p.CellDir(dir, c)
	data, err := os.ReadFile(filepath.Join(cd, results.ResultFile))
	if errors.Is(err, fs.ErrNotExist) {
		if _, err := os.Stat(filepath.Join(cd, LockFile)); err == nil {
			return Running, nil
		}
		return Pending, nil
	}
	if err != nil {
		return "", fmt.Errorf("sweep: %w", err)
	}
	var r struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return Pending, nil // cannot be: result.json is written atomically; run it again
	}
	ci, err := ReadCellInfo(cd)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", &ConflictError{filepath.Join(cd, results.ResultFile), "a result that no sweep wrote (no cell.json); use another sweep folder"}
		}
		return "", err
	}
	if ci.ID != c.ID {
		return "", &ConflictError{filepath.Join(cd, CellFile), fmt.Sprintf("cell %s, not %s: the folder holds results of other settings (%s); use another sweep folder", ci.ID, c.ID, keyDiff(ci.Settings, CellKey(p.Groups[c.Group], c.Strategy, c.Seed)))}
	}
	if r.Status == results.StatusOK {
		return Done, nil
	}
	return Failed, nil
}
