package report

import (
	"fmt"
	"image/color"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"rout/runlog"
)

// The pictures of the filter lottery itself: how long each run stays on the loss plateau of an
// untrained network, and how many of each layer's filters are dead along the way.

// maxDeadSeeds bounds the rows of the dead-filter picture: one row per seed, each a heat map
// per arm, stays readable up to about this many.
const maxDeadSeeds = 24

// maxDeadColumns bounds a dead-filter panel's columns (logged steps), so that the SVG of a long
// sweep stays small; the counts change slowly, so nothing visible is lost.
const maxDeadColumns = 48

// deadGrid is one run's dead fraction per watched layer (rows, in network order from the top)
// and logged step (columns); NaN where the layer is not watched or its size is unknown.
type deadGrid struct {
	steps  []float64
	layers int
	z      [][]float64 // z[row][col]
}

func (g *deadGrid) Dims() (c, r int)   { return len(g.steps), g.layers }
func (g *deadGrid) Z(c, r int) float64 { return g.z[r][c] }
func (g *deadGrid) X(c int) float64    { return g.steps[c] }
func (g *deadGrid) Y(r int) float64    { return float64(g.layers - 1 - r) }

// deadGridFor is run's grid over the report's layers, or nil when the run has logged no dead
// counts or its config.json gives no filter counts.
func (r *Report) deadGridFor(run *Run) *deadGrid {
	size := map[string]float64{}
	for i, l := range run.Filters.Layers {
		size[l] = float64(run.Filters.Counts[i])
	}
	if len(size) == 0 {
		return nil
	}
	var logs []runlog.Record
	for _, m := range run.Metrics {
		if m.Kind == "log" && len(m.Dead.Layers) > 0 {
			logs = append(logs, m)
		}
	}
	if len(logs) == 0 {
		return nil
	}
	idx := make([]int, len(logs))
	for i := range idx {
		idx[i] = i
	}
	idx = thinSteps(idx, maxDeadColumns)
	layerIndex := map[string]int{}
	for i, l := range r.Layers {
		layerIndex[l] = i
	}
	g := &deadGrid{layers: len(r.Layers), z: make([][]float64, len(r.Layers))}
	for l := range g.z {
		g.z[l] = make([]float64, len(idx))
		for c := range g.z[l] {
			g.z[l][c] = math.NaN()
		}
	}
	for c, i := range idx {
		m := logs[i]
		g.steps = append(g.steps, float64(m.Step))
		for k, l := range m.Dead.Layers {
			row, ok := layerIndex[l]
			if n := size[l]; ok && n > 0 {
				g.z[row][c] = math.Min(1, float64(m.Dead.Counts[k])/n)
			}
		}
	}
	return g
}

// deadPicture: a heat map per run, seeds down and arms across; in each, the layers down and the
// logged steps across, coloured by the fraction of the layer's filters dead (gradient norm
// below tau) at that step.
func (r *Report) deadPicture() (Picture, error) {
	pic := Picture{
		Name:  "dead",
		Title: "Dead filters per layer over training, every run",
		Caption: "One panel per run: arms across, seeds down. In a panel, rows are the convolutional layers " +
			"(input at the top) and columns the logged training steps; colour is the fraction of the layer's " +
			"filters whose gradient norm was below tau at that step (white: none, black: all). A run that " +
			"failed to train has every layer black. With RandomOut the dead filters are re-drawn at once, so " +
			"its panel shows the filters found dead before each re-draw. Grey: layer not watched.",
	}
	seeds := r.Sweep.Plan.Seeds
	if len(seeds) > maxDeadSeeds {
		pic.Caption += fmt.Sprintf(" Only the first %d seeds of %d are drawn.", maxDeadSeeds, len(seeds))
		seeds = seeds[:maxDeadSeeds]
	}
	cmap, pal := heatColors(1)
	runs := map[string]*Run{}
	for i := range r.Sweep.Runs {
		run := &r.Sweep.Runs[i]
		runs[run.Arm+"/"+strconv.FormatUint(run.Seed, 10)] = run
	}
	// Every panel spans the sweep's steps, so that a run that stopped early (diverged, or still
	// running) looks short.
	maxStep := 1.0
	for _, run := range r.Sweep.Runs {
		for _, m := range run.Metrics {
			maxStep = math.Max(maxStep, float64(m.Step))
		}
	}
	cols := max(1, len(r.Arms))
	w := vg.Length(math.Max(8, 1.2+2.6*float64(cols))) * vg.Inch
	rowH := vg.Length(math.Max(1.1, 0.55+0.1*float64(len(r.Layers)))) * vg.Inch
	// Label every labelEvery-th layer: 8 points of height per label.
	labelEvery := max(1, int(math.Ceil(float64(len(r.Layers))*float64(vg.Points(8))/float64(rowH-0.55*vg.Inch))))
	rows := make([][]*plot.Plot, len(seeds))
	for s, seed := range seeds {
		for a, arm := range r.Arms {
			p := plot.New()
			run := runs[arm.Arm.Name+"/"+strconv.FormatUint(seed, 10)]
			status := "to run"
			if run != nil && run.Summary != nil {
				status = run.Summary.Status
				if run.Summary.Failed() {
					p.Title.TextStyle.Color = failColor
				}
			} else if run != nil && len(run.Metrics) > 0 {
				status = "running"
			}
			p.Title.Text = fmt.Sprintf("%s, seed %d: %s", arm.Arm.Name, seed, status)
			p.Title.TextStyle.Font.Size = vg.Points(9)
			p.Title.Padding = vg.Points(2)
			p.X.Tick.Marker = plainTicks{}
			p.X.Tick.Label.Font.Size = vg.Points(7)
			if s == len(seeds)-1 {
				p.X.Label.Text = "training step"
				p.X.Label.TextStyle.Font.Size = vg.Points(8)
			}
			var g *deadGrid
			if run != nil {
				g = r.deadGridFor(run)
			}
			if g != nil && g.layers > 0 {
				hm := plotter.NewHeatMap(g, pal)
				hm.Min, hm.Max = 0, 1
				hm.NaN = color.Gray{0xc8}
				p.Add(hm)
				// Outline the steps drawn: a run with no dead filter is all white.
				x0, x1 := g.steps[0], g.steps[len(g.steps)-1]
				if len(g.steps) > 1 {
					half := (g.steps[1] - g.steps[0]) / 2
					x0, x1 = x0-half, x1+(g.steps[len(g.steps)-1]-g.steps[len(g.steps)-2])/2
				}
				top := float64(g.layers) - 0.5
				frame, err := plotter.NewLine(plotter.XYs{{X: x0, Y: -0.5}, {X: x1, Y: -0.5}, {X: x1, Y: top}, {X: x0, Y: top}, {X: x0, Y: -0.5}})
				if err != nil {
					return pic, fmt.Errorf("report: dead picture: %w", err)
				}
				frame.Color = color.Gray{0x90}
				frame.Width = vg.Points(0.6)
				p.Add(frame)
			}
			p.X.Min, p.X.Max = 0, maxStep
			var ticks []plot.Tick
			for l, name := range r.Layers {
				t := plot.Tick{Value: float64(len(r.Layers) - 1 - l)}
				if a == 0 && l%labelEvery == 0 {
					t.Label = name
				}
				ticks = append(ticks, t)
			}
			p.Y.Tick.Marker = plot.ConstantTicks(ticks)
			p.Y.Tick.Label.Font.Size = vg.Points(7)
			p.Y.Min, p.Y.Max = -0.5, float64(len(r.Layers))-0.5
			rows[s] = append(rows[s], p)
		}
	}
	bar := plot.New()
	bar.X.Label.Text = "fraction of the layer's filters dead"
	bar.HideY()
	bar.Add(&plotter.ColorBar{ColorMap: cmap})

	barH := 0.9 * vg.Inch
	h := rowH*vg.Length(max(1, len(seeds))) + barH
	return pic, render(&pic, w, h, func(c draw.Canvas) {
		if len(seeds) == 0 || len(r.Arms) == 0 {
			return
		}
		barCanvas := draw.Crop(c, 0, 0, 0, -(h - barH))
		panelCanvas := draw.Crop(c, 0, 0, barH, 0)
		tiles := draw.Tiles{Rows: len(seeds), Cols: cols, PadX: vg.Points(8), PadY: vg.Points(4), PadTop: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(10)}
		aligned := plot.Align(rows, tiles, panelCanvas)
		for i := range rows {
			for j, p := range rows[i] {
				p.Draw(aligned[i][j])
			}
		}
		indent := rows[0][0].DataCanvas(aligned[0][0]).Min.X - c.Min.X
		bar.Draw(draw.Crop(barCanvas, indent, -vg.Points(10), vg.Points(4), -vg.Points(8)))
	})
}

// lossPicture: the training loss at every log step of every run, coloured by arm, against the
// plateau of an untrained network (ln(classes)); each run's escape step is marked.
func (r *Report) lossPicture() (Picture, error) {
	pic := Picture{
		Name:  "loss",
		Title: "Training loss per logged step, every run",
		Caption: "One line per run, coloured by arm. Grey dashed line: ln(classes), the loss of a network " +
			"that has learnt nothing (the plateau); dotted: 0.9 ln(classes). A dot marks each run's escape " +
			"step, the first logged step below the dotted line. Runs that failed or diverged are drawn thick " +
			"and dashed, on top, ending in a red cross; they stay on the plateau.",
	}
	p := plot.New()
	p.Title.Text = pic.Title
	p.X.Label.Text = "training step"
	p.Y.Label.Text = "training loss (mean per example)"
	p.X.Tick.Marker = plainTicks{}
	p.Y.Tick.Marker = lossTicks{}
	p.Add(plotter.NewGrid())
	leg := plot.NewLegend()
	classes, maxStep := 0, 1.0
	for _, run := range r.Sweep.Runs {
		if c := run.classes(); c > classes {
			classes = c
		}
		for _, m := range run.Metrics {
			maxStep = math.Max(maxStep, float64(m.Step))
		}
	}
	plateau := math.NaN()
	if classes > 1 {
		plateau = math.Log(float64(classes))
	}
	top := 3.0
	if !math.IsNaN(plateau) {
		top = 1.3 * plateau
	}
	p.X.Min, p.X.Max = 0, maxStep
	p.Y.Min, p.Y.Max = 0, top
	if !math.IsNaN(plateau) {
		for _, h := range []struct {
			y      float64
			dashes []vg.Length
			name   string
		}{
			{plateau, []vg.Length{vg.Points(6), vg.Points(3)}, fmt.Sprintf("ln(%d) = %.3f: plateau", classes, plateau)},
			{escapeFraction * plateau, []vg.Length{vg.Points(1), vg.Points(2)}, "0.9 ln(classes): escape"},
		} {
			l, err := plotter.NewLine(plotter.XYs{{X: p.X.Min, Y: h.y}, {X: p.X.Max, Y: h.y}})
			if err != nil {
				return pic, fmt.Errorf("report: loss picture: %w", err)
			}
			l.Color = color.Gray{0x70}
			l.Width = vg.Points(1.2)
			l.Dashes = h.dashes
			p.Add(l)
			leg.Add(h.name, l)
		}
	}
	var failedLines []plot.Plotter
	var ends, escapes plotter.XYs
	var escapeColors []color.Color
	for i, a := range r.Arms {
		var first *plotter.Line
		for _, run := range r.Sweep.Runs {
			if run.Arm != a.Arm.Name {
				continue
			}
			var pts plotter.XYs
			for _, m := range run.Metrics {
				if m.Kind == "log" && !math.IsNaN(float64(m.Loss)) && !math.IsInf(float64(m.Loss), 0) {
					pts = append(pts, plotter.XY{X: float64(m.Step), Y: math.Min(float64(m.Loss), top)})
				}
			}
			if len(pts) == 0 {
				continue
			}
			l, err := plotter.NewLine(pts)
			if err != nil {
				return pic, fmt.Errorf("report: loss picture: %s/%d: %w", run.Arm, run.Seed, err)
			}
			l.Color = armColor(i)
			l.Width = vg.Points(1)
			if run.Summary != nil && run.Summary.Failed() {
				l.Width = vg.Points(2.2)
				l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
				failedLines = append(failedLines, l)
				ends = append(ends, pts[len(pts)-1])
			} else {
				if run.Summary == nil {
					l.Dashes = []vg.Length{vg.Points(1), vg.Points(2)}
				}
				p.Add(l)
			}
			if first == nil {
				first = l
			}
			if s, ok := run.EscapeStep(); ok {
				for _, pt := range pts {
					if pt.X == float64(s) {
						escapes = append(escapes, pt)
						escapeColors = append(escapeColors, armColor(i))
						break
					}
				}
			}
		}
		if first != nil {
			leg.Add(a.Arm.Name, swatch(armColor(i), nil))
		}
	}
	p.Add(failedLines...)
	if len(escapes) > 0 {
		s, err := plotter.NewScatter(escapes)
		if err != nil {
			return pic, fmt.Errorf("report: loss picture: %w", err)
		}
		s.GlyphStyleFunc = func(i int) draw.GlyphStyle {
			return draw.GlyphStyle{Color: escapeColors[i], Radius: vg.Points(3.5), Shape: draw.CircleGlyph{}}
		}
		p.Add(s)
		leg.Add("escape step", &plotter.Scatter{GlyphStyle: draw.GlyphStyle{Color: color.Gray{0x40}, Radius: vg.Points(3.5), Shape: draw.CircleGlyph{}}})
	}
	if len(ends) > 0 {
		s, err := plotter.NewScatter(ends)
		if err != nil {
			return pic, fmt.Errorf("report: loss picture: %w", err)
		}
		s.GlyphStyle = draw.GlyphStyle{Color: failColor, Radius: vg.Points(4.5), Shape: draw.CrossGlyph{}}
		p.Add(s)
		leg.Add("failed or diverged run", swatch(color.Gray{0x40}, []vg.Length{vg.Points(5), vg.Points(3)}), s)
	}
	if hasUnfinished(r) {
		leg.Add("still running", swatch(color.Gray{0x40}, []vg.Length{vg.Points(1), vg.Points(2)}))
	}
	return pic, render(&pic, 9*vg.Inch, 5*vg.Inch, func(c draw.Canvas) { drawWithLegend(p, leg, c) })
}

func hasUnfinished(r *Report) bool {
	for _, run := range r.Sweep.Runs {
		if run.Summary == nil && len(run.Metrics) > 0 {
			return true
		}
	}
	return false
}

// swatch is a legend thumbnail: a line of the colour and dashes.
func swatch(c color.Color, dashes []vg.Length) *plotter.Line {
	return &plotter.Line{LineStyle: draw.LineStyle{Color: c, Width: vg.Points(2.2), Dashes: dashes}}
}

// drawWithLegend draws p with leg in a column of its own on the right, so that no data hides
// under the legend and the axes need no empty room for it.
func drawWithLegend(p *plot.Plot, leg plot.Legend, c draw.Canvas) {
	leg.Top, leg.Left = true, true
	leg.TextStyle.Font.Size = vg.Points(10)
	leg.Padding = vg.Points(3)
	width := leg.Rectangle(c).Max.X - leg.Rectangle(c).Min.X
	pad := vg.Points(10)
	p.Draw(draw.Crop(c, 0, -(width + 2*pad), 0, 0))
	legC := draw.Crop(c, c.Max.X-c.Min.X-width-pad, 0, 0, -vg.Points(30))
	leg.Draw(legC)
}

// lossTicks labels a loss axis at round steps: about six labels, every 0.5 on a ten-class plot.
type lossTicks struct{}

func (lossTicks) Ticks(min, max float64) []plot.Tick {
	step := 0.5
	for (max-min)/step > 8 {
		step *= 2
	}
	var ticks []plot.Tick
	for v := math.Ceil(min/step) * step; v <= max+1e-9; v += step {
		ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', -1, 64)})
	}
	return ticks
}
