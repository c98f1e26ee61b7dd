package pictures

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/crossbuild/crossbuild/internal/buildtrace"
	"github.com/crossbuild/crossbuild/local/xray"
)

// The trace picture's size: TraceWidth pixels wide, traceRowHeight per document plus
// traceMargin for the title and the time axis.
const (
	TraceWidth     = 1600
	traceRowHeight = 24
	traceMargin    = 110
	// Shares of the width for the documents' names and, right of the bars, their durations.
	labelColumn    = 0.36
	durationColumn = 0.06
)

// Bar colours by what a document stands for.
var (
	colourCall       = color.RGBA{0x9e, 0xb3, 0xc8, 0xff} // a function and its AWS calls
	colourBuild      = color.RGBA{0x37, 0x7e, 0xb8, 0xff} // the build
	colourPhase      = color.RGBA{0x1b, 0x9e, 0x77, 0xff} // a phase of the build
	colourCompletion = color.RGBA{0x75, 0x70, 0xb3, 0xff} // the completion of the task
	colourFailed     = color.RGBA{0xe4, 0x1a, 0x1c, 0xff} // error or fault
	colourRunning    = color.RGBA{0xcc, 0xcc, 0xcc, 0xff} // still in progress
)

// traceRow is one document of the trace, in the order the timeline lists them.
type traceRow struct {
	label      string
	depth      int
	start, end float64 // seconds from the trace's first start
	colour     color.Color
	running    bool
}

// TraceRows is the number of documents RenderTrace draws for roots.
func TraceRows(roots []*xray.Node) int {
	n := 0
	for _, r := range roots {
		r.Walk(func(*xray.Node, int) { n++ })
	}
	return n
}

// TraceSize is the trace picture's size in pixels for roots.
func TraceSize(roots []*xray.Node) (width, height int) {
	return TraceWidth, TraceRows(roots)*traceRowHeight + traceMargin
}

// RenderTrace draws an assembled trace as the X-Ray console's timeline does: one bar per
// document on a shared time axis, each indented under its parent, and writes a PNG.
func RenderTrace(out io.Writer, title string, roots []*xray.Node) error {
	rows := traceRows(roots)
	if len(rows) == 0 {
		return fmt.Errorf("the trace has no documents")
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "seconds from the start of the trace"
	end := 0.0
	for _, r := range rows {
		end = math.Max(end, r.end)
	}
	end = math.Max(end, 0.01)
	// The names take the left part of the plot, left-aligned and indented under their
	// parents as in the X-Ray console; the time axis starts at their right.
	column := end * labelColumn / (1 - labelColumn - durationColumn)
	p.X.Min, p.X.Max = -column, end*(1+durationColumn/(1-labelColumn-durationColumn))
	p.X.Tick.Marker = nonNegativeTicks{}
	p.HideY()
	p.Y.Min, p.Y.Max = -0.5, float64(len(rows))-0.5
	p.Add(plotter.NewGrid())
	p.Add(&bars{rows: rows})
	names, took := plotter.XYLabels{}, plotter.XYLabels{}
	for i, r := range rows {
		y := float64(len(rows) - 1 - i) // the first document on top
		names.XYs = append(names.XYs, plotter.XY{X: -column, Y: y})
		names.Labels = append(names.Labels, r.label)
		text := fmt.Sprintf("%.2fs", r.end-r.start)
		if r.running {
			text = "in progress"
		}
		took.XYs = append(took.XYs, plotter.XY{X: r.end, Y: y})
		took.Labels = append(took.Labels, text)
	}
	for _, l := range []struct {
		labels plotter.XYLabels
		indent func(i int) vg.Length
	}{
		{names, func(i int) vg.Length { return px(6 + 18*rows[i].depth) }},
		{took, func(int) vg.Length { return px(4) }},
	} {
		labels, err := plotter.NewLabels(l.labels)
		if err != nil {
			return fmt.Errorf("trace picture: %w", err)
		}
		for i := range labels.TextStyle {
			labels.TextStyle[i].XAlign, labels.TextStyle[i].YAlign = draw.XLeft, draw.YCenter
			labels.TextStyle[i].Font.Size = vg.Points(9)
		}
		p.Add(&indented{Labels: labels, indent: l.indent})
	}

	width, height := TraceSize(roots)
	canvas := vgimg.NewWith(vgimg.UseWH(px(width), px(height)), vgimg.UseDPI(dpi))
	p.Draw(draw.Crop(draw.New(canvas), px(8), -px(16), px(8), -px(8)))
	if _, err := (vgimg.PngCanvas{Canvas: canvas}).WriteTo(out); err != nil {
		return fmt.Errorf("write trace picture: %w", err)
	}
	return nil
}

// traceRows flattens the trace depth first. A document in progress runs to the end of the
// trace, as in the terminal timeline.
func traceRows(roots []*xray.Node) []traceRow {
	start, end := math.Inf(1), math.Inf(-1)
	for _, r := range roots {
		r.Walk(func(n *xray.Node, _ int) {
			start = math.Min(start, n.StartTime)
			end = math.Max(end, math.Max(n.StartTime, n.EndTime))
		})
	}
	var rows []traceRow
	for _, r := range roots {
		var parents []*xray.Node
		r.Walk(func(n *xray.Node, depth int) {
			parents = append(parents[:depth], n)
			var parent *xray.Node
			if depth > 0 {
				parent = parents[depth-1]
			}
			stop := n.EndTime
			if n.InProgress {
				stop = end
			}
			rows = append(rows, traceRow{
				label:   documentLabel(n),
				depth:   depth,
				start:   n.StartTime - start,
				end:     stop - start,
				colour:  documentColour(n, parent),
				running: n.InProgress,
			})
		})
	}
	return rows
}

// documentLabel says what a document is: its name, the AWS operation or resource type, and
// the annotations that tell the build's story.
func documentLabel(n *xray.Node) string {
	parts := []string{n.Name}
	if n.AWS.Operation != "" {
		parts = append(parts, n.AWS.Operation)
	}
	if n.Origin != "" {
		parts = append(parts, "("+n.Origin+")")
	}
	for _, k := range []string{"build_status", "completed_by", "completion_path"} {
		if v, ok := n.Annotations[k]; ok {
			parts = append(parts, fmt.Sprintf("%s=%v", k, v))
		}
	}
	if n.Fault || n.Error {
		parts = append(parts, "[failed]")
	}
	return strings.Join(parts, " ")
}

func documentColour(n, parent *xray.Node) color.Color {
	switch {
	case n.Fault || n.Error:
		return colourFailed
	case n.InProgress:
		return colourRunning
	case n.Origin == buildtrace.Origin:
		return colourBuild
	case n.Name == "completion":
		return colourCompletion
	case parent != nil && parent.Origin == buildtrace.Origin:
		return colourPhase
	}
	return colourCall
}

// bars draws one horizontal bar per row, on the plot's nominal y axis.
type bars struct{ rows []traceRow }

func (b *bars) Plot(c draw.Canvas, plt *plot.Plot) {
	trX, trY := plt.Transforms(&c)
	half := px(traceRowHeight) * 0.35
	for i, r := range b.rows {
		y := trY(float64(len(b.rows) - 1 - i))
		x0, x1 := trX(r.start), trX(r.end)
		if x1-x0 < px(2) {
			x1 = x0 + px(2) // an instant still shows
		}
		c.FillPolygon(r.colour, []vg.Point{{X: x0, Y: y - half}, {X: x1, Y: y - half}, {X: x1, Y: y + half}, {X: x0, Y: y + half}})
	}
}

// DataRange makes the axes span every bar.
func (b *bars) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, xmax = 0, 0
	for _, r := range b.rows {
		xmax = math.Max(xmax, r.end)
	}
	return xmin, xmax, -0.5, float64(len(b.rows)) - 0.5
}

// indented draws labels each moved right by its own indent.
type indented struct {
	*plotter.Labels
	indent func(i int) vg.Length
}

func (l *indented) Plot(c draw.Canvas, plt *plot.Plot) {
	trX, trY := plt.Transforms(&c)
	for i, xy := range l.XYs {
		pt := vg.Point{X: trX(xy.X) + l.indent(i), Y: trY(xy.Y)}
		c.FillText(l.TextStyle[i], pt, l.Labels.Labels[i])
	}
}

// nonNegativeTicks marks the time axis only: the names' column left of zero has no time.
type nonNegativeTicks struct{}

func (nonNegativeTicks) Ticks(min, max float64) []plot.Tick {
	var out []plot.Tick
	for _, t := range (plot.DefaultTicks{}).Ticks(min, max) {
		if t.Value >= 0 {
			out = append(out, t)
		}
	}
	return out
}
