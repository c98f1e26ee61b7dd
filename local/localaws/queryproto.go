package localaws

import (
	"encoding/xml"
	"net/http"
)

// maxQueryBody bounds a query-protocol request body.
const maxQueryBody = 1 << 20

// QueryAction is one action of an AWS query protocol service. It reads its parameters from
// r.Form (already parsed) and returns the content of the <ActionResult> element (nil for
// an action whose response has none), or an error (an *Error, or anything else for an
// internal failure).
type QueryAction func(r *http.Request, c Caller) (any, error)

// QueryProtocol serves an AWS query protocol (STS, IAM, CloudFormation): form-encoded
// requests naming an Action and a Version, answered with
// <ActionResponse><ActionResult>…</ActionResult><ResponseMetadata>… in XML.
type QueryProtocol struct {
	Service string // the service's name in messages: "IAM"
	Version string // the one API version served: "2011-06-15"
	Xmlns   string // the namespace of the responses
	Actions map[string]QueryAction
	// AllowGet accepts GET requests with the parameters in the query string, as STS does.
	AllowGet bool
}

func (p *QueryProtocol) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	caller, action, err := p.read(w, r)
	if err != nil {
		writeQueryError(w, asError(err))
		return
	}
	result, err := p.Actions[action](r, caller)
	if err != nil {
		writeQueryError(w, asError(err))
		return
	}
	id := NewRequestID()
	w.Header().Set("X-Amzn-Requestid", id)
	w.Header().Set("Content-Type", "text/xml")
	_, _ = w.Write([]byte(xml.Header))
	enc := xml.NewEncoder(w)
	response := xml.StartElement{Name: xml.Name{Local: action + "Response"}, Attr: []xml.Attr{{Name: xml.Name{Local: "xmlns"}, Value: p.Xmlns}}}
	_ = enc.EncodeToken(response)
	if result != nil {
		_ = enc.EncodeElement(result, xml.StartElement{Name: xml.Name{Local: action + "Result"}})
	}
	_ = enc.EncodeElement(struct {
		RequestID string `xml:"RequestId"`
	}{id}, xml.StartElement{Name: xml.Name{Local: "ResponseMetadata"}})
	_ = enc.EncodeToken(response.End())
	_ = enc.Flush()
}

// read checks a request's method, caller, Action and Version, and parses its form.
func (p *QueryProtocol) read(w http.ResponseWriter, r *http.Request) (Caller, string, error) {
	if r.Method != http.MethodPost && !(p.AllowGet && r.Method == http.MethodGet) {
		return Caller{}, "", Errorf(http.StatusMethodNotAllowed, "InvalidAction", "the local %s accepts %s requests only", p.Service, p.methods())
	}
	caller, ok := CallerFrom(r.Context())
	if !ok {
		return Caller{}, "", Errorf(http.StatusForbidden, "MissingAuthenticationToken", "Request is missing Authentication Token (serve it through localaws.Router)")
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxQueryBody)
	if err := r.ParseForm(); err != nil {
		return Caller{}, "", BadRequest("MalformedQueryString", "%v", err)
	}
	action := r.Form.Get("Action")
	switch {
	case action == "":
		return Caller{}, "", BadRequest("MissingAction", "Missing Action")
	case r.Form.Get("Version") != p.Version:
		return Caller{}, "", BadRequest("InvalidAction", "Could not find operation %s for version %s", action, r.Form.Get("Version"))
	case p.Actions[action] == nil:
		return Caller{}, "", BadRequest("InvalidAction", "Could not find operation %s for version %s", action, p.Version)
	}
	return caller, action, nil
}

func (p *QueryProtocol) methods() string {
	if p.AllowGet {
		return "GET and POST"
	}
	return "POST"
}

func writeQueryError(w http.ResponseWriter, e *Error) {
	WriteQueryError(w, e.Status, e.Code, e.Message)
}
