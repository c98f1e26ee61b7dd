package results

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// CSVHeader is the header row of WriteCSV.
var CSVHeader = []string{"mapIndex", "account", "region", "project", "status", "completedBy", "buildId",
	"startTime", "endTime", "durationSeconds", "error", "cause", "logsDeepLink", "buildArn"}

// WriteCSV writes one row per target under CSVHeader.
func WriteCSV(w io.Writer, s Set) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for _, r := range s.Results {
		row := []string{index(r.MapIndex), r.Account, r.Region, r.Project, r.Status, r.CompletedBy, r.BuildID,
			stamp(r.StartTime), stamp(r.EndTime), strconv.FormatInt(r.DurationSeconds, 10), r.Error, r.Cause, r.LogsDeepLink, r.BuildARN}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteJSON writes a JSON array of the targets' results, one per line, each the object the
// execution output lists (docs/reference.md, "Per-target result") with its mapIndex.
func WriteJSON(w io.Writer, s Set) error {
	if _, err := io.WriteString(w, "[\n"); err != nil {
		return err
	}
	for i, r := range s.Results {
		obj := map[string]json.RawMessage{}
		if r.Raw != nil {
			if err := json.Unmarshal(r.Raw, &obj); err != nil {
				obj = map[string]json.RawMessage{"result": r.Raw}
			}
		} else {
			for k, v := range map[string]string{"account": r.Account, "region": r.Region, "project": r.Project, "status": r.Status} {
				obj[k], _ = json.Marshal(v)
			}
		}
		if r.MapIndex >= 0 {
			obj["mapIndex"] = json.RawMessage(strconv.Itoa(r.MapIndex))
		}
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(obj); err != nil {
			return err
		}
		line := bytes.TrimSuffix(b.Bytes(), []byte("\n"))
		if i < len(s.Results)-1 {
			line = append(line, ',')
		}
		if _, err := fmt.Fprintf(w, "%s\n", line); err != nil {
			return err
		}
	}
	_, err := io.WriteString(w, "]\n")
	return err
}

// WriteTable writes a table of the results and a line of counts. With max > 0 and more
// results than max, it lists only the first max targets that did not succeed.
func WriteTable(w io.Writer, s Set, max int) error {
	rows := s.Results
	shortened := false
	if max > 0 && len(rows) > max {
		shortened = true
		rows = nil
		for _, r := range s.Results {
			if r.Status != "SUCCEEDED" && len(rows) < max {
				rows = append(rows, r)
			}
		}
	}
	if len(rows) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "#\tACCOUNT\tREGION\tPROJECT\tSTATUS\tCOMPLETED BY\tDURATION\tBUILD / ERROR")
		for _, r := range rows {
			what := r.BuildID
			if r.Status != "SUCCEEDED" && r.Error != "" {
				what = r.Error
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", index(r.MapIndex), dash(r.Account), dash(r.Region), dash(r.Project),
				r.Status, dash(r.CompletedBy), duration(r), dash(what))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	line := CountsLine(len(s.Results), s.Counts())
	if shortened {
		line += fmt.Sprintf("; listed: the first %d that did not succeed", len(rows))
	}
	_, err := fmt.Fprintf(w, "%s; results in s3://%s/%s\n", line, s.Bucket, strings.TrimSuffix(s.Manifest, "manifest.json"))
	return err
}

// CountsLine says how many targets ended how: "3 targets: 2 SUCCEEDED, 1 FAILED".
func CountsLine(total int, counts map[string]int) string {
	names := make([]string, 0, len(counts))
	for k := range counts {
		names = append(names, k)
	}
	// SUCCEEDED first, then by count, then by name.
	sort.Slice(names, func(i, j int) bool {
		a, b := names[i], names[j]
		if (a == "SUCCEEDED") != (b == "SUCCEEDED") {
			return a == "SUCCEEDED"
		}
		if counts[a] != counts[b] {
			return counts[a] > counts[b]
		}
		return a < b
	})
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%d %s", counts[n], n)
	}
	noun := "targets"
	if total == 1 {
		noun = "target"
	}
	if len(parts) == 0 {
		return fmt.Sprintf("%d %s", total, noun)
	}
	return fmt.Sprintf("%d %s: %s", total, noun, strings.Join(parts, ", "))
}

func index(i int) string {
	if i < 0 {
		return "?"
	}
	return strconv.Itoa(i)
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func duration(r Result) string {
	if r.DurationSeconds <= 0 && r.StartTime.IsZero() {
		return "-"
	}
	return (time.Duration(r.DurationSeconds) * time.Second).String()
}
