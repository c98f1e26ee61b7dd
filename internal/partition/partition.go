// Package partition maps AWS Regions to their partitions: one table for the functions,
// the CDK app and the local stand-ins, so that they agree on which partition an ARN in a
// Region names.
package partition

import "strings"

// Partition is an AWS partition.
type Partition struct {
	Name string
	// RegionPrefix starts the name of every Region of the partition; empty for "aws",
	// which holds every Region no other partition claims.
	RegionPrefix string
}

// All lists the partitions; a longer Region prefix comes before any prefix of it
// ("us-isob-" before "us-iso-").
var All = []Partition{
	{Name: "aws-cn", RegionPrefix: "cn-"},
	{Name: "aws-us-gov", RegionPrefix: "us-gov-"},
	{Name: "aws-iso-b", RegionPrefix: "us-isob-"},
	{Name: "aws-iso-f", RegionPrefix: "us-isof-"},
	{Name: "aws-iso", RegionPrefix: "us-iso-"},
	{Name: "aws-iso-e", RegionPrefix: "eu-isoe-"},
	{Name: "aws-eusc", RegionPrefix: "eusc-"},
	{Name: "aws"},
}

// ForRegion returns the partition a Region belongs to.
func ForRegion(region string) Partition {
	for _, p := range All {
		if strings.HasPrefix(region, p.RegionPrefix) {
			return p
		}
	}
	return All[len(All)-1]
}

// Of returns the name of the partition a Region belongs to.
func Of(region string) string { return ForRegion(region).Name }

// Known reports whether name is a partition.
func Known(name string) bool {
	for _, p := range All {
		if p.Name == name {
			return true
		}
	}
	return false
}
