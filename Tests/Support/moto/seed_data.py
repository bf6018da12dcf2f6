"""Data area of the sample account: SQS, DynamoDB, Secrets Manager, ACM, EFS, ECR and AWS Backup.

Per control one resource done wrong and one done right (fixtures/aws/seeded-expectations-data.json).
What moto cannot show (old dates, vault encryption key types) is in the controls' inline tests.
"""
import datetime
import json


def _certificate(common_name, key_size, hash_name, days):
    """A self-signed certificate and its key, PEM encoded, valid from yesterday for `days` days."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    algorithm = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384()}[hash_name]
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(common_name)]), critical=False)
            .sign(key, algorithm))
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                              serialization.NoEncryption()))


def seed(c, out, account, HOME, OTHER):
    kms = c("kms")
    data_key = kms.create_key(Description="data area key")["KeyMetadata"]["Arn"]
    out["data_kms_key"] = data_key

    # --- SQS ---------------------------------------------------------------------------------
    public_policy = lambda arn: json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage", "Resource": arn}]})
    private_policy = lambda arn: json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sqs:*", "Resource": arn}]})
    sqs = c("sqs")
    # SSE off (SQS turns SSE-SQS on by default for new queues) and a policy open to anyone.
    sqs.create_queue(QueueName="orders-plain", Attributes={"SqsManagedSseEnabled": "false"})
    plain_arn = f"arn:aws:sqs:{HOME}:{account}:orders-plain"
    sqs.set_queue_attributes(QueueUrl=sqs.get_queue_url(QueueName="orders-plain")["QueueUrl"],
                             Attributes={"Policy": public_policy(plain_arn)})
    # SSE-KMS with a customer managed key, policy for the own account only.
    kms_arn = f"arn:aws:sqs:{HOME}:{account}:orders-kms"
    sqs.create_queue(QueueName="orders-kms", Attributes={
        "KmsMasterKeyId": data_key, "SqsManagedSseEnabled": "false", "Policy": private_policy(kms_arn)})
    # OTHER: SSE-SQS (the default), no policy.
    c("sqs", OTHER).create_queue(QueueName="events-sse", Attributes={"SqsManagedSseEnabled": "true"})
    out["sqs_queues"] = [plain_arn, kms_arn, f"arn:aws:sqs:{OTHER}:{account}:events-sse"]

    # --- DynamoDB ----------------------------------------------------------------------------
    table = dict(AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                 KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST")
    ddb = c("dynamodb")
    # AWS owned key (no SSESpecification), no PITR, no deletion protection.
    ddb.create_table(TableName="sessions-plain", **table)
    # Customer managed key, PITR, deletion protection.
    ddb.create_table(TableName="orders-protected", SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": data_key},
                     DeletionProtectionEnabled=True, **table)
    ddb.update_continuous_backups(TableName="orders-protected",
                                  PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    c("dynamodb", OTHER).create_table(TableName="cache-plain", **table)

    # --- Secrets Manager ---------------------------------------------------------------------
    sm = c("secretsmanager")
    sm.create_secret(Name="db-password-unrotated", SecretString="not-a-real-password")
    sm.create_secret(Name="api-key-rotated", SecretString="not-a-real-key", KmsKeyId=data_key)
    # Without a rotation function moto records the schedule and marks rotation on (no Lambda runs).
    sm.rotate_secret(SecretId="api-key-rotated", RotationRules={"AutomaticallyAfterDays": 30}, RotateImmediately=False)
    sm.get_secret_value(SecretId="api-key-rotated")  # sets LastAccessedDate
    c("secretsmanager", OTHER).create_secret(Name="legacy-token", SecretString="not-a-real-token")

    # --- ACM ---------------------------------------------------------------------------------
    acm = c("acm")
    cert, key = _certificate("good.example.com", 2048, "sha256", 365)
    out["acm_good"] = acm.import_certificate(Certificate=cert, PrivateKey=key)["CertificateArn"]
    # RSA 1024, expires in 10 days (the OpenSSL build refuses SHA-1 signatures: inline tests cover those).
    cert, key = _certificate("weak.example.com", 1024, "sha256", 10)
    out["acm_weak"] = acm.import_certificate(Certificate=cert, PrivateKey=key)["CertificateArn"]
    # Amazon issued (moto issues them after ACM_VALIDATION_WAIT): transparency logging on and off.
    out["acm_ct_on"] = acm.request_certificate(DomainName="ct-on.example.com", ValidationMethod="DNS")["CertificateArn"]
    out["acm_ct_off"] = acm.request_certificate(DomainName="ct-off.example.com", ValidationMethod="DNS", Options={
        # moto 5.2 fails ListCertificates for a certificate whose Options lack Export.
        "CertificateTransparencyLoggingPreference": "DISABLED", "Export": "DISABLED"})["CertificateArn"]
    cert, key = _certificate("other.example.com", 4096, "sha256", 200)
    out["acm_other"] = c("acm", OTHER).import_certificate(Certificate=cert, PrivateKey=key)["CertificateArn"]

    # --- EFS ---------------------------------------------------------------------------------
    efs = c("efs")
    plain = efs.create_file_system(CreationToken="fs-plain", Encrypted=False, Backup=False,
                                   Tags=[{"Key": "Name", "Value": "shared-plain"}])["FileSystemId"]
    efs.put_file_system_policy(FileSystemId=plain, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"],
         "Resource": f"arn:aws:elasticfilesystem:{HOME}:{account}:file-system/{plain}"}]}))
    good = efs.create_file_system(CreationToken="fs-good", Encrypted=True, KmsKeyId=data_key, Backup=True,
                                  Tags=[{"Key": "Name", "Value": "shared-good"}])["FileSystemId"]
    efs.put_file_system_policy(FileSystemId=good, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "elasticfilesystem:ClientMount",
         "Resource": f"arn:aws:elasticfilesystem:{HOME}:{account}:file-system/{good}"}]}))
    other = c("efs", OTHER).create_file_system(CreationToken="fs-other", Encrypted=True,
                                                Tags=[{"Key": "Name", "Value": "shared-other"}])["FileSystemId"]
    out["efs"] = {"plain": plain, "good": good, "other": other}

    # --- ECR ---------------------------------------------------------------------------------
    ecr = c("ecr")
    ecr.create_repository(repositoryName="app-mutable", imageTagMutability="MUTABLE",
                          imageScanningConfiguration={"scanOnPush": False})
    ecr.set_repository_policy(repositoryName="app-mutable", policyText=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "pull", "Effect": "Allow", "Principal": "*", "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]}]}))
    ecr.create_repository(repositoryName="app-immutable", imageTagMutability="IMMUTABLE",
                          imageScanningConfiguration={"scanOnPush": True},
                          encryptionConfiguration={"encryptionType": "KMS", "kmsKey": data_key})
    ecr.set_repository_policy(repositoryName="app-immutable", policyText=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "pull", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
         "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]}]}))
    ecr.put_lifecycle_policy(repositoryName="app-immutable", lifecyclePolicyText=json.dumps({"rules": [
        {"rulePriority": 1, "description": "expire untagged", "selection": {
            "tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 14},
         "action": {"type": "expire"}}]}))
    # OTHER: enhanced scanning for team-* repositories; team-api is scanned by the registry rule
    # although its own scanOnPush is off, legacy is not scanned at all.
    ecr_other = c("ecr", OTHER)
    ecr_other.create_repository(repositoryName="team-api", imageScanningConfiguration={"scanOnPush": False})
    ecr_other.create_repository(repositoryName="legacy", imageScanningConfiguration={"scanOnPush": False})
    ecr_other.put_registry_scanning_configuration(scanType="ENHANCED", rules=[
        {"scanFrequency": "CONTINUOUS_SCAN", "repositoryFilters": [{"filter": "team-*", "filterType": "WILDCARD"}]}])

    # --- AWS Backup --------------------------------------------------------------------------
    backup = c("backup")
    backup.create_backup_vault(BackupVaultName="vault-locked", EncryptionKeyArn=data_key)
    backup.put_backup_vault_lock_configuration(BackupVaultName="vault-locked", MinRetentionDays=7, MaxRetentionDays=365)
    backup.create_backup_vault(BackupVaultName="vault-unlocked")
    out["backup_plan"] = backup.create_backup_plan(BackupPlan={"BackupPlanName": "daily", "Rules": [
        {"RuleName": "daily", "TargetBackupVaultName": "vault-locked", "ScheduleExpression": "cron(0 5 ? * * *)",
         "Lifecycle": {"DeleteAfterDays": 35}}]})["BackupPlanArn"]
    # OTHER: a vault but no backup plan.
    c("backup", OTHER).create_backup_vault(BackupVaultName="vault-other")
