// Package cfnapi serves CloudFormation's DescribeStacks for the stacks a world deployed:
// each stack in its account and Region, CREATE_COMPLETE, with the template's outputs
// resolved as the deployment resolved its resources.
package cfnapi

import (
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/crossbuild/crossbuild/local/cfn"
	"github.com/crossbuild/crossbuild/local/localaws"
)

// APIVersion is CloudFormation's query API version.
const APIVersion = "2010-05-15"

const xmlns = "http://cloudformation.amazonaws.com/doc/2010-05-15/"

// Handler serves DescribeStacks over deployed stacks.
type Handler struct {
	Stacks  []*cfn.Stack
	Created time.Time
}

type xmlOutput struct {
	OutputKey   string `xml:"OutputKey"`
	OutputValue string `xml:"OutputValue"`
	Description string `xml:"Description,omitempty"`
}

type xmlStack struct {
	StackName    string      `xml:"StackName"`
	StackID      string      `xml:"StackId"`
	StackStatus  string      `xml:"StackStatus"`
	CreationTime string      `xml:"CreationTime"`
	Outputs      []xmlOutput `xml:"Outputs>member"`
}

type describeStacksResult struct {
	Stacks []xmlStack `xml:"Stacks>member"`
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := localaws.QueryProtocol{Service: "CloudFormation", Version: APIVersion, Xmlns: xmlns,
		Actions: map[string]localaws.QueryAction{"DescribeStacks": h.describeStacks}}
	p.ServeHTTP(w, r)
}

func (h *Handler) describeStacks(r *http.Request, caller localaws.Caller) (any, error) {
	name := r.Form.Get("StackName")
	var out describeStacksResult
	for _, s := range h.Stacks {
		if s.Account != caller.Account || s.Region != caller.Region || (name != "" && name != s.Name && name != stackID(s)) {
			continue
		}
		st, err := h.describe(s)
		if err != nil {
			return nil, err
		}
		out.Stacks = append(out.Stacks, st)
	}
	if name != "" && len(out.Stacks) == 0 {
		return nil, localaws.BadRequest("ValidationError", "Stack with id %s does not exist", name)
	}
	return out, nil
}

func stackID(s *cfn.Stack) string {
	return fmt.Sprintf("arn:%s:cloudformation:%s:%s:stack/%s/local", s.Partition, s.Region, s.Account, s.Name)
}

func (h *Handler) describe(s *cfn.Stack) (xmlStack, error) {
	st := xmlStack{StackName: s.Name, StackID: stackID(s), StackStatus: "CREATE_COMPLETE", CreationTime: h.Created.UTC().Format(time.RFC3339)}
	keys := make([]string, 0, len(s.Template.Outputs))
	for k := range s.Template.Outputs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		def, _ := s.Template.Outputs[k].(map[string]any)
		v, err := s.Resolve(def["Value"], "Outputs."+k+".Value")
		if err != nil {
			return xmlStack{}, fmt.Errorf("stack %s output %s: %w", s.Name, k, err)
		}
		desc, _ := def["Description"].(string)
		st.Outputs = append(st.Outputs, xmlOutput{OutputKey: k, OutputValue: fmt.Sprint(v), Description: desc})
	}
	return st, nil
}
