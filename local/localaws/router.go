package localaws

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
)

// Scope is the credential scope of a SigV4 Authorization header.
type Scope struct {
	AccessKeyID, Date, Region, Service string
}

// ParseAuthorization reads "AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-west-1/sts/aws4_request, ...".
func ParseAuthorization(h string) (Scope, error) {
	const prefix = "AWS4-HMAC-SHA256 "
	if !strings.HasPrefix(h, prefix) {
		return Scope{}, errors.New("missing or non-SigV4 Authorization header")
	}
	for _, part := range strings.Split(h[len(prefix):], ",") {
		part = strings.TrimSpace(part)
		cred, ok := strings.CutPrefix(part, "Credential=")
		if !ok {
			continue
		}
		f := strings.Split(cred, "/")
		if len(f) != 5 || f[4] != "aws4_request" || f[0] == "" {
			return Scope{}, fmt.Errorf("malformed credential scope %q", cred)
		}
		return Scope{AccessKeyID: f[0], Date: f[1], Region: f[2], Service: f[3]}, nil
	}
	return Scope{}, errors.New("authorization header has no Credential")
}

// Router dispatches requests to the stand-in of the service named in the credential
// scope, with the caller resolved from the access key id.
type Router struct {
	ids      *Identities
	mu       sync.RWMutex
	services map[string]http.Handler
}

// NewRouter returns a router resolving callers with ids.
func NewRouter(ids *Identities) *Router {
	return &Router{ids: ids, services: map[string]http.Handler{}}
}

// Handle registers the handler of a service (the SigV4 signing name: "sts", "codebuild",
// "states", "events", "dynamodb", "lambda", "s3").
func (r *Router) Handle(service string, h http.Handler) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.services[service] = h
}

func (r *Router) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	scope, err := ParseAuthorization(req.Header.Get("Authorization"))
	if err != nil {
		WriteJSONError(w, http.StatusForbidden, "MissingAuthenticationTokenException", err.Error())
		return
	}
	r.mu.RLock()
	h, ok := r.services[scope.Service]
	r.mu.RUnlock()
	if !ok {
		WriteJSONError(w, http.StatusBadRequest, "UnknownService", fmt.Sprintf("service %q is not emulated", scope.Service))
		return
	}
	p, err := r.ids.Lookup(scope.AccessKeyID)
	if err != nil {
		code := "UnrecognizedClientException"
		if scope.Service == "sts" {
			code = "InvalidClientTokenId"
		}
		if errors.Is(err, ErrExpiredKey) {
			code = "ExpiredTokenException"
		}
		switch scope.Service {
		case "sts":
			WriteQueryError(w, http.StatusForbidden, code, err.Error())
			return
		case "s3":
			// S3 speaks REST-XML and names these two errors its own way.
			code, msg := "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records."
			if errors.Is(err, ErrExpiredKey) {
				code, msg = "ExpiredToken", "The provided token has expired."
			}
			WriteRESTXMLError(w, req, http.StatusForbidden, code, msg)
			return
		}
		WriteJSONError(w, http.StatusForbidden, code, err.Error())
		return
	}
	ctx := WithCaller(req.Context(), Caller{Principal: p, Region: scope.Region, Service: scope.Service})
	h.ServeHTTP(w, req.WithContext(ctx))
}
