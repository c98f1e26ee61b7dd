package tokenstore

import (
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func fullRecord() Record {
	return Record{
		BuildARN:     "arn:aws:codebuild:eu-west-1:222222222222:build/sample:0b1c",
		BuildID:      "sample:0b1c",
		TaskToken:    "AQBtoken-secret",
		ExecutionARN: "arn:aws:states:eu-west-1:111111111111:execution:crossbuild:run-1",
		MapIndex:     7,
		Account:      "222222222222",
		Region:       "eu-west-1",
		Project:      "sample",
		RoleARN:      "arn:aws:iam::222222222222:role/crossbuild-target-role",
		Completion:   "event",
		EnvOverrides: []string{"SAMPLE_VAR2", "HARDCODED_VAR1", "SAMPLE_VAR1"},
		TraceID:      "1-5759e988-bd862e3fe1be46a994272793",
		TraceParent:  "53995c3f42cd8ad8",
		CreatedAt:    time.Date(2026, 11, 26, 8, 0, 0, 123456789, time.UTC),
		State:        Claimed,
		ClaimedAt:    time.Date(2026, 11, 26, 8, 1, 10, 250_000_000, time.UTC),
		Outcome:      `{"status":"SUCCEEDED"}`,
		CompletedBy:  "poll",
		ExpiresAt:    time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC),
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	cest := time.FixedZone("CEST", 2*3600)
	tests := []struct {
		name      string
		in        Record
		want      Record   // zero means: same as in
		wantAttrs []string // exact attribute names of the item
	}{
		{
			name: "every field",
			in:   fullRecord(),
			wantAttrs: []string{"account", "buildArn", "buildId", "claimedAt", "completedBy", "completion",
				"createdAt", "envOverrides", "executionArn", "expiresAt", "mapIndex", "outcome", "project",
				"region", "roleArn", "state", "taskToken", "traceId", "traceParent"},
		},
		{
			name:      "only the key: zero times and empty strings are left out",
			in:        Record{BuildARN: "arn:b"},
			wantAttrs: []string{"buildArn"},
		},
		{
			name:      "empty env overrides stay an empty list",
			in:        Record{BuildARN: "arn:b", EnvOverrides: []string{}},
			wantAttrs: []string{"buildArn", "envOverrides"},
		},
		{
			name:      "map index zero is kept with an execution ARN",
			in:        Record{BuildARN: "arn:b", ExecutionARN: "arn:e", MapIndex: 0, State: Waiting},
			wantAttrs: []string{"buildArn", "executionArn", "mapIndex", "state"},
		},
		{
			name:      "parked item",
			in:        Record{BuildARN: "arn:b", Account: "1", Region: "r", Project: "p", Outcome: "{}", State: Parked, ExpiresAt: time.Unix(1800000000, 0).UTC()},
			wantAttrs: []string{"account", "buildArn", "expiresAt", "outcome", "project", "region", "state"},
		},
		{
			name:      "claim owner",
			in:        Record{BuildARN: "arn:b", State: Claimed, ClaimedAt: time.UnixMilli(1795680000123).UTC(), ClaimOwner: "owner-1"},
			wantAttrs: []string{"buildArn", "claimOwner", "claimedAt", "state"},
		},
		{
			name:      "an item written before claim owners existed",
			in:        Record{BuildARN: "arn:b", State: Claimed, ClaimedAt: time.UnixMilli(1795680000123).UTC()},
			wantAttrs: []string{"buildArn", "claimedAt", "state"},
		},
		{
			name: "times are stored in UTC at their precision",
			in: Record{
				BuildARN:  "arn:b",
				CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 6, cest),
				ClaimedAt: time.Date(2026, 1, 2, 3, 4, 5, 678_999_999, cest),
				ExpiresAt: time.Date(2026, 1, 2, 3, 4, 5, 999_999_999, cest),
			},
			want: Record{
				BuildARN:  "arn:b",
				CreatedAt: time.Date(2026, 1, 2, 1, 4, 5, 6, time.UTC),
				ClaimedAt: time.Date(2026, 1, 2, 1, 4, 5, 678_000_000, time.UTC),
				ExpiresAt: time.Date(2026, 1, 2, 1, 4, 5, 0, time.UTC),
			},
			wantAttrs: []string{"buildArn", "claimedAt", "createdAt", "expiresAt"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			item := marshal(tc.in)
			var attrs []string
			for k := range item {
				attrs = append(attrs, k)
			}
			sort.Strings(attrs)
			if !reflect.DeepEqual(attrs, tc.wantAttrs) {
				t.Errorf("attributes = %v, want %v", attrs, tc.wantAttrs)
			}
			got, err := unmarshal(item)
			if err != nil {
				t.Fatalf("unmarshal: %v", err)
			}
			want := tc.want
			if reflect.DeepEqual(want, Record{}) {
				want = tc.in
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestMarshalEncoding(t *testing.T) {
	item := marshal(fullRecord())
	checks := map[string]types.AttributeValue{
		"mapIndex":  &types.AttributeValueMemberN{Value: "7"},
		"claimedAt": &types.AttributeValueMemberN{Value: "1795680070250"},
		"expiresAt": &types.AttributeValueMemberN{Value: "1798675200"},
		"createdAt": &types.AttributeValueMemberS{Value: "2026-11-26T08:00:00.123456789Z"},
		"state":     &types.AttributeValueMemberS{Value: "CLAIMED"},
		"envOverrides": &types.AttributeValueMemberL{Value: []types.AttributeValue{
			&types.AttributeValueMemberS{Value: "SAMPLE_VAR2"},
			&types.AttributeValueMemberS{Value: "HARDCODED_VAR1"},
			&types.AttributeValueMemberS{Value: "SAMPLE_VAR1"},
		}},
	}
	for name, want := range checks {
		if !reflect.DeepEqual(item[name], want) {
			t.Errorf("%s = %#v, want %#v", name, item[name], want)
		}
	}
}

func TestUnmarshalRejectsMalformedItems(t *testing.T) {
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	n := func(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }
	tests := []struct {
		name string
		attr string
		val  types.AttributeValue
	}{
		{"state not a string", "state", n("1")},
		{"token not a string", "taskToken", &types.AttributeValueMemberBOOL{Value: true}},
		{"map index not a number", "mapIndex", s("7")},
		{"map index not an integer", "mapIndex", n("7.5")},
		{"map index out of range", "mapIndex", n("99999999999")},
		{"claimedAt not a number", "claimedAt", s("yesterday")},
		{"claimOwner not a string", "claimOwner", n("1")},
		{"expiresAt too large", "expiresAt", n("1e40")},
		{"createdAt not RFC 3339", "createdAt", s("26/11/2026")},
		{"env overrides not a list", "envOverrides", s("A,B")},
		{"env override not a string", "envOverrides", &types.AttributeValueMemberL{Value: []types.AttributeValue{n("1")}}},
		{"nil attribute value", "region", nil},
		{"createdAt not a string", "createdAt", n("1795680000")},
		{"expiresAt null", "expiresAt", &types.AttributeValueMemberNULL{Value: true}},
		{"env override set member not a string", "envOverrides", &types.AttributeValueMemberNS{Value: []string{"1"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			item := map[string]types.AttributeValue{"buildArn": s("arn:b"), tc.attr: tc.val}
			if rec, err := unmarshal(item); err == nil {
				t.Fatalf("unmarshal accepted %s=%#v: %+v", tc.attr, tc.val, rec)
			}
		})
	}
}

func TestUnmarshalAcceptsStringSetOverrides(t *testing.T) {
	rec, err := unmarshal(map[string]types.AttributeValue{
		"buildArn":     &types.AttributeValueMemberS{Value: "arn:b"},
		"envOverrides": &types.AttributeValueMemberSS{Value: []string{"A", "B"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rec.EnvOverrides, []string{"A", "B"}) {
		t.Fatalf("EnvOverrides = %v", rec.EnvOverrides)
	}
}
