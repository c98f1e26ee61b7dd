//go:build !linux

package e2e

import "errors"

func setSubreaper(bool) error {
	return errors.New("only Linux adopts orphans (PR_SET_CHILD_SUBREAPER)")
}
