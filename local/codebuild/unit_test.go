package codebuild

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestInitiator(t *testing.T) {
	for arn, want := range map[string]string{
		"arn:aws:sts::222222222222:assumed-role/crossbuild-target-role/crossbuild-run-1": "crossbuild-target-role/crossbuild-run-1",
		"arn:aws:iam::222222222222:user/ops/alice":                                       "alice",
		"arn:aws:iam::222222222222:role/deployer":                                        "deployer",
		"arn:aws:iam::222222222222:root":                                                 "root",
		"not-an-arn":                                                                     "not-an-arn",
	} {
		if got := initiator(arn); got != want {
			t.Errorf("initiator(%s) = %s, want %s", arn, got, want)
		}
	}
}

func TestMergeEnv(t *testing.T) {
	base := []EnvVar{{"A", "1", EnvPlaintext}, {"B", "2", EnvPlaintext}}
	got := mergeEnv(base, []EnvVar{{"C", "3", EnvPlaintext}, {"A", "/param", EnvParameterStore}})
	want := []EnvVar{{"A", "/param", EnvParameterStore}, {"B", "2", EnvPlaintext}, {"C", "3", EnvPlaintext}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("mergeEnv = %+v, want %+v", got, want)
	}
	if base[0].Value != "1" {
		t.Error("mergeEnv changed its input")
	}
}

func TestNextPhase(t *testing.T) {
	for _, c := range []struct{ kind, status, onFailure, want string }{
		{phaseQueued, StatusSucceeded, "", phaseProvisioning},
		{phaseQueued, StatusStopped, "", phaseCompleted},
		{phaseQueued, StatusTimedOut, "", phaseCompleted},
		{phaseProvisioning, StatusFault, "", phaseFinalizing},
		{phaseDownloadSource, StatusFailed, "", phaseFinalizing},
		{phaseInstall, StatusFailed, "", phaseFinalizing},
		{phasePreBuild, StatusFailed, onFailureContinue, phaseBuild},
		{phaseBuild, StatusFailed, "", phasePostBuild},
		{phaseBuild, StatusFailed, onFailureAbort, phaseFinalizing},
		{phaseBuild, StatusStopped, onFailureContinue, phaseFinalizing},
		{phaseBuild, StatusTimedOut, "", phaseFinalizing},
		{phasePostBuild, StatusFailed, "", phaseUploadArtifacts},
		{phaseUploadArtifacts, StatusSucceeded, "", phaseFinalizing},
		{phaseFinalizing, StatusSucceeded, "", phaseCompleted},
	} {
		if got := nextPhase(c.kind, c.status, c.onFailure); got != c.want {
			t.Errorf("nextPhase(%s, %s, %q) = %s, want %s", c.kind, c.status, c.onFailure, got, c.want)
		}
	}
}

func TestBuildStatus(t *testing.T) {
	ph := func(statuses ...string) []*phase {
		var out []*phase
		for _, s := range statuses {
			out = append(out, &phase{status: s})
		}
		return out
	}
	for _, c := range []struct {
		phases []*phase
		want   string
	}{
		{ph(StatusSucceeded, StatusSucceeded, ""), StatusSucceeded},
		{ph(StatusSucceeded, StatusFailed, StatusSucceeded), StatusFailed},
		{ph(StatusFailed, StatusStopped), StatusStopped},
		{ph(StatusFault, StatusFailed), StatusFault},
		{ph(StatusTimedOut), StatusTimedOut},
	} {
		if got := buildStatus(c.phases); got != c.want {
			t.Errorf("buildStatus = %s, want %s", got, c.want)
		}
	}
}

func TestEpochOnTheWire(t *testing.T) {
	raw, err := json.Marshal(epoch(time.UnixMilli(1764144000123)))
	if err != nil || string(raw) != "1764144000.123" {
		t.Errorf("epoch = %s %v", raw, err)
	}
}

func TestAddProjectValidation(t *testing.T) {
	s := New(nil, Options{WorkDir: t.TempDir()})
	defer s.Close()
	good := Project{Account: "222222222222", Region: "eu-west-1", Name: "p1", Buildspec: "version: 0.2"}
	if err := s.AddProject(good); err != nil {
		t.Fatal(err)
	}
	var exists *ProjectExistsError
	if err := s.AddProject(good); !errors.As(err, &exists) {
		t.Errorf("second AddProject: %v", err)
	}
	for name, p := range map[string]Project{
		"bad account":     {Account: "2222", Region: "eu-west-1", Name: "p2", Buildspec: "x"},
		"bad region":      {Account: "222222222222", Region: "europe", Name: "p2", Buildspec: "x"},
		"bad name":        {Account: "222222222222", Region: "eu-west-1", Name: "-p", Buildspec: "x"},
		"S3 source":       {Account: "222222222222", Region: "eu-west-1", Name: "p2", Buildspec: "x", SourceType: "S3"},
		"no buildspec":    {Account: "222222222222", Region: "eu-west-1", Name: "p2"},
		"short timeout":   {Account: "222222222222", Region: "eu-west-1", Name: "p2", Buildspec: "x", TimeoutInMinutes: 4},
		"reserved prefix": {Account: "222222222222", Region: "eu-west-1", Name: "p2", Buildspec: "x", Environment: []EnvVar{{Name: "CODEBUILD_X", Value: "1"}}},
		"bad type":        {Account: "222222222222", Region: "eu-west-1", Name: "p2", Buildspec: "x", Environment: []EnvVar{{Name: "X", Value: "1", Type: "SECRET"}}},
	} {
		var invalid *InvalidProjectError
		if err := s.AddProject(p); !errors.As(err, &invalid) {
			t.Errorf("%s: AddProject = %v", name, err)
		}
	}
}
