package e2e

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/big"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

const (
	randUpper   = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	randLower   = "abcdefghijklmnopqrstuvwxyz"
	randNumeric = "0123456789"
	// randSpecial is the provider's default special set.
	randSpecial = "!@#$%&*()-_=+[]{}<>:?"
)

func randIndex(n int) (int, error) {
	i, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		return 0, err
	}
	return int(i.Int64()), nil
}

// randomPassword is random:index/randomPassword:RandomPassword (and the same
// rules as RandomString): character classes, overrideSpecial and minimums.
func randomPassword(in *fields) (resource.PropertyMap, []string, error) {
	length := in.num("length", 0)
	classes := []struct {
		on    bool
		chars string
		min   int
	}{
		{in.boolean("upper", true), randUpper, in.num("minUpper", 0)},
		{in.boolean("lower", true), randLower, in.num("minLower", 0)},
		{in.boolean("numeric", true), randNumeric, in.num("minNumeric", 0)},
		{in.boolean("special", true), in.str("overrideSpecial", randSpecial), in.num("minSpecial", 0)},
	}
	in.known("number") // deprecated alias of numeric; read below
	if in.has("number") {
		classes[2].on = in.boolean("number", true)
	}
	if err := in.check(); err != nil {
		return nil, nil, err
	}
	if length < 1 {
		return nil, nil, fmt.Errorf("length must be at least 1, got %d", length)
	}
	var all string
	var out []byte
	for _, c := range classes {
		if !c.on {
			continue
		}
		all += c.chars
		for i := 0; i < c.min; i++ {
			j, err := randIndex(len(c.chars))
			if err != nil {
				return nil, nil, err
			}
			out = append(out, c.chars[j])
		}
	}
	if all == "" {
		return nil, nil, fmt.Errorf("every character class is off")
	}
	for len(out) < length {
		j, err := randIndex(len(all))
		if err != nil {
			return nil, nil, err
		}
		out = append(out, all[j])
	}
	// Shuffle so that the minimums are not at the front.
	for i := len(out) - 1; i > 0; i-- {
		j, err := randIndex(i + 1)
		if err != nil {
			return nil, nil, err
		}
		out[i], out[j] = out[j], out[i]
	}
	res := string(out)
	m := map[string]any{}
	for k, v := range in.m {
		m[k] = v
	}
	m["result"] = res
	return props(m, "result"), []string{res}, nil
}

// randomUUID is random:index/randomUuid:RandomUuid (version 4).
func randomUUID(in *fields) (resource.PropertyMap, []string, error) {
	in.known("keepers")
	if err := in.check(); err != nil {
		return nil, nil, err
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, nil, err
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	u := h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
	// Not secret, as the provider has it: the program wraps token IDs.
	return props(map[string]any{"result": u}), []string{u}, nil
}

// randomBytes is random:index/randomBytes:RandomBytes.
func randomBytes(in *fields) (resource.PropertyMap, []string, error) {
	n := in.num("length", 0)
	in.known("keepers")
	if err := in.check(); err != nil {
		return nil, nil, err
	}
	if n < 1 {
		return nil, nil, fmt.Errorf("length must be at least 1, got %d", n)
	}
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return nil, nil, err
	}
	b64, hx := base64.StdEncoding.EncodeToString(b), hex.EncodeToString(b)
	return props(map[string]any{"length": n, "base64": b64, "hex": hx}, "base64", "hex"), []string{b64, hx}, nil
}
