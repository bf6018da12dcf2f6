#!/usr/bin/env python3
"""A loopback Azure for attest's tests: an Entra ID token endpoint that verifies what attest
signs with PyJWT, the managed identity endpoints (IMDS and App Service), and Azure Resource
Manager answering from an estate file built on the official example responses.

Usage: azure_peer.py ESTATE.json CERT.pem CONFIG.json
Prints "READY <port>" once listening on 127.0.0.1. The test adjusts behaviour at run time with
POST /_peer/config (a JSON object merged into the config) and reads GET /_peer/log.

Config keys: tenant, client_id, client_secret, identity_header, oidc_issuer, oidc_public_key
(PEM of the CI issuer that signs federated tokens), token_lifetime (seconds), page_size,
expire_after_calls (a token stops working after this many ARM calls), throttle_once (paths
answered 429 with Retry-After once), forbidden_subscriptions, forbidden_paths (prefixes),
read_budget (the first x-ms-ratelimit-remaining-subscription-reads value per subscription),
raw_answers (path → an example file whose response body is served unmodified), routes (path →
a route answered instead of the estate's), permissions (subscription → the caller's permission
entries there; default Reader's */read).

Resource Graph (POST /providers/Microsoft.ResourceGraph/resources) answers `Resources | where type
in~ (...)` from the estate's subscription-wide lists, as Resource Graph does: only what the caller
may read (forbidden subscriptions and paths are left out silently), pages of options.$top rows
with a $skipToken.

Paths under /v1.0/ are Microsoft Graph: they need a token issued for the Graph scope (ARM
paths one for the ARM scope), take no api-version, page with @odata.nextLink and answer errors
as Graph does; forbidden_paths covers them too (graph_forbidden_code names the error code).
"""
import base64
import hashlib
import re
import json
import secrets
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization

ESTATE = json.load(open(sys.argv[1]))
CERT_PEM = open(sys.argv[2], "rb").read()
CONFIG = json.load(open(sys.argv[3]))
CERT = x509.load_pem_x509_certificate(CERT_PEM)
CERT_DER = CERT.public_bytes(serialization.Encoding.DER)
X5T_S256 = jwt.utils.base64url_encode(hashlib.sha256(CERT_DER).digest()).decode()
X5T = jwt.utils.base64url_encode(hashlib.sha1(CERT_DER).digest()).decode()
ARM_SCOPES = {"https://management.azure.com/.default", "https://graph.microsoft.com/.default", "https://vault.azure.net/.default"}
AUDIENCES = {"https://management.azure.com/.default": "arm", "https://graph.microsoft.com/.default": "graph",
             "https://vault.azure.net/.default": "vault",
             "https://management.azure.com/": "arm", "https://graph.microsoft.com/": "graph", "https://vault.azure.net": "vault"}
LOCK = threading.Lock()
LOG = []
TOKENS = {}  # token -> {"expires": t, "calls": n, "how": …}
JTIS = set()
THROTTLED = set()
BUDGET = {}


def aad_error(status, code, message, oauth="invalid_client"):
    body = {
        "error": oauth,
        "error_description": f"{code}: {message}\r\nTrace ID: {secrets.token_hex(8)}\r\nCorrelation ID: {secrets.token_hex(8)}\r\nTimestamp: 2026-12-01 00:00:00Z",
        "error_codes": [int(code[6:])],
    }
    return status, body, {}


def arm_error(status, code, message, headers=None):
    return status, {"error": {"code": code, "message": message}}, headers or {}


def issue(how, audience):
    token = "tok-" + secrets.token_hex(20)
    lifetime = int(CONFIG.get("token_lifetime", 3599))
    with LOCK:
        TOKENS[token] = {"expires": time.time() + lifetime, "calls": 0, "how": how, "audience": AUDIENCES[audience]}
    return token, lifetime


def token_request(path, form):
    tenant = path.split("/")[1]
    token_url = f"http://127.0.0.1:{PORT}/{tenant}/oauth2/v2.0/token"
    entry = {"kind": "token", "tenant": tenant}
    if tenant != CONFIG["tenant"]:
        return entry, aad_error(400, "AADSTS90002", f"Tenant '{tenant}' not found.", "invalid_request")
    if form.get("grant_type") != "client_credentials":
        return entry, aad_error(400, "AADSTS70003", "The app requested an unsupported grant type.", "unsupported_grant_type")
    if form.get("client_id") != CONFIG["client_id"]:
        return entry, aad_error(400, "AADSTS700016", f"Application with identifier '{form.get('client_id')}' was not found.", "unauthorized_client")
    scope = form.get("scope", "")
    entry["scope"] = scope
    if scope not in ARM_SCOPES:
        return entry, aad_error(400, "AADSTS70011", f"The provided value for the input parameter 'scope' is not valid.", "invalid_scope")
    if "client_secret" in form:
        entry["how"] = "secret"
        if form["client_secret"] != CONFIG["client_secret"]:
            return entry, aad_error(401, "AADSTS7000215", "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.")
    elif form.get("client_assertion_type") == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
        assertion = form.get("client_assertion", "")
        try:
            header = jwt.get_unverified_header(assertion)
        except jwt.PyJWTError as e:
            return entry, aad_error(401, "AADSTS50027", f"JWT token is invalid or malformed: {e}")
        if header.get("kid") is not None or "x5t" not in header and "x5t#S256" not in header:
            # A federated token from the CI's OIDC issuer (workload identity federation).
            entry["how"] = "federated"
            try:
                claims = jwt.decode(assertion, CONFIG["oidc_public_key"], algorithms=["RS256"], audience="api://AzureADTokenExchange",
                                    issuer=CONFIG["oidc_issuer"], options={"require": ["exp", "iat", "sub", "aud", "iss"]})
            except jwt.PyJWTError as e:
                return entry, aad_error(401, "AADSTS700211", f"No matching federated identity record found for presented assertion: {e}")
            entry["subject"] = claims["sub"]
        else:
            alg = header.get("alg")
            entry["how"] = f"assertion-{alg}"
            entry["header"] = sorted(header.keys())
            if alg == "PS256":
                if header.get("x5t#S256") != X5T_S256:
                    return entry, aad_error(401, "AADSTS700027", "The certificate with identifier used to sign the client assertion is not registered on application (x5t#S256).")
            elif alg == "RS256":
                if header.get("x5t") != X5T:
                    return entry, aad_error(401, "AADSTS700027", "The certificate with identifier used to sign the client assertion is not registered on application (x5t).")
            else:
                return entry, aad_error(401, "AADSTS5002730", f"Invalid JWT token. Unsupported key for the signing algorithm {alg}.")
            try:
                claims = jwt.decode(assertion, CERT.public_key(), algorithms=[alg], audience=token_url, issuer=CONFIG["client_id"],
                                    options={"require": ["exp", "iat", "nbf", "jti", "sub", "aud", "iss"]})
            except jwt.PyJWTError as e:
                return entry, aad_error(401, "AADSTS700027", f"Client assertion failed signature validation: {e}")
            if claims["sub"] != CONFIG["client_id"]:
                return entry, aad_error(401, "AADSTS700023", "Client assertion audience claim does not match Realm issuer.")
            if claims["exp"] - claims["iat"] > 600:
                return entry, aad_error(401, "AADSTS700024", "Client assertion is not within its valid time range (exp more than 10 minutes after iat).")
            with LOCK:
                if claims["jti"] in JTIS:
                    return entry, aad_error(401, "AADSTS700025", "Client assertion jti was already used.")
                JTIS.add(claims["jti"])
            entry["verified"] = True
    else:
        return entry, aad_error(400, "AADSTS7000218", "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.", "invalid_client")
    token, lifetime = issue(entry["how"], scope)
    entry["ok"] = True
    return entry, (200, {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": token}, {})


def managed_identity(path, query, headers):
    entry = {"kind": "managed-identity", "path": path, "resource": query.get("resource")}
    if path == "/metadata/identity/oauth2/token":
        if headers.get("Metadata") != "true":
            return entry, (400, {"error": "invalid_request", "error_description": "Required metadata header not specified"}, {})
        entry["how"] = "imds"
    else:
        if headers.get("X-IDENTITY-HEADER") != CONFIG["identity_header"]:
            return entry, (401, {"error": "unauthorized", "error_description": "X-IDENTITY-HEADER is missing or wrong"}, {})
        entry["how"] = "app-service"
    if query.get("resource") not in ("https://management.azure.com/", "https://graph.microsoft.com/", "https://vault.azure.net"):
        return entry, (400, {"error": "invalid_resource", "error_description": "AADSTS500011: The resource principal was not found."}, {})
    token, lifetime = issue(entry["how"], query["resource"])
    entry["ok"] = True
    return entry, (200, {"access_token": token, "expires_on": str(int(time.time()) + lifetime), "expires_in": str(lifetime),
                         "resource": query["resource"], "token_type": "Bearer"}, {})


def inherited_assignments(child):
    """The policy assignments of every management group above `child`, from the estate's groups."""
    out = []
    for path, route in ESTATE["paths"].items():
        body = route.get("body") or {}
        if body.get("type") != "Microsoft.Management/managementGroups":
            continue
        if any(c["id"].lower() == child for c in (body.get("properties", {}).get("children") or [])):
            out += (route_for(path + "/providers/microsoft.authorization/policyassignments") or {}).get("items", [])
            out += inherited_assignments(path)
    return out


def route_for(lowered):
    return CONFIG.get("routes", {}).get(lowered) or ESTATE["paths"].get(lowered)


def vault(method, path, query):
    """A vault's data plane, reached as /<vault host>/<path> (ATTEST_AZURE_KEYVAULT_ENDPOINT)."""
    lowered = urllib.parse.unquote(path).lower()
    host = lowered.split("/")[1]
    entry = {"kind": "vault", "method": method, "path": lowered, "api_version": query.get("api-version")}
    if not query.get("api-version"):
        return entry, arm_error(400, "BadParameter", "The api-version parameter is missing.")
    for prefix in CONFIG.get("forbidden_paths", []):
        if lowered.startswith(prefix.lower()):
            return entry, (403, {"error": {"code": "Forbidden",
                                           "message": f"Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\nCaller: appid={CONFIG['client_id']}\r\nDecisionReason: 'DeniedWithNoValidRBAC' \r\nVault: {host.split('.')[0]};location=westeurope\r\n",
                                           "innererror": {"code": "ForbiddenByRbac"}}}, {})
    route = route_for(lowered)
    if route is None:
        return entry, arm_error(404, "KeyNotFound", f"A key with (name/id) {lowered} was not found in this key vault.")
    if "body" in route:
        return entry, (200, route["body"], {})
    items = route["items"]
    size = int(CONFIG.get("page_size", 2))
    start = int(query.get("$skiptoken", "0"))
    page = {"value": items[start:start + size], "nextLink": None}
    if start + size < len(items):
        # As Key Vault writes it: the vault's own host.
        page["nextLink"] = f"https://{host}{lowered[len(host) + 1:]}?api-version={query['api-version']}&$skiptoken={start + size}"
    entry["page"] = start // size
    return entry, (200, page, {})


def graph(method, path, query, record):
    lowered = urllib.parse.unquote(path).lower()
    entry = {"kind": "graph", "method": method, "path": lowered, "query": query}
    for prefix in CONFIG.get("forbidden_paths", []):
        if lowered.startswith(prefix.lower()):
            return entry, arm_error(403, CONFIG.get("graph_forbidden_code", "Authorization_RequestDenied"),
                                    "Insufficient privileges to complete the operation.")
    route = route_for(lowered)
    if route is None:
        return entry, arm_error(404, "Request_ResourceNotFound", f"Resource '{lowered}' does not exist or one of its queried reference-property objects are not present.")
    if "body" in route:
        return entry, (route.get("status", 200), route["body"], {})
    items = route["items"]
    size = int(CONFIG.get("page_size", 2))
    start = int(query.get("$skiptoken", "0"))
    page = {"@odata.context": f"https://graph.microsoft.com/v1.0/$metadata#{lowered[6:]}", "value": items[start:start + size]}
    if start + size < len(items):
        rest = urllib.parse.urlencode({k: v for k, v in query.items() if k != "$skiptoken"})
        page["@odata.nextLink"] = f"http://127.0.0.1:{PORT}{path}?{rest}{'&' if rest else ''}%24skiptoken={start + size}"
    entry["page"] = start // size
    return entry, (200, page, {})


def arm(method, path, query, headers, body):
    lowered = urllib.parse.unquote(path).lower()
    sub = lowered.split("/")[2] if lowered.startswith("/subscriptions/") and len(lowered.split("/")) > 2 else None
    entry = {"kind": "arm", "method": method, "path": lowered, "api_version": query.get("api-version"), "subscription": sub}
    auth = headers.get("Authorization", "")
    token = auth[7:] if auth.startswith("Bearer ") else None
    first = lowered.split("/")[1] if lowered.count("/") >= 1 else ""
    wanted = "graph" if lowered.startswith("/v1.0/") else "vault" if first.endswith(".vault.azure.net") else "arm"
    with LOCK:
        record = TOKENS.get(token)
        if record is None:
            return entry, arm_error(401, "InvalidAuthenticationToken", "The access token is invalid.")
        if record["audience"] != wanted:
            entry["kind"] = wanted
            return entry, arm_error(401, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.")
        if record["expires"] < time.time() or (CONFIG.get("expire_after_calls") and record["calls"] >= CONFIG["expire_after_calls"]):
            entry["expired"] = True
            if wanted == "graph":
                return entry, arm_error(401, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired.")
            return entry, arm_error(401, "ExpiredAuthenticationToken", "The access token expiry UTC time is earlier than current UTC time.")
        record["calls"] += 1
    if wanted == "graph":
        return graph(method, path, query, record)
    if wanted == "vault":
        return vault(method, path, query)
    if not query.get("api-version"):
        return entry, arm_error(400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.")
    extra = {}
    if sub:
        with LOCK:
            left = BUDGET.get(sub, int(CONFIG.get("read_budget", 11999)))
            BUDGET[sub] = max(0, left - 1)
        extra["x-ms-ratelimit-remaining-subscription-reads"] = str(left)
    with LOCK:
        if lowered in [p.lower() for p in CONFIG.get("throttle_once", [])] and lowered not in THROTTLED:
            THROTTLED.add(lowered)
            entry["throttled"] = True
            return entry, arm_error(429, "TooManyRequests", "The request is being throttled as the limit has been reached for operation type - Read.",
                                    {"Retry-After": "1", **extra})
    if sub and sub in CONFIG.get("forbidden_subscriptions", []) and lowered != f"/subscriptions/{sub}":
        return entry, arm_error(403, "AuthorizationFailed",
                                f"The client '{CONFIG['client_id']}' with object id '{CONFIG['client_id']}' does not have authorization to perform action 'read' over scope '/subscriptions/{sub}' or the scope is invalid. If access was recently granted, please refresh your credentials.")
    for prefix in CONFIG.get("forbidden_paths", []):
        if lowered.startswith(prefix.lower()):
            return entry, arm_error(403, "AuthorizationFailed", f"The client does not have authorization to perform action 'read' over scope '{lowered}'.")
    if lowered == "/providers/microsoft.resourcegraph/resources" and method == "POST" and lowered not in CONFIG.get("raw_answers", {}):
        entry["kind"] = "resource-graph"
        return entry, resource_graph(json.loads(body or b"{}"), entry)
    if lowered.endswith("/providers/microsoft.authorization/permissions") and route_for(lowered) is None:
        granted = CONFIG.get("permissions", {}).get(sub, [{"actions": ["*/read"], "notActions": [], "dataActions": [], "notDataActions": []}])
        return entry, (200, {"value": granted}, extra)
    raw = CONFIG.get("raw_answers", {}).get(lowered)
    if raw is not None:
        # An official example's body served as it is (its nextLink included).
        return entry, (200, json.load(open(raw))["responses"]["200"]["body"], extra)
    route = route_for(lowered)
    if route is not None and sub and query.get("$filter") == "atScope()" and lowered.endswith("/providers/microsoft.authorization/policyassignments"):
        # As ARM answers atScope(): the subscription's own assignments and its management groups'.
        route = {"items": route.get("items", []) + inherited_assignments(f"/subscriptions/{sub}")}
    if route is None:
        return entry, arm_error(404, "ResourceNotFound", f"The Resource '{lowered}' was not found.")
    if "status" in route:
        return entry, (route["status"], route["body"], extra)
    if "body" in route:
        return entry, (200, route["body"], extra)
    items = route["items"]
    size = int(CONFIG.get("page_size", 2))
    start = int(query.get("$skiptoken", "0"))
    page = {"value": items[start:start + size]}
    if start + size < len(items):
        # The link keeps the request's query (api-version, $filter), as ARM's do.
        rest = urllib.parse.urlencode({k: v for k, v in query.items() if k != "$skiptoken"}, quote_via=urllib.parse.quote)
        page["nextLink"] = f"http://127.0.0.1:{PORT}{path}?{rest}&%24skiptoken={start + size}"
    entry["page"] = start // size
    return entry, (200, page, extra)


def resource_graph(request, entry):
    kql = request.get("query", "")
    match = re.search(r"where type in~ \(([^)]*)\)", kql)
    if not kql.startswith("Resources") or match is None:
        return arm_error(400, "BadRequest", f"Please provide below info when asking for support: the query is not supported here: {kql}")
    types = re.findall(r"'([^']+)'", match.group(1))
    entry["types"] = types
    rows = []
    for sub in [s.lower() for s in request.get("subscriptions", [])]:
        if sub in CONFIG.get("forbidden_subscriptions", []):
            continue
        for t in types:
            path = f"/subscriptions/{sub}/providers/{t.lower()}"
            if any(path.startswith(p.lower()) for p in CONFIG.get("forbidden_paths", [])):
                continue
            route = route_for(path)
            for item in (route or {}).get("items", []):
                row = dict(item)
                parts = item["id"].split("/")
                row.update({"type": t.lower(), "subscriptionId": sub, "resourceGroup": parts[4].lower() if len(parts) > 4 else "",
                            "tenantId": CONFIG["tenant"]})
                rows.append(row)
    options = request.get("options", {})
    # Resource Graph may answer fewer rows than $top (large rows): rg_page_size caps a page.
    top = min(int(options.get("$top", 100)), int(CONFIG.get("rg_page_size", 1000)))
    start = int(base64.b64decode(options["$skipToken"]).decode()) if options.get("$skipToken") else 0
    page = {"totalRecords": len(rows), "count": len(rows[start:start + top]), "data": rows[start:start + top], "facets": [],
            "resultTruncated": "false"}
    if start + top < len(rows):
        page["$skipToken"] = base64.b64encode(str(start + top).encode()).decode()
    entry["page"] = start // top if top else 0
    return 200, page, {"x-ms-user-quota-remaining": "14", "x-ms-user-quota-resets-after": "00:00:05"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def handle_any(self, method):
        parsed = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(parsed.query, keep_blank_values=True))
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = parsed.path
        if path == "/_peer/config" and method == "POST":
            CONFIG.update(json.loads(body or b"{}"))
            return self.reply(200, {"ok": True}, {})
        if path == "/_peer/log":
            with LOCK:
                return self.reply(200, LOG, {})
        if path.endswith("/oauth2/v2.0/token") and method == "POST":
            form = dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
            entry, (status, answer, headers) = token_request(path, form)
        elif path in ("/metadata/identity/oauth2/token", "/msi/token"):
            entry, (status, answer, headers) = managed_identity(path, query, self.headers)
        else:
            entry, (status, answer, headers) = arm(method, path, query, self.headers, body)
        entry["status"] = status
        with LOCK:
            LOG.append(entry)
        self.reply(status, answer, headers)

    def reply(self, status, answer, headers):
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
PORT = server.server_address[1]
print(f"READY {PORT}", flush=True)
server.serve_forever()
