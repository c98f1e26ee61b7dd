package cfn

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestRender(t *testing.T) {
	resolve := Placeholders("aws", "eu-west-1", "111111111111")
	tests := []struct {
		name, in, want, wantErr string
	}{
		{name: "plain", in: `"abc"`, want: "abc"},
		{name: "join", in: `{"Fn::Join":["",["{\"f\":\"",{"Fn::GetAtt":["Starter1","Arn"]},"\",\"r\":\"",{"Ref":"Table1"},"\"}"]]}`,
			want: `{"f":"arn:aws:lambda:eu-west-1:111111111111:function:Starter1","r":"Table1"}`},
		{name: "separator", in: `{"Fn::Join":[":",["a",{"Fn::GetAtt":["Q","QueueName"]}]]}`, want: "a:Q.QueueName"},
		{name: "unsupported", in: `{"Fn::Sub":"x"}`, wantErr: "unsupported intrinsic function Fn::Sub"},
		{name: "two keys", in: `{"Ref":"a","Fn::Join":[]}`, wantErr: "one intrinsic function"},
		{name: "bad join", in: `{"Fn::Join":["",[1]]}`, wantErr: "Fn::Join[0]"},
		{name: "bad getatt", in: `{"Fn::GetAtt":["a"]}`, wantErr: "Fn::GetAtt"},
		{name: "number", in: `1`, wantErr: "cannot render float64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v any
			if err := json.Unmarshal([]byte(tt.in), &v); err != nil {
				t.Fatal(err)
			}
			got, err := Render(v, resolve)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Render error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Render = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
