package apispec

import "fmt"

// Canned bodies of the published shapes.

const ts = "2026-09-11T12:00:00Z"

// typedErr is a lineage A error envelope for code, answering operation op
// ("" for an unmatched request); details is a JSON object or "".
func typedErr(code, op, details string) string {
	req := `{"kind":"matched","operation_id":"` + op + `"}`
	if op == "" {
		req = `{"kind":"unmatched","method":"POST"}`
	}
	d := ""
	if details != "" {
		d = `,"details":` + details
	}
	return fmt.Sprintf(`{"error":{"code":%q,"message":"m","timestamp":%q,"request_id":"req-1","request":%s%s}}`,
		code, ts, req, d)
}

// flatErr is a lineage B error envelope.
func flatErr(code string) string {
	return fmt.Sprintf(`{"error":{"code":%q,"message":"m","timestamp":%q}}`, code, ts)
}

const (
	healthOK   = `{"status":"ok","timestamp":"` + ts + `"}`
	whoamiBody = `{"org_id":"org_1","org_name":"Org"}`
	sessionMin = `{"session_id":"s1","state":"idle","cwd":"/home/user"}`
	sessionAll = `{"session_id":"s1","session_idx":7300,"state":"running","cwd":"/home/user",` +
		`"env":{"A":"1"},"started_at":"` + ts + `","vm_id":"vm1","vm_name":"box","source_org_id":null,` +
		`"region":"us-west-2","provider":"aws"}`
	vmBody = `{"vm_id":"vm1","owner_org_id":"org_1","created_at":"` + ts + `","description":null,` +
		`"public":false,"state":"idle","sessions":[` + sessionMin + `],` +
		`"resources":{"vcpu":2,"memory_mib":4096,"disk_mib":10240},"network":{},` +
		`"name":"box","hostname":null,"region":"us-west-2","provider":"aws","last_active_at":null,` +
		`"platform":"x86_64","root_source_vm_id":null,"root_source_vm_name":null}`

	readInline    = `{"ok":true,"op":"read","path":"/home/user/a","size":3,"content":"abc","encoding":"utf8"}`
	readPresigned = `{"ok":true,"op":"read","path":"/home/user/big","size":9000000,` +
		`"presigned_url":"http://127.0.0.1/_emulator/presigned/t","expires_in":300,"method":"GET"}`
	writeResult = `{"ok":true,"op":"write","results":[{"path":"/home/user/a","size":3,` +
		`"received_bytes":3,"ranges":[{"start":0,"end":3}],"complete":true,"written":true}]}`
	manifestBody = `{"root":"/home/user/d","hash_algo":"sha256","entries":[{"path":"x/a.txt","size":3,` +
		`"mode":33188,"hash":"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"}],"truncated":false}`
	streamBody = `{"ok":true,"op":"write_stream","path":"/home/user/big","size":5,"complete":true,"written":true}`

	readReq     = `{"op":"read","path":"/home/user/a"}`
	manifestReq = `{"op":"manifest","path":"/home/user/d"}`
	writeReq    = `{"op":"write","writes":[{"path":"/home/user/a","size":3,"upload_id":"01J9Z8Y7X6W5V4T3S2R1Q0P9N8",` +
		`"content":"YWJj","start":0,"end":3,"sha256":"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad","is_secret":false}]}`

	runReqAll = `{"session_id":null,"session_idx":7300,"command":"true","timeout":30,"time_to_background":300,` +
		`"queueing_timeout":0,"end_symbol":"auto","vcpu_count":2,"memory_mib":1024,"disk_mib":2048,` +
		`"memory_backend":"file","policies":{"policies":[{"type":"outbound","action":"allow"}]}}`
	runDone = `{"stdout":"hi\n","stdout_encoding":"utf-8","stderr":"","stderr_encoding":"utf-8","exit_code":0,` +
		`"session_id":"s1","run_id":"r1","state":"completed"}`
	runBackground = `{"run_id":"r1","session_id":"s1","state":"running"}`
	runRecord     = `{"run_id":"r1","state":"failed","started_at":"` + ts + `","completed_at":"` + ts + `",` +
		`"exit_code":-9,"stdout":"","stdout_encoding":"utf-8","stderr":"","stderr_encoding":"base64",` +
		`"session_id":"s1","command":"sleep 9","fail_reason":"timeout","retry_count":0,"vm_id":"vm1","vm_name":"box"}`
	runList = `{"runs":[{"run_id":"r1","state":"running","started_at":"` + ts + `","exit_code":null}],"next_cursor":null}`
)
