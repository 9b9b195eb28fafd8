package results

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// jfloat is a float64 that survives JSON: finite values are plain numbers,
// NaN and ±Inf are the strings "NaN", "Inf" and "-Inf". Decoding also accepts
// "+Inf", "Infinity", "-Infinity" (any case), numbers in strings, and null,
// which decodes as NaN.
type jfloat float64

func (f jfloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	switch {
	case math.IsNaN(v):
		return []byte(`"NaN"`), nil
	case math.IsInf(v, 1):
		return []byte(`"Inf"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Inf"`), nil
	}
	return json.Marshal(v)
}

func (f *jfloat) UnmarshalJSON(data []byte) error {
	s := string(data)
	if s == "null" {
		*f = jfloat(math.NaN())
		return nil
	}
	if len(s) > 0 && s[0] == '"' {
		var str string
		if err := json.Unmarshal(data, &str); err != nil {
			return err
		}
		// strconv.ParseFloat accepts "NaN", "Inf", "+Inf", "-Inf",
		// "Infinity" in any case, as well as ordinary numbers.
		v, err := strconv.ParseFloat(str, 64)
		if err != nil {
			return fmt.Errorf("invalid number %q", str)
		}
		*f = jfloat(v)
		return nil
	}
	var v float64
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	*f = jfloat(v)
	return nil
}

func toJ(xs []float64) []jfloat {
	if xs == nil {
		return nil
	}
	out := make([]jfloat, len(xs))
	for i, x := range xs {
		out[i] = jfloat(x)
	}
	return out
}

func fromJ(xs []jfloat) []float64 {
	if xs == nil {
		return nil
	}
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = float64(x)
	}
	return out
}

func toJ2(m [][]float64) [][]jfloat {
	if m == nil {
		return nil
	}
	out := make([][]jfloat, len(m))
	for i, row := range m {
		out[i] = toJ(row)
	}
	return out
}

func fromJ2(m [][]jfloat) [][]float64 {
	if m == nil {
		return nil
	}
	out := make([][]float64, len(m))
	for i, row := range m {
		out[i] = fromJ(row)
	}
	return out
}

type metricsJSON struct {
	ACC              jfloat `json:"acc"`
	BWT              jfloat `json:"bwt"`
	FWT              jfloat `json:"fwt"`
	Forgetting       jfloat `json:"forgetting"`
	LearningAccuracy jfloat `json:"learning_accuracy"`
}

// MarshalJSON encodes m, writing non-finite values as "NaN", "Inf" or "-Inf".
func (m Metrics) MarshalJSON() ([]byte, error) {
	return json.Marshal(metricsJSON{jfloat(m.ACC), jfloat(m.BWT), jfloat(m.FWT), jfloat(m.Forgetting), jfloat(m.LearningAccuracy)})
}

// UnmarshalJSON decodes m, accepting the encodings written by MarshalJSON.
func (m *Metrics) UnmarshalJSON(data []byte) error {
	a := metricsJSON{jfloat(m.ACC), jfloat(m.BWT), jfloat(m.FWT), jfloat(m.Forgetting), jfloat(m.LearningAccuracy)}
	if err := json.Unmarshal(data, &a); err != nil {
		return err
	}
	*m = Metrics{float64(a.ACC), float64(a.BWT), float64(a.FWT), float64(a.Forgetting), float64(a.LearningAccuracy)}
	return nil
}

type statJSON struct {
	Mean jfloat `json:"mean"`
	Std  jfloat `json:"std"`
	N    int    `json:"n"`
}

// MarshalJSON encodes s, writing non-finite values as "NaN", "Inf" or "-Inf".
func (s Stat) MarshalJSON() ([]byte, error) {
	return json.Marshal(statJSON{jfloat(s.Mean), jfloat(s.Std), s.N})
}

// UnmarshalJSON decodes s, accepting the encodings written by MarshalJSON.
func (s *Stat) UnmarshalJSON(data []byte) error {
	a := statJSON{jfloat(s.Mean), jfloat(s.Std), s.N}
	if err := json.Unmarshal(data, &a); err != nil {
		return err
	}
	*s = Stat{float64(a.Mean), float64(a.Std), a.N}
	return nil
}

type costJSON struct {
	TrainSeconds     jfloat `json:"train_seconds"`
	EvalSeconds      jfloat `json:"eval_seconds"`
	Steps            int    `json:"steps"`
	StepsPerSecond   jfloat `json:"steps_per_second"`
	SamplesPerSecond jfloat `json:"samples_per_second"`
	Params           int    `json:"params"`
	ParamsPerTask    []int  `json:"params_per_task"`
	PeakRSSBytes     int64  `json:"peak_rss_bytes"`
}

func (c Cost) toJSON() costJSON {
	return costJSON{jfloat(c.TrainSeconds), jfloat(c.EvalSeconds), c.Steps, jfloat(c.StepsPerSecond),
		jfloat(c.SamplesPerSecond), c.Params, c.ParamsPerTask, c.PeakRSSBytes}
}

// MarshalJSON encodes c, writing non-finite values as "NaN", "Inf" or "-Inf".
func (c Cost) MarshalJSON() ([]byte, error) { return json.Marshal(c.toJSON()) }

// UnmarshalJSON decodes c, accepting the encodings written by MarshalJSON.
func (c *Cost) UnmarshalJSON(data []byte) error {
	a := c.toJSON()
	if err := json.Unmarshal(data, &a); err != nil {
		return err
	}
	*c = Cost{float64(a.TrainSeconds), float64(a.EvalSeconds), a.Steps, float64(a.StepsPerSecond),
		float64(a.SamplesPerSecond), a.Params, a.ParamsPerTask, a.PeakRSSBytes}
	return nil
}

// resultJSON is the layout of result.json.
type resultJSON struct {
	Schema   string            `json:"schema,omitempty"`
	Strategy string            `json:"strategy"`
	Seed     int64             `json:"seed"`
	Status   string            `json:"status"`
	Error    string            `json:"error,omitempty"`
	Tasks    []string          `json:"tasks"`
	R        [][]jfloat        `json:"r"`
	B        []jfloat          `json:"b"`
	Metrics  *Metrics          `json:"metrics"`
	Cost     Cost              `json:"cost"`
	Resolved map[string]string `json:"resolved,omitempty"`
}

// MarshalJSON encodes r in the result.json layout (including the "schema"
// field), writing non-finite values as "NaN", "Inf" or "-Inf".
func (r Result) MarshalJSON() ([]byte, error) {
	return json.Marshal(resultJSON{
		Schema: SchemaVersion, Strategy: r.Strategy, Seed: r.Seed, Status: r.Status, Error: r.Error,
		Tasks: r.Tasks, R: toJ2(r.R), B: toJ(r.B), Metrics: r.Metrics, Cost: r.Cost, Resolved: r.Resolved,
	})
}

// UnmarshalJSON decodes the result.json layout. The "schema" field is not
// checked here; Read checks it.
func (r *Result) UnmarshalJSON(data []byte) error {
	var a resultJSON
	if err := json.Unmarshal(data, &a); err != nil {
		return err
	}
	*r = Result{
		Strategy: a.Strategy, Seed: a.Seed, Status: a.Status, Error: a.Error,
		Tasks: a.Tasks, R: fromJ2(a.R), B: fromJ(a.B), Metrics: a.Metrics, Cost: a.Cost, Resolved: a.Resolved,
	}
	return nil
}

// MarshalJSON encodes c; a non-finite LearningRate is written as a string.
func (c Config) MarshalJSON() ([]byte, error) {
	type plain Config
	return json.Marshal(struct {
		plain
		LearningRate jfloat `json:"learning_rate"`
	}{plain(c), jfloat(c.LearningRate)})
}

// UnmarshalJSON decodes c, accepting the encodings written by MarshalJSON.
func (c *Config) UnmarshalJSON(data []byte) error {
	type plain Config
	var p plain
	a := struct {
		*plain
		LearningRate jfloat `json:"learning_rate"`
	}{plain: &p}
	if err := json.Unmarshal(data, &a); err != nil {
		return err
	}
	p.LearningRate = float64(a.LearningRate)
	*c = Config(p)
	return nil
}
