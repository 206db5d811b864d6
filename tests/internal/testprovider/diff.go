package testprovider

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// Change is one top-level property that differs between the new inputs and
// the state, as the real provider's diff reports it.
type Change struct {
	Key string
	// Kind is "add", "delete" or "update".
	Kind string
	// Replace: the property forces replacement.
	Replace bool
}

// Diff compares a resource's checked new inputs with its state (old
// outputs) property by property, following the table: a property the
// program leaves unset is no change when it is Computed, and a removal when
// the state holds a value for it; unknown inputs (preview) are changes.
// Ignored keys (the engine's ignoreChanges) are skipped. A set input the
// table has no row for is an error: the table must model every property the
// program sets.
func Diff(tok string, news, olds resource.PropertyMap, ignore []string) ([]Change, error) {
	r, ok := Table[tok]
	if !ok {
		return nil, fmt.Errorf("test provider: no table for resource type %s", tok)
	}
	var missing []string
	for k, v := range news {
		if _, ok := r.Props[string(k)]; !ok && !v.IsNull() && !strings.HasPrefix(string(k), "__") {
			missing = append(missing, string(k))
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("test provider: the table of %s has no row for the input(s) %s; add them from the provider's sources",
			tok, strings.Join(missing, ", "))
	}
	var changes []Change
	for key, p := range r.Props {
		if slices.Contains(ignore, key) {
			continue
		}
		n, o := news[resource.PropertyKey(key)], olds[resource.PropertyKey(key)]
		kind := ""
		switch {
		case n.ContainsUnknowns():
			kind = "update"
		case isEmpty(n) && isEmpty(o):
		case isEmpty(n):
			if !p.Computed {
				kind = "delete"
			}
		case isEmpty(o):
			kind = "add"
		case !reflect.DeepEqual(plainValue(n), plainValue(o)):
			kind = "update"
		}
		if kind != "" {
			changes = append(changes, Change{Key: key, Kind: kind, Replace: p.Replace})
		}
	}
	sort.Slice(changes, func(i, j int) bool { return changes[i].Key < changes[j].Key })
	return changes, nil
}

// WithDefaults is the provider's Check: inputs with the table's defaults
// filled in where the program left them unset.
func WithDefaults(tok string, inputs resource.PropertyMap) resource.PropertyMap {
	out := inputs.Copy()
	for key, p := range Table[tok].Props {
		k := resource.PropertyKey(key)
		if v, ok := out[k]; p.Default != nil && (!ok || v.IsNull()) {
			out[k] = resource.NewPropertyValue(p.Default)
		}
		if v := out[k]; len(p.ElemDefaults) > 0 && v.IsArray() {
			elems := make([]resource.PropertyValue, len(v.ArrayValue()))
			for i, e := range v.ArrayValue() {
				elems[i] = e
				if !e.IsObject() {
					continue
				}
				obj := e.ObjectValue().Copy()
				for ek, ev := range p.ElemDefaults {
					if x, ok := obj[resource.PropertyKey(ek)]; !ok || x.IsNull() {
						obj[resource.PropertyKey(ek)] = resource.NewPropertyValue(ev)
					}
				}
				elems[i] = resource.NewObjectProperty(obj)
			}
			out[k] = resource.NewArrayProperty(elems)
		}
	}
	return out
}

// isEmpty is Terraform's view of an unset value: null, or an empty string,
// list or map.
func isEmpty(v resource.PropertyValue) bool {
	switch {
	case v.IsNull():
		return true
	case v.IsSecret():
		return isEmpty(v.SecretValue().Element)
	case v.IsString():
		return v.StringValue() == ""
	case v.IsArray():
		return len(v.ArrayValue()) == 0
	case v.IsObject():
		return len(v.ObjectValue()) == 0
	}
	return false
}

// plainValue unwraps secrets and drops nulls and empty values inside
// objects, so that {a: 1, b: null} and {a: 1} compare equal, as they do in
// Terraform's state.
func plainValue(v resource.PropertyValue) any {
	switch {
	case v.IsSecret():
		return plainValue(v.SecretValue().Element)
	case v.IsOutput():
		return plainValue(v.OutputValue().Element)
	case v.IsArray():
		out := []any{}
		for _, e := range v.ArrayValue() {
			out = append(out, plainValue(e))
		}
		return out
	case v.IsObject():
		out := map[string]any{}
		for k, e := range v.ObjectValue() {
			if !isEmpty(e) {
				out[string(k)] = plainValue(e)
			}
		}
		return out
	}
	return v.V
}
