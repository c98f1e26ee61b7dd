package localaws

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
)

// WriteJSONError writes an error in the AWS JSON protocols' shape.
func WriteJSONError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", code)
	if w.Header().Get("X-Amzn-Requestid") == "" {
		w.Header().Set("X-Amzn-Requestid", randomID(16))
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": message})
}

// WriteJSON writes a successful AWS JSON protocol response.
func WriteJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(v)
}

// WriteQueryError writes an error in the AWS query protocol's XML shape (STS).
func WriteQueryError(w http.ResponseWriter, status int, code, message string) {
	type errBody struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	type resp struct {
		XMLName   xml.Name `xml:"ErrorResponse"`
		Error     errBody  `xml:"Error"`
		RequestID string   `xml:"RequestId"`
	}
	kind := "Sender"
	if status >= 500 {
		kind = "Receiver"
	}
	// The SDK reports the request id from the header; AWS always sends one.
	id := randomID(16)
	w.Header().Set("X-Amzn-Requestid", id)
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	_ = xml.NewEncoder(w).Encode(resp{Error: errBody{Type: kind, Code: code, Message: message}, RequestID: id})
}

// WriteRESTXMLError writes an error in the REST-XML shape of S3, with its request id
// header; a HEAD request gets the status only, as from S3.
func WriteRESTXMLError(w http.ResponseWriter, r *http.Request, status int, code, message string) {
	type body struct {
		XMLName   xml.Name `xml:"Error"`
		Code      string   `xml:"Code"`
		Message   string   `xml:"Message"`
		RequestID string   `xml:"RequestId"`
	}
	id := randomID(8)
	w.Header().Set("x-amz-request-id", id)
	if r.Method == http.MethodHead {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	_ = xml.NewEncoder(w).Encode(body{Code: code, Message: message, RequestID: id})
}

// maxQueryBody bounds a query-protocol request body.
const maxQueryBody = 1 << 20

// QueryRequest reads a query-protocol request (STS, IAM, CloudFormation): its signed caller
// and its form, and checks its Action and Version against version. When it returns false it
// has written the error the service would answer with.
func QueryRequest(w http.ResponseWriter, r *http.Request, version string) (Caller, string, bool) {
	caller, ok := CallerFrom(r.Context())
	if !ok {
		WriteQueryError(w, http.StatusForbidden, "MissingAuthenticationToken", "Request is missing Authentication Token (serve it through localaws.Router)")
		return Caller{}, "", false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxQueryBody)
	if err := r.ParseForm(); err != nil {
		WriteQueryError(w, http.StatusBadRequest, "MalformedQueryString", err.Error())
		return Caller{}, "", false
	}
	action := r.Form.Get("Action")
	switch {
	case action == "":
		WriteQueryError(w, http.StatusBadRequest, "MissingAction", "Missing Action")
		return Caller{}, "", false
	case r.Form.Get("Version") != version:
		WriteQueryError(w, http.StatusBadRequest, "InvalidAction", fmt.Sprintf("Could not find operation %s for version %s", action, r.Form.Get("Version")))
		return Caller{}, "", false
	}
	return caller, action, true
}
