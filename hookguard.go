// Package hookguard plugs Hookguard's Caddy modules into a Caddy build:
//
//	xcaddy build --with github.com/hookguard/hookguard
//
// It only imports the modules, and the `caddy webhook` command, for their
// registration.
package hookguard

import (
	_ "github.com/hookguard/hookguard/module/command"
	_ "github.com/hookguard/hookguard/module/verify"
	_ "github.com/hookguard/hookguard/module/webhooks"
)
