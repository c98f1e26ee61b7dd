package localaws

import (
	"encoding/json"
	"encoding/xml"
	"net/http"
)

// WriteJSONError writes an error in the AWS JSON 1.1 protocol's shape, for the
// requests that fail before they reach a JSONProtocol (and for REST-JSON services).
func WriteJSONError(w http.ResponseWriter, status int, code, message string) {
	writeJSONError(w, JSON11, status, code, message)
}

func writeJSONError(w http.ResponseWriter, contentType string, status int, code, message string) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("X-Amzn-ErrorType", code)
	if w.Header().Get("X-Amzn-Requestid") == "" {
		w.Header().Set("X-Amzn-Requestid", NewRequestID())
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": message})
}

// NewRequestID returns a fresh request id, as AWS sends in X-Amzn-Requestid.
func NewRequestID() string { return randomID(16) }

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
	id := NewRequestID()
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
