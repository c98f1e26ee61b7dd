package lambda

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/crossbuild/crossbuild/local/localaws"
)

const invokePathPrefix = "/2015-03-31/functions/"

// ServeHTTP serves the Invoke operation of the Lambda API (REST-JSON):
// POST /2015-03-31/functions/{FunctionName}/invocations. It expects the caller resolved
// by a localaws.Router. A caller may invoke the functions of its own account only: the
// stand-in models no resource-based policies, so a cross-account invocation is denied.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, ok := invocationTarget(r.URL)
	if !ok {
		localaws.WriteJSONError(w, http.StatusNotFound, "UnknownOperationException",
			fmt.Sprintf("%s %s is not an operation of this Lambda stand-in (only Invoke is)", r.Method, r.URL.Path))
		return
	}
	if r.Method != http.MethodPost {
		localaws.WriteJSONError(w, http.StatusMethodNotAllowed, "UnknownOperationException", "Invoke takes POST")
		return
	}
	caller, ok := localaws.CallerFrom(r.Context())
	if !ok {
		localaws.WriteJSONError(w, http.StatusForbidden, "MissingAuthenticationTokenException", "the request is not signed")
		return
	}
	invType := r.Header.Get("X-Amz-Invocation-Type")
	if invType == "" {
		invType = "RequestResponse"
	}
	if invType != "RequestResponse" && invType != "Event" && invType != "DryRun" {
		writeError(w, &RequestError{Code: "InvalidParameterValueException", Status: http.StatusBadRequest,
			Message: fmt.Sprintf("invocation type %q: RequestResponse, Event or DryRun", invType)})
		return
	}
	if q := r.URL.Query().Get("Qualifier"); q != "" {
		name += ":" + q
	}
	d, err := s.authorize(caller, name)
	if err != nil {
		writeError(w, err)
		return
	}
	limit := maxSyncPayload
	if invType == "Event" {
		limit = maxAsyncPayload
	}
	payload, err := io.ReadAll(io.LimitReader(r.Body, int64(limit)+1))
	if err != nil {
		localaws.WriteJSONError(w, http.StatusBadRequest, "InvalidRequestContentException", "read request body: "+err.Error())
		return
	}
	if err := checkPayload(payload, limit); err != nil {
		writeError(w, err)
		return
	}
	inv := invocation{requestID: newRequestID(), traceHeader: r.Header.Get("X-Amzn-Trace-Id"), payload: payload}
	if cc := r.Header.Get("X-Amz-Client-Context"); cc != "" {
		if _, err := base64.StdEncoding.DecodeString(cc); err != nil {
			writeError(w, &RequestError{Code: "InvalidParameterValueException", Status: http.StatusBadRequest,
				Message: "Client context must be a valid Base64-encoded JSON object."})
			return
		}
		inv.clientContext = cc
	}
	w.Header().Set("X-Amzn-RequestId", inv.requestID)
	switch invType {
	case "DryRun":
		w.WriteHeader(http.StatusNoContent)
	case "Event":
		if err := s.startEvent(d, inv); err != nil {
			writeError(w, err)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	default:
		res := s.invoke(r.Context(), d, payload, maxSyncPayload, inv)
		if res.err != nil {
			writeError(w, res.err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amz-Executed-Version", version)
		if res.fnErr != nil {
			w.Header().Set("X-Amz-Function-Error", "Unhandled")
		}
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(res.payload)
	}
}

// invocationTarget extracts FunctionName from /2015-03-31/functions/{FunctionName}/invocations.
func invocationTarget(u *url.URL) (string, bool) {
	rest, ok := strings.CutPrefix(u.EscapedPath(), invokePathPrefix)
	if !ok {
		return "", false
	}
	escaped, ok := strings.CutSuffix(rest, "/invocations")
	if !ok || escaped == "" || strings.Contains(escaped, "/") {
		return "", false
	}
	name, err := url.PathUnescape(escaped)
	return name, err == nil
}

// authorize resolves the function a caller names and checks the caller may invoke it.
func (s *Service) authorize(caller localaws.Caller, name string) (*deployed, error) {
	ref, err := parseFunctionRef(name)
	if err != nil {
		return nil, &RequestError{Code: "InvalidParameterValueException", Status: http.StatusBadRequest, Message: err.Error()}
	}
	account, region := caller.Account, caller.Region
	if ref.Account != "" {
		account = ref.Account
	}
	if ref.Region != "" {
		region = ref.Region
	}
	arn := FunctionARN(region, account, ref.Name)
	if account != caller.Account {
		return nil, &AccessDeniedError{Caller: caller.ARN, Function: arn}
	}
	if ref.Qualifier != "" && ref.Qualifier != version {
		return nil, &NotFoundError{Function: arn + ":" + ref.Qualifier}
	}
	d, ok := s.lookup(ref, caller.Account, caller.Region)
	if !ok || region != caller.Region {
		return nil, &NotFoundError{Function: arn}
	}
	return d, nil
}

// writeError writes err as the Lambda API reports it.
func writeError(w http.ResponseWriter, err error) {
	var (
		nf  *NotFoundError
		ad  *AccessDeniedError
		tmr *TooManyRequestsError
		re  *RequestError
	)
	switch {
	case errors.As(err, &nf):
		localaws.WriteJSONError(w, http.StatusNotFound, "ResourceNotFoundException", nf.Error())
	case errors.As(err, &ad):
		localaws.WriteJSONError(w, http.StatusForbidden, "AccessDeniedException", ad.Error())
	case errors.As(err, &tmr):
		localaws.WriteJSONError(w, http.StatusTooManyRequests, "TooManyRequestsException", tmr.Error())
	case errors.As(err, &re):
		localaws.WriteJSONError(w, re.Status, re.Code, re.Message)
	default:
		localaws.WriteJSONError(w, http.StatusInternalServerError, "ServiceException", err.Error())
	}
}
