package store

import (
	"errors"
	"fmt"
	"time"
)

// checkClaimArgs rejects arguments that are programming errors in the caller.
// An empty token is refused because it could not tell owners apart.
func checkClaimArgs(key, token string) error {
	switch {
	case key == "":
		return errors.New("store: empty dedupe key")
	case token == "":
		return errors.New("store: empty claim token")
	}
	return nil
}

// checkPositive rejects a lease or retention period that is not positive.
func checkPositive(what string, d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("store: %s must be positive, got %v", what, d)
	}
	return nil
}
