#!/usr/bin/env python3
"""Adds N of each common resource to a moto_server already holding the sample account, so a
benchmark has something to chew on: users with keys and inline policies, roles, buckets with
policies, security groups with rules, volumes, KMS keys, in two regions."""
import json
import sys

import boto3
from botocore.config import Config

endpoint, n = sys.argv[1], int(sys.argv[2])


def c(service, region="us-east-1"):
    return boto3.client(service, region_name=region, endpoint_url=endpoint, aws_access_key_id="testing",
                        aws_secret_access_key="testing", config=Config(retries={"max_attempts": 1}))


iam = c("iam")
doc = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})
trust = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
for i in range(n):
    iam.create_user(UserName=f"bench-user-{i}")
    iam.create_access_key(UserName=f"bench-user-{i}")
    iam.put_user_policy(UserName=f"bench-user-{i}", PolicyName="inline", PolicyDocument=doc)
    iam.create_role(RoleName=f"bench-role-{i}", AssumeRolePolicyDocument=trust)
for region in ["us-east-1", "eu-west-1"]:
    s3, ec2, kms = c("s3", region), c("ec2", region), c("kms", region)
    vpc = ec2.create_vpc(CidrBlock="10.99.0.0/16")["Vpc"]["VpcId"]
    for i in range(n):
        name = f"bench-{region}-{i}"
        if region == "us-east-1":
            s3.create_bucket(Bucket=name)
        else:
            s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
        s3.put_bucket_policy(Bucket=name, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{name}/*"}]}))
        sg = ec2.create_security_group(GroupName=f"bench-{i}", Description="bench", VpcId=vpc)["GroupId"]
        ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
        ec2.create_volume(AvailabilityZone=f"{region}a", Size=1)
        if i % 5 == 0:
            kms.create_key(Description=f"bench {i}")
print(f"seeded {n} of each kind per region")
