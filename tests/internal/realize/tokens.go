package realize

// Type tokens realize makes real.
const (
	TokPrivateKey        = "tls:index/privateKey:PrivateKey"
	TokSelfSignedCert    = "tls:index/selfSignedCert:SelfSignedCert"
	TokCertRequest       = "tls:index/certRequest:CertRequest"
	TokLocallySignedCert = "tls:index/locallySignedCert:LocallySignedCert"
	TokRandomPassword    = "random:index/randomPassword:RandomPassword"
	TokRandomUUID        = "random:index/randomUuid:RandomUuid"
	TokRandomBytes       = "random:index/randomBytes:RandomBytes"
	TokNetwork           = "docker:index/network:Network"
	TokVolume            = "docker:index/volume:Volume"
	TokRemoteImage       = "docker:index/remoteImage:RemoteImage"
	TokImage             = "docker:index/image:Image"
	TokContainer         = "docker:index/container:Container"
)
