package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// Source is where stack config comes from: the Pulumi context in a real run,
// a map in tests.
type Source interface {
	// Get returns the raw value of a full key such as "postgres-ha:postgres".
	Get(key string) (string, bool)
	// Keys lists every full key set for the stack, when that is known.
	Keys() []string
}

// MapSource is a Source over a map of full keys to raw values.
type MapSource map[string]string

// Get implements Source.
func (m MapSource) Get(key string) (string, bool) { v, ok := m[key]; return v, ok }

// Keys implements Source.
func (m MapSource) Keys() []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Load reads every structured object of the namespace, applies defaults and
// validates. The error, if any, lists every problem found, each naming its
// dotted key, the bad value and what is allowed.
func Load(src Source) (Config, error) {
	// Decode over the defaults rather than defaulting afterwards: an explicit
	// zero ("servers: 0", "earlyRenewalHours: 0", `patroni: ""`) is then kept
	// and validated instead of being taken for unset. null keeps the default.
	c := Defaults()
	var errs Problems
	root := reflect.ValueOf(&c).Elem()
	known := map[string]bool{}
	for i := 0; i < root.NumField(); i++ {
		name := jsonName(root.Type().Field(i))
		known[name] = true
		raw, ok := src.Get(Namespace + ":" + name)
		if !ok {
			continue
		}
		decodeObject(name, []byte(raw), root.Field(i), &errs)
	}
	for _, k := range src.Keys() {
		ns, key, found := strings.Cut(k, ":")
		switch {
		case !found || known[key] && ns == Namespace:
		case ns != Namespace:
			if nearMiss(ns) {
				errs.add(key, "is set as %s, in the namespace %q, which postgres-ha does not read; allowed: %s:%s", k, ns, Namespace, key)
			}
		case strings.Contains(key, ".") && known[strings.SplitN(key, ".", 2)[0]]:
			errs.add(key, "unknown key: a dotted key set without --path; allowed: pulumi config set --path '%s:%s' VALUE", Namespace, key)
		default:
			errs.add(key, "unknown key; allowed: %s", strings.Join(sortedKeys(known), ", "))
		}
	}
	errs = append(errs, c.Validate()...)
	if len(errs) > 0 {
		return c, errs
	}
	return c, nil
}

// nearMiss reports whether a config namespace looks like a misspelling of
// this project's (pgha:, postgres_ha:, PostgresHA:).
func nearMiss(ns string) bool {
	n := strings.NewReplacer("-", "", "_", "", ".", "").Replace(strings.ToLower(ns))
	return n == "postgresha" || n == "pgha"
}

// decodeObject decodes one JSON object into a struct field by field, so that
// every unknown key and every mistyped value is reported, not just the first.
func decodeObject(path string, raw []byte, dst reflect.Value, errs *Problems) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		errs.add(path, "%s is not an object; set it as a YAML mapping", clip(raw))
		return
	}
	byName := map[string]int{}
	for i := 0; i < dst.NumField(); i++ {
		byName[jsonName(dst.Type().Field(i))] = i
	}
	for _, key := range sortedKeys(fields) {
		sub := path + "." + key
		i, ok := byName[key]
		if !ok {
			errs.add(sub, "unknown key; allowed: %s", strings.Join(sortedKeys(byName), ", "))
			continue
		}
		if bytes.Equal(bytes.TrimSpace(fields[key]), []byte("null")) {
			continue
		}
		f := dst.Field(i)
		if f.Kind() == reflect.Struct {
			decodeObject(sub, fields[key], f, errs)
			continue
		}
		if f.Type() == reflect.TypeFor[map[string]string]() {
			decodeStrings(sub, fields[key], f, errs)
			continue
		}
		if err := json.Unmarshal(fields[key], f.Addr().Interface()); err != nil {
			errs.add(sub, "%s is not a valid %s", clip(fields[key]), kindName(f.Type()))
		}
	}
}

// decodeStrings decodes a mapping of strings entry by entry, so that each
// value that is not a string (a bare YAML number or boolean) is reported
// under its own key with the quoted form to write instead.
func decodeStrings(path string, raw []byte, dst reflect.Value, errs *Problems) {
	var entries map[string]json.RawMessage
	if err := json.Unmarshal(raw, &entries); err != nil {
		errs.add(path, "%s is not a valid %s", clip(raw), kindName(dst.Type()))
		return
	}
	m := map[string]string{}
	for _, k := range sortedKeys(entries) {
		var v string
		if err := json.Unmarshal(entries[k], &v); err != nil {
			errs.add(path+"."+k, "%s is not a string; allowed: a quoted value such as \"%s\"", clip(entries[k]), strings.Trim(string(entries[k]), `"`))
			continue
		}
		m[k] = v
	}
	dst.Set(reflect.ValueOf(m))
}

func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	return name
}

func kindName(t reflect.Type) string {
	if t == reflect.TypeFor[SyncMode]() {
		return "synchronous mode; allowed: " + joinModes() + " (true and false mean on and off)"
	}
	switch t.Kind() {
	case reflect.Pointer:
		return kindName(t.Elem())
	case reflect.Int:
		return "integer"
	case reflect.Bool:
		return "boolean (true or false)"
	case reflect.Map:
		return "mapping of strings to strings"
	default:
		return t.Kind().String()
	}
}

func clip(raw []byte) string {
	s := string(raw)
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Problem is one invalid setting.
type Problem struct {
	Key     string
	Message string
}

func (p Problem) String() string { return p.Key + ": " + p.Message }

// Problems is every invalid setting of a config; it is the error Load returns.
type Problems []Problem

func (ps *Problems) add(key, format string, args ...any) {
	*ps = append(*ps, Problem{Key: key, Message: fmt.Sprintf(format, args...)})
}

// Keys lists the dotted keys with a problem, in order.
func (ps Problems) Keys() []string {
	keys := make([]string, len(ps))
	for i, p := range ps {
		keys[i] = p.Key
	}
	return keys
}

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = "  " + Namespace + ":" + p.String()
	}
	noun := "problems"
	if len(ps) == 1 {
		noun = "problem"
	}
	return fmt.Sprintf("invalid stack config (%d %s):\n%s", len(ps), noun, strings.Join(lines, "\n"))
}
