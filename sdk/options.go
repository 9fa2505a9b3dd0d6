package sdk

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
)

// Config is what the core tells a policy before any task enters: the
// worker count and the policy's own settings from the config file.
type Config struct {
	Workers int
	// Options is the policy's [policy.NAME] table (NAME its registry or
	// [[plugin]] name).
	Options Options
	// Tenants lists every tenant, in config order, each with its own
	// policy.NAME table.
	Tenants []TenantConfig
}

// HasOptions reports whether c carries a table: the policy's own or a
// tenant's. A transport whose policy is no Configurer refuses such a
// config rather than drop the tables.
func (c Config) HasOptions() bool {
	for _, t := range c.Tenants {
		if t.Options != "" {
			return true
		}
	}
	return c.Options != ""
}

// TenantConfig is one tenant as a policy sees it.
type TenantConfig struct {
	Name string
	// Options is the tenant's policy.NAME table: [tenant.policy.NAME]
	// after the tenant's [[tenant]], or policy.NAME = { ... } inside it.
	Options Options
}

// Options is one table of a policy's settings as TOML text; "" when the
// config file has none. The core never reads it: the policy decodes it
// (Decode) and checks it, so a third-party policy gets keys of its own the
// same way the built-ins do. It is text so that it crosses the plugin and
// Wasm boundaries as it is.
type Options string

// Decode sets the fields of the struct v points to from o. Keys match a
// field's `toml:"name"` tag (or its name); a time.Duration is written as
// a string such as "10ms". A key with no field, or a value of the wrong
// type, is an *OptionError naming the key; all of them are returned,
// joined, in key order. Fields whose key is absent are left as they are,
// so set defaults before calling.
func (o Options) Decode(v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("sdk: Options.Decode wants a pointer to a struct, got %T", v)
	}
	var table map[string]toml.Primitive
	md, err := toml.Decode(string(o), &table)
	if err != nil {
		return fmt.Errorf("sdk: options are not TOML: %w", err)
	}
	fields := optionFields(rv.Elem().Type())
	var errs []error
	for _, key := range slices.Sorted(maps.Keys(table)) {
		i, ok := fields[key]
		if !ok {
			names := slices.Sorted(maps.Keys(fields))
			errs = append(errs, &OptionError{Key: key, Err: fmt.Errorf("unknown key (known: %s)", strings.Join(names, ", "))})
			continue
		}
		if err := md.PrimitiveDecode(table[key], rv.Elem().Field(i).Addr().Interface()); err != nil {
			errs = append(errs, &OptionError{Key: key, Err: errors.New(decodeMessage(err))})
		}
	}
	return errors.Join(errs...)
}

// tomlPrefix is what the toml package puts before its messages: the line
// and key, which an OptionError says better.
var tomlPrefix = regexp.MustCompile(`^toml: (line \d+ )?(\(last key "[^"]*"\): )?`)

// decodeMessage is err's message without the toml package's prefix.
func decodeMessage(err error) string {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return pe.Message
	}
	return tomlPrefix.ReplaceAllString(err.Error(), "")
}

// optionFields maps each key to the index of its field in t.
func optionFields(t reflect.Type) map[string]int {
	out := map[string]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		out[name] = i
	}
	return out
}

// OptionError is a policy's complaint about one key of its options; the
// core reports it with the key's file:line. Configure may return several,
// joined with errors.Join (Decode does), or wrapped.
type OptionError struct {
	// Tenant is the tenant whose table has the key, "" for [policy.NAME].
	Tenant string
	Key    string
	Err    error
}

func (e *OptionError) Error() string {
	if e.Tenant != "" {
		return fmt.Sprintf("tenant %q: key %q: %v", e.Tenant, e.Key, e.Err)
	}
	return fmt.Sprintf("key %q: %v", e.Key, e.Err)
}

func (e *OptionError) Unwrap() error { return e.Err }

// ForTenant returns err with every *OptionError in it (joined or wrapped)
// attributed to tenant, for a policy that decodes a tenant's Options.
func ForTenant(tenant string, err error) error {
	for _, oe := range OptionErrors(err) {
		oe.Tenant = tenant
	}
	return err
}

// OptionErrors returns the *OptionErrors in err, looking through
// errors.Join and %w wrapping.
func OptionErrors(err error) []*OptionError {
	var out []*OptionError
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) {
		case nil:
		case *OptionError:
			out = append(out, e)
		case interface{ Unwrap() []error }:
			for _, x := range e.Unwrap() {
				walk(x)
			}
		case interface{ Unwrap() error }:
			walk(e.Unwrap())
		}
	}
	walk(err)
	return out
}
