package templates

import (
	"embed"
	"io/fs"
)

// The Dockerfiles of our images. Docker builds them from disk; they are
// embedded so the program can hash a build context wherever it runs.
//
//go:embed images
var images embed.FS

// ImageFiles returns the files of images/<name> by path.
func ImageFiles(name string) (map[string][]byte, error) {
	out := map[string][]byte{}
	err := fs.WalkDir(images, "images/"+name, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := images.ReadFile(p)
		out[p] = b
		return err
	})
	return out, err
}
