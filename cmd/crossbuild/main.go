// Command crossbuild is the operator's tool for a crossbuild deployment.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	if err := newRoot().Execute(); err != nil {
		var exit *exitError
		if !errors.As(err, &exit) {
			fmt.Fprintln(os.Stderr, "crossbuild:", err)
		}
		os.Exit(1)
	}
}

// exitError ends the command with a failure that was already reported.
type exitError struct{ msg string }

func (e *exitError) Error() string { return e.msg }

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "crossbuild",
		Short:         "Operate a crossbuild deployment",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newDoctorCommand())
	return root
}
