#!/usr/bin/env python3
"""A loopback Google Cloud for attest's tests.

In front of gcplocal (its Flask app, in process), which emulates Compute, Storage, IAM and
Resource Manager v1, this adds what a real scan meets and gcplocal lacks:

- an OAuth 2.0 token endpoint (`/token`) that verifies every service-account assertion with
  google-auth (`google.auth.jwt.decode`) against the test key's certificate: signature, `kid`,
  `iss`, `aud`, `scope`, `exp` at most an hour after `iat`; the refresh-token grant of gcloud
  user credentials; the metadata server's token (`Metadata-Flavor: Google`);
- bearer tokens checked on every API call (issued here, not expired);
- Resource Manager v3 `projects:search` and `projects/{id}`, answered from gcplocal's v1 projects;
- faults: forbidden_projects (403 PERMISSION_DENIED), throttle_once (paths answered 429
  RESOURCE_EXHAUSTED once), expire_after_calls, page_size (maxResults sent to gcplocal's lists);
- every answer checked against the official discovery documents (`../shared/vectors/gcp/discovery/`):
  a field the method's response schema does not have, or of another type, is logged as a
  `discovery` mismatch (GET /_peer/log) — tests assert there are none.

Usage: gcp_peer.py CONFIG.json   (prints "READY <port>"); POST /_peer/config merges settings.
Config: client_email, key_id, cert_pem, client_id, client_secret, refresh_token, discovery_dir,
seed (a list of {method, path, body} sent to gcplocal before serving), overrides (path → a JSON
body answered instead of gcplocal's, as the seed cannot set every field; checked like the rest),
extra_overrides (the same, set by a test at run time over the seed's).
"""
import json
import os
import re
import secrets
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.auth import jwt as google_jwt

import gcplocal.server

CONFIG = json.load(open(sys.argv[1]))
TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
LOCK = threading.Lock()
LOG = []
TOKENS = {}
THROTTLED = set()
APP = gcplocal.server.create_app()
CLIENT = APP.test_client()


def google_error(status, code, message, reason=None):
    return status, {"error": {"code": status, "message": message, "status": code,
                              "errors": [{"message": message, "domain": "global", "reason": reason or code.lower()}]}}, {}


def oauth_error(status, error, description):
    return status, {"error": error, "error_description": description}, {}


def issue(how, scope):
    token = "ya29.peer-" + secrets.token_hex(20)
    with LOCK:
        TOKENS[token] = {"calls": 0, "how": how, "scope": scope, "expires": time.time() + 3599}
    return 200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}, {}


def token_request(form, entry):
    grant = form.get("grant_type")
    entry["grant"] = grant
    if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
        assertion = form.get("assertion", "")
        try:
            header = google_jwt.decode_header(assertion)
            claims = google_jwt.decode(assertion, certs={CONFIG["key_id"]: CONFIG["cert_pem"]}, audience=TOKEN_AUDIENCE)
        except Exception as e:  # google-auth raises ValueError and its own errors
            return oauth_error(400, "invalid_grant", f"Invalid JWT Signature. ({type(e).__name__})")
        entry["header"] = header
        if header.get("alg") != "RS256" or header.get("kid") != CONFIG["key_id"]:
            return oauth_error(400, "invalid_grant", "Invalid JWT: the kid does not name a key of this service account.")
        if claims.get("iss") != CONFIG["client_email"]:
            return oauth_error(400, "invalid_grant", "Invalid JWT: iss is not this service account.")
        if claims["exp"] - claims["iat"] > 3600:
            return oauth_error(400, "invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.")
        scope = claims.get("scope", "")
        if "https://www.googleapis.com/auth/cloud-platform" not in scope:
            return oauth_error(400, "invalid_scope", "Invalid OAuth scope or ID token audience provided.")
        entry["verified"] = True
        return issue("service-account", scope)
    if grant == "refresh_token":
        if (form.get("client_id"), form.get("client_secret"), form.get("refresh_token")) != (
                CONFIG.get("client_id"), CONFIG.get("client_secret"), CONFIG.get("refresh_token")):
            return oauth_error(400, "invalid_grant", "Token has been expired or revoked.")
        return issue("authorized-user", form.get("scope", ""))
    return oauth_error(400, "unsupported_grant_type", f"Invalid grant_type: {grant}")


def v3_project(p):
    return {"name": f"projects/{p['projectNumber']}", "projectId": p["projectId"], "state": p.get("lifecycleState", "ACTIVE"),
            "displayName": p.get("name", p["projectId"]), "createTime": p.get("createTime"), "labels": p.get("labels", {}),
            "etag": "W/\"peer\""}


PROJECTS = []  # the project ids the seed created (gcplocal cannot list projects)


def resource_manager_v3(path, query):
    if path == "/v3/projects:search":
        projects = [CLIENT.get(f"/v1/projects/{p}").get_json() for p in PROJECTS if p not in CONFIG.get("hidden_projects", [])]
        size = int(CONFIG.get("page_size", 2))
        start = int(query.get("pageToken", "0") or 0)
        page = {"projects": [v3_project(p) for p in projects[start:start + size]]}
        if start + size < len(projects):
            page["nextPageToken"] = str(start + size)
        return 200, page, {}
    project = path[len("/v3/projects/"):]
    if project not in PROJECTS:
        return google_error(403, "PERMISSION_DENIED", f"Permission denied on resource project {project}.", "forbidden")
    return 200, v3_project(CLIENT.get(f"/v1/projects/{project}").get_json()), {}


# --- discovery documents ----------------------------------------------------------------------

DISCOVERY = {}
for name in ("compute.v1", "storage.v1", "iam.v1", "cloudresourcemanager.v1", "cloudresourcemanager.v3"):
    with open(os.path.join(CONFIG["discovery_dir"], name + ".json")) as f:
        DISCOVERY[name] = json.load(f)


def methods(doc):
    out = []

    def walk(resources):
        for resource in resources.values():
            for m in resource.get("methods", {}).values():
                out.append(m)
            walk(resource.get("resources", {}))
    walk(doc.get("resources", {}))
    return out


def route_pattern(base, template):
    """A discovery path template (`v1/projects/{projectsId}/serviceAccounts`, `b/{bucket}/iam`)
    as a regular expression over request paths; `{+name}` spans segments."""
    out = ""
    for literal, name in re.findall(r"([^{]*)(\{[^}]*\})?", template):
        out += re.escape(literal)
        if name:
            out += ".+" if name.startswith("{+") else "[^/]+"
    return re.compile("^" + re.escape(base + "/") + out + "$")


ROUTES = []
for name, doc in DISCOVERY.items():
    base = urllib.parse.urlsplit(doc["rootUrl"] + doc["servicePath"]).path.rstrip("/")
    for m in methods(doc):
        for template in {m.get("flatPath") or m["path"], m["path"]}:
            ROUTES.append((m["httpMethod"], route_pattern(base, template), doc, m.get("response", {}).get("$ref"),
                           name + " " + m["id"], len(re.sub(r"\{[^}]*\}", "", template))))


def schema_problems(doc, schema, value, where):
    if schema is None:
        return []
    if "$ref" in schema:
        return schema_problems(doc, doc["schemas"][schema["$ref"]], value, where)
    kind = schema.get("type")
    if value is None:
        return []
    if kind == "object":
        if not isinstance(value, dict):
            return [f"{where}: expected an object"]
        problems = []
        for key, child in value.items():
            if key in schema.get("properties", {}):
                problems += schema_problems(doc, schema["properties"][key], child, f"{where}.{key}")
            elif "additionalProperties" in schema:
                problems += schema_problems(doc, schema["additionalProperties"], child, f"{where}.{key}")
            else:
                problems.append(f"{where}.{key}: not in the schema")
        return problems
    if kind == "array":
        if not isinstance(value, list):
            return [f"{where}: expected an array"]
        return [p for i, item in enumerate(value) for p in schema_problems(doc, schema.get("items"), item, f"{where}[{i}]")]
    if kind == "string":
        return [] if isinstance(value, str) else [f"{where}: expected a string"]
    if kind == "integer":
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else [f"{where}: expected an integer"]
    if kind == "number":
        return [] if isinstance(value, (int, float)) and not isinstance(value, bool) else [f"{where}: expected a number"]
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"{where}: expected a boolean"]
    return []


def check_discovery(method, path, status, body, entry):
    if not (200 <= status < 300):
        return
    matches = [r for r in ROUTES if r[0] == method and r[1].match(path)]
    if not matches:
        entry["discovery"] = ["no discovery method matches this path"]
        return
    # The most specific template (the longest literal part) is the method.
    _, _, doc, ref, method_id, _ = max(matches, key=lambda r: r[5])
    entry["discovery_method"] = method_id
    problems = schema_problems(doc, {"$ref": ref} if ref else None, body, ref or "response")
    if problems:
        entry["discovery"] = problems[:20]


# --- the server -------------------------------------------------------------------------------

def api_call(method, path, query, headers, body, entry):
    auth = headers.get("Authorization", "")
    token = auth[7:] if auth.startswith("Bearer ") else None
    with LOCK:
        record = TOKENS.get(token)
        if record is None:
            return google_error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials. Expected OAuth 2 access token.", "authError")
        if CONFIG.get("expire_after_calls") and record["calls"] >= CONFIG["expire_after_calls"]:
            entry["expired"] = True
            return google_error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.", "authError")
        record["calls"] += 1
        if path in CONFIG.get("throttle_once", []) and path not in THROTTLED:
            THROTTLED.add(path)
            entry["throttled"] = True
            return google_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded for quota metric 'Read requests' and limit 'Read requests per minute'.", "rateLimitExceeded")
    project = re.search(r"/projects/([^/:]+)", path)
    project = project.group(1) if project else query.get("project")
    entry["project"] = project
    if project in CONFIG.get("forbidden_projects", []):
        return google_error(403, "PERMISSION_DENIED", f"The caller does not have permission (project {project}).", "forbidden")
    if path.startswith("/v3/projects"):
        return resource_manager_v3(path, query)
    override = CONFIG.get("extra_overrides", {}).get(path) or CONFIG.get("overrides", {}).get(path)
    if override is not None:
        return 200, override, {}
    if method == "GET" and "maxResults" not in query and CONFIG.get("page_size"):
        query = dict(query, maxResults=str(CONFIG["page_size"]))
    url = path + ("?" + urllib.parse.urlencode(query) if query else "")
    response = CLIENT.open(url, method=method, data=body or None, content_type="application/json" if body else None)
    try:
        answer = response.get_json()
    except Exception:
        answer = None
    return response.status_code, answer if answer is not None else {}, {}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def handle_any(self, method):
        parsed = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(parsed.query, keep_blank_values=True))
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = urllib.parse.unquote(parsed.path)
        entry = {"method": method, "path": path, "query": {k: v for k, v in query.items() if k != "pageToken"},
                 "page_token": query.get("pageToken")}
        if path == "/_peer/config" and method == "POST":
            CONFIG.update(json.loads(body or b"{}"))
            return self.reply(200, {"ok": True}, {})
        if path == "/_peer/log":
            with LOCK:
                return self.reply(200, LOG, {})
        if path == "/token" and method == "POST":
            entry["kind"] = "token"
            status, answer, headers = token_request(dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True)), entry)
        elif path == "/computeMetadata/v1/instance/service-accounts/default/token":
            entry["kind"] = "metadata"
            if self.headers.get("Metadata-Flavor") != "Google":
                status, answer, headers = 403, {"error": "Missing Metadata-Flavor:Google header."}, {}
            else:
                status, answer, headers = issue("metadata", query.get("scopes", ""))
        else:
            entry["kind"] = "api"
            status, answer, headers = api_call(method, path, query, self.headers, body, entry)
            check_discovery(method, path, status, answer, entry)
        entry["status"] = status
        with LOCK:
            LOG.append(entry)
        self.reply(status, answer, headers)

    def reply(self, status, answer, headers):
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")


for call in CONFIG.get("seed", []):
    r = CLIENT.open(call["path"], method=call.get("method", "POST"), json=call.get("body", {}))
    if r.status_code >= 300:
        sys.exit(f"seeding {call['path']} failed: {r.status_code} {r.get_data(as_text=True)[:200]}")
    if call["path"] == "/v1/projects":
        PROJECTS.append(call["body"]["projectId"])

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"READY {server.server_address[1]}", flush=True)
server.serve_forever()
