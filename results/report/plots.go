package report

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/clgraph/clgraph/results"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/palette"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgpdf"
	"gonum.org/v1/plot/vg/vgsvg"
)

// pngDPI is the resolution of the PNG plots; the HTML page shows them at
// 96 CSS pixels per inch, so they stay sharp on high-density screens.
const pngDPI = 144

// figure is one rendered plot.
type figure struct {
	name    string    // file name without extension
	title   string    // heading and alt text
	caption string    // one-sentence explanation
	kind    string    // "heatmap", "curve", "tasks", "metrics", "stability", "capacity" or "loss"
	w, h    vg.Length // size
	png     []byte
	svg     []byte
	pdf     []byte  // vector, for a paper
	series  *series // for heatmaps
}

// sans is the font of every text in the plots (the gonum default is serif).
var sans = font.Font{Typeface: "Liberation", Variant: "Sans"}

// seriesColors are the colours of the series: Okabe & Ito's colour-blind-safe
// colours (without yellow, too pale on white), black, then three more.
var seriesColors = []color.NRGBA{
	{0x00, 0x72, 0xB2, 0xff}, // blue
	{0xD5, 0x5E, 0x00, 0xff}, // vermillion
	{0x00, 0x9E, 0x73, 0xff}, // bluish green
	{0xE6, 0x9F, 0x00, 0xff}, // orange
	{0xCC, 0x79, 0xA7, 0xff}, // reddish purple
	{0x56, 0xB4, 0xE9, 0xff}, // sky blue
	{0x00, 0x00, 0x00, 0xff}, // black
	{0x8C, 0x56, 0x4B, 0xff}, // brown
	{0x88, 0x88, 0x88, 0xff}, // grey
	{0x9E, 0x9A, 0x00, 0xff}, // olive
}

// dash patterns, cycled once the colours run out.
var seriesDashes = [][]vg.Length{nil, {vg.Points(5), vg.Points(3)}, {vg.Points(1.5), vg.Points(2)}, {vg.Points(6), vg.Points(2), vg.Points(1.5), vg.Points(2)}}

func seriesColor(i int) color.NRGBA { return seriesColors[i%len(seriesColors)] }

func seriesLine(i int) draw.LineStyle {
	return draw.LineStyle{Color: seriesColor(i), Width: vg.Points(1.6), Dashes: seriesDashes[(i/len(seriesColors))%len(seriesDashes)]}
}

func withAlpha(c color.NRGBA, a uint8) color.NRGBA { c.A = a; return c }

func textStyle(size vg.Length) text.Style {
	return text.Style{Color: color.Black, Font: font.From(sans, size), Handler: plot.DefaultTextHandler}
}

// newPlot returns a plot whose texts use the sans-serif font.
func newPlot(title, xlabel, ylabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font = font.From(sans, 11)
	p.Title.Padding = vg.Points(6)
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = font.From(sans, 9.5)
		a.Tick.Label.Font = font.From(sans, 8.5)
	}
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	p.Legend.TextStyle.Font = font.From(sans, 9)
	return p
}

// newLegend returns an empty legend with the report's font.
func newLegend() *plot.Legend {
	l := plot.NewLegend()
	l.TextStyle.Font = font.From(sans, 9.5)
	l.Top, l.Left = true, true
	l.ThumbnailWidth = vg.Points(22)
	l.Padding = vg.Points(2)
	return &l
}

// chart is a grid of plots with an optional legend or colour bar on the
// right, drawn on any canvas.
type chart struct {
	plots    [][]*plot.Plot // rows of plots; nil entries stay empty
	legend   *plot.Legend
	colorbar *plot.Plot // a narrow plot drawn at the right (heatmaps' scale)
}

// colorbarWidth is the strip a chart's colour bar takes.
const colorbarWidth = 1.25 * vg.Inch

func (ch *chart) draw(dc draw.Canvas) {
	// Plots do not paint the background outside their own area.
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	if ch.legend != nil {
		lw := ch.legend.Rectangle(dc).Size().X + vg.Points(14)
		lc := draw.Crop(dc, dc.Size().X-lw, 0, 0, 0)
		ch.legend.YOffs = -vg.Points(24) // level with the plots' top, below their titles
		ch.legend.Draw(draw.Crop(lc, vg.Points(6), 0, 0, 0))
		dc = draw.Crop(dc, 0, -lw, 0, 0)
	}
	if ch.colorbar != nil {
		cb := draw.Crop(dc, dc.Size().X-colorbarWidth+vg.Points(8), -vg.Points(8), vg.Points(30), -vg.Points(30))
		ch.colorbar.Draw(cb)
		dc = draw.Crop(dc, 0, -colorbarWidth, 0, 0)
	}
	rows := len(ch.plots)
	cols := 0
	for _, r := range ch.plots {
		cols = max(cols, len(r))
	}
	if rows == 1 && cols == 1 {
		ch.plots[0][0].Draw(dc)
		return
	}
	grid := make([][]*plot.Plot, rows)
	for i := range grid {
		grid[i] = make([]*plot.Plot, cols)
		copy(grid[i], ch.plots[i])
	}
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Points(10), PadY: vg.Points(10), PadTop: vg.Points(2), PadBottom: vg.Points(2), PadLeft: vg.Points(2), PadRight: vg.Points(6)}
	cs := plot.Align(grid, tiles, dc)
	for i := range grid {
		for j, p := range grid[i] {
			if p != nil {
				p.Draw(cs[i][j])
			}
		}
	}
}

// render draws ch as PNG, SVG and PDF.
func render(ch *chart, w, h vg.Length) (pngData, svgData, pdfData []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("report: drawing a plot: %v", r)
		}
	}()
	ic := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(pngDPI))
	ch.draw(draw.New(ic))
	var pb bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: ic}).WriteTo(&pb); err != nil {
		return nil, nil, nil, fmt.Errorf("report: encoding PNG: %w", err)
	}
	sc := vgsvg.New(w, h)
	ch.draw(draw.New(sc))
	var sb bytes.Buffer
	if _, err := sc.WriteTo(&sb); err != nil {
		return nil, nil, nil, fmt.Errorf("report: encoding SVG: %w", err)
	}
	pc := vgpdf.New(w, h)
	pc.EmbedFonts(true)
	ch.draw(draw.New(pc))
	var fb bytes.Buffer
	if _, err := pc.WriteTo(&fb); err != nil {
		return nil, nil, nil, fmt.Errorf("report: encoding PDF: %w", err)
	}
	return pb.Bytes(), sb.Bytes(), fb.Bytes(), nil
}

// buildFigures renders every plot of the report; runs give the folders of the step logs.
func buildFigures(runs []*results.Run, ss []*series, tasks []string) ([]*figure, error) {
	var figs []*figure
	add := func(f *figure, err error) error {
		if err != nil {
			return fmt.Errorf("report: plot %s: %w", f.name, err)
		}
		figs = append(figs, f)
		return nil
	}
	T := len(tasks)
	markIdentical(ss)
	for _, s := range ss {
		if T == 0 || len(s.sum.MeanR) != T {
			continue
		}
		if err := add(heatmapFigure(s, tasks)); err != nil {
			return nil, err
		}
	}
	complete := 0
	for _, s := range ss {
		if T > 0 && len(s.sum.MeanR) == T {
			complete++
		}
	}
	if complete > 1 {
		if err := add(heatPanelFigure(ss, tasks)); err != nil {
			return nil, err
		}
	}
	plotted := false
	for _, s := range ss {
		plotted = plotted || len(s.ok) > 0
	}
	if plotted && T > 0 {
		if err := add(curveFigure(ss, tasks)); err != nil {
			return nil, err
		}
		if err := add(tasksFigure(runs, ss, tasks)); err != nil {
			return nil, err
		}
	}
	if metricsPlotted(ss) {
		if err := add(metricsFigure(ss)); err != nil {
			return nil, err
		}
	}
	if stabilityPlotted(ss) {
		if err := add(stabilityFigure(ss)); err != nil {
			return nil, err
		}
	}
	if capacityPlotted(ss, T) {
		if err := add(capacityFigure(ss, tasks)); err != nil {
			return nil, err
		}
	}
	if curves := lossCurves(runs, ss); len(curves) > 0 && len(runs) > 0 {
		if err := add(lossFigure(curves, ss, tasks, runs[0].Config.Spec.Iterations)); err != nil {
			return nil, err
		}
	}
	return figs, nil
}

// renderChart draws ch into f's PNG and SVG.
func (f *figure) renderChart(ch *chart) (*figure, error) {
	png, svg, pdf, err := render(ch, f.w, f.h)
	if err != nil {
		return f, err
	}
	f.png, f.svg, f.pdf = png, svg, pdf
	return f, nil
}

// matGrid shows a T×T matrix with row 0 at the top.
type matGrid [][]float64

func (g matGrid) Dims() (c, r int)   { return len(g), len(g) }
func (g matGrid) Z(c, r int) float64 { return g[len(g)-1-r][c] }
func (g matGrid) X(c int) float64    { return float64(c) }
func (g matGrid) Y(r int) float64    { return float64(r) }
func (g matGrid) Min() float64       { return 0 }
func (g matGrid) Max() float64       { return 1 }

// viridis holds control points of the viridis colour map (perceptually
// uniform, readable in grey scale and by colour-blind readers).
var viridis = []color.NRGBA{
	{0x44, 0x01, 0x54, 0xff}, {0x47, 0x2c, 0x7a, 0xff}, {0x3b, 0x51, 0x8b, 0xff},
	{0x2c, 0x71, 0x8e, 0xff}, {0x21, 0x90, 0x8d, 0xff}, {0x27, 0xad, 0x81, 0xff},
	{0x5c, 0xc8, 0x63, 0xff}, {0xaa, 0xdc, 0x32, 0xff}, {0xfd, 0xe7, 0x25, 0xff},
}

// heatPalette is the colour map of the accuracy heatmaps, from 0 (dark
// purple) to 1 (yellow), in 256 steps.
type heatPalette []color.Color

// Colors implements palette.Palette.
func (h heatPalette) Colors() []color.Color { return h }

func heatColors() palette.Palette {
	const n = 256
	out := make(heatPalette, n)
	for i := range n {
		t := float64(i) / (n - 1) * float64(len(viridis)-1)
		k := min(int(t), len(viridis)-2)
		f := t - float64(k)
		a, b := viridis[k], viridis[k+1]
		mix := func(x, y uint8) uint8 { return uint8(math.Round(float64(x) + f*(float64(y)-float64(x)))) }
		out[i] = color.NRGBA{mix(a.R, b.R), mix(a.G, b.G), mix(a.B, b.B), 0xff}
	}
	return out
}

// luminance returns the relative luminance of c in [0, 1].
func luminance(c color.Color) float64 {
	r, g, b, _ := c.RGBA()
	return (0.2126*float64(r) + 0.7152*float64(g) + 0.0722*float64(b)) / 0xffff
}

// heatSide is the size of one heatmap of T tasks.
func heatSide(T int) vg.Length { return vg.Length(math.Max(3.9, 0.42*float64(T)+1.6)) * vg.Inch }

func heatmapFigure(s *series, tasks []string) (*figure, error) {
	T := len(tasks)
	side := heatSide(T)
	f := &figure{
		name:    fmt.Sprintf("heatmap-%02d-%s", s.index+1, results.Slug(s.spec)),
		title:   "Accuracy matrix: " + s.label,
		caption: fmt.Sprintf("%s: mean over %d seed%s; the colour scale (right) is the same for every strategy, 0 to 1.", s.label, s.sum.MeanRCount, plural(s.sum.MeanRCount)),
		kind:    "heatmap",
		w:       side + 0.3*vg.Inch + colorbarWidth, h: side,
		series: s,
	}
	return f.renderChart(&chart{plots: [][]*plot.Plot{{heatmapPlot(s, tasks)}}, colorbar: colorBar()})
}

// heatPanelFigure puts every strategy's accuracy matrix side by side (three a row) on one
// colour scale with one colour bar.
func heatPanelFigure(ss []*series, tasks []string) (*figure, error) {
	T := len(tasks)
	var grid [][]*plot.Plot
	n := 0
	for _, s := range ss {
		if len(s.sum.MeanR) != T {
			continue
		}
		if n%3 == 0 {
			grid = append(grid, nil)
		}
		grid[len(grid)-1] = append(grid[len(grid)-1], heatmapPlot(s, tasks))
		n++
	}
	cols := min(n, 3)
	side := heatSide(T)
	f := &figure{
		name:    "heatmaps",
		title:   "Accuracy matrices side by side",
		caption: "Every strategy's accuracy matrix (mean over its seeds) on one colour scale, 0 to 1: rows are after training on a task, columns the task evaluated.",
		kind:    "heatpanel",
		w:       vg.Length(cols)*(side+0.3*vg.Inch) + colorbarWidth,
		h:       vg.Length(len(grid)) * side,
	}
	return f.renderChart(&chart{plots: grid, colorbar: colorBar()})
}

// colorBar is the heatmaps' colour scale, 0 to 1, as a narrow plot.
func colorBar() *plot.Plot {
	const n = 100
	g := make(colorGrid, n)
	for i := range g {
		g[i] = (float64(i) + 0.5) / n
	}
	p := newPlot("", "", "accuracy")
	hm := plotter.NewHeatMap(g, heatColors())
	hm.Min, hm.Max = 0, 1
	p.Add(hm)
	p.X.Min, p.X.Max = 0, 1
	p.Y.Min, p.Y.Max = 0, 1
	p.X.Tick.Marker = plot.ConstantTicks{}
	p.Y.Tick.Marker = plot.ConstantTicks{{Value: 0, Label: "0"}, {Value: 0.25, Label: "0.25"}, {Value: 0.5, Label: "0.5"}, {Value: 0.75, Label: "0.75"}, {Value: 1, Label: "1"}}
	p.X.Padding, p.Y.Padding = 0, 0
	return p
}

// colorGrid is a one-column grid of values from bottom (row 0) to top, spanning [0, 1] in y.
type colorGrid []float64

func (g colorGrid) Dims() (c, r int)   { return 1, len(g) }
func (g colorGrid) Z(c, r int) float64 { return g[r] }
func (g colorGrid) X(c int) float64    { return 0.5 }
func (g colorGrid) Y(r int) float64    { return (float64(r) + 0.5) / float64(len(g)) }

// heatmapPlot is the plot of s's mean accuracy matrix with its values written in the cells.
func heatmapPlot(s *series, tasks []string) *plot.Plot {
	T := len(tasks)
	g := matGrid(s.sum.MeanR)
	pal := heatColors()
	p := newPlot(fmt.Sprintf("%s: mean of %d seed%s", s.label, s.sum.MeanRCount, plural(s.sum.MeanRCount)), "evaluated task", "after training on task")
	hm := plotter.NewHeatMap(g, pal)
	hm.NaN = color.NRGBA{0xcc, 0xcc, 0xcc, 0xff}
	p.Add(hm)
	size := vg.Length(9)
	switch {
	case T > 14:
		size = 5.5
	case T > 8:
		size = 7
	}
	var xys plotter.XYs
	var labels []string
	var styles []text.Style
	cols := pal.Colors()
	for r := 0; r < T; r++ {
		for c := 0; c < T; c++ {
			v := g.Z(c, r)
			xys = append(xys, plotter.XY{X: float64(c), Y: float64(r)})
			labels = append(labels, cellText(v))
			st := textStyle(size)
			st.XAlign, st.YAlign = draw.XCenter, draw.YCenter
			st.Color = color.White
			if !math.IsNaN(v) {
				k := int(math.Round(math.Max(0, math.Min(1, v)) * float64(len(cols)-1)))
				if luminance(cols[k]) > 0.5 {
					st.Color = color.Black
				}
			} else {
				st.Color = color.Black
			}
			styles = append(styles, st)
		}
	}
	lab, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: labels})
	if err == nil {
		lab.TextStyle = styles
		p.Add(lab)
	}
	xt := make([]plot.Tick, T)
	yt := make([]plot.Tick, T)
	for i := range T {
		xt[i] = plot.Tick{Value: float64(i), Label: tasks[i]}
		yt[i] = plot.Tick{Value: float64(T - 1 - i), Label: tasks[i]}
	}
	p.X.Tick.Marker = plot.ConstantTicks(xt)
	p.Y.Tick.Marker = plot.ConstantTicks(yt)
	p.X.Min, p.X.Max = -0.5, float64(T)-0.5
	p.Y.Min, p.Y.Max = -0.5, float64(T)-0.5
	p.X.Padding, p.Y.Padding = 0, 0
	return p
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// cellText formats an accuracy for a heatmap cell: two decimals.
func cellText(v float64) string {
	if math.IsNaN(v) {
		return "NaN"
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// band is the mean and sample std of a quantity at each x = 1..len.
type band []results.Stat

// curveOf aggregates f(result) over the series' complete results.
func curveOf(s *series, n int, f func(r *results.Result, i int) float64) band {
	out := make(band, n)
	for i := range n {
		xs := make([]float64, 0, len(s.ok))
		for _, r := range s.ok {
			xs = append(xs, f(r, i))
		}
		out[i] = results.Summarize(xs)
	}
	return out
}

// addBand adds a series' mean line with markers and, with 2+ seeds, its
// mean ± std band (clamped to [0, 1]) to p, and returns the line (for a
// legend thumbnail).
func addBand(p *plot.Plot, b band, i int) *plotter.Line {
	var line, up, down plotter.XYs
	shaded := false
	for k, st := range b {
		x := float64(k+1) + 0.04*float64(i%5-2) // a small offset per series: coinciding curves stay visible
		line = append(line, plotter.XY{X: x, Y: st.Mean})
		up = append(up, plotter.XY{X: x, Y: math.Min(1, st.Mean+st.Std)})
		down = append(down, plotter.XY{X: x, Y: math.Max(0, st.Mean-st.Std)})
		shaded = shaded || (st.N > 1 && st.Std > 0)
	}
	if shaded {
		poly := make(plotter.XYs, 0, 2*len(up))
		poly = append(poly, up...)
		for k := len(down) - 1; k >= 0; k-- {
			poly = append(poly, down[k])
		}
		if pg, err := plotter.NewPolygon(poly); err == nil {
			pg.Color = withAlpha(seriesColor(i), 0x38)
			pg.LineStyle.Width = 0
			p.Add(pg)
		}
	}
	l, err := plotter.NewLine(line)
	if err != nil {
		return nil
	}
	l.LineStyle = seriesLine(i)
	p.Add(l)
	if sc, err := plotter.NewScatter(line); err == nil {
		sc.GlyphStyle = draw.GlyphStyle{Color: seriesColor(i), Radius: vg.Points(2.2), Shape: draw.CircleGlyph{}}
		p.Add(sc)
	}
	return l
}

// afterTicks labels x = 1..T with the task names.
func afterTicks(tasks []string) plot.ConstantTicks {
	t := make([]plot.Tick, len(tasks))
	for i, n := range tasks {
		t[i] = plot.Tick{Value: float64(i + 1), Label: n}
	}
	return t
}

func accuracyAxes(p *plot.Plot, T int, tasks []string) {
	p.X.Tick.Marker = afterTicks(tasks)
	p.X.Min, p.X.Max = 0.7, float64(T)+0.3
	p.Y.Min, p.Y.Max = 0, 1.02
	p.Y.Tick.Marker = plot.ConstantTicks{{Value: 0, Label: "0"}, {Value: 0.2, Label: "0.2"}, {Value: 0.4, Label: "0.4"},
		{Value: 0.6, Label: "0.6"}, {Value: 0.8, Label: "0.8"}, {Value: 1, Label: "1"}}
	g := plotter.NewGrid()
	g.Vertical.Width = 0
	g.Horizontal.Color = color.Gray{0xe0}
	p.Add(g)
}

func curveFigure(ss []*series, tasks []string) (*figure, error) {
	T := len(tasks)
	f := &figure{
		name:    "avg-accuracy",
		title:   "Average accuracy on the tasks seen so far",
		caption: "After training on each task, the mean accuracy over that task and the ones before it; lines are the mean over seeds, the shaded band is mean ± std (sample standard deviation over the seeds), small dots are the seeds; each strategy's line is set a little apart along x, so that curves that coincide stay visible (a legend entry says when two strategies' matrices are identical); n is the number of seeds.",
		kind:    "curve",
	}
	p := newPlot("Average accuracy on the tasks seen so far", "after training on task", "average accuracy")
	accuracyAxes(p, T, tasks)
	leg := newLegend()
	for _, s := range ss {
		if len(s.ok) == 0 {
			continue
		}
		b := curveOf(s, T, func(r *results.Result, i int) float64 { return results.AverageAccuracyCurve(r.R)[i] })
		if len(s.ok) > 1 {
			var pts plotter.XYs
			for _, r := range s.ok {
				for i, v := range results.AverageAccuracyCurve(r.R) {
					pts = append(pts, plotter.XY{X: float64(i+1) + 0.06*float64(s.index%5-2), Y: v})
				}
			}
			if sc, err := plotter.NewScatter(pts); err == nil {
				sc.GlyphStyle = draw.GlyphStyle{Color: withAlpha(seriesColor(s.index), 0x80), Radius: vg.Points(1.3), Shape: draw.CircleGlyph{}}
				p.Add(sc)
			}
		}
		if l := addBand(p, b, s.index); l != nil {
			leg.Add(legendLabel(s), l)
		}
		for _, pm := range s.pub {
			pts := plotter.XYs{{X: float64(T) + 0.06*float64(s.index%5-2), Y: pm.value}}
			if sc, err := plotter.NewScatter(pts); err == nil {
				sc.GlyphStyle = pubGlyph(pm.source, seriesColor(s.index))
				p.Add(sc)
			}
		}
	}
	addPublishedLegend(leg, ss, func(s *series) color.Color { return color.Gray{0x40} })
	if hasPublished(ss) {
		f.caption += " Markers after the last task: the published final average accuracy of the same method, stream, scenario and protocol, in the strategy's colour (legend: the source)."
	}
	f.w = vg.Length(math.Max(6.2, 0.5*float64(T)+4.5))*vg.Inch + legendWidth(leg)
	f.h = 3.8 * vg.Inch
	return f.renderChart(&chart{plots: [][]*plot.Plot{{p}}, legend: leg})
}

// legendWidth estimates the width the legend needs.
func legendWidth(l *plot.Legend) vg.Length {
	c := draw.New(vgimg.New(10*vg.Inch, 10*vg.Inch))
	return l.Rectangle(c).Size().X + vg.Points(16)
}

// chanceLevel returns the accuracy of guessing for task j after training on task i (0-based)
// in the runs' scenario: one over the classes it is scored over (its own in task- and domain-IL,
// those of every task up to max(i, j) in class-IL). A split stream's task names list its
// classes ("0/1"); other streams' tasks have all ten digits. 0 when unknown.
func chanceLevel(runs []*results.Run, tasks []string, j, i int) float64 {
	if len(runs) == 0 {
		return 0
	}
	spec := runs[0].Config.Spec
	k := 10
	if spec.Stream == "split-mnist" {
		k = len(strings.Split(tasks[j], "/"))
	}
	switch spec.Scenario {
	case "task", "domain":
		return 1 / float64(k)
	case "class":
		return 1 / float64(k*(max(i, j)+1))
	}
	return 0
}

// legendLabel is a series' legend entry: its label, its number of seeds and, when its mean
// accuracy matrix is identical to an earlier series' (its curves hide under that one's), which.
func legendLabel(s *series) string {
	if s.sameAs != "" {
		return fmt.Sprintf("%s (n=%d; identical to %s)", s.label, len(s.ok), s.sameAs)
	}
	return fmt.Sprintf("%s (n=%d)", s.label, len(s.ok))
}

// markIdentical sets sameAs of each series whose mean accuracy matrix equals an earlier one's.
func markIdentical(ss []*series) {
	for i, s := range ss {
		s.sameAs = ""
		if len(s.sum.MeanR) == 0 {
			continue
		}
		for _, o := range ss[:i] {
			if o.sameAs == "" && equalMatrix(s.sum.MeanR, o.sum.MeanR) {
				s.sameAs = o.label
				break
			}
		}
	}
}

func equalMatrix(a, b [][]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !slices.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

func tasksFigure(runs []*results.Run, ss []*series, tasks []string) (*figure, error) {
	T := len(tasks)
	f := &figure{
		name:    "task-accuracy",
		title:   "Accuracy on each task over time",
		caption: "One panel per task: its accuracy before any training (init, rings: b) and after training on each task (the dotted line marks when it is trained; the grey dash-dotted line is chance, one over the classes the task is scored over); mean over seeds with a mean ± std band; n is the number of seeds.",
		kind:    "tasks",
	}
	cols := min(T, 5)
	rows := (T + cols - 1) / cols
	grid := make([][]*plot.Plot, rows)
	leg := newLegend()
	for j := range T {
		ylabel := "accuracy"
		xlabel := ""
		if j/cols == rows-1 || j+cols >= T {
			xlabel = "after task"
		}
		p := newPlot("task "+tasks[j], xlabel, ylabel)
		p.Title.TextStyle.Font = font.From(sans, 10)
		accuracyAxes(p, T, tasks)
		ticks := []plot.Tick(afterTicks(tasks))
		if T > 5 {
			// Too many tick labels for a small panel: number the tasks.
			ticks = make([]plot.Tick, T)
			for i := range T {
				ticks[i] = plot.Tick{Value: float64(i + 1), Label: strconv.Itoa(i + 1)}
			}
		}
		// x = 0: the untrained model (b), as a ring per strategy.
		p.X.Tick.Marker = plot.ConstantTicks(append([]plot.Tick{{Value: 0, Label: "init"}}, ticks...))
		p.X.Min = -0.3
		for _, s := range ss {
			var bs []float64
			for _, r := range s.ok {
				if j < len(r.B) && !math.IsNaN(r.B[j]) {
					bs = append(bs, r.B[j])
				}
			}
			if len(bs) == 0 {
				continue
			}
			if sc, err := plotter.NewScatter(plotter.XYs{{X: 0, Y: results.Summarize(bs).Mean}}); err == nil {
				sc.GlyphStyle = draw.GlyphStyle{Color: seriesColor(s.index), Radius: vg.Points(2.6), Shape: draw.RingGlyph{}}
				p.Add(sc)
			}
		}
		if mark, err := plotter.NewLine(plotter.XYs{{X: float64(j + 1), Y: 0}, {X: float64(j + 1), Y: 1.02}}); err == nil {
			mark.LineStyle = draw.LineStyle{Color: color.Gray{0x90}, Width: vg.Points(0.8), Dashes: []vg.Length{vg.Points(1.5), vg.Points(2)}}
			p.Add(mark)
		}
		var chance plotter.XYs
		for i := range T {
			if c := chanceLevel(runs, tasks, j, i); c > 0 {
				chance = append(chance, plotter.XY{X: float64(i + 1), Y: c})
			}
		}
		if len(chance) > 1 {
			if cl, err := plotter.NewLine(chance); err == nil {
				cl.LineStyle = draw.LineStyle{Color: color.Gray{0x80}, Width: vg.Points(0.9), Dashes: []vg.Length{vg.Points(4), vg.Points(2), vg.Points(1), vg.Points(2)}}
				p.Add(cl)
				if j == 0 {
					leg.Add("chance", cl)
				}
			}
		}
		for _, s := range ss {
			if len(s.ok) == 0 {
				continue
			}
			b := curveOf(s, T, func(r *results.Result, i int) float64 { return r.R[i][j] })
			l := addBand(p, b, s.index)
			if j == 0 && l != nil {
				leg.Add(legendLabel(s), l)
			}
		}
		grid[j/cols] = append(grid[j/cols], p)
	}
	f.w = vg.Length(cols)*2.3*vg.Inch + legendWidth(leg)
	f.h = vg.Length(rows)*2.2*vg.Inch + 0.1*vg.Inch
	return f.renderChart(&chart{plots: grid, legend: leg})
}

// metricStats returns the series' aggregates of the bar chart's metrics
// (results.HeadlineMetrics), in order.
func metricStats(s *series) []results.Stat {
	var out []results.Stat
	for _, mt := range results.HeadlineMetrics() {
		out = append(out, s.sum.Metrics.Get(mt.Key))
	}
	return out
}

func metricsPlotted(ss []*series) bool {
	for _, s := range ss {
		for _, st := range metricStats(s) {
			if st.N > 0 && !math.IsNaN(st.Mean) {
				return true
			}
		}
	}
	return false
}

// bars is a grouped bar chart with error bars: one group per metric, one bar
// per series.
type bars struct {
	metrics int              // number of metrics (groups)
	vals    [][]results.Stat // [series][metric]
	seeds   [][][]float64    // [series][metric]: each seed's value, drawn as dots on the bar
	colors  []color.NRGBA
	acc     int         // the ACC group's index (-1: none)
	marks   [][]pubMark // [series]: published ACCs drawn on its ACC bar
}

func (b *bars) width() float64 { return 0.8 / float64(max(1, len(b.vals))) }

// Plot implements plot.Plotter.
func (b *bars) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	w := b.width()
	nm := b.metrics
	zero := draw.LineStyle{Color: color.Gray{0x40}, Width: vg.Points(0.8)}
	c.StrokeLine2(zero, trX(-0.5), trY(0), trX(float64(nm)-0.5), trY(0))
	for s, vs := range b.vals {
		for m, st := range vs {
			x0 := float64(m) - 0.4 + float64(s)*w
			x1 := x0 + w*0.92
			if st.N == 0 || math.IsNaN(st.Mean) || math.IsInf(st.Mean, 0) {
				// Undefined (e.g. intransigence without a joint run): said, not drawn as 0.
				ts := textStyle(7)
				ts.Color = color.Gray{0x70}
				ts.XAlign, ts.YAlign, ts.Rotation = draw.XLeft, draw.YCenter, math.Pi/2
				c.FillText(ts, vg.Point{X: trX((x0 + x1) / 2), Y: trY(0) + vg.Points(3)}, "undefined")
				continue
			}
			pts := []vg.Point{{X: trX(x0), Y: trY(0)}, {X: trX(x1), Y: trY(0)}, {X: trX(x1), Y: trY(st.Mean)}, {X: trX(x0), Y: trY(st.Mean)}}
			c.FillPolygon(withAlpha(b.colors[s], 0xd0), pts)
			c.StrokeLines(draw.LineStyle{Color: b.colors[s], Width: vg.Points(0.8)}, append(pts, pts[0]))
			if st.N > 1 && st.Std > 0 && !math.IsNaN(st.Std) {
				xm := trX((x0 + x1) / 2)
				cap := (trX(x1) - trX(x0)) / 4
				es := draw.LineStyle{Color: color.Black, Width: vg.Points(1)}
				lo, hi := trY(st.Mean-st.Std), trY(st.Mean+st.Std)
				c.StrokeLine2(es, xm, lo, xm, hi)
				c.StrokeLine2(es, xm-cap, lo, xm+cap, lo)
				c.StrokeLine2(es, xm-cap, hi, xm+cap, hi)
			}
			if m == b.acc && s < len(b.marks) {
				for _, pm := range b.marks[s] {
					c.DrawGlyph(pubGlyph(pm.source, color.NRGBA{A: 0xff}), vg.Point{X: trX((x0 + x1) / 2), Y: trY(pm.value)})
				}
			}
			if s < len(b.seeds) && m < len(b.seeds[s]) && len(b.seeds[s][m]) > 1 {
				dot := draw.GlyphStyle{Color: color.Gray{0x20}, Radius: vg.Points(1.6), Shape: draw.CircleGlyph{}}
				for k, v := range b.seeds[s][m] {
					// spread the seeds a little across the bar so equal values stay visible
					x := x0 + (x1-x0)*(0.3+0.4*float64(k)/float64(len(b.seeds[s][m])-1))
					c.DrawGlyph(dot, vg.Point{X: trX(x), Y: trY(v)})
				}
			}
		}
	}
}

// DataRange implements plot.DataRanger.
func (b *bars) DataRange() (xmin, xmax, ymin, ymax float64) {
	ymin, ymax = 0, 0
	for _, vs := range b.vals {
		for _, st := range vs {
			if st.N == 0 || math.IsNaN(st.Mean) || math.IsInf(st.Mean, 0) {
				continue
			}
			sd := st.Std
			if math.IsNaN(sd) {
				sd = 0
			}
			ymin = math.Min(ymin, st.Mean-sd)
			ymax = math.Max(ymax, st.Mean+sd)
		}
	}
	for _, ms := range b.marks {
		for _, pm := range ms {
			ymax = math.Max(ymax, pm.value)
		}
	}
	return -0.5, float64(b.metrics) - 0.5, ymin, ymax
}

// pubGlyphs are the published markers' shapes, one per source.
var pubGlyphs = []draw.GlyphDrawer{draw.PyramidGlyph{}, draw.BoxGlyph{}, draw.CrossGlyph{}, draw.PlusGlyph{}}

// pubGlyph is the marker of published source k, filled with c.
func pubGlyph(k int, c color.Color) draw.GlyphStyle {
	return draw.GlyphStyle{Color: c, Radius: vg.Points(3.2), Shape: pubGlyphs[k%len(pubGlyphs)]}
}

// glyphThumb is a legend thumbnail: a glyph.
type glyphThumb draw.GlyphStyle

// Thumbnail implements plot.Thumbnailer.
func (g glyphThumb) Thumbnail(c *draw.Canvas) {
	c.DrawGlyph(draw.GlyphStyle(g), vg.Point{X: (c.Min.X + c.Max.X) / 2, Y: (c.Min.Y + c.Max.Y) / 2})
}

// addPublishedLegend adds one legend entry per source of the series' marks.
func addPublishedLegend(leg *plot.Legend, ss []*series, c func(s *series) color.Color) {
	seen := map[int]bool{}
	for _, s := range ss {
		for _, pm := range s.pub {
			if !seen[pm.source] {
				seen[pm.source] = true
				leg.Add("published: "+pm.short, glyphThumb(pubGlyph(pm.source, c(s))))
			}
		}
	}
}

// stepTicks puts major ticks every 0.1, 0.2, 0.25 or 0.5 (about five to
// ten of them) with minor ticks in between.
type stepTicks struct{}

// Ticks implements plot.Ticker.
func (stepTicks) Ticks(lo, hi float64) []plot.Tick {
	step := 0.5
	for _, s := range []float64{0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 5} {
		if (hi-lo)/s <= 10 {
			step = s
			break
		}
	}
	var ts []plot.Tick
	for k := math.Ceil(lo/step*2 - 1e-9); k/2*step <= hi+1e-9; k++ {
		v := math.Round(k/2*step*1e9) / 1e9
		label := ""
		if int(k)%2 == 0 {
			label = strconv.FormatFloat(v, 'f', -1, 64)
			if math.Abs(v) < 1e-12 {
				label = "0"
			}
		}
		ts = append(ts, plot.Tick{Value: v, Label: label})
	}
	return ts
}

// swatch is a legend thumbnail: a filled square.
type swatch color.NRGBA

// Thumbnail implements plot.Thumbnailer.
func (s swatch) Thumbnail(c *draw.Canvas) {
	h := c.Max.Y - c.Min.Y
	x0 := c.Min.X + (c.Max.X-c.Min.X-h)/2
	pts := []vg.Point{{X: x0, Y: c.Min.Y}, {X: x0 + h, Y: c.Min.Y}, {X: x0 + h, Y: c.Max.Y}, {X: x0, Y: c.Max.Y}}
	c.FillPolygon(withAlpha(color.NRGBA(s), 0xd0), pts)
}

// joinAnd joins xs as "a, b and c".
func joinAnd(xs []string) string {
	if len(xs) <= 1 {
		return strings.Join(xs, "")
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " and " + xs[len(xs)-1]
}

// metricsFigure draws the bar chart of the headline metrics of results.Table.
func metricsFigure(ss []*series) (*figure, error) {
	ms := results.HeadlineMetrics()
	names := metricLabels(ms)
	f := &figure{
		name:    "metrics",
		title:   joinAnd(names),
		caption: "Bars: mean over seeds; error bars: ± one sample standard deviation; dots: each seed; \"undefined\" where a metric has no value (e.g. intransigence without a joint run of the same seed). " + metricDocs(ms) + ".",
		kind:    "metrics",
	}
	b := &bars{metrics: len(ms), acc: -1}
	for k, mt := range ms {
		if mt.Key == "acc" {
			b.acc = k
		}
	}
	leg := newLegend()
	for _, s := range ss {
		if s.sum.OK == 0 {
			continue
		}
		b.vals = append(b.vals, metricStats(s))
		b.marks = append(b.marks, s.pub)
		per := make([][]float64, len(ms))
		for k, mt := range ms {
			for _, r := range s.ok {
				if r.Metrics == nil {
					continue
				}
				if v, ok := r.Metrics.Lookup(mt.Key); ok && !math.IsNaN(v) && !math.IsInf(v, 0) {
					per[k] = append(per[k], v)
				}
			}
		}
		b.seeds = append(b.seeds, per)
		b.colors = append(b.colors, seriesColor(s.index))
		leg.Add(legendLabel(s), swatch(seriesColor(s.index)))
	}
	addPublishedLegend(leg, ss, func(*series) color.Color { return color.Black })
	if hasPublished(ss) {
		f.caption += " Black markers on the ACC bars: the published final average accuracy of the same method, stream, scenario and protocol (legend: the source)."
	}
	p := newPlot(f.title+" (mean ± std over seeds)", "", "value (accuracy fraction)")
	g := plotter.NewGrid()
	g.Vertical.Width = 0
	g.Horizontal.Color = color.Gray{0xe0}
	p.Add(g, b)
	p.NominalX(names...)
	_, _, ymin, ymax := b.DataRange()
	pad := 0.05 * math.Max(0.1, ymax-ymin)
	p.Y.Min, p.Y.Max = ymin-pad, ymax+pad
	if ymin >= 0 {
		p.Y.Min = 0
	}
	p.Y.Tick.Marker = stepTicks{}
	f.w = vg.Length(math.Max(6, 1.4*float64(len(ms))+0.25*float64(len(b.vals)*len(ms))))*vg.Inch + legendWidth(leg)
	f.w = min(f.w, 13*vg.Inch)
	f.h = 3.8 * vg.Inch
	return f.renderChart(&chart{plots: [][]*plot.Plot{{p}}, legend: leg})
}

// stabilityPoints returns the (learning accuracy, forgetting) pairs of the
// series' successful results that have both.
func stabilityPoints(s *series) plotter.XYs {
	var out plotter.XYs
	for _, res := range s.ok {
		if res.Metrics == nil {
			continue
		}
		la, ok1 := res.Metrics.Lookup(results.KeyLearningAccuracy)
		fg, ok2 := res.Metrics.Lookup(results.KeyForgetting)
		if ok1 && ok2 && !math.IsNaN(la+fg) && !math.IsInf(la+fg, 0) {
			out = append(out, plotter.XY{X: la, Y: fg})
		}
	}
	return out
}

func stabilityPlotted(ss []*series) bool {
	for _, s := range ss {
		if len(stabilityPoints(s)) > 0 {
			return true
		}
	}
	return false
}

// stabilityFigure draws the stability/plasticity view: learning accuracy
// (plasticity, x) against forgetting (instability, y), one small point per
// seed and a large one at each strategy's mean.
func stabilityFigure(ss []*series) (*figure, error) {
	f := &figure{
		name:    "stability",
		title:   "Stability and plasticity",
		caption: "Learning accuracy (accuracy on each task right after training on it; plasticity, right is better) against forgetting (average drop from a task's best accuracy; stability, down is better). Small points: seeds; large points: the mean over seeds.",
		kind:    "stability",
	}
	p := newPlot(f.title, "learning accuracy (fraction)", "forgetting (accuracy fraction)")
	g := plotter.NewGrid()
	g.Horizontal.Color, g.Vertical.Color = color.Gray{0xe0}, color.Gray{0xe0}
	p.Add(g)
	leg := newLegend()
	xmin, xmax, ymin, ymax := math.Inf(1), math.Inf(-1), 0.0, 0.0
	for _, s := range ss {
		pts := stabilityPoints(s)
		if len(pts) == 0 {
			continue
		}
		c := seriesColor(s.index)
		sc, err := plotter.NewScatter(pts)
		if err != nil {
			return f, err
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: withAlpha(c, 0x90), Radius: vg.Points(2.5), Shape: draw.CircleGlyph{}}
		var mx, my float64
		for _, q := range pts {
			mx += q.X / float64(len(pts))
			my += q.Y / float64(len(pts))
			xmin, xmax = math.Min(xmin, q.X), math.Max(xmax, q.X)
			ymin, ymax = math.Min(ymin, q.Y), math.Max(ymax, q.Y)
		}
		mean, err := plotter.NewScatter(plotter.XYs{{X: mx, Y: my}})
		if err != nil {
			return f, err
		}
		mean.GlyphStyle = draw.GlyphStyle{Color: c, Radius: vg.Points(5.5), Shape: draw.RingGlyph{}}
		p.Add(sc, mean)
		leg.Add(s.label, sc, mean)
	}
	pad := 0.05 * math.Max(0.1, xmax-xmin)
	p.X.Min, p.X.Max = math.Max(0, xmin-pad), math.Min(1, xmax+pad)
	pad = 0.05 * math.Max(0.1, ymax-ymin)
	p.Y.Min, p.Y.Max = ymin-pad, ymax+pad
	p.Y.Tick.Marker = stepTicks{}
	f.w = 6*vg.Inch + legendWidth(leg)
	f.h = 4 * vg.Inch
	return f.renderChart(&chart{plots: [][]*plot.Plot{{p}}, legend: leg})
}

// capacityResults returns the series' complete results that record the capacity of T tasks.
func capacityResults(s *series, T int) []*results.Result {
	var out []*results.Result
	for _, r := range s.ok {
		if c := r.Capacity; c != nil && len(c.Task) == T && len(c.Cumulative) == T {
			out = append(out, r)
		}
	}
	return out
}

func capacityPlotted(ss []*series, T int) bool {
	for _, s := range ss {
		if T > 0 && len(capacityResults(s, T)) > 0 {
			return true
		}
	}
	return false
}

// capacityFigure draws, for the strategies that give each task a part of the network (hat's
// hidden units, packnet's trunk weights), the share each task takes (left) and the share the
// tasks so far take together (right), after each task: mean over seeds, band mean ± std.
func capacityFigure(ss []*series, tasks []string) (*figure, error) {
	T := len(tasks)
	f := &figure{
		name:    "capacity",
		title:   "Capacity used per task",
		caption: "For strategies that give each task a part of the network, the share of it each task takes (left) and the share the tasks so far take together (right), after training on each task; what is counted follows the strategy's name (hat: hidden units whose gate is open, packnet: trunk weights a task owns). Lines are the mean over seeds, the shaded band is mean ± std.",
		kind:    "capacity",
	}
	own := newPlot("Share each task takes", "task", "share of the network")
	all := newPlot("Share taken by the tasks so far", "after training on task", "share of the network")
	accuracyAxes(own, T, tasks)
	accuracyAxes(all, T, tasks)
	leg := newLegend()
	for _, s := range ss {
		rs := capacityResults(s, T)
		if len(rs) == 0 {
			continue
		}
		cs := &series{ok: rs}
		b := curveOf(cs, T, func(r *results.Result, i int) float64 { return r.Capacity.Task[i] })
		c := curveOf(cs, T, func(r *results.Result, i int) float64 { return r.Capacity.Cumulative[i] })
		l := addBand(own, b, s.index)
		addBand(all, c, s.index)
		if l != nil {
			label := s.label
			if of := rs[0].Capacity.Of; of != "" {
				label += " (" + of + ")"
			}
			leg.Add(label, l)
		}
	}
	f.w = vg.Length(math.Max(9, 1.0*float64(T)+7))*vg.Inch + legendWidth(leg)
	f.h = 3.8 * vg.Inch
	return f.renderChart(&chart{plots: [][]*plot.Plot{{own, all}}, legend: leg})
}

// lossCurves reads, for each series, the steps.csv of its complete results (in run dirs) and
// returns the mean training loss (+ penalty) over the seeds at each logged step that every seed
// logged; series without logs are left out.
func lossCurves(runs []*results.Run, ss []*series) map[*series]plotter.XYs {
	out := map[*series]plotter.XYs{}
	for _, s := range ss {
		if runs[s.run].Dir == "" {
			continue
		}
		sum, count := map[int]float64{}, map[int]int{}
		n := 0
		for _, r := range s.ok {
			rows, err := results.ReadSteps(filepath.Join(results.ResultDir(runs[s.run].Dir, r.Strategy, r.Seed), results.StepsFile))
			if err != nil || len(rows) == 0 {
				continue
			}
			n++
			for _, row := range rows {
				sum[row.Step] += row.Loss + row.Penalty
				count[row.Step]++
			}
		}
		var xy plotter.XYs
		for step, c := range count {
			if c == n && n > 0 {
				xy = append(xy, plotter.XY{X: float64(step), Y: math.Max(sum[step]/float64(c), 1e-6)})
			}
		}
		sort.Slice(xy, func(i, j int) bool { return xy[i].X < xy[j].X })
		if len(xy) > 1 {
			out[s] = xy
		}
	}
	return out
}

// lossFigure draws the training loss (loss + penalty, mean over seeds) against the step, log
// scale, with the task boundaries marked.
func lossFigure(curves map[*series]plotter.XYs, ss []*series, tasks []string, steps int) (*figure, error) {
	f := &figure{
		name:    "loss",
		title:   "Training loss",
		caption: "The training loss plus the strategy's penalty term at every logged step (steps.csv), mean over the seeds, log scale; dotted lines mark the task boundaries. A rise after a boundary is the new task's loss.",
		kind:    "loss",
	}
	p := newPlot(f.title, "training step", "loss + penalty (mean over seeds)")
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: 1}
	leg := newLegend()
	ymin, ymax := math.Inf(1), math.Inf(-1)
	for _, s := range ss {
		xy, ok := curves[s]
		if !ok {
			continue
		}
		l, err := plotter.NewLine(xy)
		if err != nil {
			return f, err
		}
		l.LineStyle = seriesLine(s.index)
		l.LineStyle.Width = vg.Points(1.1)
		p.Add(l)
		leg.Add(s.label, l)
		for _, q := range xy {
			ymin, ymax = math.Min(ymin, q.Y), math.Max(ymax, q.Y)
		}
	}
	if steps > 0 {
		for t := 1; t < len(tasks); t++ {
			x := float64(t * steps)
			b, err := plotter.NewLine(plotter.XYs{{X: x, Y: ymin}, {X: x, Y: ymax}})
			if err == nil {
				b.LineStyle = draw.LineStyle{Color: color.Gray{0xb0}, Width: vg.Points(0.6), Dashes: []vg.Length{vg.Points(1), vg.Points(2)}}
				p.Add(b)
			}
		}
	}
	f.w = 7*vg.Inch + legendWidth(leg)
	f.h = 3.8 * vg.Inch
	return f.renderChart(&chart{plots: [][]*plot.Plot{{p}}, legend: leg})
}

// hasPublished reports whether any series has a published mark.
func hasPublished(ss []*series) bool {
	for _, s := range ss {
		if len(s.pub) > 0 {
			return true
		}
	}
	return false
}
