#!/usr/bin/env python3
"""Seeds a moto_server with attest's sample account and prints what it created as JSON.

Usage: seed.py ENDPOINT [--auth] [--areas]
  --auth: also create the scanner's IAM user and print its key
  --areas: also seed every area module beside this file (seed_<area>.py: monitoring, data,
           security, edge), whose expectations are fixtures/aws/seeded-expectations-<area>.json

The account has, on purpose, one resource of each kind done wrong and one done right:
public bucket vs. locked-down bucket, world-open SSH/RDP vs. a restricted group, unencrypted vs.
KMS-encrypted volumes, a key without rotation vs. one with, a single-region trail without log
validation vs. a multi-region trail with it, an admin user without MFA vs. one with, a public
unencrypted RDS instance vs. a private encrypted one, IMDSv1 vs. IMDSv2-only instances.
"""
import json
import sys

import boto3
from botocore.config import Config

endpoint = sys.argv[1]
auth = "--auth" in sys.argv
areas = "--areas" in sys.argv
HOME = "us-east-1"
OTHER = "eu-west-1"


def client(service, region=HOME, **kw):
    # S3 Control prefixes the host with the account id, which an emulator on 127.0.0.1 cannot take.
    config = Config(inject_host_prefix=False)
    return boto3.client(service, region_name=region, endpoint_url=endpoint, config=config,
                        aws_access_key_id=kw.get("key", "testing"), aws_secret_access_key=kw.get("secret", "testing"))


out = {}
iam = client("iam")

if auth:
    # With INITIAL_NO_AUTH_ACTION_COUNT, moto checks every later request against these keys.
    iam.create_user(UserName="attest-scanner")
    iam.attach_user_policy(UserName="attest-scanner", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    key = iam.create_access_key(UserName="attest-scanner")["AccessKey"]
    out["scanner"] = {"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"]}
    iam = client("iam", key=key["AccessKeyId"], secret=key["SecretAccessKey"])
    creds = {"key": key["AccessKeyId"], "secret": key["SecretAccessKey"]}
else:
    creds = {}


def c(service, region=HOME):
    return client(service, region, **creds)


iam = c("iam")
sts = c("sts")
account = sts.get_caller_identity()["Account"]
out["account"] = account

# --- IAM -------------------------------------------------------------------------------------
iam.update_account_password_policy(MinimumPasswordLength=14, RequireSymbols=True, RequireNumbers=True,
                                   RequireUppercaseCharacters=True, RequireLowercaseCharacters=True,
                                   PasswordReusePrevention=24, MaxPasswordAge=90)
iam.create_group(GroupName="admins")
iam.attach_group_policy(GroupName="admins", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")

# alice: admin through the group, console password, MFA device.
iam.create_user(UserName="alice", Tags=[{"Key": "team", "Value": "platform"}])
iam.create_login_profile(UserName="alice", Password="Correct-Horse-Battery-9")
iam.add_user_to_group(GroupName="admins", UserName="alice")
mfa = iam.create_virtual_mfa_device(VirtualMFADeviceName="alice-mfa")["VirtualMFADevice"]
iam.enable_mfa_device(UserName="alice", SerialNumber=mfa["SerialNumber"], AuthenticationCode1="123456",
                      AuthenticationCode2="654321")

# bob: admin by direct attachment, console password, no MFA, an access key, an inline policy.
iam.create_user(UserName="bob")
iam.create_login_profile(UserName="bob", Password="Correct-Horse-Battery-8")
iam.attach_user_policy(UserName="bob", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
bob_key = iam.create_access_key(UserName="bob")["AccessKey"]["AccessKeyId"]
iam.put_user_policy(UserName="bob", PolicyName="inline-s3", PolicyDocument=json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::audit-logs-*/*"}]}))
out["bob_access_key"] = bob_key

policy = iam.create_policy(PolicyName="read-audit-logs", PolicyDocument=json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"}]}))["Policy"]
out["customer_policy"] = policy["Arn"]
# Full administrator access, not attached to anything yet: a finding before anyone attaches it.
out["unattached_admin_policy"] = iam.create_policy(PolicyName="star-star", PolicyDocument=json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))["Policy"]["Arn"]

trust = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
iam.create_role(RoleName="app-role", AssumeRolePolicyDocument=json.dumps(trust))
iam.attach_role_policy(RoleName="app-role", PolicyArn=policy["Arn"])
profile = iam.create_instance_profile(InstanceProfileName="app-profile")["InstanceProfile"]
iam.add_role_to_instance_profile(InstanceProfileName="app-profile", RoleName="app-role")
out["instance_profile"] = profile["Arn"]

# --- KMS -------------------------------------------------------------------------------------
kms = c("kms")
rotated = kms.create_key(Description="rotated key")["KeyMetadata"]
kms.enable_key_rotation(KeyId=rotated["KeyId"])
unrotated = kms.create_key(Description="key without rotation")["KeyMetadata"]
out["kms_rotated"] = rotated["Arn"]
out["kms_unrotated"] = unrotated["Arn"]

# --- S3 --------------------------------------------------------------------------------------
s3 = c("s3")
s3.create_bucket(Bucket="audit-logs-sample")
s3.put_bucket_encryption(Bucket="audit-logs-sample", ServerSideEncryptionConfiguration={"Rules": [
    {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": rotated["Arn"]}}]})
s3.put_bucket_versioning(Bucket="audit-logs-sample", VersioningConfiguration={"Status": "Enabled"})
s3.put_public_access_block(Bucket="audit-logs-sample", PublicAccessBlockConfiguration={
    "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
s3.put_bucket_tagging(Bucket="audit-logs-sample", Tagging={"TagSet": [{"Key": "purpose", "Value": "audit"}]})
s3.put_bucket_policy(Bucket="audit-logs-sample", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
    {"Sid": "CloudTrail", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
     "Action": "s3:PutObject", "Resource": "arn:aws:s3:::audit-logs-sample/*"}]}))

s3_other = c("s3", OTHER)
s3_other.create_bucket(Bucket="public-assets-sample", CreateBucketConfiguration={"LocationConstraint": OTHER})
s3_other.put_bucket_policy(Bucket="public-assets-sample", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
    {"Sid": "Public", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
     "Resource": "arn:aws:s3:::public-assets-sample/*"}]}))
s3.create_bucket(Bucket="access-logs-sample", ACL="log-delivery-write")
s3.put_bucket_logging(Bucket="audit-logs-sample", BucketLoggingStatus={"LoggingEnabled": {
    "TargetBucket": "access-logs-sample", "TargetPrefix": "audit/"}})

# The account-wide Block Public Access is left unset: moto 5.2's server cannot accept an S3 Control
# PUT, so the scan sees S3 Control's "not configured" answer (NoSuchPublicAccessBlockConfiguration).

# --- EC2 -------------------------------------------------------------------------------------
ec2 = c("ec2")
vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.1.0/24")["Subnet"]["SubnetId"]
ssh = ec2.create_security_group(GroupName="ssh-open", Description="ssh from anywhere", VpcId=vpc)["GroupId"]
ec2.authorize_security_group_ingress(GroupId=ssh, IpPermissions=[
    {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
    {"IpProtocol": "tcp", "FromPort": 3389, "ToPort": 3389, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
web = ec2.create_security_group(GroupName="web-internal", Description="https from the ssh group", VpcId=vpc)["GroupId"]
ec2.authorize_security_group_ingress(GroupId=web, IpPermissions=[
    {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "UserIdGroupPairs": [{"GroupId": ssh}],
     "IpRanges": [{"CidrIp": "10.20.0.0/16"}]}])
out["vpc"] = vpc
out["sg_ssh"] = ssh
out["sg_web"] = web

legacy = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="t3.micro", SubnetId=subnet,
                           SecurityGroupIds=[ssh], IamInstanceProfile={"Arn": profile["Arn"]},
                           MetadataOptions={"HttpTokens": "optional", "HttpEndpoint": "enabled"},
                           TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "legacy"}]}])
hardened = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="t3.micro", SubnetId=subnet,
                             SecurityGroupIds=[web], MetadataOptions={"HttpTokens": "required", "HttpEndpoint": "enabled"})
out["instance_legacy"] = legacy["Instances"][0]["InstanceId"]
out["instance_hardened"] = hardened["Instances"][0]["InstanceId"]

plain = ec2.create_volume(AvailabilityZone="us-east-1a", Size=8)["VolumeId"]
secure = ec2.create_volume(AvailabilityZone="us-east-1a", Size=8, Encrypted=True, KmsKeyId=rotated["Arn"])["VolumeId"]
ec2.attach_volume(VolumeId=secure, InstanceId=out["instance_hardened"], Device="/dev/sdf")
snap = ec2.create_snapshot(VolumeId=plain, Description="unencrypted snapshot")["SnapshotId"]
out["volume_plain"] = plain
out["volume_encrypted"] = secure
out["snapshot"] = snap
ec2.create_flow_logs(ResourceIds=[vpc], ResourceType="VPC", TrafficType="ALL", LogDestinationType="s3",
                     LogDestination="arn:aws:s3:::audit-logs-sample")
c("ec2", OTHER).enable_ebs_encryption_by_default()

# --- CloudTrail --------------------------------------------------------------------------------
ct = c("cloudtrail")
ct.create_trail(Name="single-region", S3BucketName="audit-logs-sample")
ct.start_logging(Name="single-region")
ct.create_trail(Name="org-wide", S3BucketName="audit-logs-sample", IsMultiRegionTrail=True,
                EnableLogFileValidation=True, KmsKeyId=rotated["Arn"])
ct.start_logging(Name="org-wide")

# --- RDS ---------------------------------------------------------------------------------------
rds = c("rds")
rds.create_db_instance(DBInstanceIdentifier="public-db", Engine="postgres", DBInstanceClass="db.t3.micro",
                       AllocatedStorage=20, MasterUsername="admin", MasterUserPassword="Sample-Passw0rd",
                       PubliclyAccessible=True, StorageEncrypted=False)
rds.create_db_instance(DBInstanceIdentifier="private-db", Engine="postgres", DBInstanceClass="db.t3.micro",
                       AllocatedStorage=20, MasterUsername="admin", MasterUserPassword="Sample-Passw0rd",
                       PubliclyAccessible=False, StorageEncrypted=True, KmsKeyId=rotated["Arn"],
                       VpcSecurityGroupIds=[web])
rds.create_db_snapshot(DBInstanceIdentifier="private-db", DBSnapshotIdentifier="private-db-manual")

# --- Lambda ------------------------------------------------------------------------------------
import io
import zipfile

package = io.BytesIO()
with zipfile.ZipFile(package, "w") as z:
    z.writestr("index.py", "def handler(event, context):\n    return 'ok'\n")
fn_role = iam.create_role(RoleName="fn-role", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
lam = c("lambda")
fn = lam.create_function(FunctionName="public-fn", Runtime="python3.12", Role=fn_role, Handler="index.handler",
                         Code={"ZipFile": package.getvalue()},
                         Environment={"Variables": {"DB_PASSWORD": "sample-db-password-not-a-real-one"}})
lam.add_permission(FunctionName="public-fn", StatementId="anyone", Action="lambda:InvokeFunction", Principal="*")
out["lambda_function"] = fn["FunctionArn"]
out["lambda_role"] = fn_role

# --- Further areas: one module each beside this file (seed_<area>.py), each with
# seed(c, out, account, HOME, OTHER); their expectations are fixtures/aws/seeded-expectations-<area>.json.
import importlib.util
import pathlib

for path in sorted(pathlib.Path(__file__).resolve().parent.glob("seed_*.py")) if areas else []:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.seed(c, out, account, HOME, OTHER)

print(json.dumps(out, indent=2, sort_keys=True))
