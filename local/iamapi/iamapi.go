// Package iamapi serves the part of IAM's query API that reads and replaces a role's trust
// policy (GetRole, UpdateAssumeRolePolicy), over the roles the STS stand-in decides
// AssumeRole with: what an operator's preflight reads, and what a test changes to break it.
package iamapi

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/crossbuild/crossbuild/internal/awsarn"
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

type getRoleResult struct {
	Role xmlRole `xml:"Role"`
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := localaws.QueryProtocol{Service: "IAM", Version: APIVersion, Xmlns: xmlns,
		Actions: map[string]localaws.QueryAction{"GetRole": h.getRole, "UpdateAssumeRolePolicy": h.updateAssumeRolePolicy}}
	p.ServeHTTP(w, r)
}

// named returns the caller's role named by the request's RoleName.
func (h *Handler) named(r *http.Request, caller localaws.Caller) (sts.Role, error) {
	name := r.Form.Get("RoleName")
	role, found := h.Roles.RoleByName(caller.Account, name)
	if !found {
		return sts.Role{}, localaws.Errorf(http.StatusNotFound, "NoSuchEntity", "The role with name %s cannot be found.", name)
	}
	return role, nil
}

func (h *Handler) getRole(r *http.Request, caller localaws.Caller) (any, error) {
	role, err := h.named(r, caller)
	if err != nil {
		return nil, err
	}
	path := "/"
	if a, err := awsarn.ParseRole(role.ARN); err == nil {
		path = a.Path
	}
	// IAM returns policy documents URL-encoded (RFC 3986).
	return getRoleResult{Role: xmlRole{Path: path, RoleName: role.Name, RoleID: roleID(role.ARN),
		Arn: role.ARN, CreateDate: h.Created.UTC().Format(time.RFC3339), AssumeRolePolicyDocument: url.QueryEscape(string(role.TrustDocument)),
		MaxSessionDuration: int(role.MaxSession.Seconds())}}, nil
}

func (h *Handler) updateAssumeRolePolicy(r *http.Request, caller localaws.Caller) (any, error) {
	role, err := h.named(r, caller)
	if err != nil {
		return nil, err
	}
	if err := h.Roles.SetTrust(role.ARN, json.RawMessage(r.Form.Get("PolicyDocument"))); err != nil {
		return nil, localaws.BadRequest("MalformedPolicyDocument", "%v", err)
	}
	return nil, nil
}

// roleID is a stable unique id in IAM's form (AROA followed by 17 characters).
func roleID(arn string) string {
	sum := sha256.Sum256([]byte(arn))
	return "AROA" + strings.ToUpper(hex.EncodeToString(sum[:9]))[:17]
}
