package strategies

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/clgraph/clgraph/graphs"
)

// ModelFormat names the format of model files.
const ModelFormat = "clgraph-model/1"

// ModelFileName is the file a run with save_model writes in its result folder.
const ModelFileName = "model.json"

// ModelFile is a saved model: a finished run's parameters (runspec's save_model), which a later
// run starts from (init_from).
type ModelFile struct {
	Format   string       `json:"format"`
	Strategy string       `json:"strategy"`
	Seed     int64        `json:"seed"`
	Stream   string       `json:"stream"`
	Scenario string       `json:"scenario"`
	Params   []ParamState `json:"params"`
}

// WriteModel writes m to path atomically (a temporary file renamed into place).
func WriteModel(path string, m ModelFile) error {
	m.Format = ModelFormat
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".model-*.json")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// ReadModel reads a model file, with an error that says what is wrong with it.
func ReadModel(path string) (*ModelFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the model file: %w", err)
	}
	var m ModelFile
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("model file %s is not a clgraph model (%v): give a model.json written by a run with --save-model", path, err)
	}
	if m.Format != ModelFormat {
		return nil, fmt.Errorf("model file %s has format %q, want %q: give a model.json written by a run with --save-model", path, m.Format, ModelFormat)
	}
	for _, p := range m.Params {
		n := 1
		for _, d := range p.Shape {
			n *= d
		}
		if len(p.Data) != n || len(p.Shape) == 0 {
			return nil, fmt.Errorf("model file %s: parameter %s has shape %v but %d values: the file is damaged", path, p.Name, p.Shape, len(p.Data))
		}
	}
	return &m, nil
}

// ApplyParams copies into ps every saved parameter that keep accepts (nil: all) and that ps
// holds under the same name with the same shape, and returns the names copied and the names of
// ps's parameters left as they were (absent from saved, of another shape, or refused by keep),
// each in ps's order.
func ApplyParams(ps *graphs.ParamSet, saved []ParamState, keep func(name string) bool) (loaded, kept []string) {
	byName := make(map[string]*ParamState, len(saved))
	for i := range saved {
		byName[saved[i].Name] = &saved[i]
	}
	for _, p := range ps.All() {
		s, ok := byName[p.Name]
		if !ok || (keep != nil && !keep(p.Name)) || !slices.Equal([]int(p.Shape()), s.Shape) {
			kept = append(kept, p.Name)
			continue
		}
		copy(p.Data(), s.Data)
		loaded = append(loaded, p.Name)
	}
	return loaded, kept
}

// ParamsInitialized re-anchors SI's penalty at the parameters the run starts from.
func (s *SI) ParamsInitialized() { s.Q.SetAnchors() }

// ParamsInitialized re-anchors L2's penalty at the parameters the run starts from.
func (l *L2) ParamsInitialized() { l.Q.SetAnchors() }

// ParamsInitialized passes the news on to the gated strategy.
func (x *XdG) ParamsInitialized() {
	if i, ok := x.Inner.(Initialized); ok {
		i.ParamsInitialized()
	}
}
