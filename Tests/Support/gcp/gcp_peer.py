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
import urllib.error
import urllib.parse
import urllib.request
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


def sts_exchange(form, entry):
    """Google's Security Token Service: an RFC 8693 exchange of the configured subject token."""
    entry["grant"] = form.get("grant_type")
    entry["sts_scope"] = form.get("scope")
    if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:token-exchange":
        return oauth_error(400, "invalid_request", "Invalid value for \"grant_type\".")
    if form.get("requested_token_type") != "urn:ietf:params:oauth:token-type:access_token":
        return oauth_error(400, "invalid_request", "Invalid value for \"requested_token_type\".")
    if form.get("audience") != CONFIG.get("wif_audience"):
        return oauth_error(400, "invalid_target", "The target service indicated by the \"audience\" parameters is invalid.")
    if form.get("subject_token_type") != CONFIG.get("subject_token_type"):
        return oauth_error(400, "invalid_request", "Invalid value for \"subject_token_type\".")
    if not CONFIG.get("subject_token") or form.get("subject_token") != CONFIG["subject_token"]:
        return oauth_error(400, "invalid_grant", "The provided subject token is invalid.")
    entry["verified"] = True
    status, answer, headers = issue("federated", form.get("scope", ""))
    answer["issued_token_type"] = "urn:ietf:params:oauth:token-type:access_token"
    return status, answer, headers


def generate_access_token(path, headers, body, entry):
    """IAM Credentials generateAccessToken: a caller token issued here, allowed to impersonate the account."""
    auth = headers.get("Authorization", "")
    token = auth[7:] if auth.startswith("Bearer ") else None
    with LOCK:
        record = TOKENS.get(token)
    if record is None:
        return google_error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.", "authError")
    if "https://www.googleapis.com/auth/cloud-platform" not in record["scope"].split():
        return google_error(403, "PERMISSION_DENIED", "Request had insufficient authentication scopes.", "insufficientPermissions")
    email = path.split("/serviceAccounts/")[-1].split(":")[0]
    entry["impersonated"] = email
    entry["caller"] = record["how"]
    if email not in CONFIG.get("impersonable", []):
        return google_error(403, "PERMISSION_DENIED", "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).", "forbidden")
    request = json.loads(body or b"{}")
    if not request.get("scope"):
        return google_error(400, "INVALID_ARGUMENT", "Request contains an invalid argument.", "badRequest")
    _, answer, _ = issue("impersonated:" + email, " ".join(request["scope"]))
    return 200, {"accessToken": answer["access_token"], "expireTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))}, {}


def v3_project(p):
    number = CONFIG.get("project_numbers", {}).get(p["projectId"], p["projectNumber"])
    return {"name": f"projects/{number}", "projectId": p["projectId"], "state": p.get("lifecycleState", "ACTIVE"),
            **({"parent": CONFIG["project_parents"][p["projectId"]]} if p["projectId"] in CONFIG.get("project_parents", {}) else {}),
            "displayName": p.get("name", p["projectId"]), "createTime": p.get("createTime"), "labels": p.get("labels", {}),
            "etag": "W/\"peer\""}


PROJECTS = []  # the project ids the seed created (gcplocal cannot list projects)


def paged(key, values, query):
    size = int(CONFIG.get("page_size", 2))
    start = int(query.get("pageToken", "0") or 0)
    page = {key: values[start:start + size]} if values[start:start + size] else {}
    if start + size < len(values):
        page["nextPageToken"] = str(start + size)
    return 200, page, {}


def resource_manager_v3(method, path, query):
    if path == "/v3/folders:search":
        if CONFIG.get("forbid_folder_search"):
            return google_error(403, "PERMISSION_DENIED", "The caller does not have permission", "forbidden")
        return paged("folders", [dict(f, state=f.get("state", "ACTIVE")) for f in CONFIG.get("folders", [])], query)
    if path == "/v3/organizations:search":
        return paged("organizations", [dict(o, state=o.get("state", "ACTIVE")) for o in CONFIG.get("organizations", [])], query)
    if path.startswith("/v3/organizations/"):
        name = path[len("/v3/"):].split(":")[0]
        org = next((o for o in CONFIG.get("organizations", []) if o["name"] == name), None)
        if org is None:
            return google_error(403, "PERMISSION_DENIED", f"Permission denied on resource '{name}' (or it may not exist).", "forbidden")
        if path.endswith(":getIamPolicy"):
            return 200, CONFIG.get("organization_policies", {}).get(name, {"version": 1, "etag": "BwUjHYKJUiQ="}), {}
        return 200, dict(org, state=org.get("state", "ACTIVE")), {}
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


def fallback(method, path, api):
    """An API gcplocal does not emulate, asked for something no override gives: an empty list
    (Google leaves empty lists out), or NOT_FOUND for one resource."""
    match = discovery_method(method, path, api)
    if match and re.search(r"\.(list|aggregatedList|search)$", match[4]):
        return 200, {}, {}
    if match and match[4].endswith(".getEffectivePolicy"):
        # No policy set anywhere above: the constraint's default, a policy without rules.
        return 200, {"name": path[len("/v2/"):].split(":")[0]}, {}
    return google_error(404, "NOT_FOUND", f"The resource {path} was not found.", "notFound")


# --- discovery documents ----------------------------------------------------------------------

DISCOVERY = {}
for file in sorted(os.listdir(CONFIG["discovery_dir"])):
    if file.endswith(".json"):
        with open(os.path.join(CONFIG["discovery_dir"], file)) as f:
            DISCOVERY[file[:-5]] = json.load(f)
# The APIs gcplocal emulates (the rest are answered from overrides, or empty); the document each
# API's calls are checked against.
EMULATED = {"compute", "storage", "iam", "cloudresourcemanager", "sqladmin"}


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
                           name + " " + m["id"], len(re.sub(r"\{[^}]*\}", "", template)), doc["name"]))


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


def discovery_method(method, path, api):
    """The discovery method serving a request: among the API's (or, without one, every API's)
    methods whose template matches, the most specific (the longest literal part)."""
    matches = [r for r in ROUTES if r[0] == method and r[1].match(path) and (api is None or r[6] == api)]
    return max(matches, key=lambda r: r[5]) if matches else None


# APIs attest calls whose discovery documents are not among the vectors: their answers (the
# seed's) cannot be checked, and the log says so.
UNCHECKED = {"essentialcontacts"}


def check_discovery(method, path, status, body, entry):
    if not (200 <= status < 300):
        return
    if entry.get("api") in UNCHECKED:
        entry["discovery_unchecked"] = "no discovery document for this API among the vectors"
        return
    match = discovery_method(method, path, entry.get("api"))
    if match is None:
        entry["discovery"] = ["no discovery method matches this path"]
        return
    _, _, doc, ref, method_id, _, _ = match
    entry["discovery_method"] = method_id
    problems = schema_problems(doc, {"$ref": ref} if ref else None, body, ref or "response")
    if problems:
        entry["discovery"] = problems[:20]


# --- Cloud Asset Inventory ----------------------------------------------------------------------
# assets.list built from what the per-API lists answer (overrides, fallbacks, gcplocal), so a scan
# through Asset Inventory and one through the APIs must see the same estate.

def whole_list(api, path, key, query=None):
    """Every item of a per-API list, all pages (gcplocal's lists unpaged)."""
    query = dict(query or {}, maxResults="500")
    status, answer, _ = serve("GET", path, query, b"", api)
    if status != 200:
        return []
    if key.startswith("agg:"):
        field = key[4:]
        return [item for scope in sorted((answer.get("items") or {}).keys()) for item in (answer["items"][scope].get(field) or [])]
    return answer.get(key) or []


def number_of(project):
    return CONFIG.get("project_numbers", {}).get(project) or project


def assets_of(asset_type, project):
    """(full name, location, data) for every resource of the type."""
    compute = "https://www.googleapis.com/compute/v1/projects/"
    def computed(path, key):
        out = []
        for item in whole_list("compute", path, key):
            link = item.get("selfLink", "")
            place = (item.get("zone") or item.get("region") or "global").rsplit("/", 1)[-1]
            out.append(("//compute.googleapis.com/" + link.split("/compute/v1/", 1)[-1], place, item))
        return out
    p = project
    if asset_type == "compute.googleapis.com/Network":
        return computed(f"/compute/v1/projects/{p}/global/networks", "items")
    if asset_type == "compute.googleapis.com/Firewall":
        return computed(f"/compute/v1/projects/{p}/global/firewalls", "items")
    if asset_type == "compute.googleapis.com/Subnetwork":
        return computed(f"/compute/v1/projects/{p}/aggregated/subnetworks", "agg:subnetworks")
    if asset_type == "compute.googleapis.com/Instance":
        return computed(f"/compute/v1/projects/{p}/aggregated/instances", "agg:instances")
    if asset_type == "compute.googleapis.com/Disk":
        return computed(f"/compute/v1/projects/{p}/aggregated/disks", "agg:disks")
    if asset_type == "storage.googleapis.com/Bucket":
        return [(f"//storage.googleapis.com/{b['name']}", b.get("location", "").lower(), b)
                for b in whole_list("storage", "/storage/v1/b", "items", {"project": p, "projection": "full"})]
    if asset_type == "iam.googleapis.com/ServiceAccount":
        return [(f"//iam.googleapis.com/{a['name']}", "global", a) for a in whole_list("iam", f"/v1/projects/{p}/serviceAccounts", "accounts")]
    if asset_type == "sqladmin.googleapis.com/Instance":
        return [(f"//cloudsql.googleapis.com/projects/{p}/instances/{i['name']}", i.get("region", ""), i)
                for i in whole_list("sqladmin", f"/v1/projects/{p}/instances", "items")]
    if asset_type in ("cloudkms.googleapis.com/KeyRing", "cloudkms.googleapis.com/CryptoKey"):
        out = []
        for location in whole_list("cloudkms", f"/v1/projects/{p}/locations", "locations"):
            for ring in whole_list("cloudkms", f"/v1/{location['name']}/keyRings", "keyRings"):
                if asset_type.endswith("KeyRing"):
                    out.append(("//cloudkms.googleapis.com/" + ring["name"], location["locationId"], ring))
                else:
                    out += [("//cloudkms.googleapis.com/" + k["name"], location["locationId"], k)
                            for k in whole_list("cloudkms", f"/v1/{ring['name']}/cryptoKeys", "cryptoKeys")]
        return out
    simple = {
        "logging.googleapis.com/LogSink": ("logging", f"/v2/projects/{p}/sinks", "sinks", "logging.googleapis.com/projects/{p}/sinks/"),
        "logging.googleapis.com/LogMetric": ("logging", f"/v2/projects/{p}/metrics", "metrics", "logging.googleapis.com/projects/{p}/metrics/"),
        "monitoring.googleapis.com/AlertPolicy": ("monitoring", f"/v3/projects/{p}/alertPolicies", "alertPolicies", "monitoring.googleapis.com/"),
        "container.googleapis.com/Cluster": ("container", f"/v1/projects/{p}/locations/-/clusters", "clusters", "container.googleapis.com/projects/{p}/locations/-/clusters/"),
        "dns.googleapis.com/ManagedZone": ("dns", f"/dns/v1/projects/{p}/managedZones", "managedZones", "dns.googleapis.com/projects/{p}/managedZones/"),
        "dns.googleapis.com/Policy": ("dns", f"/dns/v1/projects/{p}/policies", "policies", "dns.googleapis.com/projects/{p}/policies/"),
    }
    if asset_type in simple:
        api, path, key, prefix = simple[asset_type]
        return [("//" + prefix.format(p=p) + item.get("name", ""), item.get("location", "global"), item) for item in whole_list(api, path, key)]
    if asset_type == "bigquery.googleapis.com/Dataset":
        out = []
        for d in whole_list("bigquery", f"/bigquery/v2/projects/{p}/datasets", "datasets"):
            ds = d["datasetReference"]["datasetId"]
            status, full, _ = serve("GET", f"/bigquery/v2/projects/{p}/datasets/{ds}", {}, b"", "bigquery")
            out.append((f"//bigquery.googleapis.com/projects/{p}/datasets/{ds}", d.get("location", ""), full if status == 200 else d))
        return out
    return []


def ancestry(parent):
    parents = {f["name"]: f["parent"] for f in CONFIG.get("folders", [])}
    out = []
    while parent and parent not in out:
        out.append(parent)
        parent = parents.get(parent)
    return out


def asset_inventory(path, multi, query):
    m = re.match(r"^/v1/projects/([^/]+)/assets$", path)
    if not m:
        return google_error(404, "NOT_FOUND", f"The resource {path} was not found.", "notFound")
    if CONFIG.get("asset_inventory_disabled"):
        return google_error(403, "PERMISSION_DENIED", "Cloud Asset API has not been used in project before or it is disabled.", "SERVICE_DISABLED")
    number = m.group(1)
    project = next((p for p, n in CONFIG.get("project_numbers", {}).items() if n == number), number)
    if query.get("contentType") != "RESOURCE":
        return google_error(400, "INVALID_ARGUMENT", "contentType must be RESOURCE here.", "badRequest")
    assets = []
    for asset_type in sorted(multi.get("assetTypes", [])):
        for name, location, data in assets_of(asset_type, project):
            assets.append({
                "name": name, "assetType": asset_type, "updateTime": "2026-11-30T08:00:00.000000Z",
                "ancestors": [f"projects/{number}"] + ancestry(CONFIG.get("project_parents", {}).get(project)),
                "resource": {"version": "v1", "discoveryName": asset_type.split("/")[-1],
                             "discoveryDocumentUri": f"https://{asset_type.split('/')[0]}/$discovery/rest",
                             "parent": f"//cloudresourcemanager.googleapis.com/projects/{number}", "location": location, "data": data}})
    size = int(query.get("pageSize") or 100)
    size = min(size, int(CONFIG.get("asset_page_size", size)))
    start = int(query.get("pageToken", "0") or 0)
    page = {"readTime": "2026-11-30T08:00:00.000000Z", "assets": assets[start:start + size]}
    if start + size < len(assets):
        page["nextPageToken"] = str(start + size)
    return 200, page, {}


# --- the server -------------------------------------------------------------------------------

def api_call(method, path, query, headers, body, entry):
    api = entry.get("api")
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
        entry["token_how"] = record["how"]
        if path in CONFIG.get("throttle_once", []) and path not in THROTTLED:
            THROTTLED.add(path)
            entry["throttled"] = True
            return google_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded for quota metric 'Read requests' and limit 'Read requests per minute'.", "rateLimitExceeded")
    project = re.search(r"/projects/([^/:]+)", path)
    project = project.group(1) if project else query.get("project")
    entry["project"] = project
    if project in CONFIG.get("forbidden_projects", []) or project in [CONFIG.get("project_numbers", {}).get(p) for p in CONFIG.get("forbidden_projects", [])]:
        return google_error(403, "PERMISSION_DENIED", f"The caller does not have permission (project {project}).", "forbidden")
    if path.endswith(":testIamPermissions") and api in (None, "cloudresourcemanager"):
        asked = json.loads(body or b"{}").get("permissions", [])
        held = [p for p in asked if p not in CONFIG.get("denied_permissions", [])]
        return 200, ({"permissions": held} if held else {}), {}
    if api == "cloudasset":
        return asset_inventory(path, entry.get("multi_query", {}), query)
    return serve(method, path, query, body, api)


STORAGE_UPSTREAM = None  # gcp-storage-emulator's base URL, when the config asks for it


def upstream(method, path, query, body):
    """A Cloud Storage call answered by gcp-storage-emulator instead of gcplocal."""
    url = STORAGE_UPSTREAM + path + ("?" + urllib.parse.urlencode(query) if query else "")
    request = urllib.request.Request(url, data=body or None, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, json.loads(r.read() or b"{}"), {}
    except urllib.error.HTTPError as e:
        try:
            answer = json.loads(e.read() or b"{}")
        except ValueError:
            answer = {}
        return e.code, answer, {}


def serve(method, path, query, body, api):
    """An API answer past the token and fault checks: Resource Manager v3, an override, the
    fallback for an API gcplocal lacks, gcp-storage-emulator for Cloud Storage when configured,
    or gcplocal itself."""
    if STORAGE_UPSTREAM and api in (None, "storage") and path.startswith("/storage/v1/"):
        return upstream(method, path, query, body)
    if api in (None, "cloudresourcemanager") and path.startswith(("/v3/projects", "/v3/folders", "/v3/organizations")):
        return resource_manager_v3(method, path, query)
    override = CONFIG.get("extra_overrides", {}).get(path) or CONFIG.get("overrides", {}).get(path)
    if override is not None:
        if isinstance(override, dict) and "_status" in override:
            return google_error(override["_status"], override["_code"], override["_message"], override.get("_reason"))
        return 200, override, {}
    if api in UNCHECKED:
        return 200, {}, {}
    if api is not None and api not in EMULATED:
        return fallback(method, path, api)
    if api == "sqladmin":
        path = "/sql/v1beta4" + path[len("/v1"):]
    if method == "GET" and "maxResults" not in query and CONFIG.get("page_size"):
        query = dict(query, maxResults=str(CONFIG["page_size"]))
    url = path + ("?" + urllib.parse.urlencode(query) if query else "")
    response = CLIENT.open(url, method=method, data=body or None, content_type="application/json" if body else None)
    try:
        answer = response.get_json()
    except Exception:
        answer = None
    if response.status_code == 404 and "no handler" in json.dumps(answer):
        # A method gcplocal does not implement (aggregated disks): answered as a real project without any.
        return fallback(method, path, api)
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
        api = None
        prefixed = re.match(r"^/_api/([a-z0-9]+)(/.*)$", path)
        if prefixed:
            api, path = prefixed.group(1), prefixed.group(2)
        entry = {"method": method, "path": path, "query": {k: v for k, v in query.items() if k != "pageToken"},
                 "page_token": query.get("pageToken"), "api": api,
                 "multi_query": urllib.parse.parse_qs(parsed.query, keep_blank_values=True)}
        if path == "/_peer/config" and method == "POST":
            CONFIG.update(json.loads(body or b"{}"))
            return self.reply(200, {"ok": True}, {})
        if path == "/_peer/log":
            with LOCK:
                return self.reply(200, LOG, {})
        if path == "/token" and method == "POST":
            entry["kind"] = "token"
            status, answer, headers = token_request(dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True)), entry)
        elif path == "/v1/token" and method == "POST" and api in (None, "sts"):
            entry["kind"] = "sts"
            status, answer, headers = sts_exchange(dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True)), entry)
        elif path.endswith(":generateAccessToken") and method == "POST" and api in (None, "iamcredentials"):
            entry["kind"] = "impersonation"
            status, answer, headers = generate_access_token(path, self.headers, body, entry)
        elif path == "/subject-token":
            entry["kind"] = "subject-token"
            if self.headers.get("Metadata") != "True":
                status, answer, headers = 400, {"error": "Metadata: True header required"}, {}
            else:
                status, answer, headers = 200, {"access_token": CONFIG.get("subject_token", "")}, {}
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


if CONFIG.get("storage_emulator"):
    # gcp-storage-emulator (PyPI), in process on its own loopback port, seeded with its own calls.
    import socket
    from gcp_storage_emulator.server import create_server
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    emulator_port = probe.getsockname()[1]
    probe.close()
    EMULATOR = create_server("127.0.0.1", emulator_port, in_memory=True, project_number=CONFIG.get("storage_emulator_project_number"))
    EMULATOR.start()
    STORAGE_UPSTREAM = f"http://127.0.0.1:{emulator_port}"
    for call in CONFIG.get("storage_emulator_seed", []):
        status, answer, _ = upstream(call.get("method", "POST"), call["path"].split("?")[0],
                                     dict(urllib.parse.parse_qsl(call["path"].split("?")[1])) if "?" in call["path"] else {},
                                     json.dumps(call.get("body", {})).encode())
        if status >= 300:
            sys.exit(f"seeding gcp-storage-emulator {call['path']} failed: {status} {answer}")

for call in CONFIG.get("seed", []):
    r = CLIENT.open(call["path"], method=call.get("method", "POST"), json=call.get("body", {}))
    if r.status_code >= 300:
        sys.exit(f"seeding {call['path']} failed: {r.status_code} {r.get_data(as_text=True)[:200]}")
    if call["path"] == "/v1/projects":
        PROJECTS.append(call["body"]["projectId"])

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"READY {server.server_address[1]}", flush=True)
server.serve_forever()
