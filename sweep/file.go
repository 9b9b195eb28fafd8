package sweep

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/clgraph/clgraph/runspec"

	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/stream"
	"go.yaml.in/yaml/v3"
)

// File is a parsed experiment file (see the package comment for its format). Parse checks its
// syntax and shape; Expand checks its content against the streams, protocols and strategies.
type File struct {
	// Path is the file's path, used in error messages.
	Path string
	// Name names the sweep (and its default output folder): the name key, else the file name
	// without its extension.
	Name string
	// Description is free text.
	Description string
	// Streams are the streams, in order.
	Streams []StreamEntry
	// Scenarios are the scenarios, in order.
	Scenarios []ScenarioEntry
	// Strategies are the strategies and their option grids, in order.
	Strategies []StrategyEntry
	// Seeds are the seeds, in order.
	Seeds []int64
	// SeedsLine is the line of the seeds key.
	SeedsLine int
	// Protocol names the protocol preset (registered by each stream, streams.Def.Protocols); default "quick".
	Protocol string
	// ProtocolLine is the line of the protocol key (0 when absent).
	ProtocolLine int
	// Overrides change the protocol of every stream.
	Overrides Overrides
	// Source is the file's text.
	Source []byte
}

// StreamEntry is one entry of streams.
type StreamEntry struct {
	// Name is the stream's name (streams.Names, or an alias such as split or permuted).
	Name string
	// Label replaces Name in the group's folder name (default Name), so one stream can appear
	// twice with different settings.
	Label string
	// Tasks is the number of tasks; 0 takes Overrides.Tasks, else the stream's default.
	Tasks int
	// ClassOrder is split MNIST's class order; nil means 0..9.
	ClassOrder []int
	// Overrides change the protocol of this stream, over the file's overrides.
	Overrides Overrides
	// Line is the entry's line.
	Line int
}

// ScenarioEntry is one entry of scenarios.
type ScenarioEntry struct {
	// Scenario is the parsed scenario.
	Scenario stream.Scenario
	// Line is the entry's line.
	Line int
}

// StrategyEntry is one strategy and its option grid.
type StrategyEntry struct {
	// Name is the registered strategy name.
	Name string
	// Grid lists the options and their values, in the file's order.
	Grid []OptionValues
	// Line is the entry's line.
	Line int
}

// OptionValues is one option of a grid and the values it takes.
type OptionValues struct {
	// Key is the option name.
	Key string
	// Values are the option's values in canonical form (see the package comment).
	Values []string
	// Line is the option's line.
	Line int
}

// Overrides change a group's settings (runspec keys: iterations, hidden, lr, batch, ...); the
// settings not set keep the protocol's values.
type Overrides struct {
	runspec.Overrides
	// Line is the line of the overrides key.
	Line int
}

// Over returns o with the settings set in top replaced.
func (o Overrides) Over(top Overrides) Overrides {
	out := Overrides{Overrides: o.Overrides.Over(top.Overrides), Line: o.Line}
	if top.Line != 0 {
		out.Line = top.Line
	}
	return out
}

// Error is a problem at a line of an experiment file.
type Error struct {
	// File is the file's path.
	File string
	// Line is the line, from 1; 0 when the problem has no single line.
	Line int
	// Msg says what is wrong and how to fix it.
	Msg string
}

// Error writes FILE:LINE: message (FILE: message without a line).
func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Errors are the problems found in an experiment file, in line order.
type Errors []*Error

// Error writes one error a line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// errorList collects a file's errors.
type errorList struct {
	file string
	errs Errors
}

func (l *errorList) add(line int, format string, a ...any) {
	l.errs = append(l.errs, &Error{File: l.file, Line: line, Msg: fmt.Sprintf(format, a...)})
}

func (l *errorList) err() error {
	if len(l.errs) == 0 {
		return nil
	}
	sort.SliceStable(l.errs, func(i, j int) bool { return l.errs[i].Line < l.errs[j].Line })
	return l.errs
}

// rawFile is the top level of an experiment file, decoded with KnownFields(true).
type rawFile struct {
	Name        yaml.Node `yaml:"name"`
	Description string    `yaml:"description"`
	Streams     yaml.Node `yaml:"streams"`
	Scenarios   yaml.Node `yaml:"scenarios"`
	Strategies  yaml.Node `yaml:"strategies"`
	Seeds       yaml.Node `yaml:"seeds"`
	Protocol    yaml.Node `yaml:"protocol"`
	Overrides   yaml.Node `yaml:"overrides"`
}

var (
	topKeys      = []string{"name", "description", "streams", "scenarios", "strategies", "seeds", "protocol", "overrides"}
	overrideKeys = func() []string {
		var k []string
		for _, f := range runspec.Fields() {
			switch f.Key {
			case "stream", "scenario", "protocol", "strategy", "seed", "data_dir", "class_order":
			default:
				k = append(k, f.Key)
			}
		}
		return k
	}()
	streamKeys = []string{"name", "label", "tasks", "class_order", "overrides"}
	nameRE     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	yamlLineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	notFoundRE = regexp.MustCompile(`^field (\S+) not found in type \S+$`)
)

// Load reads and parses an experiment file.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sweep: %w", err)
	}
	return Parse(path, data)
}

// Parse parses an experiment file's text; path is used in messages and for the default name.
// It returns Errors naming the line of every problem it finds.
func Parse(path string, data []byte) (*File, error) {
	el := &errorList{file: path}
	f := &File{Path: path, Source: data, Protocol: "quick"}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var raw rawFile
	if err := dec.Decode(&raw); err != nil {
		if errors.Is(err, io.EOF) {
			el.add(0, "the file is empty; it needs at least streams, scenarios, strategies and seeds")
			return nil, el.err()
		}
		yamlErrors(el, err)
		// Unknown keys and bad values leave the rest decoded: report its problems too. A syntax
		// error leaves nothing to look at.
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, el.err()
		}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		el.add(extra.Line, "a second YAML document (---): an experiment file holds one")
	}
	f.Description = raw.Description
	base := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	f.Name = base
	if n := &raw.Name; n.Kind != 0 {
		if n.Kind != yaml.ScalarNode || !nameRE.MatchString(n.Value) {
			el.add(n.Line, "name %q: use letters, digits, '.', '_' and '-' (it names the output folder)", n.Value)
		} else {
			f.Name = n.Value
		}
	} else if !nameRE.MatchString(base) {
		el.add(0, "no name key and the file name %q is not a valid sweep name: add name: my-sweep", base)
	}
	parseStreams(el, f, &raw.Streams)
	parseScenarios(el, f, &raw.Scenarios)
	parseStrategies(el, f, &raw.Strategies)
	parseSeeds(el, f, &raw.Seeds)
	if n := &raw.Protocol; n.Kind != 0 {
		f.ProtocolLine = n.Line
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
			el.add(n.Line, "protocol: want a name such as quick or paper")
		} else {
			f.Protocol = n.Value
		}
	}
	if n := &raw.Overrides; n.Kind != 0 {
		f.Overrides = parseOverrides(el, n, "overrides")
	}
	if err := el.err(); err != nil {
		return nil, err
	}
	return f, nil
}

// yamlErrors turns yaml.v3's errors ("line 3: field x not found in type ...") into Errors.
func yamlErrors(el *errorList, err error) {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	for _, m := range msgs {
		line := 0
		if sm := yamlLineRE.FindStringSubmatch(m); sm != nil {
			line, _ = strconv.Atoi(sm[1])
			m = sm[2]
		}
		if sm := notFoundRE.FindStringSubmatch(m); sm != nil {
			m = fmt.Sprintf("unknown key %q (known: %s)", sm[1], strings.Join(topKeys, ", "))
		}
		el.add(line, "%s", strings.TrimPrefix(m, "yaml: "))
	}
}

// decodeNode decodes n into v, reporting type errors at their lines.
func decodeNode(el *errorList, n *yaml.Node, v any) bool {
	if err := n.Decode(v); err != nil {
		yamlErrors(el, err)
		return false
	}
	return true
}

// checkKeys reports keys of mapping n that are not in known.
func checkKeys(el *errorList, n *yaml.Node, where string, known []string) bool {
	ok := true
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		found := false
		for _, kk := range known {
			found = found || k.Value == kk
		}
		if !found {
			el.add(k.Line, "unknown key %q in %s (known: %s)", k.Value, where, strings.Join(known, ", "))
			ok = false
		}
	}
	return ok
}

// items returns a sequence's items, or a scalar as a one-item list.
func items(n *yaml.Node) []*yaml.Node {
	if n.Kind == yaml.SequenceNode {
		return n.Content
	}
	return []*yaml.Node{n}
}

func parseOverrides(el *errorList, n *yaml.Node, where string) Overrides {
	var o Overrides
	if n.Kind != yaml.MappingNode {
		el.add(n.Line, "%s: want a mapping such as {iterations: 100, hidden: [64]}", where)
		return o
	}
	if !checkKeys(el, n, where, overrideKeys) {
		return o
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		f, _ := runspec.Lookup(k.Value)
		val := reflect.New(f.Type())
		if !decodeNode(el, v, val.Interface()) {
			continue
		}
		if err := o.SetValue(k.Value, val.Elem().Interface()); err != nil {
			el.add(v.Line, "%s: %v", where, err)
		}
	}
	o.Line = n.Line
	if n.Line == 0 {
		o.Line = 1
	}
	return o
}

func parseStreams(el *errorList, f *File, n *yaml.Node) {
	if n.Kind == 0 || (n.Kind == yaml.SequenceNode && len(n.Content) == 0) {
		el.add(n.Line, "streams: list at least one stream, e.g. streams: [split-mnist]")
		return
	}
	for _, it := range items(n) {
		e := StreamEntry{Line: it.Line}
		switch it.Kind {
		case yaml.ScalarNode:
			e.Name = it.Value
		case yaml.MappingNode:
			if !checkKeys(el, it, "a stream", streamKeys) {
				continue
			}
			var r struct {
				Name       string    `yaml:"name"`
				Label      string    `yaml:"label"`
				Tasks      int       `yaml:"tasks"`
				ClassOrder []int     `yaml:"class_order"`
				Overrides  yaml.Node `yaml:"overrides"`
			}
			if !decodeNode(el, it, &r) {
				continue
			}
			e.Name, e.Label, e.Tasks, e.ClassOrder = r.Name, r.Label, r.Tasks, r.ClassOrder
			if r.Overrides.Kind != 0 {
				e.Overrides = parseOverrides(el, &r.Overrides, "the stream's overrides")
			}
			if e.Name == "" {
				el.add(it.Line, "a stream mapping needs a name, e.g. {name: split-mnist, tasks: 5}")
				continue
			}
			if e.Label != "" && !nameRE.MatchString(e.Label) {
				el.add(it.Line, "label %q: use letters, digits, '.', '_' and '-' (it names a folder)", e.Label)
			}
			if e.Tasks < 0 {
				el.add(it.Line, "tasks must be positive, got %d", e.Tasks)
			}
		default:
			el.add(it.Line, "a stream is a name or a mapping such as {name: split-mnist, tasks: 5}")
			continue
		}
		f.Streams = append(f.Streams, e)
	}
}

func parseScenarios(el *errorList, f *File, n *yaml.Node) {
	if n.Kind == 0 || (n.Kind == yaml.SequenceNode && len(n.Content) == 0) {
		el.add(n.Line, "scenarios: list at least one of task, domain, class, e.g. scenarios: [task, class]")
		return
	}
	seen := map[stream.Scenario]bool{}
	for _, it := range items(n) {
		if it.Kind != yaml.ScalarNode {
			el.add(it.Line, "a scenario is one of task, domain, class")
			continue
		}
		sc, err := stream.ParseScenario(it.Value)
		if err != nil {
			el.add(it.Line, "unknown scenario %q (valid: task, domain, class)", it.Value)
			continue
		}
		if seen[sc] {
			el.add(it.Line, "scenario %s is listed twice", sc)
			continue
		}
		seen[sc] = true
		f.Scenarios = append(f.Scenarios, ScenarioEntry{Scenario: sc, Line: it.Line})
	}
}

func parseSeeds(el *errorList, f *File, n *yaml.Node) {
	f.SeedsLine = n.Line
	const want = "seeds: write a list such as [1, 2, 3] or a range such as 1-5"
	switch n.Kind {
	case 0:
		el.add(0, "no seeds: add e.g. seeds: [1, 2, 3]")
		return
	case yaml.ScalarNode:
		lo, hi, ok := strings.Cut(n.Value, "-")
		a, err1 := strconv.ParseInt(strings.TrimSpace(lo), 10, 64)
		b, err2 := strconv.ParseInt(strings.TrimSpace(hi), 10, 64)
		if n.ShortTag() != "!!str" || !ok || err1 != nil || err2 != nil || b < a || b-a >= 10000 {
			el.add(n.Line, "%s", want)
			return
		}
		for s := a; s <= b; s++ {
			f.Seeds = append(f.Seeds, s)
		}
	case yaml.SequenceNode:
		seen := map[int64]bool{}
		for _, it := range n.Content {
			var s int64
			if it.Kind != yaml.ScalarNode || it.ShortTag() != "!!int" || it.Decode(&s) != nil {
				el.add(it.Line, "seed %q is not an integer", it.Value)
				continue
			}
			if seen[s] {
				el.add(it.Line, "seed %d is listed twice", s)
				continue
			}
			seen[s] = true
			f.Seeds = append(f.Seeds, s)
		}
		if len(n.Content) == 0 {
			el.add(n.Line, "%s", want)
		}
	default:
		el.add(n.Line, "%s", want)
	}
}

func parseStrategies(el *errorList, f *File, n *yaml.Node) {
	const want = "strategies: a mapping such as {naive: {}, ewc: {lambda: [100, 1000]}} or a list such as [naive, \"naive:heads=multi\"]"
	switch n.Kind {
	case 0:
		el.add(0, "no strategies: add e.g. strategies: {naive: {}, joint: {}}")
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			parseStrategy(el, f, n.Content[i], n.Content[i+1])
		}
		if len(n.Content) == 0 {
			el.add(n.Line, "%s", want)
		}
	case yaml.SequenceNode:
		for _, it := range n.Content {
			switch it.Kind {
			case yaml.ScalarNode:
				parseStrategy(el, f, it, nil)
			case yaml.MappingNode:
				if len(it.Content) != 2 {
					el.add(it.Line, "a strategy list item is a spec or a mapping with one key, the strategy name: {ewc: {lambda: [100, 1000]}}")
					continue
				}
				parseStrategy(el, f, it.Content[0], it.Content[1])
			default:
				el.add(it.Line, "%s", want)
			}
		}
		if len(n.Content) == 0 {
			el.add(n.Line, "%s", want)
		}
	default:
		el.add(n.Line, "%s", want)
	}
}

// parseStrategy reads one strategy: key is a name or a spec ("naive:heads=multi"), grid its
// option grid (nil, null or {} for none).
func parseStrategy(el *errorList, f *File, key, grid *yaml.Node) {
	spec, err := strategies.ParseSpec(key.Value)
	if key.Kind != yaml.ScalarNode || err != nil {
		msg := "a strategy name"
		if err != nil {
			msg = err.Error()
		}
		el.add(key.Line, "strategy %q: %s", key.Value, msg)
		return
	}
	e := StrategyEntry{Name: spec.Name, Line: key.Line}
	keys := make([]string, 0, len(spec.Options))
	for k := range spec.Options {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	seen := map[string]bool{}
	for _, k := range keys {
		v, ok := checkValue(spec.Options[k])
		if !ok {
			el.add(key.Line, "strategy %s: option %s=%q: values cannot contain spaces, ',', ':', ';' or '='", spec.Name, k, spec.Options[k])
			return
		}
		e.Grid = append(e.Grid, OptionValues{Key: k, Values: []string{v}, Line: key.Line})
		seen[k] = true
	}
	if grid != nil && !(grid.Kind == yaml.ScalarNode && grid.ShortTag() == "!!null") {
		if grid.Kind != yaml.MappingNode {
			el.add(grid.Line, "strategy %s: want a mapping of options to values or lists of values, e.g. {lambda: [100, 1000]}, or {} for none", spec.Name)
			return
		}
		for i := 0; i+1 < len(grid.Content); i += 2 {
			k, vs := grid.Content[i], grid.Content[i+1]
			if seen[k.Value] {
				el.add(k.Line, "strategy %s: option %s is given twice", spec.Name, k.Value)
				continue
			}
			seen[k.Value] = true
			ov := OptionValues{Key: k.Value, Line: k.Line}
			if strings.ContainsAny(k.Value, " ,:;=") || k.Value == "" {
				el.add(k.Line, "strategy %s: invalid option name %q", spec.Name, k.Value)
				continue
			}
			list := items(vs)
			if vs.Kind == yaml.SequenceNode && len(list) == 0 {
				el.add(vs.Line, "strategy %s: option %s has an empty list of values", spec.Name, k.Value)
				continue
			}
			dup := map[string]bool{}
			for _, v := range list {
				s, err := canonicalValue(v)
				if err != nil {
					el.add(v.Line, "strategy %s: option %s: %v", spec.Name, k.Value, err)
					continue
				}
				if dup[s] {
					el.add(v.Line, "strategy %s: option %s lists %s twice", spec.Name, k.Value, s)
					continue
				}
				dup[s] = true
				ov.Values = append(ov.Values, s)
			}
			if len(ov.Values) > 0 {
				e.Grid = append(e.Grid, ov)
			}
		}
	}
	f.Strategies = append(f.Strategies, e)
}

// canonicalValue writes an option value canonically: integers and integral floats as integers
// (1e2 -> 100), other floats in Go's shortest form (1e-5 -> 1e-05), booleans as true/false.
func canonicalValue(n *yaml.Node) (string, error) {
	if n.Kind != yaml.ScalarNode {
		return "", fmt.Errorf("want a value or a list of values, got a %s", kindName(n.Kind))
	}
	switch n.ShortTag() {
	case "!!null":
		return "", fmt.Errorf("no value")
	case "!!int":
		var v int64
		if err := n.Decode(&v); err != nil {
			return "", fmt.Errorf("%q: %v", n.Value, err)
		}
		return strconv.FormatInt(v, 10), nil
	case "!!float":
		var v float64
		if err := n.Decode(&v); err != nil {
			return "", fmt.Errorf("%q: %v", n.Value, err)
		}
		return fmtNum(v)
	case "!!bool":
		var v bool
		if err := n.Decode(&v); err != nil {
			return "", fmt.Errorf("%q: %v", n.Value, err)
		}
		return strconv.FormatBool(v), nil
	}
	v, ok := checkValue(n.Value)
	if !ok {
		return "", fmt.Errorf("value %q: values cannot contain spaces, ',', ':', ';' or '='", n.Value)
	}
	return v, nil
}

func fmtNum(v float64) (string, error) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "", fmt.Errorf("value %v is not a finite number", v)
	}
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatInt(int64(v), 10), nil
	}
	return strconv.FormatFloat(v, 'g', -1, 64), nil
}

// checkValue rejects values that cannot appear in a spec.
func checkValue(v string) (string, bool) {
	if v == "" || strings.ContainsAny(v, " \t\n,:;=") {
		return v, false
	}
	return v, true
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.SequenceNode:
		return "list"
	case yaml.MappingNode:
		return "mapping"
	case yaml.AliasNode:
		return "alias"
	}
	return "value"
}
