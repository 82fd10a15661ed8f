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

// checkClaimDueArgs rejects ClaimDue arguments that are programming errors.
func checkClaimDueArgs(limit int, token string, lease time.Duration) error {
	switch {
	case token == "":
		return errors.New("store: empty claim token")
	case limit < 1:
		return fmt.Errorf("store: claim limit must be positive, got %d", limit)
	}
	return checkPositive("lease", lease)
}

// checkEventFilter checks a ListEvents filter and returns its page size.
func checkEventFilter(f EventFilter) (int, error) {
	limit := f.Limit
	switch {
	case limit == 0:
		limit = defaultListLimit
	case limit < 0 || limit > maxListLimit:
		return 0, fmt.Errorf("store: list limit must be 1 to %d, got %d", maxListLimit, f.Limit)
	}
	if f.Status != "" && !validDeliveryStatus(f.Status) {
		return 0, fmt.Errorf("store: unknown delivery status %q", f.Status)
	}
	return limit, nil
}
