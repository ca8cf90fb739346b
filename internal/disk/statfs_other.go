//go:build !unix

package disk

func statfs(string) (Usage, error) { return Usage{}, ErrUnsupported }
