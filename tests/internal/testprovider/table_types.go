package testprovider

// Prop is how the real provider treats one top-level input property of a
// resource: whether changing it replaces the resource or updates it in
// place, and whether leaving it unset lets the provider fill it.
type Prop struct {
	// Replace: a change forces replacement (Terraform ForceNew /
	// RequiresReplace, or the native provider's replace rule).
	Replace bool
	// Computed: the provider fills the value when the program leaves it
	// unset, so an unset input is no change even when state holds a value.
	// Optional properties that are not Computed and are read back from the
	// real object (log_opts) show as a removal when the program omits them.
	Computed bool
	// Default is what the provider's Check fills in when the program
	// leaves the property unset (nil: nothing).
	Default any
	// ElemDefaults are the nested defaults Check fills in each element of
	// a list of objects (ports: protocol "tcp", ip "0.0.0.0").
	ElemDefaults map[string]any
	// Source is where this was read: repository, tag, file and line.
	Source string
}

// Resource is one resource type: its input properties and the properties
// only its state holds.
type Resource struct {
	Props map[string]Prop
	// Outputs are the state-only properties the provider computes.
	Outputs []string
}
