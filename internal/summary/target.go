package summary

import "encoding/json"

// TargetResult is one child execution of a result file as the execution output lists it:
// a succeeded child's result object, or the failure result of one that did not succeed
// (rebuilt from the entry and the child's input where the child left none). The Map index
// comes from the child's input; nil when the input does not carry one. A child that never
// started (kind or status PENDING) has no result: nil.
func TargetResult(kind string, e Entry) (mapIndex *int, result json.RawMessage) {
	in := parseChildInput(e.Input)
	status := e.Status
	if status == "" {
		status = kind
	}
	switch {
	case kind == KindPending || status == KindPending:
		return in.mapIndex, nil
	case status == KindSucceeded:
		return in.mapIndex, successResult(e)
	}
	fr := failureResult(e, in, status)
	if fr.MapIndex == nil {
		fr.MapIndex = in.mapIndex
	}
	raw, err := json.Marshal(fr)
	if err != nil {
		return in.mapIndex, nil
	}
	return in.mapIndex, raw
}

// ChildTarget is what a child execution's input says about its target: the Map index and
// the identity settings as the planner resolved them (null when the target lacked them).
type ChildTarget struct {
	MapIndex                          *int
	RoleARN, Region, CodeBuildProject string
}

// ParseChildInput reads a child execution's input (the item with its mapIndex,
// docs/reference.md "Item"); what it cannot read is left empty.
func ParseChildInput(input string) ChildTarget {
	in := parseChildInput(&input)
	str := func(raw json.RawMessage) string {
		var s string
		_ = json.Unmarshal(raw, &s)
		return s
	}
	return ChildTarget{MapIndex: in.mapIndex, RoleARN: str(in.arn), Region: str(in.region), CodeBuildProject: str(in.project)}
}
