"""Security services for the sample account: GuardDuty, AWS Config, Security Hub, IAM Access Analyzer
and IAM server certificates, each done right in one place and wrong in another.

- GuardDuty: an enabled detector in HOME (S3 and EBS malware protection on, EKS audit logs, RDS and
  Lambda protection off); none in OTHER.
- Config: in HOME a recorder of every resource type with global ones, started, with a delivery
  channel (moto leaves its last status at PENDING); in OTHER a recorder of S3 buckets only, stopped,
  without a delivery channel.
- Security Hub: enabled in HOME; not subscribed in OTHER.
- Access Analyzer: moto does not emulate it (nothing to seed).
- IAM: one expired and one valid server certificate (moto stores no expiry).

Expectations: fixtures/aws/seeded-expectations-security.json.
"""
import datetime


def _certificate(common_name, not_before, not_after):
    """A self-signed certificate and its key, PEM-encoded."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(not_before).not_valid_after(not_after)
            .sign(key, hashes.SHA256()))
    body = cert.public_bytes(serialization.Encoding.PEM).decode()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption()).decode()
    return body, private


def seed(c, out, account, HOME, OTHER):
    # --- GuardDuty ---------------------------------------------------------------------------
    gd = c("guardduty", HOME)
    detector = gd.create_detector(Enable=True, FindingPublishingFrequency="FIFTEEN_MINUTES", Features=[
        {"Name": "S3_DATA_EVENTS", "Status": "ENABLED"},
        {"Name": "EKS_AUDIT_LOGS", "Status": "DISABLED"},
        {"Name": "EBS_MALWARE_PROTECTION", "Status": "ENABLED"},
        {"Name": "RDS_LOGIN_EVENTS", "Status": "DISABLED"},
        {"Name": "LAMBDA_NETWORK_LOGS", "Status": "DISABLED"},
    ], Tags={"team": "security"})["DetectorId"]
    out["guardduty_detector"] = detector

    # --- AWS Config --------------------------------------------------------------------------
    s3 = c("s3", HOME)
    s3.create_bucket(Bucket=f"config-history-{account}")
    role = f"arn:aws:iam::{account}:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig"
    cfg = c("config", HOME)
    cfg.put_configuration_recorder(ConfigurationRecorder={
        "name": "default", "roleARN": role,
        "recordingGroup": {"allSupported": True, "includeGlobalResourceTypes": True}})
    cfg.put_delivery_channel(DeliveryChannel={
        "name": "default", "s3BucketName": f"config-history-{account}",
        "configSnapshotDeliveryProperties": {"deliveryFrequency": "TwentyFour_Hours"}})
    cfg.start_configuration_recorder(ConfigurationRecorderName="default")
    other = c("config", OTHER)
    other.put_configuration_recorder(ConfigurationRecorder={
        "name": "buckets-only", "roleARN": role,
        "recordingGroup": {"allSupported": False, "includeGlobalResourceTypes": False,
                           "resourceTypes": ["AWS::S3::Bucket"]}})

    # --- Security Hub ------------------------------------------------------------------------
    c("securityhub", HOME).enable_security_hub(EnableDefaultStandards=True)

    # --- IAM server certificates -------------------------------------------------------------
    iam = c("iam")
    now = datetime.datetime.now(datetime.timezone.utc)
    for name, start, end in [("legacy-www", now - datetime.timedelta(days=800), now - datetime.timedelta(days=30)),
                             ("current-www", now - datetime.timedelta(days=10), now + datetime.timedelta(days=355))]:
        body, key = _certificate(f"{name}.example.com", start, end)
        iam.upload_server_certificate(ServerCertificateName=name, CertificateBody=body, PrivateKey=key)
    out["server_certificates"] = ["legacy-www", "current-www"]
