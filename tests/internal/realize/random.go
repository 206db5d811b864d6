package realize

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

// RandomPassword is random:index/RandomPassword:RandomPassword (and the same
// rules as RandomString): character classes, overrideSpecial and minimums.
func RandomPassword(in *Fields) (resource.PropertyMap, []string, error) {
	length := in.Num("length", 0)
	classes := []struct {
		on    bool
		chars string
		min   int
	}{
		{in.Bool("upper", true), randUpper, in.Num("minUpper", 0)},
		{in.Bool("lower", true), randLower, in.Num("minLower", 0)},
		{in.Bool("numeric", true), randNumeric, in.Num("minNumeric", 0)},
		{in.Bool("special", true), in.Str("overrideSpecial", randSpecial), in.Num("minSpecial", 0)},
	}
	in.Known("number") // deprecated alias of numeric; read below
	if in.Has("number") {
		classes[2].on = in.Bool("number", true)
	}
	if err := in.Check(); err != nil {
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
	return Props(m, "result"), []string{res}, nil
}

// RandomUUID is random:index/randomUuid:RandomUuid (version 4).
func RandomUUID(in *Fields) (resource.PropertyMap, []string, error) {
	in.Known("keepers")
	if err := in.Check(); err != nil {
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
	return Props(map[string]any{"result": u}), []string{u}, nil
}

// RandomBytes is random:index/RandomBytes:RandomBytes.
func RandomBytes(in *Fields) (resource.PropertyMap, []string, error) {
	n := in.Num("length", 0)
	in.Known("keepers")
	if err := in.Check(); err != nil {
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
	return Props(map[string]any{"length": n, "base64": b64, "hex": hx}, "base64", "hex"), []string{b64, hx}, nil
}
