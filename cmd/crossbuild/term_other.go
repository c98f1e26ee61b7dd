//go:build !linux && !darwin

package main

import "os"

// terminalSize reports no terminal: output is written as lines, never redrawn.
func terminalSize(*os.File) (width, height int, ok bool) { return 0, 0, false }
