"""Monitoring: CloudWatch Logs log groups and metric filters, CloudWatch alarms and SNS topics.

A multi-region trail ("monitoring") delivers to the log group cloudtrail/monitoring. That group has
a metric filter for every CIS AWS Foundations 4.x item. Half of them are complete (the benchmark's
pattern, an alarm on the metric with its actions enabled, sent to a topic with a confirmed
subscription), so those account-level controls pass; each of the others is wrong in one way, so
those fail in the same account:

  4.2  filter without an alarm               4.10 the filter is on a log group no trail uses
  4.6  alarm to a topic with no subscription  4.12 alarm on another namespace
  4.8  pattern missing most event names      4.14 event names joined by && (matches nothing)
  4.15 alarm with its actions disabled

Log groups: one with a year of retention and a KMS key, one with 30 days and no key, one that
never expires (in the other region). Topics: one encrypted with an SQS and an HTTPS subscription,
one public and unencrypted without subscriptions, one with a plain HTTP subscription.
"""
import json

CIS = {
    "4.1": ("unauthorized-api-calls", "UnauthorizedAPICalls",
            '{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") }'),
    "4.2": ("console-signin-without-mfa", "ConsoleSigninWithoutMFA",
            '{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") }'),
    "4.3": ("root-usage", "RootAccountUsage",
            '{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType != "AwsServiceEvent" }'),
    "4.4": ("iam-policy-changes", "IAMPolicyChanges",
            "{($.eventName=DeleteGroupPolicy)||($.eventName=DeleteRolePolicy)||($.eventName=DeleteUserPolicy)||"
            "($.eventName=PutGroupPolicy)||($.eventName=PutRolePolicy)||($.eventName=PutUserPolicy)||"
            "($.eventName=CreatePolicy)||($.eventName=DeletePolicy)||($.eventName=CreatePolicyVersion)||"
            "($.eventName=DeletePolicyVersion)||($.eventName=AttachRolePolicy)||($.eventName=DetachRolePolicy)||"
            "($.eventName=AttachUserPolicy)||($.eventName=DetachUserPolicy)||($.eventName=AttachGroupPolicy)||"
            "($.eventName=DetachGroupPolicy)}"),
    "4.5": ("cloudtrail-changes", "CloudTrailChanges",
            "{ ($.eventName = CreateTrail) || ($.eventName = UpdateTrail) || ($.eventName = DeleteTrail) || "
            "($.eventName = StartLogging) || ($.eventName = StopLogging) }"),
    "4.6": ("console-auth-failures", "ConsoleSigninFailures",
            '{ ($.eventName = ConsoleLogin) && ($.errorMessage = "Failed authentication") }'),
    "4.7": ("kms-key-disable-deletion", "DisableOrDeleteCMK",
            "{($.eventSource = kms.amazonaws.com) && (($.eventName=DisableKey)||($.eventName=ScheduleKeyDeletion)) }"),
    # Wrong: only two of the nine bucket events.
    "4.8": ("s3-bucket-policy-changes", "S3BucketPolicyChanges",
            "{ ($.eventSource = s3.amazonaws.com) && (($.eventName = PutBucketPolicy) || ($.eventName = DeleteBucketPolicy)) }"),
    "4.9": ("config-changes", "AWSConfigChanges",
            "{ ($.eventSource = config.amazonaws.com) && (($.eventName=StopConfigurationRecorder)||"
            "($.eventName=DeleteDeliveryChannel)||($.eventName=PutDeliveryChannel)||($.eventName=PutConfigurationRecorder)) }"),
    "4.10": ("security-group-changes", "SecurityGroupChanges",
             "{ ($.eventName = AuthorizeSecurityGroupIngress) || ($.eventName = AuthorizeSecurityGroupEgress) || "
             "($.eventName = RevokeSecurityGroupIngress) || ($.eventName = RevokeSecurityGroupEgress) || "
             "($.eventName = CreateSecurityGroup) || ($.eventName = DeleteSecurityGroup) }"),
    "4.11": ("nacl-changes", "NACLChanges",
             "{ ($.eventName = CreateNetworkAcl) || ($.eventName = CreateNetworkAclEntry) || ($.eventName = DeleteNetworkAcl) || "
             "($.eventName = DeleteNetworkAclEntry) || ($.eventName = ReplaceNetworkAclEntry) || "
             "($.eventName = ReplaceNetworkAclAssociation) }"),
    "4.12": ("network-gateway-changes", "NetworkGatewayChanges",
             "{ ($.eventName = CreateCustomerGateway) || ($.eventName = DeleteCustomerGateway) || "
             "($.eventName = AttachInternetGateway) || ($.eventName = CreateInternetGateway) || "
             "($.eventName = DeleteInternetGateway) || ($.eventName = DetachInternetGateway) }"),
    # Right, and written differently from the benchmark (quotes, no spaces, line breaks).
    "4.13": ("route-table-changes", "RouteTableChanges",
             '{($.eventName="CreateRoute")||($.eventName="CreateRouteTable")||\n($.eventName="ReplaceRoute")||'
             '($.eventName="ReplaceRouteTableAssociation")||\n($.eventName="DeleteRouteTable")||($.eventName="DeleteRoute")||'
             '($.eventName="DisassociateRouteTable")}'),
    # Wrong: && where the benchmark has ||, so no event can match.
    "4.14": ("vpc-changes", "VPCChanges",
             "{ ($.eventName = CreateVpc) && ($.eventName = DeleteVpc) && ($.eventName = ModifyVpcAttribute) && "
             "($.eventName = AcceptVpcPeeringConnection) && ($.eventName = CreateVpcPeeringConnection) && "
             "($.eventName = DeleteVpcPeeringConnection) && ($.eventName = RejectVpcPeeringConnection) && "
             "($.eventName = AttachClassicLinkVpc) && ($.eventName = DetachClassicLinkVpc) && "
             "($.eventName = DisableVpcClassicLink) && ($.eventName = EnableVpcClassicLink) }"),
    "4.15": ("organizations-changes", "OrganizationsChanges",
             '{ ($.eventSource = organizations.amazonaws.com) && (($.eventName = "AcceptHandshake") || '
             '($.eventName = "AttachPolicy") || ($.eventName = "CreateAccount") || ($.eventName = "CreateOrganizationalUnit") || '
             '($.eventName = "CreatePolicy") || ($.eventName = "DeclineHandshake") || ($.eventName = "DeleteOrganization") || '
             '($.eventName = "DeleteOrganizationalUnit") || ($.eventName = "DeletePolicy") || ($.eventName = "DetachPolicy") || '
             '($.eventName = "DisablePolicyType") || ($.eventName = "EnablePolicyType") || '
             '($.eventName = "InviteAccountToOrganization") || ($.eventName = "LeaveOrganization") || '
             '($.eventName = "MoveAccount") || ($.eventName = "RemoveAccountFromOrganization") || '
             '($.eventName = "UpdatePolicy") || ($.eventName = "UpdateOrganizationalUnit")) }'),
}

PASSING = ["4.1", "4.3", "4.4", "4.5", "4.7", "4.9", "4.11", "4.13"]
FAILING = ["4.2", "4.6", "4.8", "4.10", "4.12", "4.14", "4.15"]


def seed(c, out, account, HOME, OTHER):
    logs = c("logs")
    key = out.get("kms_rotated")

    # --- log groups ---------------------------------------------------------------------------
    logs.create_log_group(logGroupName="cloudtrail/monitoring", tags={"purpose": "audit"}, **({"kmsKeyId": key} if key else {}))
    logs.put_retention_policy(logGroupName="cloudtrail/monitoring", retentionInDays=400)
    logs.create_log_group(logGroupName="cloudtrail/unused", **({"kmsKeyId": key} if key else {}))
    logs.put_retention_policy(logGroupName="cloudtrail/unused", retentionInDays=365)
    logs.create_log_group(logGroupName="app/short-lived")
    logs.put_retention_policy(logGroupName="app/short-lived", retentionInDays=30)
    c("logs", OTHER).create_log_group(logGroupName="app/forever")  # no retention: never expires; no key

    # --- the trail to CloudWatch Logs -----------------------------------------------------------
    iam = c("iam")
    role = iam.create_role(RoleName="cloudtrail-to-logs", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    group_arn = f"arn:aws:logs:{HOME}:{account}:log-group:cloudtrail/monitoring:*"
    ct = c("cloudtrail")
    ct.create_trail(Name="monitoring", S3BucketName="audit-logs-sample", IsMultiRegionTrail=True,
                    EnableLogFileValidation=True, CloudWatchLogsLogGroupArn=group_arn, CloudWatchLogsRoleArn=role)
    ct.start_logging(Name="monitoring")
    out["monitoring_trail_log_group"] = group_arn

    # --- topics ---------------------------------------------------------------------------------
    sns = c("sns")
    sqs = c("sqs")
    alerts = sns.create_topic(Name="security-alerts", Attributes={"KmsMasterKeyId": "alias/aws/sns"},
                              Tags=[{"Key": "team", "Value": "secops"}])["TopicArn"]
    inbox = sqs.create_queue(QueueName="security-alerts-inbox")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=alerts, Protocol="sqs", Endpoint=inbox_arn)
    sns.subscribe(TopicArn=alerts, Protocol="https", Endpoint="https://hooks.example.com/security")
    lonely = sns.create_topic(Name="unsubscribed-alerts")["TopicArn"]
    sns.set_topic_attributes(TopicArn=lonely, AttributeName="Policy", AttributeValue=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Sid": "AnyonePublishes", "Effect": "Allow", "Principal": "*",
                                                "Action": "sns:Publish", "Resource": lonely}]}))
    webhook = sns.create_topic(Name="legacy-webhook", Attributes={"KmsMasterKeyId": "alias/aws/sns"})["TopicArn"]
    sns.subscribe(TopicArn=webhook, Protocol="http", Endpoint="http://hooks.example.com/legacy")
    out["sns_topics"] = {"security-alerts": alerts, "unsubscribed-alerts": lonely, "legacy-webhook": webhook}

    # --- metric filters and alarms ----------------------------------------------------------------
    cw = c("cloudwatch")
    for cis, (slug, metric, pattern) in CIS.items():
        group = "cloudtrail/unused" if cis == "4.10" else "cloudtrail/monitoring"
        logs.put_metric_filter(logGroupName=group, filterName=slug, filterPattern=pattern, metricTransformations=[
            {"metricName": metric, "metricNamespace": "CISBenchmark", "metricValue": "1"}])
        if cis == "4.2":
            continue  # a filter without an alarm
        alarm = dict(AlarmName=f"cis-{cis}-{slug}", MetricName=metric, Namespace="CISBenchmark", Statistic="Sum",
                     Period=300, EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanOrEqualToThreshold",
                     TreatMissingData="notBreaching", AlarmActions=[alerts], Tags=[{"Key": "cis", "Value": cis}])
        if cis == "4.6":
            alarm["AlarmActions"] = [lonely]
        if cis == "4.12":
            alarm["Namespace"] = "Other"
        if cis == "4.15":
            alarm["ActionsEnabled"] = False
        cw.put_metric_alarm(**alarm)
    out["monitoring_cis_passing"] = PASSING
    out["monitoring_cis_failing"] = FAILING
