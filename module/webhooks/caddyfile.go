package webhooks

import (
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
)

func init() {
	httpcaddyfile.RegisterGlobalOption("webhooks", parseGlobalOption)
}

// parseGlobalOption turns the `webhooks` global option into the app.
func parseGlobalOption(d *caddyfile.Dispenser, existing any) (any, error) {
	if existing != nil {
		return nil, d.Err("the webhooks global option may appear only once")
	}
	app := new(App)
	if err := app.UnmarshalCaddyfile(d); err != nil {
		return nil, err
	}
	return httpcaddyfile.App{Name: "webhooks", Value: caddyconfig.JSON(app, nil)}, nil
}

// UnmarshalCaddyfile sets up the app from the global option. Syntax:
//
//	webhooks {
//		storage badger [<dir>]
//	}
func (a *App) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume option name
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		switch d.Val() {
		case "storage":
			if a.StorageRaw != nil {
				return d.Err("storage already specified")
			}
			if !d.NextArg() {
				return d.ArgErr()
			}
			switch d.Val() {
			case "badger":
				var s BadgerStorage
				if d.NextArg() {
					s.Dir = d.Val()
				}
				if d.NextArg() {
					return d.ArgErr()
				}
				a.StorageRaw = caddyconfig.JSONModuleObject(s, "module", "badger", nil)
			default:
				return d.Errf("unrecognized storage backend %q (want badger)", d.Val())
			}
		default:
			return d.Errf("unrecognized subdirective %q", d.Val())
		}
	}
	return nil
}

// Interface guards
var _ caddyfile.Unmarshaler = (*App)(nil)
