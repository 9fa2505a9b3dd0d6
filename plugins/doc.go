// Package plugins lists the built-in scheduling policies. Each policy is its
// own tiny package under plugins/ (Name, New, an interface guard); this
// package only wires them into an sdk.Registry, explicitly, so a reader sees
// in one function what the binary can run.
//
// Out-of-process policies are not listed here: the core launches them from
// the [[plugin]] table of the config.
package plugins
