// Package npm holds no Go code. This go.mod keeps node_modules/ (some of which ships
// files named *.go) out of the crossbuild module, so `go test ./...` never walks it.
package npm
