package xray

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
)

// Node is one document of an assembled trace and the documents whose parent it is.
type Node struct {
	Segment
	Children []*Node
}

// Walk calls fn for n and everything under it, depth first, with each node's depth.
func (n *Node) Walk(fn func(n *Node, depth int)) {
	var walk func(*Node, int)
	walk = func(n *Node, depth int) {
		fn(n, depth)
		for _, c := range n.Children {
			walk(c, depth+1)
		}
	}
	walk(n, 0)
}

// Trace assembles the documents of one trace as X-Ray presents them. A trace holds one
// document per id: a complete document replaces an in-progress one and an earlier complete
// one, and an in-progress document never replaces a complete one (X-Ray: send one complete
// segment and zero or one in-progress segments per id, the complete one overwriting). Each
// document hangs under its parent_id; documents whose parent is not in the trace (below
// the function segments Lambda writes, which the local Lambda does not) are roots. Roots
// and children are in order of start time.
func (d *Daemon) Trace(id string) []*Node {
	byID := map[string]Segment{}
	var order []string
	for _, s := range d.Segments() {
		if s.TraceID != id {
			continue
		}
		old, seen := byID[s.ID]
		if !seen {
			order = append(order, s.ID)
		}
		if !seen || !s.InProgress || old.InProgress {
			byID[s.ID] = s
		}
	}
	nodes := make(map[string]*Node, len(byID))
	for _, sid := range order {
		nodes[sid] = &Node{Segment: byID[sid]}
	}
	var roots []*Node
	for _, sid := range order {
		n := nodes[sid]
		if p, ok := nodes[n.ParentID]; ok && n.ParentID != n.ID {
			p.Children = append(p.Children, n)
		} else {
			roots = append(roots, n)
		}
	}
	for _, n := range nodes {
		sortByStart(n.Children)
	}
	sortByStart(roots)
	return roots
}

func sortByStart(nodes []*Node) {
	sort.SliceStable(nodes, func(i, j int) bool { return nodes[i].StartTime < nodes[j].StartTime })
}

// Timeline draws the trace roots as a terminal timeline: one line per document, indented
// under its parent, with a bar of width columns placed on the trace's time axis, its start
// offset and its duration. A document still in progress runs to the end of the axis.
func Timeline(w io.Writer, roots []*Node, width int) {
	if len(roots) == 0 {
		return
	}
	width = max(width, 10)
	start, end := math.Inf(1), math.Inf(-1)
	for _, r := range roots {
		r.Walk(func(n *Node, _ int) {
			start = math.Min(start, n.StartTime)
			end = math.Max(end, math.Max(n.StartTime, n.EndTime))
		})
	}
	span := math.Max(end-start, 1e-3)
	labelWidth := 20
	for _, r := range roots {
		r.Walk(func(n *Node, depth int) {
			labelWidth = max(labelWidth, 2*depth+len([]rune(label(n))))
		})
	}
	labelWidth = min(labelWidth, maxLabelWidth)
	fmt.Fprintf(w, "%-*s %s %8s %8s\n", labelWidth, "", "0s"+strings.Repeat(" ", width-2-len(seconds(span)))+seconds(span), "start", "took")
	for _, r := range roots {
		r.Walk(func(n *Node, depth int) {
			stop := n.EndTime
			if n.InProgress {
				stop = end
			}
			from := int(math.Round((n.StartTime - start) / span * float64(width)))
			to := int(math.Round((stop - start) / span * float64(width)))
			from = min(max(from, 0), width-1)
			to = min(max(to, from+1), width)
			bar := strings.Repeat(" ", from) + strings.Repeat(barRune(n), to-from) + strings.Repeat(" ", width-to)
			took := seconds(stop - n.StartTime)
			if n.InProgress {
				took = "running"
			}
			fmt.Fprintf(w, "%-*s|%s|%8s %8s\n", labelWidth, clip(strings.Repeat("  ", depth)+label(n), labelWidth), bar, seconds(n.StartTime-start), took)
		})
	}
}

// maxLabelWidth bounds the column of names; longer ones are cut.
const maxLabelWidth = 72

// label names a document as the X-Ray console's timeline does, with what matters here.
func label(n *Node) string {
	l := n.Name
	if n.AWS.Operation != "" {
		l += " " + n.AWS.Operation
	}
	if n.Origin != "" {
		l += " [" + n.Origin + "]"
	}
	for _, k := range []string{"build_status", "completion_path"} {
		if v, ok := n.Annotations[k]; ok {
			l += fmt.Sprintf(" %v", v)
		}
	}
	switch {
	case n.Fault:
		l += " (fault)"
	case n.Error:
		l += " (error)"
	}
	return l
}

func barRune(n *Node) string {
	switch {
	case n.Fault || n.Error:
		return "▒"
	case n.InProgress:
		return "░"
	}
	return "█"
}

func seconds(s float64) string {
	return fmt.Sprintf("%.2fs", s)
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
