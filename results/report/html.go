package report

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/clgraph/clgraph/results"
	"gonum.org/v1/plot/vg"
)

// checkScript is the page's only script. It touches nothing but data-*
// attributes of <html>, which a headless browser reads back after loading:
//
//	data-ready="1"              the load event ran
//	data-images-total, data-images-loaded   <img> elements and those decoded
//	data-external-requests      resources fetched from anything but data: URIs
//	data-csp-violations         requests the Content-Security-Policy blocked
//	data-height                 the page's height in CSS pixels
const checkScript = `(function(){var d=document.documentElement,v=0;` +
	`d.setAttribute('data-csp-violations','0');` +
	`document.addEventListener('securitypolicyviolation',function(){v++;d.setAttribute('data-csp-violations',String(v));});` +
	`window.addEventListener('load',function(){var im=document.images,ok=0,i;` +
	`for(i=0;i<im.length;i++){if(im[i].complete&&im[i].naturalWidth>0){ok++;}}` +
	`var ext=0,rs=performance.getEntriesByType('resource');` +
	`for(i=0;i<rs.length;i++){if(rs[i].name.indexOf('data:')!==0){ext++;}}` +
	`d.setAttribute('data-images-total',String(im.length));d.setAttribute('data-images-loaded',String(ok));` +
	`d.setAttribute('data-external-requests',String(ext));d.setAttribute('data-height',String(d.scrollHeight));` +
	`d.setAttribute('data-ready','1');});})();`

// CSP is the Content-Security-Policy of report.html: nothing may be fetched
// but data: images, inline styles and the page's own script (by hash).
func CSP() string {
	sum := sha256.Sum256([]byte(checkScript))
	return "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'sha256-" +
		base64.StdEncoding.EncodeToString(sum[:]) + "'; base-uri 'none'; form-action 'none'"
}

const pageCSS = `
:root{--fg:#1b1f24;--muted:#5b636d;--line:#d8dde3;--bg:#fff;--head:#f3f5f7}
*{box-sizing:border-box}
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Liberation Sans",Arial,sans-serif;color:var(--fg);background:var(--bg);margin:0 auto;max-width:1240px;padding:24px 28px 60px}
h1{font-size:26px;margin:0 0 6px}h2{font-size:20px;margin:36px 0 10px;padding-bottom:4px;border-bottom:1px solid var(--line)}h3{font-size:16px;margin:22px 0 8px}
p.lead{color:var(--muted);margin:0 0 14px}.muted{color:var(--muted)}.small{font-size:13px}
nav{font-size:14px;margin:10px 0 4px}nav a{margin-right:14px;color:#0b62a4;text-decoration:none}
table{border-collapse:collapse;margin:8px 0 14px;font-size:14px}
th,td{border:1px solid var(--line);padding:4px 10px;text-align:left;vertical-align:top}
th{background:var(--head);font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.sw{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:6px;vertical-align:-1px}
figure{margin:10px 0 18px}figure img{display:block;max-width:100%;height:auto;border:1px solid var(--line);border-radius:4px}
figcaption{font-size:13px;color:var(--muted);margin-top:4px;max-width:900px}
.grid{display:flex;flex-wrap:wrap;gap:10px 18px}.grid figure{margin:4px 0}
dl.cfg{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;font-size:14px;margin:6px 0 12px}
dl.cfg dt{font-weight:600}dl.cfg dd{margin:0;word-break:break-word}
code{font:13px/1.4 ui-monospace,"Liberation Mono",Menlo,Consolas,monospace;background:#f1f3f5;padding:1px 4px;border-radius:3px}
.fail{color:#a4161a}
.incomplete{border:1px solid #e0b252;background:#fff8e6;border-radius:4px;padding:8px 14px;margin:12px 0}.incomplete p{margin:4px 0}
footer{margin-top:40px;font-size:12px;color:var(--muted)}
`

// pageFigure is a figure as shown on the page.
type pageFigure struct {
	Title, Caption, PNG, SVG, PDF string
	Src                           template.HTMLAttr // src="data:image/png;base64,..."
	Width, Height                 int               // CSS pixels
}

type pageRow struct {
	Label, Color         string
	Run                  int
	OK, Failed           int
	Interrupted, Missing int
	Cells                []string
}

// pageFailure is a row of the failures section: a failed or interrupted result, or a missing
// one (Status "missing").
type pageFailure struct {
	Label  string
	Seed   int64
	Status string
	Done   string // "1 of 3" tasks done
	Error  string
}

type kv struct{ Key, Value string }

type pageRun struct {
	N      int
	Dir    string
	Fields []kv
	Data   []kv
	Vers   []kv
}

type page struct {
	CSP, Script template.HTML
	Title, Lead string
	MetricHeads []string // the labels of results.Table
	MetricDocs  string   // "ACC: average final accuracy; ..."
	Undefined   []string // results.UndefinedNotes of every series
	Metrics     []pageRow
	CIs         []pageRow // 95% confidence intervals, one cell per entry of results.Table
	Pairs       []string  // pairedNotes
	Costs       []pageRow
	Incomplete  []string // incompleteNotes
	InitNotes   []string // initNotes: what models started from, when not their own initialisation
	Progress    bool     // the metric table has interrupted and missing columns
	Failures    []pageFailure
	FailTitle   string
	MetricsFig  *pageFigure
	StabFig     *pageFigure
	CurveFig    *pageFigure
	TasksFig    *pageFigure
	CapFig      *pageFigure // capacity per task (hat, packnet); nil when no strategy records it
	LossFig     *pageFigure // training loss from the step logs; nil when no run has them
	Heatmaps    []*pageFigure
	HeatPanel   *pageFigure // every strategy's matrix side by side (two or more strategies)
	NoMatrix    []string
	Replays     []pageReplay // generative strategies' pictures
	ReplayNotes []string     // pictures that could not be read
	Runs        []pageRun
	Schema      string
	MultiRun    bool
}

var pageTmpl = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
{{.CSP}}
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>{{.Title}}</title>
<style>` + pageCSS + `</style>
{{.Script}}
</head>
<body>
<h1>{{.Title}}</h1>
<p class="lead">{{.Lead}}</p>
{{if .Incomplete}}<div class="incomplete" id="incomplete">{{range .Incomplete}}<p><strong>Incomplete:</strong> {{.}}</p>{{end}}</div>
{{end}}{{if .InitNotes}}<div id="init"><p><strong>Initialisation</strong> (not the strategies' own random initialisation):</p><ul class="small">{{range .InitNotes}}<li>{{.}}</li>{{end}}</ul></div>
{{end}}<nav><a href="#metrics">Metrics</a><a href="#average">Average accuracy</a><a href="#matrices">Accuracy matrices</a><a href="#tasks">Per-task accuracy</a>{{if .CapFig}}<a href="#capacity">Capacity</a>{{end}}{{if .LossFig}}<a href="#loss">Training loss</a>{{end}}{{if or .Replays .ReplayNotes}}<a href="#replay">Replay</a>{{end}}<a href="#cost">Cost</a>{{if .Failures}}<a href="#failures">{{.FailTitle}}</a>{{end}}<a href="#config">Configuration</a></nav>

<h2 id="metrics">Metrics</h2>
<p class="small muted">Mean ± sample standard deviation over the successful seeds; accuracies are fractions in [0, 1]. {{.MetricDocs}}.</p>
<table>
<tr><th>Strategy</th>{{if .MultiRun}}<th>Run</th>{{end}}<th>ok</th><th>failed</th>{{if .Progress}}<th>interrupted</th><th>missing</th>{{end}}{{range .MetricHeads}}<th>{{.}}</th>{{end}}</tr>
{{range .Metrics}}<tr><td><span class="sw" style="background:{{.Color}}"></span>{{.Label}}</td>{{if $.MultiRun}}<td class="num">{{.Run}}</td>{{end}}<td class="num">{{.OK}}</td><td class="num{{if .Failed}} fail{{end}}">{{.Failed}}</td>{{if $.Progress}}<td class="num{{if .Interrupted}} fail{{end}}">{{.Interrupted}}</td><td class="num{{if .Missing}} fail{{end}}">{{.Missing}}</td>{{end}}{{range .Cells}}<td class="num">{{.}}</td>{{end}}</tr>
{{end}}</table>
{{if .Undefined}}<p class="small muted">Undefined metrics (left out of the means):</p>
<ul class="small muted">{{range .Undefined}}<li>{{.}}</li>{{end}}</ul>
{{end}}<h3 id="ci">95% confidence intervals</h3>
<p class="small muted">Of the mean over seeds (Student t, n − 1 degrees of freedom); "n/a (n=1)": one seed; "—": undefined (see above).</p>
<table>
<tr><th>Strategy</th>{{if .MultiRun}}<th>Run</th>{{end}}{{range .MetricHeads}}<th>{{.}}</th>{{end}}</tr>
{{range .CIs}}<tr><td><span class="sw" style="background:{{.Color}}"></span>{{.Label}}</td>{{if $.MultiRun}}<td class="num">{{.Run}}</td>{{end}}{{range .Cells}}<td class="num">{{.}}</td>{{end}}</tr>
{{end}}</table>
<h3 id="pairs">Paired comparisons</h3>
<p class="small muted">Difference A − B over the seeds both strategies ran, with its 95% confidence interval (paired t-test); p two-sided, and Holm-corrected over the pairs of each metric and run.</p>
{{if .Pairs}}<ul class="small">{{range .Pairs}}<li>{{.}}</li>{{end}}</ul>{{else}}<p class="muted">No two strategies of a run share a successful seed.</p>{{end}}
{{with .MetricsFig}}{{template "fig" .}}{{end}}
{{with .StabFig}}<h3 id="stability">Stability and plasticity</h3>
{{template "fig" .}}{{end}}

<h2 id="average">Average accuracy</h2>
{{with .CurveFig}}{{template "fig" .}}{{else}}<p class="muted">No successful result with a complete accuracy matrix.</p>{{end}}

<h2 id="matrices">Accuracy matrices</h2>
<p class="small muted">Row: after training on that task; column: the task evaluated. Mean over the successful seeds.</p>
{{with .HeatPanel}}{{template "fig" .}}{{end}}
<div class="grid">{{range .Heatmaps}}{{template "fig" .}}{{end}}</div>
{{range .NoMatrix}}<p class="muted">{{.}}: no complete accuracy matrix.</p>{{end}}

<h2 id="tasks">Accuracy on each task over time</h2>
{{with .TasksFig}}{{template "fig" .}}{{else}}<p class="muted">No successful result with a complete accuracy matrix.</p>{{end}}
{{with .CapFig}}<h2 id="capacity">Capacity used per task</h2>
{{template "fig" .}}{{end}}
{{with .LossFig}}<h2 id="loss">Training loss</h2>
{{template "fig" .}}{{end}}

{{if or .Replays .ReplayNotes}}<h2 id="replay">What the generators replay</h2>
<p class="small muted">For each generative strategy, the pictures of its lowest seed: after every task, samples of its generator (what it replays while learning the next task) and real test digits of every task so far over their reconstructions.</p>
{{range .Replays}}<h3><span class="sw" style="background:{{.Color}}"></span>{{.Label}} (seed {{.Seed}})</h3>
<div class="grid">{{range .Figs}}{{template "fig" .}}{{end}}</div>
{{end}}{{range .ReplayNotes}}<p class="fail small">{{.}}</p>{{end}}
{{end}}
<h2 id="cost">Cost</h2>
<p class="small muted">Mean ± sample standard deviation over the successful seeds. Peak RSS is the peak resident memory of the whole process (MiB = 2<sup>20</sup> bytes).</p>
<table>
<tr><th>Strategy</th>{{if .MultiRun}}<th>Run</th>{{end}}<th>Train time (s)</th><th>Eval time (s)</th><th>Steps/s</th><th>Parameters</th><th>Peak RSS (MiB)</th></tr>
{{range .Costs}}<tr><td><span class="sw" style="background:{{.Color}}"></span>{{.Label}}</td>{{if $.MultiRun}}<td class="num">{{.Run}}</td>{{end}}{{range .Cells}}<td class="num">{{.}}</td>{{end}}</tr>
{{end}}</table>
{{if .Failures}}
<h2 id="failures">{{.FailTitle}}</h2>
<table>
<tr><th>Strategy</th><th>Seed</th><th>Status</th><th>Tasks done</th><th>Error</th></tr>
{{range .Failures}}<tr><td>{{.Label}}</td><td class="num">{{.Seed}}</td><td>{{.Status}}</td><td class="num">{{.Done}}</td><td class="fail">{{.Error}}</td></tr>
{{end}}</table>
{{end}}
<h2 id="config">Configuration</h2>
{{range .Runs}}<h3>Run {{.N}}{{if .Dir}}: <code>{{.Dir}}</code>{{end}}</h3>
<dl class="cfg">{{range .Fields}}<dt>{{.Key}}</dt><dd>{{.Value}}</dd>{{end}}</dl>
{{if .Vers}}<table><tr><th>Component</th><th>Version</th></tr>{{range .Vers}}<tr><td>{{.Key}}</td><td><code>{{.Value}}</code></td></tr>{{end}}</table>{{end}}
{{if .Data}}<table><tr><th>Data file</th><th>SHA-256</th></tr>{{range .Data}}<tr><td>{{.Key}}</td><td><code>{{.Value}}</code></td></tr>{{end}}</table>{{end}}
{{end}}
<footer>Written by clgraph's report package from run directories in schema {{.Schema}}. The plots are also saved next to this page as PNG and SVG files; report.md is the Markdown version of this page.</footer>
</body>
</html>
{{define "fig"}}<figure style="max-width:{{.Width}}px"><img {{.Src}} width="{{.Width}}" height="{{.Height}}" alt="{{.Title}}"><figcaption>{{if .Caption}}{{.Caption}} {{end}}{{if .SVG}}Files: {{.PNG}}, {{.SVG}}{{if .PDF}}, {{.PDF}}{{end}}{{else}}File: {{.PNG}}{{end}}.</figcaption></figure>{{end}}
`))

func hexColor(i int) string {
	c := seriesColor(i)
	return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B)
}

func scenarioName(s string) string {
	switch s {
	case "task", "domain", "class":
		return s + "-IL"
	}
	return s
}

func reportTitle(runs []*results.Run) string {
	c := runs[0].Config
	parts := []string{}
	for _, s := range []string{c.Spec.Stream, scenarioName(c.Spec.Scenario)} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	if len(parts) == 0 {
		return "clgraph report"
	}
	return "clgraph report: " + strings.Join(parts, ", ")
}

func reportLead(runs []*results.Run, ss []*series, tasks []string) string {
	c := runs[0].Config
	var b strings.Builder
	if len(runs) == 1 {
		b.WriteString("One run")
	} else {
		fmt.Fprintf(&b, "%d runs", len(runs))
	}
	fmt.Fprintf(&b, ", %d strateg", len(ss))
	if len(ss) == 1 {
		b.WriteString("y")
	} else {
		b.WriteString("ies")
	}
	if c.Spec.Protocol != "" {
		fmt.Fprintf(&b, "; %s protocol", c.Spec.Protocol)
	}
	fmt.Fprintf(&b, ", %d tasks (%s), %d iterations per task, batch %d, learning rate %s, hidden %s.",
		len(tasks), strings.Join(tasks, ", "), c.Spec.Iterations, c.Spec.Batch, fmtFloat(c.Spec.LR), fmtInts(c.Spec.Hidden))
	return b.String()
}

func fmtFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func fmtInts(xs []int) string {
	if len(xs) == 0 {
		return "none"
	}
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, "×")
}

func fmtSeeds(xs []int64) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.FormatInt(x, 10)
	}
	return strings.Join(s, ", ")
}

// shellQuote joins a command line so that it can be pasted into a shell.
func shellQuote(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./,:=+@%", r))
		}) < 0 {
			out[i] = a
			continue
		}
		out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(out, " ")
}

// shownMetrics are the metrics the report's tables show for ss (results.Shown).
func shownMetrics(ss []*series) []results.Metric {
	sums := make([]results.StrategySummary, len(ss))
	for i, s := range ss {
		sums[i] = s.sum
	}
	return results.Shown(sums)
}

// metricCells formats the series' metrics, one cell per entry of ms.
func metricCells(s *series, ms []results.Metric) []string {
	out := []string{}
	for _, mt := range ms {
		out = append(out, s.sum.Metrics.Get(mt.Key).Format(3))
	}
	return out
}

// ciCells formats the 95% confidence intervals of the series' metrics, one
// cell per entry of ms.
func ciCells(s *series, ms []results.Metric) []string {
	out := []string{}
	for _, mt := range ms {
		out = append(out, s.sum.Metrics.Get(mt.Key).FormatCI(3))
	}
	return out
}

// pairedNotes lists the paired tests of every run (results.Run.PairedTests),
// "ewc vs si, ACC: +0.012 [-0.004, 0.028], p = 0.21 (Holm 0.42), n = 5",
// prefixed with "run k: " when there are several runs.
func pairedNotes(runs []*results.Run) []string {
	var out []string
	for i, r := range runs {
		for _, t := range r.PairedTests() {
			n := t.String()
			if len(runs) > 1 {
				n = fmt.Sprintf("run %d: %s", i+1, n)
			}
			out = append(out, n)
		}
	}
	return out
}

// metricDocs explains the given metrics: "ACC: average final accuracy; BWT: ...".
func metricDocs(ms []results.Metric) string {
	parts := make([]string, len(ms))
	for i, mt := range ms {
		parts[i] = mt.Label + ": " + mt.Doc
	}
	return strings.Join(parts, "; ")
}

// metricLabels returns the labels of ms.
func metricLabels(ms []results.Metric) []string {
	out := make([]string, len(ms))
	for i, mt := range ms {
		out[i] = mt.Label
	}
	return out
}

// undefinedNotes lists the metrics that are undefined for some results of
// some series (see results.UndefinedNotes), labelling the series as the
// report does.
func undefinedNotes(ss []*series) []string {
	sums := make([]results.StrategySummary, len(ss))
	for i, s := range ss {
		sums[i] = s.sum
	}
	return results.UndefinedNotes(sums, func(i int) string { return ss[i].label })
}

func mib(st results.Stat) results.Stat {
	return results.Stat{Mean: st.Mean / (1 << 20), Std: st.Std / (1 << 20), N: st.N}
}

func costCells(s *series) []string {
	c := s.sum.Cost
	rss := "n/a"
	if s.rss.N > 0 && s.rss.Mean > 0 {
		rss = mib(s.rss).Format(0)
	}
	return []string{c.TrainSeconds.Format(2), s.evalSec.Format(2), c.StepsPerSecond.Format(0), c.Params.Format(0), rss}
}

// configFields lists a run's settings for the configuration section.
func configFields(r *results.Run) (fields, data, vers []kv) {
	c := r.Config
	add := func(k, v string) {
		if v != "" {
			fields = append(fields, kv{k, v})
		}
	}
	if !c.CreatedAt.IsZero() {
		add("Created", c.CreatedAt.UTC().Format("2006-01-02 15:04:05 UTC"))
	}
	add("Stream", c.Spec.Stream)
	add("Scenario", scenarioName(c.Spec.Scenario))
	add("Protocol", c.Spec.Protocol)
	add("Tasks", fmt.Sprintf("%d: %s", len(c.Tasks), strings.Join(c.Tasks, ", ")))
	if len(c.Spec.ClassOrder) > 0 {
		add("Class order", strings.Trim(fmt.Sprint(c.Spec.ClassOrder), "[]"))
	}
	add("Iterations per task", strconv.Itoa(c.Spec.Iterations))
	add("Batch size", strconv.Itoa(c.Spec.Batch))
	add("Evaluation batch", strconv.Itoa(c.Spec.EvalBatch))
	add("Learning rate", fmtFloat(c.Spec.LR))
	add("Hidden layers", fmtInts(c.Spec.Hidden))
	add("Seeds", fmtSeeds(c.Seeds))
	add("Strategies", strings.Join(c.Strategies, "; "))
	add("Resolved options", resolvedOptions(r))
	add("Data source", c.Data.Source)
	for _, k := range slices.Sorted(maps.Keys(c.Extra)) {
		b, err := json.Marshal(c.Extra[k])
		if err != nil {
			b = []byte(fmt.Sprint(c.Extra[k]))
		}
		add("Extra: "+k, string(b))
	}
	add("Command", shellQuote(c.Command))
	for _, k := range slices.Sorted(maps.Keys(c.Data.Files)) {
		data = append(data, kv{k, c.Data.Files[k]})
	}
	for _, k := range slices.Sorted(maps.Keys(c.Versions)) {
		vers = append(vers, kv{k, c.Versions[k]})
	}
	return fields, data, vers
}

// resolvedOptions lists the options strategies settled at setup (results.Result.Resolved, e.g.
// lambda=auto), one entry per strategy and distinct value: "ewc: lambda=1e+09; l2: lambda=100".
func resolvedOptions(r *results.Run) string {
	var out []string
	seen := map[string]bool{}
	for _, res := range r.Results {
		if len(res.Resolved) == 0 {
			continue
		}
		var kvs []string
		for _, k := range slices.Sorted(maps.Keys(res.Resolved)) {
			kvs = append(kvs, k+"="+res.Resolved[k])
		}
		e := res.Strategy + ": " + strings.Join(kvs, ",")
		if !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	return strings.Join(out, "; ")
}

// dataSrc is the src attribute of an image embedded as a data: URI.
func dataSrc(png []byte) template.HTMLAttr {
	return template.HTMLAttr(`src="data:image/png;base64,` + base64.StdEncoding.EncodeToString(png) + `"`)
}

// cssSize is the size at which a figure is shown: 96 CSS pixels per inch.
func cssSize(f *figure) (w, h int) {
	return int(math.Round(float64(f.w/vg.Inch) * 96)), int(math.Round(float64(f.h/vg.Inch) * 96))
}

func renderHTML(runs []*results.Run, ss []*series, tasks []string, figs []*figure, rp replay) ([]byte, error) {
	p := page{
		CSP:      template.HTML(`<meta http-equiv="Content-Security-Policy" content="` + template.HTMLEscapeString(CSP()) + `">`),
		Script:   template.HTML("<script>" + checkScript + "</script>"),
		Title:    reportTitle(runs),
		Lead:     reportLead(runs, ss, tasks),
		Schema:   results.SchemaVersion,
		MultiRun: len(runs) > 1,

		MetricHeads: metricLabels(shownMetrics(ss)),
		MetricDocs:  metricDocs(shownMetrics(ss)),
		Undefined:   undefinedNotes(ss),
		Incomplete:  incompleteNotes(runs, ss),
		InitNotes:   initNotes(ss),
		Progress:    showProgress(ss),
		Failures:    unfinished(ss),
		Pairs:       pairedNotes(runs),
		Replays:     pageReplays(rp.sets, tasks),
		ReplayNotes: rp.notes,
	}
	p.FailTitle = failuresTitle(p.Failures)
	for _, s := range ss {
		p.Metrics = append(p.Metrics, pageRow{Label: s.label, Color: hexColor(s.index), Run: s.run + 1, OK: s.sum.OK, Failed: s.sum.Failed,
			Interrupted: s.sum.Interrupted, Missing: s.sum.Missing, Cells: metricCells(s, shownMetrics(ss))})
		p.CIs = append(p.CIs, pageRow{Label: s.label, Color: hexColor(s.index), Run: s.run + 1, Cells: ciCells(s, shownMetrics(ss))})
		p.Costs = append(p.Costs, pageRow{Label: s.label, Color: hexColor(s.index), Run: s.run + 1, Cells: costCells(s)})
		if len(s.sum.MeanR) != len(tasks) || len(tasks) == 0 {
			p.NoMatrix = append(p.NoMatrix, s.label)
		}
	}
	for _, f := range figs {
		w, h := cssSize(f)
		pf := &pageFigure{Title: f.title, Caption: f.caption, PNG: f.name + ".png", SVG: f.name + ".svg", PDF: f.name + ".pdf", Width: w, Height: h, Src: dataSrc(f.png)}
		switch f.kind {
		case "heatmap":
			p.Heatmaps = append(p.Heatmaps, pf)
		case "heatpanel":
			p.HeatPanel = pf
		case "curve":
			p.CurveFig = pf
		case "tasks":
			p.TasksFig = pf
		case "metrics":
			p.MetricsFig = pf
		case "stability":
			p.StabFig = pf
		case "capacity":
			p.CapFig = pf
		case "loss":
			p.LossFig = pf
		}
	}
	for i, r := range runs {
		pr := pageRun{N: i + 1, Dir: r.Dir}
		pr.Fields, pr.Data, pr.Vers = configFields(r)
		p.Runs = append(p.Runs, pr)
	}
	var buf bytes.Buffer
	if err := pageTmpl.Execute(&buf, p); err != nil {
		return nil, fmt.Errorf("report: rendering HTML: %w", err)
	}
	return buf.Bytes(), nil
}

// mdReplacer escapes Markdown (see mdEscape); built once, as building a Replacer costs more than
// using it.
var mdReplacer = strings.NewReplacer(`\`, `\\`, "|", `\|`, "`", "\\`", "*", `\*`, "_", `\_`, "<", "&lt;", ">", "&gt;", "[", `\[`, "]", `\]`)

// mdEscape makes s safe inside a Markdown table cell or paragraph.
func mdEscape(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return mdReplacer.Replace(s)
}

// mdCode wraps s in a code span.
func mdCode(s string) string {
	s = strings.ReplaceAll(strings.Join(strings.Fields(s), " "), "|", `\|`)
	if strings.Contains(s, "`") {
		return "`` " + s + " ``"
	}
	return "`" + s + "`"
}

func mdFigure(b *strings.Builder, f *figure) {
	fmt.Fprintf(b, "![%s](%s.png)\n\n%s ([PNG](%s.png), [SVG](%s.svg), [PDF](%s.pdf))\n\n", mdEscape(f.title), f.name, mdEscape(f.caption), f.name, f.name, f.name)
}

func renderMarkdown(runs []*results.Run, ss []*series, tasks []string, figs []*figure, rp replay) []byte {
	var b strings.Builder
	byKind := map[string][]*figure{}
	for _, f := range figs {
		byKind[f.kind] = append(byKind[f.kind], f)
	}
	fmt.Fprintf(&b, "# %s\n\n%s\n\n", mdEscape(reportTitle(runs)), mdEscape(reportLead(runs, ss, tasks)))
	for _, n := range incompleteNotes(runs, ss) {
		fmt.Fprintf(&b, "> **Incomplete:** %s\n\n", mdEscape(n))
	}
	if notes := initNotes(ss); len(notes) > 0 {
		b.WriteString("**Initialisation** (not the strategies' own random initialisation):\n\n")
		for _, n := range notes {
			b.WriteString("- " + mdEscape(n) + "\n")
		}
		b.WriteString("\n")
	}

	b.WriteString("## Metrics\n\nMean ± sample standard deviation over the successful seeds; accuracies are fractions in [0, 1].\n\n")
	multi := len(runs) > 1
	runCol := func(head bool, s *series) string {
		switch {
		case !multi:
			return ""
		case head:
			return " Run |"
		case s == nil:
			return "---:|"
		}
		return fmt.Sprintf(" %d |", s.run+1)
	}
	shown := shownMetrics(ss)
	heads := metricLabels(shown)
	for i, h := range heads {
		heads[i] = mdEscape(h)
	}
	progress := showProgress(ss)
	progHead, progRule := "", ""
	if progress {
		progHead, progRule = " interrupted | missing |", "---:|---:|"
	}
	b.WriteString("| Strategy |" + runCol(true, nil) + " ok | failed |" + progHead + " " + strings.Join(heads, " | ") + " |\n|---|" + runCol(false, nil) + "---:|---:|" + progRule + strings.Repeat("---:|", len(heads)) + "\n")
	for _, s := range ss {
		prog := ""
		if progress {
			prog = fmt.Sprintf(" %d | %d |", s.sum.Interrupted, s.sum.Missing)
		}
		fmt.Fprintf(&b, "| %s |%s %d | %d |%s %s |\n", mdEscape(s.label), runCol(false, s), s.sum.OK, s.sum.Failed, prog, strings.Join(metricCells(s, shown), " | "))
	}
	b.WriteString("\n")
	if notes := undefinedNotes(ss); len(notes) > 0 {
		b.WriteString("Undefined metrics (left out of the means):\n\n")
		for _, n := range notes {
			b.WriteString("- " + mdEscape(n) + "\n")
		}
		b.WriteString("\n")
	}
	if hasPublished(ss) {
		b.WriteString("### Published numbers\n\nThe final average accuracy the source prints for the same method, stream, scenario and protocol (drawn as markers on the ACC bars and after the last task of the curves), beside this report's ACC.\n\n")
		b.WriteString("| Strategy |" + runCol(true, nil) + " ACC (this report) | published | source |\n|---|" + runCol(false, nil) + "---:|---:|---|\n")
		for _, s := range ss {
			for _, pm := range s.pub {
				fmt.Fprintf(&b, "| %s |%s %s | %.4f | %s (%s) |\n", mdEscape(s.label), runCol(false, s), s.sum.Metrics.Get("acc").Format(3), pm.value, mdEscape(pm.cite), mdEscape(pm.label))
			}
		}
		b.WriteString("\n")
	}
	b.WriteString("### 95% confidence intervals\n\nOf the mean over seeds (Student t, n − 1 degrees of freedom).\n\n")
	b.WriteString("| Strategy |" + runCol(true, nil) + " " + strings.Join(heads, " | ") + " |\n|---|" + runCol(false, nil) + strings.Repeat("---:|", len(heads)) + "\n")
	for _, s := range ss {
		fmt.Fprintf(&b, "| %s |%s %s |\n", mdEscape(s.label), runCol(false, s), strings.Join(ciCells(s, shown), " | "))
	}
	b.WriteString("\n### Paired comparisons\n\nDifference A − B over the seeds both strategies ran, with its 95% confidence interval (paired t-test); p two-sided, and Holm-corrected over the pairs of each metric and run.\n\n")
	if pairs := pairedNotes(runs); len(pairs) > 0 {
		for _, n := range pairs {
			b.WriteString("- " + mdEscape(n) + "\n")
		}
	} else {
		b.WriteString("No two strategies of a run share a successful seed.\n")
	}
	b.WriteString("\n")
	for _, f := range byKind["metrics"] {
		mdFigure(&b, f)
	}
	if fs := byKind["stability"]; len(fs) > 0 {
		b.WriteString("### Stability and plasticity\n\n")
		for _, f := range fs {
			mdFigure(&b, f)
		}
	}
	b.WriteString("## Average accuracy\n\n")
	if len(byKind["curve"]) == 0 {
		b.WriteString("No successful result with a complete accuracy matrix.\n\n")
	}
	for _, f := range byKind["curve"] {
		mdFigure(&b, f)
	}
	b.WriteString("## Accuracy matrices\n\nRow: after training on that task; column: the task evaluated. Mean over the successful seeds.\n\n")
	for _, f := range byKind["heatpanel"] {
		mdFigure(&b, f)
	}
	for _, s := range ss {
		fmt.Fprintf(&b, "### %s\n\n", mdEscape(s.label))
		if len(s.sum.MeanR) != len(tasks) || len(tasks) == 0 {
			b.WriteString("No complete accuracy matrix.\n\n")
			continue
		}
		fmt.Fprintf(&b, "Mean over %d seed(s).\n\n| after |", s.sum.MeanRCount)
		for _, t := range tasks {
			fmt.Fprintf(&b, " %s |", mdEscape(t))
		}
		b.WriteString("\n|---|" + strings.Repeat("---:|", len(tasks)) + "\n")
		for i, row := range s.sum.MeanR {
			fmt.Fprintf(&b, "| %s |", mdEscape(tasks[i]))
			for _, v := range row {
				fmt.Fprintf(&b, " %s |", strconv.FormatFloat(v, 'f', 3, 64))
			}
			b.WriteString("\n")
		}
		b.WriteString("\n")
		for _, f := range byKind["heatmap"] {
			if f.series == s {
				mdFigure(&b, f)
			}
		}
	}
	b.WriteString("## Accuracy on each task over time\n\n")
	if len(byKind["tasks"]) == 0 {
		b.WriteString("No successful result with a complete accuracy matrix.\n\n")
	}
	for _, f := range byKind["tasks"] {
		mdFigure(&b, f)
	}
	if fs := byKind["capacity"]; len(fs) > 0 {
		b.WriteString("## Capacity used per task\n\n")
		for _, f := range fs {
			mdFigure(&b, f)
		}
	}
	if fs := byKind["loss"]; len(fs) > 0 {
		b.WriteString("## Training loss\n\n")
		for _, f := range fs {
			mdFigure(&b, f)
		}
	}
	markdownReplay(&b, rp.sets, rp.notes, tasks)
	b.WriteString("## Cost\n\nMean ± sample standard deviation over the successful seeds; peak RSS is that of the whole process (MiB = 2^20 bytes).\n\n")
	b.WriteString("| Strategy |" + runCol(true, nil) + " Train time (s) | Eval time (s) | Steps/s | Parameters | Peak RSS (MiB) |\n|---|" + runCol(false, nil) + "---:|---:|---:|---:|---:|\n")
	for _, s := range ss {
		fmt.Fprintf(&b, "| %s |%s %s |\n", mdEscape(s.label), runCol(false, s), strings.Join(costCells(s), " | "))
	}
	b.WriteString("\n")
	if fails := unfinished(ss); len(fails) > 0 {
		b.WriteString("## " + failuresTitle(fails) + "\n\n")
		for _, f := range fails {
			switch f.Status {
			case results.StatusFailed:
				fmt.Fprintf(&b, "- %s, seed %d (after %s tasks): %s\n", mdEscape(f.Label), f.Seed, f.Done, mdEscape(f.Error))
			case "missing":
				fmt.Fprintf(&b, "- %s, seed %d missing: %s\n", mdEscape(f.Label), f.Seed, mdEscape(f.Error))
			default:
				fmt.Fprintf(&b, "- %s, seed %d %s (after %s tasks): %s\n", mdEscape(f.Label), f.Seed, mdEscape(f.Status), f.Done, mdEscape(f.Error))
			}
		}
		b.WriteString("\n")
	}
	b.WriteString("## Configuration\n")
	for i, r := range runs {
		fmt.Fprintf(&b, "\n### Run %d", i+1)
		if r.Dir != "" {
			fmt.Fprintf(&b, ": %s", mdCode(r.Dir))
		}
		b.WriteString("\n\n")
		fields, data, vers := configFields(r)
		for _, f := range fields {
			v := mdEscape(f.Value)
			if f.Key == "Command" || f.Key == "Data source" || strings.HasPrefix(f.Key, "Extra: ") {
				v = mdCode(f.Value)
			}
			fmt.Fprintf(&b, "- **%s:** %s\n", mdEscape(f.Key), v)
		}
		if len(vers) > 0 {
			b.WriteString("\n| Component | Version |\n|---|---|\n")
			for _, v := range vers {
				fmt.Fprintf(&b, "| %s | %s |\n", mdEscape(v.Key), mdCode(v.Value))
			}
		}
		if len(data) > 0 {
			b.WriteString("\n| Data file | SHA-256 |\n|---|---|\n")
			for _, d := range data {
				fmt.Fprintf(&b, "| %s | %s |\n", mdEscape(d.Key), mdCode(d.Value))
			}
		}
	}
	fmt.Fprintf(&b, "\n---\nWritten by clgraph's report package from run directories in schema %s; %s is the self-contained HTML version.\n", results.SchemaVersion, HTMLFile)
	return []byte(b.String())
}
