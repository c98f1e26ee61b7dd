// Package cfnapi serves CloudFormation's DescribeStacks for the stacks a world deployed:
// each stack in its account and Region, CREATE_COMPLETE, with the template's outputs
// resolved as the deployment resolved its resources.
package cfnapi

import (
	"encoding/xml"
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

type describeStacksResponse struct {
	XMLName xml.Name `xml:"DescribeStacksResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Result  struct {
		Stacks []xmlStack `xml:"Stacks>member"`
	} `xml:"DescribeStacksResult"`
	Metadata struct {
		RequestID string `xml:"RequestId"`
	} `xml:"ResponseMetadata"`
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	caller, action, ok := localaws.QueryRequest(w, r, APIVersion)
	if !ok {
		return
	}
	if action != "DescribeStacks" {
		localaws.WriteQueryError(w, http.StatusBadRequest, "InvalidAction", fmt.Sprintf("operation %s is not emulated by the local CloudFormation", action))
		return
	}
	name := r.Form.Get("StackName")
	var out describeStacksResponse
	out.Xmlns = xmlns
	out.Metadata.RequestID = "local"
	for _, s := range h.Stacks {
		if s.Account != caller.Account || s.Region != caller.Region || (name != "" && name != s.Name && name != stackID(s)) {
			continue
		}
		st, err := h.describe(s)
		if err != nil {
			localaws.WriteQueryError(w, http.StatusInternalServerError, "InternalFailure", err.Error())
			return
		}
		out.Result.Stacks = append(out.Result.Stacks, st)
	}
	if name != "" && len(out.Result.Stacks) == 0 {
		localaws.WriteQueryError(w, http.StatusBadRequest, "ValidationError", fmt.Sprintf("Stack with id %s does not exist", name))
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	_, _ = w.Write([]byte(xml.Header))
	_ = xml.NewEncoder(w).Encode(out)
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
