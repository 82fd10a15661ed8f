// Command caddy is Caddy with its standard modules plus Hookguard's.
package main

import (
	_ "time/tzdata"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/hookguard/hookguard"
)

func main() {
	caddycmd.Main()
}
