// Package docs holds the project's documentation and the machine-checked
// contract of the Arker API that arkerfs speaks (arker-api.yaml, OpenAPI
// 3.0.3). Package apispec loads the contract from here; PROTOCOL.md is its
// prose companion.
package docs

import _ "embed"

// ArkerAPI is arker-api.yaml: the Arker HTTP API as arkerfs uses it, both
// lineages, with lineage-only parts marked x-arker-lineage.
//
//go:embed arker-api.yaml
var ArkerAPI []byte
