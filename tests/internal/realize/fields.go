package realize

import (
	"fmt"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// plain turns a property value into plain Go values (map[string]any, []any,
// string, float64, bool, nil), unwrapping secrets and known outputs. An
// unknown value is an error: under mocks every input is known.
func Plain(v resource.PropertyValue) (any, error) {
	switch {
	case v.IsNull():
		return nil, nil
	case v.IsSecret():
		return Plain(v.SecretValue().Element)
	case v.IsOutput():
		o := v.OutputValue()
		if !o.Known {
			return nil, fmt.Errorf("unknown output value")
		}
		return Plain(o.Element)
	case v.IsComputed():
		return nil, fmt.Errorf("computed (unknown) value")
	case v.IsString():
		return v.StringValue(), nil
	case v.IsNumber():
		return v.NumberValue(), nil
	case v.IsBool():
		return v.BoolValue(), nil
	case v.IsArray():
		arr := v.ArrayValue()
		out := make([]any, len(arr))
		for i, e := range arr {
			p, err := Plain(e)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			out[i] = p
		}
		return out, nil
	case v.IsObject():
		return PlainMap(v.ObjectValue())
	default:
		return nil, fmt.Errorf("unsupported property value %v", v)
	}
}

func PlainMap(m resource.PropertyMap) (map[string]any, error) {
	out := map[string]any{}
	for k, v := range m {
		p, err := Plain(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		if p != nil {
			out[string(k)] = p
		}
	}
	return out, nil
}

// fields reads an input object and remembers which keys were read, so that
// every key realize does not implement is reported.
type Fields struct {
	path string
	m    map[string]any
	used map[string]bool
	errs *[]string
	kids []*Fields
}

func NewFields(path string, m map[string]any) *Fields {
	return &Fields{path: path, m: m, used: map[string]bool{}, errs: &[]string{}}
}

func (f *Fields) child(path string, m map[string]any) *Fields {
	c := &Fields{path: path, m: m, used: map[string]bool{}, errs: f.errs}
	f.kids = append(f.kids, c)
	return c
}

func (f *Fields) fail(key, format string, args ...any) {
	*f.errs = append(*f.errs, fmt.Sprintf("%s.%s: %s", f.path, key, fmt.Sprintf(format, args...)))
}

func (f *Fields) Has(key string) bool {
	f.used[key] = true
	v, ok := f.m[key]
	return ok && v != nil
}

// get reads key as a T (def when unset), reporting any other type.
func get[T any](f *Fields, key string, def T, kind string) T {
	f.used[key] = true
	v, ok := f.m[key]
	if !ok || v == nil {
		return def
	}
	t, ok := v.(T)
	if !ok {
		f.fail(key, "want %s, got %T", kind, v)
	}
	return t
}

func (f *Fields) Str(key, def string) string { return get(f, key, def, "a string") }

func (f *Fields) Num(key string, def int) int { return int(get(f, key, float64(def), "a number")) }

func (f *Fields) Bool(key string, def bool) bool { return get(f, key, def, "a bool") }

func (f *Fields) Strs(key string) []string {
	f.used[key] = true
	v, ok := f.m[key]
	if !ok || v == nil {
		return nil
	}
	arr, ok := v.([]any)
	if !ok {
		f.fail(key, "want an array, got %T", v)
		return nil
	}
	out := make([]string, 0, len(arr))
	for i, e := range arr {
		s, ok := e.(string)
		if !ok {
			f.fail(fmt.Sprintf("%s[%d]", key, i), "want a string, got %T", e)
			continue
		}
		out = append(out, s)
	}
	return out
}

func (f *Fields) StrMap(key string) map[string]string {
	f.used[key] = true
	v, ok := f.m[key]
	if !ok || v == nil {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		f.fail(key, "want an object, got %T", v)
		return nil
	}
	out := map[string]string{}
	for k, e := range m {
		s, ok := e.(string)
		if !ok {
			f.fail(key+"."+k, "want a string, got %T", e)
			continue
		}
		out[k] = s
	}
	return out
}

func (f *Fields) Obj(key string) *Fields {
	f.used[key] = true
	v, ok := f.m[key]
	if !ok || v == nil {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		f.fail(key, "want an object, got %T", v)
		return nil
	}
	return f.child(f.path+"."+key, m)
}

func (f *Fields) Objs(key string) []*Fields {
	f.used[key] = true
	v, ok := f.m[key]
	if !ok || v == nil {
		return nil
	}
	arr, ok := v.([]any)
	if !ok {
		f.fail(key, "want an array, got %T", v)
		return nil
	}
	var out []*Fields
	for i, e := range arr {
		m, ok := e.(map[string]any)
		if !ok {
			f.fail(fmt.Sprintf("%s[%d]", key, i), "want an object, got %T", e)
			continue
		}
		out = append(out, f.child(fmt.Sprintf("%s.%s[%d]", f.path, key, i), m))
	}
	return out
}

// known declares keys the realizer accepts without reading them here.
func (f *Fields) Known(keys ...string) {
	for _, k := range keys {
		f.used[k] = true
	}
}

// check reports every set key that was not read or declared known, in this
// object and every object read from it, and every type error.
func (f *Fields) Check() error {
	var unknown []string
	var walk func(x *Fields)
	walk = func(x *Fields) {
		for k, v := range x.m {
			if v != nil && !x.used[k] {
				unknown = append(unknown, x.path+"."+k)
			}
		}
		for _, c := range x.kids {
			walk(c)
		}
	}
	walk(f)
	sort.Strings(unknown)
	var problems []string
	if len(unknown) > 0 {
		problems = append(problems, "input fields realize does not implement: "+strings.Join(unknown, ", "))
	}
	problems = append(problems, *f.errs...)
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return nil
}

// props builds an output property map; secret keys are wrapped as secrets.
func Props(m map[string]any, secret ...string) resource.PropertyMap {
	pm := resource.NewPropertyMapFromMap(m)
	for _, k := range secret {
		if v, ok := pm[resource.PropertyKey(k)]; ok {
			pm[resource.PropertyKey(k)] = resource.MakeSecret(v)
		}
	}
	return pm
}
