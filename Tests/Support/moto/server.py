#!/usr/bin/env python3
"""moto_server, plus answers for the few calls attest makes that moto 5.2 does not emulate.

Usage: server.py -H HOST -p PORT   (as moto_server)

Every request goes to moto, except (told apart by the SigV4 credential scope's service and the
path) IAM Access Analyzer's ListAnalyzers, which moto does not have at all (it answers 500), and
Security Hub's GetEnabledStandards (404 in moto; DescribeHub and the rest stay moto's). Those are
answered with the response shapes of the AWS API reference for the moto account 123456789012:
us-east-1 has an active external-access analyzer and an unused-access one, the other regions a
failed organization analyzer; us-east-1's hub has FSBP ready and CIS incomplete. Requests are
not signature-checked here (moto's own checks cover everything else).
"""
import argparse
import json
import re

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple

ACCOUNT = "123456789012"
SCOPE = re.compile(r"Credential=[^/]+/\d+/([^/]+)/([^/]+)/")


def analyzers(region):
    if region == "us-east-1":
        return {"analyzers": [
            {"arn": f"arn:aws:access-analyzer:{region}:{ACCOUNT}:analyzer/external", "name": "external", "type": "ACCOUNT",
             "status": "ACTIVE", "createdAt": "2024-05-01T12:00:00.123Z", "lastResourceAnalyzedAt": "2024-05-02T12:00:00Z"},
            {"arn": f"arn:aws:access-analyzer:{region}:{ACCOUNT}:analyzer/unused", "name": "unused",
             "type": "ACCOUNT_UNUSED_ACCESS", "status": "ACTIVE", "createdAt": 1714564800,
             "configuration": {"unusedAccess": {"unusedAccessAge": 90}}}]}
    return {"analyzers": [
        {"arn": f"arn:aws:access-analyzer:{region}:{ACCOUNT}:analyzer/broken", "name": "broken", "type": "ORGANIZATION",
         "status": "FAILED", "statusReason": {"code": "AWS_SERVICE_ACCESS_DISABLED"}, "createdAt": 1714564800}]}


def standards(region):
    return {"StandardsSubscriptions": [
        {"StandardsSubscriptionArn": f"arn:aws:securityhub:{region}:{ACCOUNT}:subscription/aws-foundational-security-best-practices/v/1.0.0",
         "StandardsArn": f"arn:aws:securityhub:{region}::standards/aws-foundational-security-best-practices/v/1.0.0",
         "StandardsInput": {}, "StandardsStatus": "READY"},
        {"StandardsSubscriptionArn": f"arn:aws:securityhub:{region}:{ACCOUNT}:subscription/cis-aws-foundations-benchmark/v/3.0.0",
         "StandardsArn": f"arn:aws:securityhub:{region}::standards/cis-aws-foundations-benchmark/v/3.0.0",
         "StandardsInput": {}, "StandardsStatus": "INCOMPLETE",
         "StandardsStatusReason": {"StatusReasonCode": "NO_AVAILABLE_CONFIGURATION_RECORDER"}}]}


def unemulated(environ):
    """The answer (a dict) for a call moto lacks, or None to let moto answer."""
    scope = SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    if not scope:
        return None
    region, service = scope.groups()
    path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
    if service == "access-analyzer" and method == "GET" and path == "/analyzer":
        return analyzers(region)
    if service == "securityhub" and method == "POST" and path == "/standards/get":
        return standards(region)
    return None


def with_unemulated(app):
    def wrapped(environ, start_response):
        body = unemulated(environ)
        if body is None:
            return app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length:
            environ["wsgi.input"].read(length)
        data = json.dumps(body).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data))),
                                  ("x-amzn-RequestId", "attest-test-unemulated")])
        return [data]
    return wrapped


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    args = parser.parse_args()
    import os
    os.environ.setdefault("MOTO_PORT", str(args.port))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(args.host, args.port, with_unemulated(app), threaded=True)
