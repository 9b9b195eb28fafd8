package results

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/clgraph/clgraph/runspec"
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

// MarshalJSON encodes m as an object from metric key to value, in the order
// of Keys, writing non-finite values as "NaN", "Inf" or "-Inf". An undefined
// metric is written as null, and the member "undefined" maps the keys of the
// undefined metrics to the reasons (it is omitted when there are none).
func (m Metrics) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	var undef []string
	for _, k := range m.Keys() {
		if buf.Len() > 1 {
			buf.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		buf.Write(kb)
		buf.WriteByte(':')
		v, ok := m.values[k]
		if !ok {
			buf.WriteString("null")
			undef = append(undef, k)
			continue
		}
		vb, err := jfloat(v).MarshalJSON()
		if err != nil {
			return nil, err
		}
		buf.Write(vb)
	}
	if len(undef) > 0 {
		if buf.Len() > 1 {
			buf.WriteByte(',')
		}
		buf.WriteString(`"` + undefinedKey + `":{`)
		for i, k := range undef {
			if i > 0 {
				buf.WriteByte(',')
			}
			kb, _ := json.Marshal(k)
			rb, _ := json.Marshal(m.undefined[k])
			buf.Write(kb)
			buf.WriteByte(':')
			buf.Write(rb)
		}
		buf.WriteByte('}')
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// UnmarshalJSON decodes m, accepting the encodings written by MarshalJSON;
// every member other than "undefined" is a metric, whether or not Table
// lists it. It replaces what m held.
func (m *Metrics) UnmarshalJSON(data []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	var out Metrics
	if u, ok := raw[undefinedKey]; ok {
		if err := json.Unmarshal(u, &out.undefined); err != nil {
			return fmt.Errorf("metrics.%s: %w", undefinedKey, err)
		}
		if len(out.undefined) == 0 {
			out.undefined = nil
		}
		delete(raw, undefinedKey)
	}
	for k, r := range raw {
		if _, ok := out.undefined[k]; ok {
			continue
		}
		var v jfloat
		if err := json.Unmarshal(r, &v); err != nil {
			return fmt.Errorf("metrics.%s: %w", k, err)
		}
		if out.values == nil {
			out.values = make(map[string]float64, len(raw))
		}
		out.values[k] = float64(v)
	}
	*m = out
	return nil
}

// MarshalJSON encodes s as an object from metric key to Stat, in the order
// of Keys.
func (s MetricStats) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, k := range s.Keys() {
		if i > 0 {
			buf.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		sb, err := s.stats[k].MarshalJSON()
		if err != nil {
			return nil, err
		}
		buf.Write(kb)
		buf.WriteByte(':')
		buf.Write(sb)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// UnmarshalJSON decodes s, accepting the encodings written by MarshalJSON;
// every member is a metric, whether or not Table lists it. It replaces what
// s held.
func (s *MetricStats) UnmarshalJSON(data []byte) error {
	var st map[string]Stat
	if err := json.Unmarshal(data, &st); err != nil {
		return err
	}
	if len(st) == 0 {
		st = nil
	}
	*s = MetricStats{st}
	return nil
}

type statJSON struct {
	Mean      jfloat     `json:"mean"`
	Std       jfloat     `json:"std"`
	N         int        `json:"n"`
	CI95      *[2]jfloat `json:"ci95,omitempty"`
	Undefined string     `json:"undefined,omitempty"`
}

// MarshalJSON encodes s, writing non-finite values as "NaN", "Inf" or "-Inf",
// and the confidence interval as "ci95": [low, high] when N >= 2.
func (s Stat) MarshalJSON() ([]byte, error) {
	a := statJSON{Mean: jfloat(s.Mean), Std: jfloat(s.Std), N: s.N, Undefined: s.Undefined}
	if s.HasCI() {
		a.CI95 = &[2]jfloat{jfloat(s.CILow), jfloat(s.CIHigh)}
	}
	return json.Marshal(a)
}

// UnmarshalJSON decodes s, accepting the encodings written by MarshalJSON.
func (s *Stat) UnmarshalJSON(data []byte) error {
	a := statJSON{Mean: jfloat(s.Mean), Std: jfloat(s.Std), N: s.N, Undefined: s.Undefined}
	if err := json.Unmarshal(data, &a); err != nil {
		return err
	}
	*s = Stat{Mean: float64(a.Mean), Std: float64(a.Std), N: a.N, Undefined: a.Undefined}
	if a.CI95 != nil {
		s.CILow, s.CIHigh = float64(a.CI95[0]), float64(a.CI95[1])
	}
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
	ClassOrd []int             `json:"class_order,omitempty"`
	R        [][]jfloat        `json:"r"`
	B        []jfloat          `json:"b"`
	RVal     [][]jfloat        `json:"r_val,omitempty"`
	BVal     []jfloat          `json:"b_val,omitempty"`
	Metrics  *Metrics          `json:"metrics"`
	Cost     Cost              `json:"cost"`
	Capacity *Capacity         `json:"capacity,omitempty"`
	Init     *Init             `json:"init,omitempty"`
	Resolved map[string]string `json:"resolved,omitempty"`
	Spec     *runspec.Spec     `json:"spec,omitempty"`
}

// MarshalJSON encodes r in the result.json layout (including the "schema"
// field), writing non-finite values as "NaN", "Inf" or "-Inf".
func (r Result) MarshalJSON() ([]byte, error) {
	return json.Marshal(resultJSON{
		Schema: SchemaVersion, Strategy: r.Strategy, Seed: r.Seed, Status: r.Status, Error: r.Error,
		Tasks: r.Tasks, ClassOrd: r.ClassOrder, R: toJ2(r.R), B: toJ(r.B), RVal: toJ2(r.RVal), BVal: toJ(r.BVal), Metrics: r.Metrics, Cost: r.Cost, Capacity: r.Capacity, Init: r.Init, Resolved: r.Resolved, Spec: r.Spec,
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
		Tasks: a.Tasks, ClassOrder: a.ClassOrd, R: fromJ2(a.R), B: fromJ(a.B), RVal: fromJ2(a.RVal), BVal: fromJ(a.BVal), Metrics: a.Metrics, Cost: a.Cost, Capacity: a.Capacity, Init: a.Init, Resolved: a.Resolved, Spec: a.Spec,
	}
	return nil
}
