package eventbridge

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/crossbuild/crossbuild/local/localaws"
)

// PutEvents limits, as EventBridge documents them.
const (
	MaxEntries     = 10
	MaxRequestSize = 256 * 1024 // total of a request's entries
)

// Per-entry error codes of PutEvents.
const (
	EntryInvalidArgument        = "InvalidArgument"
	EntryMalformedDetail        = "MalformedDetail"
	EntryAccessDenied           = "AccessDeniedException"
	EntryNotAuthorizedForSource = "NotAuthorizedForSourceException"
	EntryResourceNotFound       = "ResourceNotFoundException"
	EntryInternalFailure        = "InternalFailure"
)

const (
	// reservedSourcePrefix marks AWS services' sources, which PutEvents
	// callers may not use.
	reservedSourcePrefix = "aws."
	putEventsAction      = "events:PutEvents"
)

// Condition keys EventBridge sets when it authorizes events:PutEvents.
const (
	ctxSource             = "events:source"
	ctxDetailType         = "events:detail-type"
	ctxEventBusInvocation = "events:eventBusInvocation"
	ctxPrincipalAccount   = "aws:PrincipalAccount"
	ctxPrincipalOrgID     = "aws:PrincipalOrgID"
	ctxPrincipalARN       = "aws:PrincipalArn"
)

// Entry is one PutEvents request entry.
type Entry struct {
	Source       string
	DetailType   string
	Detail       string // a JSON object
	Resources    []string
	EventBusName string    // name or ARN; empty is the caller's default bus
	Time         time.Time // zero is now
}

// EntryResult is the outcome of one entry: an event id or an error.
type EntryResult struct {
	EventID      string `json:"EventId,omitempty"`
	ErrorCode    string `json:"ErrorCode,omitempty"`
	ErrorMessage string `json:"ErrorMessage,omitempty"`
}

// PutEventsResult is the PutEvents response.
type PutEventsResult struct {
	FailedEntryCount int
	Entries          []EntryResult
}

// PutEvents puts events on behalf of caller, as the PutEvents API does in
// region. Entries fail one by one; a *RequestError refuses the whole request.
func (s *Service) PutEvents(ctx context.Context, caller localaws.Principal, region string, entries []Entry) (PutEventsResult, error) {
	if err := ctx.Err(); err != nil {
		return PutEventsResult{}, err
	}
	if s.isClosed() {
		return PutEventsResult{}, ErrClosed
	}
	if len(entries) == 0 || len(entries) > MaxEntries {
		return PutEventsResult{}, &RequestError{Code: errValidationException,
			Message: fmt.Sprintf("entries must hold 1 to %d events, got %d", MaxEntries, len(entries))}
	}
	if size := requestSize(entries); size > MaxRequestSize {
		return PutEventsResult{}, &RequestError{Code: errValidationException,
			Message: fmt.Sprintf("total size of the entries is %d bytes, over the %d limit", size, MaxRequestSize)}
	}
	res := PutEventsResult{Entries: make([]EntryResult, len(entries))}
	for i, e := range entries {
		id, code, msg := s.putEntry(caller, region, e)
		if code != "" {
			res.FailedEntryCount++
			res.Entries[i] = EntryResult{ErrorCode: code, ErrorMessage: msg}
			continue
		}
		res.Entries[i] = EntryResult{EventID: id}
	}
	return res, nil
}

// requestSize follows EventBridge's size calculation of PutEvents entries.
func requestSize(entries []Entry) int {
	n := 0
	for _, e := range entries {
		if !e.Time.IsZero() {
			n += 14
		}
		n += len(e.Source) + len(e.DetailType) + len(e.Detail)
		for _, r := range e.Resources {
			n += len(r)
		}
	}
	return n
}

func (s *Service) putEntry(caller localaws.Principal, region string, e Entry) (id, code, msg string) {
	switch {
	case e.Source == "":
		return "", EntryInvalidArgument, "Source is a required parameter."
	case e.DetailType == "":
		return "", EntryInvalidArgument, "DetailType is a required parameter."
	case e.Detail == "":
		return "", EntryInvalidArgument, "Detail is a required parameter."
	}
	if d := bytes.TrimSpace([]byte(e.Detail)); len(d) == 0 || d[0] != '{' || !json.Valid(d) {
		return "", EntryMalformedDetail, "Detail is not a valid JSON object."
	}
	if strings.HasPrefix(e.Source, reservedSourcePrefix) {
		return "", EntryNotAuthorizedForSource, fmt.Sprintf("Sources starting with %q are reserved for AWS services.", reservedSourcePrefix)
	}
	for _, r := range e.Resources {
		if r == "" {
			return "", EntryInvalidArgument, "Resources must not hold empty strings."
		}
	}
	k, err := resolveBus(e.EventBusName, caller.Account, region)
	if err != nil {
		return "", EntryInvalidArgument, err.Error()
	}
	if k.region != region {
		return "", EntryInvalidArgument, fmt.Sprintf("event bus %s is not in %s; use a rule to send events to another Region", s.busARN(k), region)
	}
	policy, ok := s.lookupBus(k)
	if !ok {
		return "", EntryResourceNotFound, fmt.Sprintf("Event bus %s does not exist.", k.name)
	}
	if k.account != caller.Account {
		if allowed, reason := s.authorize(policy, caller, s.busARN(k), e.Source, e.DetailType, false); !allowed {
			return "", EntryAccessDenied, fmt.Sprintf("%s is not authorized to perform %s on %s: %s", caller.ARN, putEventsAction, s.busARN(k), reason)
		}
	}
	now := s.clock.Now()
	t := e.Time
	if t.IsZero() {
		t = now
	}
	resources := e.Resources
	if resources == nil {
		resources = []string{}
	}
	ev, err := newEvent(envelope{
		Version: "0", ID: newID(), DetailType: e.DetailType, Source: e.Source,
		Account: caller.Account, Time: t.UTC().Format(timeLayout), Region: region,
		Resources: resources, Detail: compact([]byte(e.Detail)),
	}, k, now)
	if err != nil {
		return "", EntryInternalFailure, err.Error()
	}
	s.ingest(ev)
	return ev.id, "", ""
}

// PublishDefault puts an event emitted by an AWS service of account onto the
// account's default bus in region. The event is the envelope the service
// emits (source, detail-type and detail required); missing envelope fields
// get EventBridge's values, an account or region that disagrees is an error.
// Service sources such as aws.codebuild are allowed here, unlike PutEvents.
func (s *Service) PublishDefault(ctx context.Context, account, region string, event json.RawMessage) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.isClosed() {
		return ErrClosed
	}
	k := busKey{account: account, region: region, name: DefaultBus}
	if err := validateBusKey(k); err != nil {
		return fmt.Errorf("publish to the default bus: %w", err)
	}
	now := s.clock.Now()
	raw, err := serviceEvent(event, account, region, now)
	if err != nil {
		return fmt.Errorf("publish to %s: %w", s.busARN(k), err)
	}
	ev, err := decodeEvent(raw, k, now)
	if err != nil {
		return fmt.Errorf("publish to %s: %w", s.busARN(k), err)
	}
	s.ingest(ev)
	return nil
}

// authorize evaluates a bus's resource policy for events:PutEvents by p.
func (s *Service) authorize(policy json.RawMessage, p localaws.Principal, busARN, source, detailType string, busInvocation bool) (bool, string) {
	if len(bytes.TrimSpace(policy)) == 0 {
		return false, "the event bus has no resource policy"
	}
	if s.opts.Evaluator == nil {
		return false, "no policy evaluator is configured"
	}
	cond := map[string][]string{
		ctxSource:           {source},
		ctxDetailType:       {detailType},
		ctxPrincipalAccount: {p.Account},
		ctxPrincipalARN:     {cmp.Or(p.RoleARN, p.ARN)},
	}
	if p.OrgID != "" {
		cond[ctxPrincipalOrgID] = []string{p.OrgID}
	}
	if busInvocation {
		cond[ctxEventBusInvocation] = []string{"true"}
	}
	return s.opts.Evaluator.Allows(policy, p, putEventsAction, busARN, cond)
}
