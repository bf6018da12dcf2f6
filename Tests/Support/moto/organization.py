#!/usr/bin/env python3
"""Seeds a moto_server with an AWS organization for attest's --org tests and prints it as JSON.

Usage: organization.py ENDPOINT NO_AUTH_COUNT

moto_server must run with INITIAL_NO_AUTH_ACTION_COUNT=NO_AUTH_COUNT: the setup is made in those
first unauthenticated requests (padded to exactly that many), and every later request is checked
against the IAM keys of the `attest-scanner` user printed here, whose policy refuses to assume a
role in the `blocked` account.

The organization (SCP policy type enabled at the root, FullAWSAccess where AWS attaches it):

    root                      FullAWSAccess
    ├── management            (the caller's account; SCPs never apply to it)
    ├── standalone            directly under the root
    ├── workloads (OU)        FullAWSAccess + deny-tampering (leave org, CloudTrail, GuardDuty)
    │   ├── blocked           its role cannot be assumed by the scanner
    │   └── prod (OU)         FullAWSAccess + restrict-regions (us-east-1, eu-west-1 only)
    │       └── prod-app      one public S3 bucket
    └── sandbox (OU)          FullAWSAccess detached; allow-list: ec2:*, s3:* only
        └── sandbox-dev
"""
import json
import sys

import boto3

endpoint, budget = sys.argv[1], int(sys.argv[2])
sent = [0]


def count(**_):
    sent[0] += 1


def client(service, key="testing", secret="testing", token=None, region="us-east-1"):
    c = boto3.client(service, region_name=region, endpoint_url=endpoint, aws_access_key_id=key,
                     aws_secret_access_key=secret, aws_session_token=token)
    c.meta.events.register("before-send", count)
    return c


out = {}
iam = client("iam")
org = client("organizations")
org.create_organization(FeatureSet="ALL")
root = org.list_roots()["Roots"][0]["Id"]
org.enable_policy_type(RootId=root, PolicyType="SERVICE_CONTROL_POLICY")
out["management"] = client("sts").get_caller_identity()["Account"]
out["root"] = root


def ou(name, parent):
    return org.create_organizational_unit(ParentId=parent, Name=name)["OrganizationalUnit"]["Id"]


def account(name, parent):
    status = org.create_account(Email=f"{name}@example.com", AccountName=name)["CreateAccountStatus"]
    acct = status["AccountId"]
    if parent != root:
        org.move_account(AccountId=acct, SourceParentId=root, DestinationParentId=parent)
    return acct


def scp(name, statements):
    doc = json.dumps({"Version": "2012-10-17", "Statement": statements})
    return org.create_policy(Name=name, Description=name, Type="SERVICE_CONTROL_POLICY", Content=doc)["Policy"]["PolicySummary"]["Id"]


workloads = ou("workloads", root)
prod = ou("prod", workloads)
sandbox = ou("sandbox", root)
out["ous"] = {"workloads": workloads, "prod": prod, "sandbox": sandbox}
out["accounts"] = {
    "standalone": account("standalone", root),
    "blocked": account("blocked", workloads),
    "prod-app": account("prod-app", prod),
    "sandbox-dev": account("sandbox-dev", sandbox),
}

tamper = scp("deny-tampering", [
    {"Sid": "NoLeaving", "Effect": "Deny", "Action": "organizations:LeaveOrganization", "Resource": "*"},
    {"Sid": "NoTrailTampering", "Effect": "Deny",
     "Action": ["cloudtrail:StopLogging", "cloudtrail:DeleteTrail", "cloudtrail:UpdateTrail", "cloudtrail:PutEventSelectors"],
     "Resource": "*", "Condition": {"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/BreakGlass"}}},
    {"Sid": "NoGuardDutyTampering", "Effect": "Deny", "Action": ["guardduty:Delete*", "guardduty:Disassociate*",
     "guardduty:UpdateDetector", "guardduty:StopMonitoringMembers"], "Resource": "*"},
])
org.attach_policy(PolicyId=tamper, TargetId=workloads)
regions = scp("restrict-regions", [
    {"Effect": "Deny", "NotAction": ["iam:*", "organizations:*", "sts:*", "support:*", "cloudfront:*", "route53:*"],
     "Resource": "*", "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]}}},
])
org.attach_policy(PolicyId=regions, TargetId=prod)
allow_list = scp("sandbox-allow", [{"Effect": "Allow", "Action": ["ec2:*", "s3:*"], "Resource": "*"}])
org.attach_policy(PolicyId=allow_list, TargetId=sandbox)
org.detach_policy(PolicyId="p-FullAWSAccess", TargetId=sandbox)
out["policies"] = {"deny-tampering": tamper, "restrict-regions": regions, "sandbox-allow": allow_list}

# The role attest assumes in each member account: CreateAccount makes it, as AWS does; its
# permissions are made sure of with the account's own credentials.
sts = client("sts")
for name, acct in out["accounts"].items():
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{acct}:role/OrganizationAccountAccessRole",
                            RoleSessionName="seed")["Credentials"]
    member = dict(key=creds["AccessKeyId"], secret=creds["SecretAccessKey"], token=creds["SessionToken"])
    miam = client("iam", **member)
    miam.attach_role_policy(RoleName="OrganizationAccountAccessRole",
                            PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    if name == "prod-app":
        s3 = client("s3", **member)
        s3.create_bucket(Bucket="prod-app-public-assets")
        out["prod_bucket"] = "prod-app-public-assets"

# The scanner: everything, except entering the blocked account.
iam.create_user(UserName="attest-scanner")
iam.put_user_policy(UserName="attest-scanner", PolicyName="scan", PolicyDocument=json.dumps({
    "Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "Action": "sts:AssumeRole",
         "Resource": f"arn:aws:iam::{out['accounts']['blocked']}:role/*"}]}))
key = iam.create_access_key(UserName="attest-scanner")["AccessKey"]
out["scanner"] = {"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"]}

if sent[0] > budget:
    sys.exit(f"organization.py: the setup took {sent[0]} requests, more than the {budget} moto serves unauthenticated")
pad = client("sts")
while sent[0] < budget:
    pad.get_caller_identity()
print(json.dumps(out, indent=2, sort_keys=True))
