// Package iamapi serves the part of IAM's query API that reads and replaces a role's trust
// policy (GetRole, UpdateAssumeRolePolicy), over the roles the STS stand-in decides
// AssumeRole with: what an operator's preflight reads, and what a test changes to break it.
package iamapi

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/crossbuild/crossbuild/local/localaws"
	"github.com/crossbuild/crossbuild/local/sts"
)

// APIVersion is IAM's query API version.
const APIVersion = "2010-05-08"

const xmlns = "https://iam.amazonaws.com/doc/2010-05-08/"

// Roles is the role store: the STS stand-in.
type Roles interface {
	RoleByName(account, name string) (sts.Role, bool)
	SetTrust(arn string, doc json.RawMessage) error
}

// Handler serves IAM for the caller's own account.
type Handler struct {
	Roles Roles
	// Created is the CreateDate reported for every role.
	Created time.Time
}

type xmlRole struct {
	Path                     string `xml:"Path"`
	RoleName                 string `xml:"RoleName"`
	RoleID                   string `xml:"RoleId"`
	Arn                      string `xml:"Arn"`
	CreateDate               string `xml:"CreateDate"`
	AssumeRolePolicyDocument string `xml:"AssumeRolePolicyDocument"`
	MaxSessionDuration       int    `xml:"MaxSessionDuration"`
}

type getRoleResponse struct {
	XMLName xml.Name `xml:"GetRoleResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Result  struct {
		Role xmlRole `xml:"Role"`
	} `xml:"GetRoleResult"`
	Metadata struct {
		RequestID string `xml:"RequestId"`
	} `xml:"ResponseMetadata"`
}

type emptyResponse struct {
	XMLName  xml.Name
	Xmlns    string `xml:"xmlns,attr"`
	Metadata struct {
		RequestID string `xml:"RequestId"`
	} `xml:"ResponseMetadata"`
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	caller, action, ok := localaws.QueryRequest(w, r, APIVersion)
	if !ok {
		return
	}
	name := r.Form.Get("RoleName")
	role, found := h.Roles.RoleByName(caller.Account, name)
	if (action == "GetRole" || action == "UpdateAssumeRolePolicy") && !found {
		localaws.WriteQueryError(w, http.StatusNotFound, "NoSuchEntity", fmt.Sprintf("The role with name %s cannot be found.", name))
		return
	}
	switch action {
	case "GetRole":
		var out getRoleResponse
		out.Xmlns = xmlns
		path := "/"
		if i := strings.Index(role.ARN, ":role/"); i >= 0 {
			path = strings.TrimSuffix(role.ARN[i+len(":role"):], role.Name)
		}
		// IAM returns policy documents URL-encoded (RFC 3986).
		out.Result.Role = xmlRole{Path: path, RoleName: role.Name, RoleID: roleID(role.ARN),
			Arn: role.ARN, CreateDate: h.Created.UTC().Format(time.RFC3339), AssumeRolePolicyDocument: url.QueryEscape(string(role.TrustDocument)),
			MaxSessionDuration: int(role.MaxSession.Seconds())}
		out.Metadata.RequestID = "local"
		writeXML(w, out)
	case "UpdateAssumeRolePolicy":
		if err := h.Roles.SetTrust(role.ARN, json.RawMessage(r.Form.Get("PolicyDocument"))); err != nil {
			localaws.WriteQueryError(w, http.StatusBadRequest, "MalformedPolicyDocument", err.Error())
			return
		}
		writeXML(w, emptyResponse{XMLName: xml.Name{Local: "UpdateAssumeRolePolicyResponse"}, Xmlns: xmlns})
	default:
		localaws.WriteQueryError(w, http.StatusBadRequest, "InvalidAction", fmt.Sprintf("operation %s is not emulated by the local IAM", action))
	}
}

// roleID is a stable unique id in IAM's form (AROA followed by 17 characters).
func roleID(arn string) string {
	sum := sha256.Sum256([]byte(arn))
	return "AROA" + strings.ToUpper(hex.EncodeToString(sum[:9]))[:17]
}

func writeXML(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "text/xml")
	_, _ = w.Write([]byte(xml.Header))
	_ = xml.NewEncoder(w).Encode(v)
}
