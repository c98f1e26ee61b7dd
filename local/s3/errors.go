package s3

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/johannesboyne/gofakes3"
)

// Error is an S3 error response: the HTTP status and S3's error code and message.
type Error struct {
	Status   int
	Code     string // "AccessDenied", "NoSuchKey", ...
	Message  string
	Resource string // the bucket or key, for the codes whose responses carry it
	Region   string // the bucket's Region, for AuthorizationHeaderMalformed
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func accessDenied(message string) *Error {
	return &Error{Status: http.StatusForbidden, Code: "AccessDenied", Message: message}
}

func noSuchBucket(name string) *Error {
	return &Error{Status: http.StatusNotFound, Code: "NoSuchBucket", Message: "The specified bucket does not exist", Resource: name}
}

func noSuchKey(key string) *Error {
	return &Error{Status: http.StatusNotFound, Code: "NoSuchKey", Message: "The specified key does not exist.", Resource: key}
}

func notImplemented(what string) *Error {
	return &Error{Status: http.StatusNotImplemented, Code: "NotImplemented",
		Message: what + " is not implemented by the local S3 stand-in"}
}

func methodNotAllowed(method, what string) *Error {
	return &Error{Status: http.StatusMethodNotAllowed, Code: "MethodNotAllowed",
		Message: fmt.Sprintf("The specified method (%s) is not allowed against this resource (%s).", method, what)}
}

func invalidArgument(message string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: "InvalidArgument", Message: message}
}

// fromBackend turns a gofakes3 backend error into an S3 error response.
func fromBackend(err error, resource string) *Error {
	var own *Error
	if errors.As(err, &own) {
		return own
	}
	var coded gofakes3.Error
	if errors.As(err, &coded) {
		code := coded.ErrorCode()
		switch code {
		case gofakes3.ErrNoSuchKey:
			return noSuchKey(resource)
		case gofakes3.ErrNoSuchBucket:
			return noSuchBucket(resource)
		}
		msg := code.Message()
		if msg == "" {
			msg = string(code)
		}
		return &Error{Status: code.Status(), Code: string(code), Message: msg, Resource: resource}
	}
	return &Error{Status: http.StatusInternalServerError, Code: "InternalError", Message: err.Error()}
}

type errorBody struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string   `xml:"Code"`
	Message   string   `xml:"Message"`
	Resource  string   `xml:"Resource,omitempty"`
	Region    string   `xml:"Region,omitempty"`
	RequestID string   `xml:"RequestId"`
	HostID    string   `xml:"HostId"`
}

// writeError answers as S3 does: the status, and the XML error document except for HEAD
// requests, which carry no body.
func writeError(w http.ResponseWriter, r *http.Request, e *Error) {
	id := requestIDs(w)
	if e.Region != "" {
		w.Header().Set("x-amz-bucket-region", e.Region)
	}
	if r.Method == http.MethodHead {
		w.WriteHeader(e.Status)
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(e.Status)
	_, _ = w.Write([]byte(xml.Header))
	_ = xml.NewEncoder(w).Encode(errorBody{Code: e.Code, Message: e.Message, Resource: e.Resource, Region: e.Region,
		RequestID: id, HostID: w.Header().Get("x-amz-id-2")})
}

// requestIDs sets S3's request id headers when they are not set yet and returns the id.
func requestIDs(w http.ResponseWriter) string {
	h := w.Header()
	if id := h.Get("x-amz-request-id"); id != "" {
		return id
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	id := strings.ToUpper(hex.EncodeToString(b))
	h.Set("x-amz-request-id", id)
	host := make([]byte, 48)
	_, _ = rand.Read(host)
	h.Set("x-amz-id-2", base64.StdEncoding.EncodeToString(host))
	return id
}
