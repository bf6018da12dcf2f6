"""Edge area: ELBv2, EKS, CloudFront, API Gateway, OpenSearch, Redshift and Aurora (RDS DB clusters).

Per control one resource done wrong and one done right, where moto emulates the setting; what moto
does not emulate is covered by the controls' inline tests.
Expectations: fixtures/aws/seeded-expectations-edge.json.
"""
import urllib.request


def seed(c, out, account, HOME, OTHER):
    ec2 = c("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=az)["Subnet"]["SubnetId"]
               for cidr, az in [("10.40.1.0/24", "us-east-1a"), ("10.40.2.0/24", "us-east-1b")]]
    sg = ec2.create_security_group(GroupName="edge-lb", Description="edge load balancers", VpcId=vpc)["GroupId"]
    out["edge_vpc"] = vpc

    # A certificate for the HTTPS listeners.
    acm = c("acm")
    cert = acm.request_certificate(DomainName="edge.example.com")["CertificateArn"]

    # --- ELBv2 ---------------------------------------------------------------------------------
    elb = c("elbv2")
    s3 = c("s3")
    s3.create_bucket(Bucket="edge-lb-logs-sample")
    tg = elb.create_target_group(Name="edge-web", Protocol="HTTP", Port=80, VpcId=vpc)["TargetGroups"][0]["TargetGroupArn"]
    forward = [{"Type": "forward", "TargetGroupArn": tg}]

    # legacy-alb: a plain HTTP listener that forwards, an HTTPS listener on the 2016-08 policy, no access
    # logs, no deletion protection, invalid headers passed on.
    legacy = elb.create_load_balancer(Name="legacy-alb", Subnets=subnets, SecurityGroups=[sg], Scheme="internet-facing",
                                      Type="application")["LoadBalancers"][0]["LoadBalancerArn"]
    elb.create_listener(LoadBalancerArn=legacy, Protocol="HTTP", Port=80, DefaultActions=forward)
    elb.create_listener(LoadBalancerArn=legacy, Protocol="HTTPS", Port=443, SslPolicy="ELBSecurityPolicy-2016-08",
                        Certificates=[{"CertificateArn": cert}], DefaultActions=forward)
    # AWS answers every attribute with its default; moto only those that were set, so they are set here.
    elb.modify_load_balancer_attributes(LoadBalancerArn=legacy, Attributes=[
        {"Key": "access_logs.s3.enabled", "Value": "false"},
        {"Key": "deletion_protection.enabled", "Value": "false"},
        {"Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "false"}])

    # hardened-alb: HTTP redirects to HTTPS, HTTPS on a TLS 1.3 policy, logs, protection, headers dropped.
    hardened = elb.create_load_balancer(Name="hardened-alb", Subnets=subnets, SecurityGroups=[sg], Scheme="internal",
                                        Type="application")["LoadBalancers"][0]["LoadBalancerArn"]
    elb.create_listener(LoadBalancerArn=hardened, Protocol="HTTP", Port=80, DefaultActions=[
        {"Type": "redirect", "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}}])
    elb.create_listener(LoadBalancerArn=hardened, Protocol="HTTPS", Port=443, SslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06",
                        Certificates=[{"CertificateArn": cert}], DefaultActions=forward)
    elb.modify_load_balancer_attributes(LoadBalancerArn=hardened, Attributes=[
        {"Key": "access_logs.s3.enabled", "Value": "true"},
        {"Key": "access_logs.s3.bucket", "Value": "edge-lb-logs-sample"},
        {"Key": "deletion_protection.enabled", "Value": "true"},
        {"Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "true"}])
    # legacy-nlb: a TLS listener on a TLS 1.1 policy (the drop-invalid-headers control does not apply).
    tcp = elb.create_target_group(Name="edge-tcp", Protocol="TCP", Port=443, VpcId=vpc)["TargetGroups"][0]["TargetGroupArn"]
    nlb = elb.create_load_balancer(Name="legacy-nlb", Subnets=subnets, Scheme="internal",
                                   Type="network")["LoadBalancers"][0]["LoadBalancerArn"]
    elb.create_listener(LoadBalancerArn=nlb, Protocol="TLS", Port=443, SslPolicy="ELBSecurityPolicy-TLS13-1-1-2021-06",
                        Certificates=[{"CertificateArn": cert}], DefaultActions=[{"Type": "forward", "TargetGroupArn": tcp}])
    elb.modify_load_balancer_attributes(LoadBalancerArn=nlb, Attributes=[
        {"Key": "access_logs.s3.enabled", "Value": "false"},
        {"Key": "deletion_protection.enabled", "Value": "false"}])
    out["elbv2_legacy"] = legacy
    out["elbv2_legacy_nlb"] = nlb
    out["elbv2_hardened"] = hardened

    # --- EKS -----------------------------------------------------------------------------------
    eks = c("eks")
    role = "arn:aws:iam::%s:role/eks-cluster-role" % account
    kms = c("kms")
    key = kms.create_key(Description="edge secrets key")["KeyMetadata"]["Arn"]
    out["edge_kms_key"] = key
    eks.create_cluster(name="open-cluster", version="1.23", roleArn=role,
                       resourcesVpcConfig={"subnetIds": subnets, "endpointPublicAccess": True,
                                           "endpointPrivateAccess": False, "publicAccessCidrs": ["0.0.0.0/0"]})
    eks.create_cluster(name="private-cluster", version="1.34", roleArn=role,
                       resourcesVpcConfig={"subnetIds": subnets, "endpointPublicAccess": False,
                                           "endpointPrivateAccess": True},
                       logging={"clusterLogging": [{"types": ["api", "audit", "authenticator", "controllerManager",
                                                              "scheduler"], "enabled": True}]},
                       encryptionConfig=[{"resources": ["secrets"], "provider": {"keyArn": key}}])

    # --- CloudFront ----------------------------------------------------------------------------
    cf = c("cloudfront")
    # Distribution ids are random; seeding moto's generator here makes them the same on every run, so
    # that the expectations can name the distributions by id (how attest names them).
    urllib.request.urlopen(urllib.request.Request(cf.meta.endpoint_url + "/moto-api/seed?a=2026", method="POST"))

    def distribution(ref, origin_policy, viewer_policy, min_tls, logging, waf):
        config = {
            "CallerReference": ref, "Comment": ref, "Enabled": True,
            "Aliases": {"Quantity": 1, "Items": ["%s.example.com" % ref]},
            "Origins": {"Quantity": 1, "Items": [{
                "Id": "app", "DomainName": "app.example.com",
                "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": origin_policy}}]},
            "DefaultCacheBehavior": {"TargetOriginId": "app", "ViewerProtocolPolicy": viewer_policy,
                                     "MinTTL": 0, "TrustedSigners": {"Enabled": False, "Quantity": 0},
                                     "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}}},
            "ViewerCertificate": {"ACMCertificateArn": cert, "SSLSupportMethod": "sni-only",
                                  "MinimumProtocolVersion": min_tls},
            "Logging": {"Enabled": logging, "IncludeCookies": False,
                        "Bucket": "edge-lb-logs-sample.s3.amazonaws.com" if logging else "",
                        "Prefix": "cf/" if logging else ""},
        }
        if waf:
            config["WebACLId"] = waf
        return cf.create_distribution(DistributionConfig=config)["Distribution"]["Id"]

    out["cloudfront_legacy"] = distribution("legacy-cdn", "http-only", "allow-all", "TLSv1", False, None)
    out["cloudfront_hardened"] = distribution(
        "hardened-cdn", "https-only", "redirect-to-https", "TLSv1.2_2021", True,
        "arn:aws:wafv2:us-east-1:%s:global/webacl/edge/11111111-2222-3333-4444-555555555555" % account)

    # --- API Gateway (REST, v1) -----------------------------------------------------------------
    apigw = c("apigateway")
    logs = c("logs")
    logs.create_log_group(logGroupName="edge-api-access")
    log_group = "arn:aws:logs:us-east-1:%s:log-group:edge-api-access" % account
    for name in ["legacy-api", "hardened-api"]:
        api = apigw.create_rest_api(name=name)["id"]
        root = apigw.get_resources(restApiId=api)["items"][0]["id"]
        apigw.put_method(restApiId=api, resourceId=root, httpMethod="GET", authorizationType="NONE")
        apigw.put_integration(restApiId=api, resourceId=root, httpMethod="GET", type="MOCK")
        deployment = apigw.create_deployment(restApiId=api)["id"]
        out["apigateway_" + name.split("-")[0]] = api
        if name == "legacy-api":
            apigw.create_stage(restApiId=api, stageName="prod", deploymentId=deployment, cacheClusterEnabled=True,
                               cacheClusterSize="0.5")
            apigw.update_stage(restApiId=api, stageName="prod", patchOperations=[
                {"op": "replace", "path": "/*/*/caching/enabled", "value": "true"},
                {"op": "replace", "path": "/*/*/caching/dataEncrypted", "value": "false"}])
        else:
            # moto 5.2 has no GenerateClientCertificate: the stage names a certificate id it takes as given.
            cc = "edge-client-cert"
            apigw.create_stage(restApiId=api, stageName="prod", deploymentId=deployment, cacheClusterEnabled=True,
                               cacheClusterSize="0.5", tracingEnabled=True)
            apigw.update_stage(restApiId=api, stageName="prod", patchOperations=[
                {"op": "replace", "path": "/*/*/logging/loglevel", "value": "INFO"},
                {"op": "replace", "path": "/*/*/caching/enabled", "value": "true"},
                {"op": "replace", "path": "/*/*/caching/dataEncrypted", "value": "true"},
                {"op": "replace", "path": "/clientCertificateId", "value": cc},
                {"op": "replace", "path": "/accessLogSettings/destinationArn", "value": log_group},
                {"op": "replace", "path": "/accessLogSettings/format", "value": "$context.requestId"}])
            waf = c("wafv2")
            acl = waf.create_web_acl(Name="edge-api-acl", Scope="REGIONAL", DefaultAction={"Allow": {}},
                                     VisibilityConfig={"SampledRequestsEnabled": False, "CloudWatchMetricsEnabled": False,
                                                       "MetricName": "edge-api-acl"})["Summary"]["ARN"]
            waf.associate_web_acl(WebACLArn=acl, ResourceArn="arn:aws:apigateway:us-east-1::/restapis/%s/stages/prod" % api)

    # --- OpenSearch ----------------------------------------------------------------------------
    osc = c("opensearch")
    osc.create_domain(DomainName="legacy-search", EngineVersion="OpenSearch_2.11")
    osc.create_domain(DomainName="hardened-search", EngineVersion="OpenSearch_2.11",
                      EncryptionAtRestOptions={"Enabled": True, "KmsKeyId": key},
                      NodeToNodeEncryptionOptions={"Enabled": True},
                      DomainEndpointOptions={"EnforceHTTPS": True, "TLSSecurityPolicy": "Policy-Min-TLS-1-2-PFS-2023-10"},
                      VPCOptions={"SubnetIds": subnets[:1], "SecurityGroupIds": [sg]},
                      AdvancedSecurityOptions={"Enabled": True, "InternalUserDatabaseEnabled": True,
                                               "MasterUserOptions": {"MasterUserName": "admin",
                                                                     "MasterUserPassword": "Sample-Passw0rd!"}})

    # --- Redshift ------------------------------------------------------------------------------
    rs = c("redshift")
    rs.create_cluster_parameter_group(ParameterGroupName="require-ssl", ParameterGroupFamily="redshift-1.0",
                                      Description="require_ssl on")
    # moto 5.2 has no ModifyClusterParameterGroup and answers every group with its defaults
    # (require_ssl false): both clusters fail the SSL control here; its pass is an inline test.
    rs.create_cluster(ClusterIdentifier="legacy-warehouse", NodeType="dc2.large", MasterUsername="admin",
                      MasterUserPassword="Sample-Passw0rd", ClusterType="single-node", PubliclyAccessible=True,
                      Encrypted=False)
    rs.create_cluster(ClusterIdentifier="hardened-warehouse", NodeType="dc2.large", MasterUsername="admin",
                      MasterUserPassword="Sample-Passw0rd", ClusterType="single-node", PubliclyAccessible=False,
                      Encrypted=True, KmsKeyId=key, ClusterParameterGroupName="require-ssl")
    rs.enable_logging(ClusterIdentifier="hardened-warehouse", BucketName="edge-lb-logs-sample", S3KeyPrefix="redshift/")

    # --- Aurora (RDS DB clusters) -------------------------------------------------------------
    rds = c("rds")
    rds.create_db_cluster(DBClusterIdentifier="legacy-aurora", Engine="aurora-postgresql", MasterUsername="admin",
                          MasterUserPassword="Sample-Passw0rd", StorageEncrypted=False, DeletionProtection=False,
                          BackupRetentionPeriod=1)
    rds.create_db_instance(DBInstanceIdentifier="legacy-aurora-1", DBClusterIdentifier="legacy-aurora",
                           Engine="aurora-postgresql", DBInstanceClass="db.r6g.large", PubliclyAccessible=True)
    rds.create_db_cluster(DBClusterIdentifier="hardened-aurora", Engine="aurora-postgresql", MasterUsername="admin",
                          MasterUserPassword="Sample-Passw0rd", StorageEncrypted=True, KmsKeyId=key,
                          DeletionProtection=True, BackupRetentionPeriod=14, EnableIAMDatabaseAuthentication=True,
                          EnableCloudwatchLogsExports=["postgresql"])
    for n, az in [("hardened-aurora-1", "us-east-1a"), ("hardened-aurora-2", "us-east-1b")]:
        rds.create_db_instance(DBInstanceIdentifier=n, DBClusterIdentifier="hardened-aurora",
                               Engine="aurora-postgresql", DBInstanceClass="db.r6g.large", PubliclyAccessible=False,
                               AvailabilityZone=az)
