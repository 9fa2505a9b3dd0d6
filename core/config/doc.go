// Package config reads the one TOML file in which an operator describes the
// runtime ([runtime]), policy plugins ([[plugin]]), tenants ([[tenant]]) and
// their routes ([[tenant.route]]). reference.toml, beside this file,
// documents every key with its default; it is also the README's config
// reference.
//
// Load and Parse decode the file with github.com/BurntSushi/toml, apply the
// defaults, validate, read each route's module, and report every problem at
// once, one per line in file order, each naming the file, the line and the
// key:
//
//	gosledge.toml:14: tenant "demo" route "/fib": key "timeout": invalid duration "10x"
//
// Where gives the same "file:line" to the core for what only it can check
// (an unknown policy, a module that does not compile). Override applies
// command-line settings. CheckPlugins checks, in the same format, that
// plugin programs exist and are executable: Parse leaves that to the
// commands, since a config may declare a plugin that is not built and
// that it does not use.
//
// How it works: toml parses the file into a map (and reports syntax errors
// and duplicate keys); a small locator (locate.go) finds the line of every
// key, array indices included, which toml's MetaData cannot give; a decoder
// driven by the struct tags of the exported types (decode.go) fills them,
// strictly typed, reporting unknown keys; validate.go checks the values.
// Adding a key is one tagged struct field plus one check in validate.go,
// and a line in reference.toml (a test insists).
//
// What must not live here: runtime logic, wazero, policy lookup, network
// listeners. This package only turns a file into checked values.
package config
