package testprovider

// Source prefixes: repository@version and file, to which a line range is
// appended. See /work/notes/provider-behaviour.md for the reasoning.
const (
	srcContainer     = "kreuzwerker/terraform-provider-docker@v3.9.0 internal/provider/resource_docker_container.go:"
	srcContainerFn   = "kreuzwerker/terraform-provider-docker@v3.9.0 internal/provider/resource_docker_container_funcs.go:"
	srcNetwork       = "kreuzwerker/terraform-provider-docker@v3.9.0 internal/provider/resource_docker_network.go:"
	srcVolume        = "kreuzwerker/terraform-provider-docker@v3.9.0 internal/provider/resource_docker_volume.go:"
	srcRemoteImage   = "kreuzwerker/terraform-provider-docker@v3.9.0 internal/provider/resource_docker_image.go:"
	srcImageProvider = "pulumi/pulumi-docker@v4.11.2 provider/provider.go:"
	srcImageSDK      = "pulumi/pulumi-docker@v4.11.2 sdk/go/docker/image.go:"
	srcPrivateKey    = "hashicorp/terraform-provider-tls@d72d90e (v4.3.0 pinned) internal/provider/resource_private_key.go:"
	srcSelfSigned    = "hashicorp/terraform-provider-tls@d72d90e (v4.3.0 pinned) internal/provider/resource_self_signed_cert.go:"
	srcCertRequest   = "hashicorp/terraform-provider-tls@d72d90e (v4.3.0 pinned) internal/provider/resource_cert_request.go:"
	srcLocallySigned = "hashicorp/terraform-provider-tls@d72d90e (v4.3.0 pinned) internal/provider/resource_locally_signed_cert.go:"
	srcPassword      = "hashicorp/terraform-provider-random@v3.9.0 internal/provider/resource_password.go:"
	srcUUID          = "hashicorp/terraform-provider-random@v3.9.0 internal/provider/resource_uuid.go:"
	srcBytes         = "hashicorp/terraform-provider-random@v3.9.0 internal/provider/resource_bytes.go:"

	// Notes appended to Source strings.
	autonamed = " (pulumi-docker@v4.11.2 provider/resources.go:404 SetAutonaming: Check proposes <name>-<7 random> when unset)"
	updNoop   = " (not ForceNew; Update funcs.go:931-981 ignores it, state takes the planned value)"
	pfDefault = " (plugin-framework default: applied in the plan/state, not by the bridge's Check)"
)

// Table is how the real providers treat each top-level input property our
// program sets, keyed by Pulumi type token and camelCase property name.
//
// It is derived from the providers' sources at the pinned versions:
// pulumi-docker v4.11.2 (terraform-provider-docker v3.9.0 plus the native
// Image resource), pulumi-tls v5.5.1 (terraform-provider-tls v4.3.0) and
// pulumi-random v4.21.1 (terraform-provider-random v3.9.0). It is checked
// against the real plugins by hand.
// /work/notes/provider-behaviour.md records the details, including what the
// docker Container's Read puts in state.
var Table = map[string]Resource{
	// SDKv2. ResourceInfo.DeleteBeforeReplace = true (pulumi-docker provider/resources.go:114).
	"docker:index/container:Container": {
		Props: map[string]Prop{
			"name":                {Replace: true, Source: srcContainer + "38-43" + autonamed},
			"hostname":            {Replace: true, Computed: true, Source: srcContainer + "136-142"},
			"image":               {Replace: true, Source: srcContainer + "129-134"},
			"entrypoints":         {Replace: true, Computed: true, Source: srcContainer + "160-167"},
			"command":             {Replace: true, Computed: true, Source: srcContainer + "151-158"},
			"envs":                {Replace: true, Computed: true, Source: srcContainer + "564-572 (never read back, funcs.go:813-818)"},
			"user":                {Replace: true, Computed: true, Source: srcContainer + "169-182 (not Computed, but DiffSuppressFunc treats a new \"\" as no change)"},
			"uploads":             {Replace: true, Source: srcContainer + "804-860 (never read back)"},
			"volumes":             {Replace: true, Source: srcContainer + "415-455 (never read back)"},
			"networksAdvanced":    {Replace: true, Source: srcContainer + "748-789 (never read back)"},
			"networkMode":         {Replace: true, Default: "bridge", Source: srcContainer + "740-746"},
			"ports":               {Replace: true, ElemDefaults: map[string]any{"protocol": "tcp", "ip": "0.0.0.0"}, Source: srcContainer + "461-509 (nested ip default 0.0.0.0, protocol tcp; read from NetworkSettings.Ports, funcs.go:741)"},
			"healthcheck":         {Computed: true, Source: srcContainer + "862-913" + updNoop},
			"restart":             {Default: "no", Source: srcContainer + "218-224 (Update calls ContainerUpdate, funcs.go:931-981)"},
			"start":               {Default: true, Source: srcContainer + "60-65" + updNoop},
			"mustRun":             {Default: true, Source: srcContainer + "110-115" + updNoop},
			"wait":                {Default: false, Source: srcContainer + "67-72" + updNoop},
			"waitTimeout":         {Default: float64(60), Source: srcContainer + "74-79" + updNoop},
			"attach":              {Default: false, Source: srcContainer + "81-86" + updNoop},
			"logs":                {Default: false, Source: srcContainer + "88-93" + updNoop},
			"labels":              {Replace: true, Computed: true, Source: srcContainer + "672-679 (never read back)"},
			"capabilities":        {Replace: true, Source: srcContainer + "250-278 (adds/drops nested ForceNew)"},
			"stopSignal":          {Replace: true, Computed: true, Source: srcContainer + "295-301"},
			"stopTimeout":         {Replace: true, Computed: true, Source: srcContainer + "302-308"},
			"shmSize":             {Replace: true, Computed: true, Source: srcContainer + "702-709 (read back in MB: 64 when unset)"},
			"destroyGraceSeconds": {Source: srcContainer + "666-670" + updNoop},
			"logDriver":           {Replace: true, Computed: true, Source: srcContainer + "725-731"},
			"logOpts":             {Replace: true, Source: srcContainer + "733-738 (not Computed; read from HostConfig.LogConfig.Config incl. daemon defaults, funcs.go:845)"},
			// TF defaults the bridge's Check also fills (pulumi-terraform-bridge@v3.125.0 pkg/tfbridge/schema.go:880-930).
			"rm":                {Default: false, Source: srcContainer + "45-50" + updNoop},
			"readOnly":          {Replace: true, Default: false, Source: srcContainer + "52-58"},
			"removeVolumes":     {Default: true, Source: srcContainer + "244-249" + updNoop},
			"memoryReservation": {Default: float64(0), Source: srcContainer + "687-693 (Update calls ContainerUpdate)"},
			"tty":               {Replace: true, Default: false, Source: srcContainer + "949-955"},
			"stdinOpen":         {Replace: true, Default: false, Source: srcContainer + "956-962"},
			"containerReadRefreshTimeoutMilliseconds": {Default: float64(15000), Source: srcContainer + "915-920" + updNoop},
		},
		Outputs: []string{"exitCode", "containerLogs", "bridge", "networkDatas"},
	},

	// SDKv2, no Update function: everything replaces. An explicit name means
	// delete-before-replace (pulumi-terraform-bridge@v3.125.0 pkg/tfbridge/schema.go:195-250).
	"docker:index/network:Network": {
		Props: map[string]Prop{
			"name":        {Replace: true, Source: srcNetwork + "25-30" + autonamed},
			"driver":      {Replace: true, Computed: true, Source: srcNetwork + "48-54"},
			"ipamConfigs": {Replace: true, Computed: true, Source: srcNetwork + "107-145 (set; read back non-empty fields only, network_structures.go:11-39)"},
			"labels":      {Replace: true, Source: srcNetwork + "32-38 (read back, network_funcs.go:177)"},
			"internal":    {Replace: true, Computed: true, Source: srcNetwork + "64-70"},
			"ipamDriver":  {Replace: true, Default: "default", Source: srcNetwork + "93-99"},
		},
		Outputs: []string{"scope"},
	},

	// SDKv2. An explicit name means delete-before-replace, as for Network.
	"docker:index/volume:Volume": {
		Props: map[string]Prop{
			"name":       {Replace: true, Computed: true, Source: srcVolume + "41-47" + autonamed},
			"labels":     {Replace: true, Source: srcVolume + "48-54 (read back, 309)"},
			"driver":     {Replace: true, Computed: true, Source: srcVolume + "55-61"},
			"driverOpts": {Replace: true, Source: srcVolume + "62-67 (read back from volume.Options, 311)"},
		},
		Outputs: []string{"mountpoint"},
	},

	// SDKv2 docker_image. Not autonamed (pulumi-docker provider/resources.go:127-131),
	// so replacements are create-before-delete.
	"docker:index/remoteImage:RemoteImage": {
		Props: map[string]Prop{
			"name":        {Replace: true, Source: srcRemoteImage + "36-41"},
			"keepLocally": {Source: srcRemoteImage + "55-59 (Update = findImage + Read, resource_docker_image_funcs.go:130-144)"},
			"platform":    {Replace: true, Default: "", Source: srcRemoteImage + "90-96"},
		},
		Outputs: []string{"imageId", "repoDigest"},
	},

	// Native resource. Diff never replaces (provider.go:271-348). Check adds
	// build.contextDigest, build.platform, build.dockerfile and build.context
	// (provider.go:128-268). Read echoes the state back, Delete is a no-op
	// (provider.go:415-425, 490-495).
	"docker:index/image:Image": {
		Props: map[string]Prop{
			"imageName":      {Source: srcImageProvider + "271-348 (every change is an in-place UPDATE)"},
			"skipPush":       {Default: false, Source: srcImageSDK + "207-209 (Go SDK default; Diff UPDATE, provider.go:271-348)"},
			"build":          {Computed: true, Source: srcImageProvider + "144-237 (Check fills context \".\", dockerfile, platform linux/GOARCH, contextDigest; Diff UPDATE)"},
			"buildOnPreview": {Default: false, Source: srcImageProvider + "141-142 (Check fills false; Go SDK too, image.go:204-206)"},
		},
		Outputs: []string{"baseImageName", "context", "dockerfile", "platform", "registryServer", "repoDigest"},
	},

	"tls:index/privateKey:PrivateKey": {
		Props: map[string]Prop{
			"algorithm":  {Replace: true, Source: srcPrivateKey + "57-67"},
			"ecdsaCurve": {Replace: true, Default: "P224", Source: srcPrivateKey + "79-92" + pfDefault},
			"rsaBits":    {Replace: true, Default: float64(2048), Source: srcPrivateKey + "70-78" + pfDefault},
		},
		Outputs: []string{"privateKeyPem", "privateKeyPemPkcs8", "privateKeyOpenssh", "publicKeyPem", "publicKeyOpenssh", "publicKeyFingerprintMd5", "publicKeyFingerprintSha256"},
	},

	// ModifyPlan replaces once now >= validityEndTime - earlyRenewalHours
	// (internal/provider/common_cert.go:268-312).
	"tls:index/selfSignedCert:SelfSignedCert": {
		Props: map[string]Prop{
			"privateKeyPem":       {Replace: true, Source: srcSelfSigned + "52-62 (replaces if the state value is a PEM, common.go:53-65)"},
			"subject":             {Replace: true, Source: srcSelfSigned + "241-327"},
			"validityPeriodHours": {Replace: true, Source: srcSelfSigned + "63-72"},
			"earlyRenewalHours":   {Default: float64(0), Source: srcSelfSigned + "127-141 (not RequiresReplace; Update copies the plan)" + pfDefault},
			"isCaCertificate":     {Replace: true, Default: false, Source: srcSelfSigned + "142-150" + pfDefault},
			"allowedUses":         {Replace: true, Source: srcSelfSigned + "73-90"},
			"dnsNames":            {Replace: true, Source: srcSelfSigned + "93-100"},
			"ipAddresses":         {Replace: true, Source: srcSelfSigned + "101-113"},
			"setSubjectKeyId":     {Replace: true, Default: false, Source: srcSelfSigned + "164-173" + pfDefault},
			"setAuthorityKeyId":   {Replace: true, Default: false, Source: srcSelfSigned + "174-185" + pfDefault},
			"maxPathLength":       {Replace: true, Computed: true, Source: srcSelfSigned + "151-163 (UseStateForUnknown)"},
		},
		Outputs: []string{"certPem", "keyAlgorithm", "readyForRenewal", "validityEndTime", "validityStartTime"},
	},

	"tls:index/certRequest:CertRequest": {
		Props: map[string]Prop{
			"privateKeyPem": {Replace: true, Source: srcCertRequest + "43-53 (replaces if the state value is a PEM, common.go:53-65)"},
			"subject":       {Replace: true, Source: srcCertRequest + "122-208"},
			"dnsNames":      {Replace: true, Source: srcCertRequest + "56-63"},
			"ipAddresses":   {Replace: true, Source: srcCertRequest + "64-76"},
		},
		Outputs: []string{"certRequestPem", "keyAlgorithm"},
	},

	// Same renewal ModifyPlan as SelfSignedCert (resource_locally_signed_cert.go:308-310).
	"tls:index/locallySignedCert:LocallySignedCert": {
		Props: map[string]Prop{
			"certRequestPem":      {Replace: true, Source: srcLocallySigned + "68-75 (replaces if the state value is a PEM)"},
			"caPrivateKeyPem":     {Replace: true, Source: srcLocallySigned + "59-67 (replaces if the state value is a PEM)"},
			"caCertPem":           {Replace: true, Source: srcLocallySigned + "51-58 (replaces if the state value is a PEM)"},
			"validityPeriodHours": {Replace: true, Source: srcLocallySigned + "76-85"},
			"earlyRenewalHours":   {Default: float64(0), Source: srcLocallySigned + "128-142 (not RequiresReplace; Update copies the plan)" + pfDefault},
			"allowedUses":         {Replace: true, Source: srcLocallySigned + "86-103"},
			"isCaCertificate":     {Replace: true, Default: false, Source: srcLocallySigned + "106-114" + pfDefault},
			"setSubjectKeyId":     {Replace: true, Default: false, Source: srcLocallySigned + "143-152" + pfDefault},
			"maxPathLength":       {Replace: true, Computed: true, Source: srcLocallySigned + "115-127 (UseStateForUnknown)"},
		},
		Outputs: []string{"caKeyAlgorithm", "certPem", "readyForRenewal", "validityEndTime", "validityStartTime"},
	},

	// Read is a no-op (resource_password.go:93); Update copies the plan (97-107).
	"random:index/randomPassword:RandomPassword": {
		Props: map[string]Prop{
			"length":          {Replace: true, Source: srcPassword + "580-596"},
			"special":         {Replace: true, Default: true, Source: srcPassword + "598-606" + pfDefault},
			"overrideSpecial": {Replace: true, Source: srcPassword + "708-720 (RequiresReplaceIf: not when \"\" becomes null)"},
			"upper":           {Replace: true, Default: true, Source: srcPassword + "608-616" + pfDefault},
			"lower":           {Replace: true, Default: true, Source: srcPassword + "618-626" + pfDefault},
			"numeric":         {Replace: true, Default: true, Source: srcPassword + "649-666 (O+C; plan modifier sets true when numeric and number are unset)"},
			"number":          {Replace: true, Default: true, Source: srcPassword + "628-647 (deprecated; kept equal to numeric)"},
			"minNumeric":      {Replace: true, Default: float64(0), Source: srcPassword + "668-676" + pfDefault},
			"minUpper":        {Replace: true, Default: float64(0), Source: srcPassword + "678-686" + pfDefault},
			"minLower":        {Replace: true, Default: float64(0), Source: srcPassword + "688-696" + pfDefault},
			"minSpecial":      {Replace: true, Default: float64(0), Source: srcPassword + "698-706" + pfDefault},
			"keepers":         {Replace: true, Source: srcPassword + "570-578 (RequiresReplaceIfValuesNotNull)"},
		},
		Outputs: []string{"result", "bcryptHash"},
	},

	"random:index/randomUuid:RandomUuid": {
		Props: map[string]Prop{
			"keepers": {Replace: true, Source: srcUUID + "44-52 (RequiresReplaceIfValuesNotNull; Read no-op 105)"},
		},
		Outputs: []string{"result"},
	},

	"random:index/randomBytes:RandomBytes": {
		Props: map[string]Prop{
			"length":  {Replace: true, Source: srcBytes + "151-160"},
			"keepers": {Replace: true, Source: srcBytes + "142-150 (RequiresReplace; Read no-op 82)"},
		},
		Outputs: []string{"base64", "hex"},
	},
}
