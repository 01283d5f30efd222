package agent

import "path"

// within reports whether p is root or below it, comparing whole
// components (/home/user2 is not below /home/user). Both must be clean
// absolute paths; p is anyway checked to be one.
func within(root, p string) bool {
	if len(p) == 0 || p[0] != '/' || path.Clean(p) != p {
		return false
	}
	switch {
	case root == "/" || p == root:
		return true
	case len(p) > len(root) && p[:len(root)] == root && p[len(root)] == '/':
		return true
	}
	return false
}
