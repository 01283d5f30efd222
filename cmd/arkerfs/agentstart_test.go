package main

import "testing"

func TestIngressDial(t *testing.T) {
	cases := map[string]string{
		"http://127.0.0.1:8123": "127.0.0.1:8123",
		"http://localhost:9":    "localhost:9",
		"http://[::1]:7/api":    "[::1]:7",
		"http://127.0.0.1":      "127.0.0.1:80",
		"https://api.arker.dev": "",
		"https://10.0.0.1:8443": "",
		"::not a url":           "",
	}
	for in, want := range cases {
		if got := ingressDial(in); got != want {
			t.Errorf("ingressDial(%q) = %q, want %q", in, got, want)
		}
	}
}
