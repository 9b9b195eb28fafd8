package strategies

import (
	"strconv"
	"strings"

	"github.com/clgraph/clgraph/stream"
	"github.com/sirupsen/logrus"
)

// AutoTable is where an auto option (Option.Auto, e.g. ewc:lambda=auto) takes its value: the
// default registered with the stream (stream.Stream.Defaults, under Key), else Fallback.
type AutoTable struct {
	// Key names the option in the streams' defaults: "<strategy>.<option>", e.g. "ewc.lambda".
	Key string
	// Fallback is used on streams that register no default for Key (synthetic test streams,
	// new datasets).
	Fallback float64
}

// Pick returns the value for stream st and output layout h: the stream's default for
// "<Key>/<scenario>/<heads>", else for "<Key>/<scenario>", else Fallback.
func (a AutoTable) Pick(st *stream.Stream, h stream.Heads) float64 {
	key := a.Key + "/" + st.Scenario.String()
	if v, ok := st.Defaults[key+"/"+h.String()]; ok {
		return v
	}
	if v, ok := st.Defaults[key]; ok {
		return v
	}
	return a.Fallback
}

// Strategy returns the strategy part of Key ("ewc" for "ewc.lambda").
func (a AutoTable) Strategy() string {
	s, _, _ := strings.Cut(a.Key, ".")
	return s
}

// AutoFloat is the value of an auto option as Options.FloatOrAuto reads it: a number, or "auto"
// to be settled by Resolve once the stream is known (at Setup).
type AutoFloat struct {
	// Name is the option's name, e.g. "lambda".
	Name string
	// Value is the number given or, after Resolve of an "auto" option, the stream's default.
	Value float64
	// Auto is set when the option was "auto": Resolve then sets Value from Table.
	Auto bool
	// Table is the option's AutoTable (Option.Auto).
	Table AutoTable
}

// Resolve sets Value from Table for stream env.Stream and output layout h when the option was
// "auto", and logs the value picked at info level ("ewc: lambda=auto" with lambda, stream,
// scenario and heads). It does nothing for a number given. It returns Value.
func (a *AutoFloat) Resolve(env *Env, h stream.Heads) float64 {
	if !a.Auto {
		return a.Value
	}
	a.Value = a.Table.Pick(env.Stream, h)
	if env.Log != nil {
		env.Log.WithFields(logrus.Fields{a.Name: a.Value, "stream": env.Stream.Name, "scenario": env.Stream.Scenario.String(), "heads": h.String()}).Info(a.Table.Strategy() + ": " + a.Name + "=auto")
	}
	return a.Value
}

// Resolved is the Resolver map of the option: its name and the value used, e.g.
// {"lambda": "1e+09"}.
func (a AutoFloat) Resolved() map[string]string { return ResolvedFloat(a.Name, a.Value) }

// withFloat adds option name's value v to m (a Base's Resolved map) and returns m.
func withFloat(m map[string]string, name string, v float64) map[string]string {
	if m == nil {
		m = map[string]string{}
	}
	m[name] = strconv.FormatFloat(v, 'g', -1, 64)
	return m
}

// ResolvedFloat is the Resolver map of one float option, e.g. {"lambda": "1e+09"}.
func ResolvedFloat(name string, v float64) map[string]string {
	return map[string]string{name: strconv.FormatFloat(v, 'g', -1, 64)}
}
