"""AWS billing connectors: Cost Explorer (a daily API pull) and Data Exports in S3 (CUR 2.0, legacy CUR, FOCUS).

Every mapping from AWS's names to the ledger's is in the tables at the top of this module, in plain sight:
- Cost Explorer: which metric is BilledCost / EffectiveCost, which group key is which ledger field, and the
  Cost Explorer service *name* → product code table (CE reports "Amazon Elastic Compute Cloud - Compute",
  the category CSV is keyed by product code "AmazonEC2");
- CUR 2.0 and legacy CUR: line item type → ChargeCategory/ChargeFrequency, the column behind each ledger field,
  and which column holds the amortised (effective) cost of each line item type.

The connectors only read from AWS; apps.finops.ledger books what they return. Amounts are Decimal from AWS's
strings, times aware UTC.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import gzip
import hashlib
import io
import json
import re
import shutil
import tempfile
import weakref
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path, PurePosixPath

from ..focus import AI_CATEGORY, GENAI_SUBCATEGORY, day_bounds, ledger_row, month_bounds, parse_tags, to_decimal, to_utc
from .base import (
    ConnectionResult,
    Connector,
    ConnectorError,
    CredentialsRejected,
    FetchResult,
    FieldSpec,
    ProviderUnavailable,
    Throttled,
    Window,
)

PROVIDER = "AWS"
CATEGORY_CSV = Path(__file__).resolve().parent.parent / "data" / "aws_category_mapping.csv"

# --- Cost Explorer → ledger ----------------------------------------------------------------------------------

# Which Cost Explorer metric fills which ledger cost. UnblendedCost is the invoice basis (after negotiated
# rates, purchases in full); AmortizedCost spreads RI/Savings Plan fees over the usage they cover.
CE_METRIC_FOR = {"billed_cost": "UnblendedCost", "effective_cost": "AmortizedCost"}
# Requested too and kept in x_extra: the cost after credits and discounts (what finance often reconciles to).
CE_EXTRA_METRICS = {"x_NetUnblendedCost": "NetUnblendedCost"}
CE_METRICS = [*CE_METRIC_FOR.values(), *CE_EXTRA_METRICS.values()]
# GroupBy keys, in the order Cost Explorer returns them in each group's Keys, and the ledger field each fills.
CE_GROUP_BY = (("LINKED_ACCOUNT", "sub_account_id"), ("SERVICE", "service_name"))
CE_MAX_PAGES = 2000  # a loop guard, far above any real answer (CE pages hold thousands of groups)
CE_THROTTLE_RETRY_AFTER = 60.0  # CE sends no Retry-After; its request quota refills within a minute

# Cost Explorer SERVICE names → CUR product code (the key of aws_category_mapping.csv). Names not listed fall
# back to the CSV itself (some of its keys are names), a "Bedrock" / "SageMaker" match, then "Other".
CE_SERVICE_CODES: dict[str, str] = {
    "Amazon Elastic Compute Cloud - Compute": "AmazonEC2",
    "EC2 - Other": "AmazonEC2",
    "Amazon EC2 Container Registry (ECR)": "AmazonECR",
    "Amazon Elastic Container Registry Public": "AmazonECRPublic",
    "Amazon Elastic Container Service": "AmazonECS",
    "Amazon Elastic Container Service for Kubernetes": "AmazonEKS",
    "Amazon Elastic Kubernetes Service": "AmazonEKS",
    "AWS Lambda": "AWSLambda",
    "AWS App Runner": "AWSAppRunner",
    "Amazon Lightsail": "AmazonLightsail",
    "Amazon Simple Storage Service": "AmazonS3",
    "Amazon Elastic File System": "AmazonEFS",
    "Amazon FSx": "AmazonFSx",
    "Amazon Glacier": "AmazonGlacier",
    "Amazon S3 Glacier": "AmazonGlacier",
    "AWS Backup": "AWSBackup",
    "AWS Storage Gateway": "AWSStorageGateway",
    "Amazon Relational Database Service": "AmazonRDS",
    "Amazon DynamoDB": "AmazonDynamoDB",
    "Amazon ElastiCache": "AmazonElastiCache",
    "Amazon MemoryDB": "AmazonMemoryDB",
    "Amazon Redshift": "AmazonRedshift",
    "Amazon DocumentDB (with MongoDB compatibility)": "AmazonDocDB",
    "Amazon Neptune": "AmazonNeptune",
    "Amazon Timestream": "AmazonTimestream",
    "Amazon Keyspaces (for Apache Cassandra)": "AmazonMCS",
    "Amazon OpenSearch Service": "AmazonES",
    "Amazon Elasticsearch Service": "AmazonES",
    "AWS Glue": "AWSGlue",
    "Amazon Athena": "AmazonAthena",
    "Amazon Kinesis": "AmazonKinesis",
    "Amazon Kinesis Firehose": "AmazonKinesisFirehose",
    "Amazon Managed Streaming for Apache Kafka": "AmazonMSK",
    "Amazon Elastic MapReduce": "ElasticMapReduce",
    "Amazon QuickSight": "AmazonQuickSight",
    "Amazon Simple Queue Service": "AWSQueueService",
    "Amazon Simple Notification Service": "AmazonSNS",
    "Amazon Simple Email Service": "AmazonSES",
    "Amazon MQ": "AmazonMQ",
    "AWS Step Functions": "AmazonStates",
    "Amazon EventBridge": "Amazon EventBridge",
    "Amazon API Gateway": "AmazonApiGateway",
    "Amazon CloudFront": "AmazonCloudFront",
    "Amazon Virtual Private Cloud": "AmazonVPC",
    "Amazon Route 53": "AmazonRoute53",
    "Amazon Elastic Load Balancing": "AWSELB",
    "Elastic Load Balancing": "AWSELB",
    "AWS Data Transfer": "AWSDataTransfer",
    "AWS Direct Connect": "AWSDirectConnect",
    "AWS Global Accelerator": "AWSGlobalAccelerator",
    "AWS Network Firewall": "AWSNetworkFirewall",
    "AmazonCloudWatch": "AmazonCloudWatch",
    "Amazon CloudWatch": "AmazonCloudWatch",
    "AWS CloudTrail": "AWSCloudTrail",
    "AWS Config": "AWSConfig",
    "AWS CloudFormation": "AWSCloudFormation",
    "AWS Systems Manager": "AWSSystemsManager",
    "Amazon Managed Grafana": "AmazonGrafana",
    "Amazon Managed Service for Prometheus": "AmazonPrometheus",
    "AWS Cost Explorer": "AWSCostExplorer",
    "AWS Budgets": "AWSBudgets",
    "Savings Plans for AWS Compute usage": "ComputeSavingsPlans",
    "AWS Key Management Service": "awskms",
    "AWS Secrets Manager": "AWSSecretsManager",
    "AWS Certificate Manager": "AWSCertificateManager",
    "AWS WAF": "awswaf",
    "AWS Shield": "AWSShield",
    "AWS Security Hub": "AWSSecurityHub",
    "AWS Firewall Manager": "AWSFMS",
    "Amazon GuardDuty": "AmazonGuardDuty",
    "Amazon Inspector": "AmazonInspectorV2",
    "Amazon Macie": "AmazonMacie",
    "Amazon Cognito": "AmazonCognito",
    "AWS Directory Service": "AWSDirectoryService",
    "AWS Amplify": "AWSAmplify",
    "CodeBuild": "CodeBuild",
    "AWS CodePipeline": "AWSCodePipeline",
    "AWS CodeCommit": "AWSCodeCommit",
    "AWS CloudShell": "AWSCloudShell",
    "AWS IoT": "AWSIoT",
    "AWS Database Migration Service": "AWSDatabaseMigrationSvc",
    "AWS DataSync": "AWSDataSync",
    "AWS Transfer Family": "AWSTransfer",
    "AWS Migration Hub Refactor Spaces": "AWSMigrationHubRefactorSpaces",
    "AWS Elemental MediaConvert": "AWSElementalMediaConvert",
    # AI and machine learning
    "Amazon Bedrock": "AmazonBedrock",
    "Amazon SageMaker": "AmazonSageMaker",
    "Amazon Q": "AmazonQ",
    "Amazon CodeWhisperer": "AmazonCodeWhisperer",
    "Amazon Comprehend": "comprehend",
    "Amazon Rekognition": "AmazonRekognition",
    "Amazon Textract": "AmazonTextract",
    "Amazon Transcribe": "transcribe",
    "Amazon Translate": "translate",
    "Amazon Polly": "AmazonPolly",
    "Amazon Lex": "AmazonLex",
    "Amazon Kendra": "AmazonKendra",
    "Amazon Personalize": "AmazonPersonalize",
    "Amazon Forecast": "AmazonForecast",
    "Amazon Augmented AI": "AmazonA2I",
    "Amazon Fraud Detector": "AmazonFraudDetector",
    "Amazon DevOps Guru": "AmazonDevOpsGuru",
}
# Product codes the shared category CSV does not have.
EXTRA_CATEGORIES = {
    "AmazonQ": AI_CATEGORY,
    "AWSCloudShell": "Developer Tools",
    "AWSMigrationHubRefactorSpaces": "Migration",
}
# FOCUS ServiceSubcategory for the AI services whose subcategory is unambiguous.
AI_SUBCATEGORIES = {
    "AmazonBedrock": GENAI_SUBCATEGORY,
    "AmazonQ": GENAI_SUBCATEGORY,
    "AmazonCodeWhisperer": GENAI_SUBCATEGORY,
    "AmazonSageMaker": "Machine Learning",
    "AmazonLex": "Bots",
    "comprehend": "Natural Language Processing",
    "translate": "Natural Language Processing",
    "transcribe": "Natural Language Processing",
    "AmazonPolly": "Natural Language Processing",
}
# Cost Explorer's SERVICE "Tax" is the tax of the day, not a service.
CE_TAX_SERVICE = "Tax"

# --- CUR 2.0 / legacy CUR → ledger ------------------------------------------------------------------------

# line_item_line_item_type → (ChargeCategory, ChargeFrequency). Types not listed book as Adjustment.
LINE_ITEM_TYPES: dict[str, tuple[str, str]] = {
    "Usage": ("Usage", "Usage-Based"),
    "DiscountedUsage": ("Usage", "Usage-Based"),  # covered by a Reserved Instance
    "SavingsPlanCoveredUsage": ("Usage", "Usage-Based"),
    "SavingsPlanNegation": ("Usage", "Usage-Based"),  # offsets covered usage's on-demand cost on the invoice
    "Tax": ("Tax", "One-Time"),
    "Credit": ("Credit", "One-Time"),
    "Refund": ("Credit", "One-Time"),
    "Discount": ("Credit", "One-Time"),
    "BundledDiscount": ("Credit", "One-Time"),
    "EdpDiscount": ("Credit", "One-Time"),
    "PrivateRateDiscount": ("Credit", "One-Time"),
    "DistributorDiscount": ("Credit", "One-Time"),
    "Fee": ("Purchase", "One-Time"),  # RI upfront fees, support, marketplace subscriptions
    "RIFee": ("Purchase", "Recurring"),
    "SavingsPlanRecurringFee": ("Purchase", "Recurring"),
    "SavingsPlanUpfrontFee": ("Purchase", "One-Time"),
}
USAGE_LINE_ITEM_TYPES = {"Usage", "DiscountedUsage", "SavingsPlanCoveredUsage"}

# Ledger field ← CUR 2.0 column. Legacy CUR headers (`lineItem/UnblendedCost`) are renamed to these names
# mechanically first (category and name to snake_case), so one table serves both.
CUR_COLUMNS: dict[str, tuple[str, ...]] = {
    "billing_account_id": ("bill_payer_account_id",),
    "billing_account_name": ("bill_payer_account_name",),
    "sub_account_id": ("line_item_usage_account_id",),
    "sub_account_name": ("line_item_usage_account_name",),
    "billing_currency": ("line_item_currency_code",),
    "charge_description": ("line_item_line_item_description",),
    "invoice_id": ("bill_invoice_id",),
    "invoice_issuer_name": ("bill_invoicing_entity",),
    "publisher_name": ("line_item_legal_entity",),  # the seller of record (AWS entity or Marketplace seller)
    "region_id": ("product_region_code", "product_region"),
    "region_name": ("product_location",),
    "availability_zone": ("line_item_availability_zone",),
    "resource_id": ("line_item_resource_id",),
    "sku_id": ("product_sku",),
    "sku_price_id": ("pricing_rate_id",),
    "pricing_unit": ("pricing_unit",),
}
CUR_AMOUNT_COLUMNS: dict[str, str] = {
    "billed_cost": "line_item_unblended_cost",  # BilledCost: unblended = what the invoice charges
    "list_cost": "pricing_public_on_demand_cost",  # ListCost: public on-demand price × quantity
    "list_unit_price": "pricing_public_on_demand_rate",
    "pricing_quantity": "line_item_usage_amount",
}
# EffectiveCost (amortised) by line item type; other types: the unblended cost. A missing column falls back to
# the unblended cost too. Purchases that are amortised into the usage they cover are 0, as FOCUS says.
EFFECTIVE_COST_COLUMNS: dict[str, tuple[str, ...]] = {
    "SavingsPlanCoveredUsage": ("savings_plan_savings_plan_effective_cost",),
    "DiscountedUsage": ("reservation_effective_cost",),
    # The RI fee's effective cost is only its unused part; the used part is in DiscountedUsage already.
    "RIFee": ("reservation_unused_amortized_upfront_fee_for_billing_period", "reservation_unused_recurring_fee"),
}
ZERO_EFFECTIVE_TYPES = {"SavingsPlanNegation", "SavingsPlanUpfrontFee"}
# SavingsPlanRecurringFee: effective = commitment − used commitment (the unused part), from these two columns.
SP_COMMITMENT_COLUMNS = ("savings_plan_total_commitment_to_date", "savings_plan_used_commitment")
# Extension columns kept in x_extra (non-empty values only).
CUR_EXTRA_COLUMNS = {
    "x_LineItemType": "line_item_line_item_type",
    "x_UsageType": "line_item_usage_type",
    "x_Operation": "line_item_operation",
    "x_ServiceCode": "product_servicecode",
}
CUR_COST_COLUMNS = ("line_item_unblended_cost",)
FOCUS_MARKERS = ("billedcost", "effectivecost")
# Bump when a mapping above changes: unchanged exports are then booked again with the new mapping.
MAPPING_VERSION = "1"

DOWNLOAD_CHUNK = 1024 * 1024
MAX_MANIFEST_BYTES = 20 * 1024 * 1024


# --- lookups -------------------------------------------------------------------------------------------------


@functools.cache
def category_table() -> dict[str, str]:
    """product code (and the few service names the CSV carries, without their trailing '*') → ServiceCategory."""
    table: dict[str, str] = {}
    with open(CATEGORY_CSV, newline="", encoding="utf-8-sig") as fh:
        for row in csv.DictReader(fh):
            code = (row.get("product_code") or "").strip().rstrip("*").strip()
            category = (row.get("ServiceCategory") or "").strip()
            if code and category:
                table.setdefault(code, category)
    return {**table, **EXTRA_CATEGORIES}


def product_category(code: str) -> tuple[str, str]:
    """(ServiceCategory, ServiceSubcategory) of a CUR product code; unknown codes are 'Other'."""
    category = category_table().get(code, "Other") if code else "Other"
    return category, AI_SUBCATEGORIES.get(code, "")


def ce_service(name: str) -> tuple[str, str, str]:
    """Cost Explorer service name → (product code, ServiceCategory, ServiceSubcategory)."""
    code = CE_SERVICE_CODES.get(name, "")
    if not code:
        if name in category_table():
            code = name
        elif "bedrock" in name.lower():  # marketplace models: "Claude 3.5 Sonnet (Amazon Bedrock Edition)"
            code = "AmazonBedrock"
        elif "sagemaker" in name.lower():
            code = "AmazonSageMaker"
    category, subcategory = product_category(code)
    return code, category, subcategory


# --- AWS errors → connector errors -----------------------------------------------------------------------------

THROTTLE_CODES = {
    "LimitExceededException",
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "SlowDown",
}
CREDENTIAL_CODES = {
    "UnrecognizedClientException",
    "AccessDeniedException",
    "AccessDenied",
    "InvalidClientTokenId",
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidSignatureException",
    "MissingAuthenticationToken",
    "AuthFailure",
    "UnauthorizedOperation",
    "AllAccessDisabled",
    "AccountProblem",
}
PLAIN_MESSAGES = {
    "DataUnavailableException": "Cost Explorer has no data for this period yet. Cost Explorer must be enabled in "
    "the payer account; data for a newly enabled account appears within 24 hours.",
    "BillExpirationException": "Cost Explorer no longer keeps data that old (it keeps about 13 months of daily "
    "data). Lower the source's backfill days.",
    "ResourceNotFoundException": "The billing view was not found. Check the billing view ARN in the settings.",
    "BillingViewHealthStatusException": "The billing view is not healthy yet; AWS is still preparing its data.",
    "ValidationException": "AWS rejected the request as invalid.",
    "NoSuchBucket": "The S3 bucket does not exist. Check the bucket name and region in the settings.",
    "PermanentRedirect": "The S3 bucket is in another region. Set the bucket's region in the settings.",
    "AuthorizationHeaderMalformed": "The S3 bucket is in another region. Set the bucket's region in the settings.",
    "InvalidObjectState": "An export file is archived (Glacier storage class) and cannot be read.",
}
# Cost Explorer restarts pagination cleanly on these: worth a retry, not a failure.
RETRY_CODES = {"InvalidNextTokenException", "RequestChangedException"}


def _error_code(exc) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def aws_error(exc: Exception, *, service: str) -> Exception:
    """The connector error for a botocore/boto3 exception, with a message a person can act on."""
    from botocore import exceptions as bex

    if isinstance(exc, bex.NoCredentialsError | bex.PartialCredentialsError):
        return CredentialsRejected("No complete AWS access key is stored for this source.")
    if isinstance(exc, bex.ParamValidationError):
        return ConnectorError(f"A setting is not valid for AWS: {str(exc).splitlines()[-1].strip()}")
    if isinstance(exc, bex.ConnectionError | bex.HTTPClientError):
        return ProviderUnavailable(
            f"{service} could not be reached ({exc.__class__.__name__}); Keel will try again.", retry_after=60
        )
    if isinstance(exc, bex.ClientError):
        error = exc.response.get("Error", {})
        code, message = str(error.get("Code", "")), str(error.get("Message", "")).strip()
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        said = f" AWS said: {code}" + (f": {message}" if message else "") + "."
        if code in THROTTLE_CODES or status == 429:
            return Throttled(f"{service} is throttling Keel's requests.{said}", retry_after=_retry_after(exc.response))
        if code in CREDENTIAL_CODES:
            return CredentialsRejected(
                f"{service} refused the credentials or their permissions.{said} Check the access key and that the "
                "IAM policy in docs/connectors/aws.md is attached."
            )
        if code in RETRY_CODES:
            return ProviderUnavailable(f"{service} asked Keel to start the query again.{said}", retry_after=10)
        if code in PLAIN_MESSAGES:
            return ConnectorError(f"{PLAIN_MESSAGES[code]}{said}")
        if status >= 500:
            return ProviderUnavailable(f"{service} is unavailable right now.{said}", retry_after=60)
        return ConnectorError(f"{service} returned an error.{said}")
    if isinstance(exc, bex.BotoCoreError):
        return ConnectorError(f"{service} call failed: {exc}")
    return exc


def _retry_after(response: dict) -> float:
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {}) or {}
    value = headers.get("retry-after") or headers.get("Retry-After")
    try:
        return max(float(value), 1.0) if value else CE_THROTTLE_RETRY_AFTER
    except ValueError:
        return CE_THROTTLE_RETRY_AFTER


# --- clients --------------------------------------------------------------------------------------------------

AWS_SECRET_FIELDS = (
    FieldSpec(
        "access_key_id", "Access key ID", help="Of an IAM user (or the user allowed to assume the role).", secret=True
    ),
    FieldSpec("secret_access_key", "Secret access key", secret=True),
    FieldSpec(
        "session_token",
        "Session token",
        help="Only for temporary credentials; they expire, so prefer a user key plus a role.",
        required=False,
        secret=True,
    ),
)
ROLE_FIELDS = (
    FieldSpec(
        "role_arn",
        "Role to assume",
        help="Optional: arn:aws:iam::<account>:role/<name>, assumed with the key above (recommended for MSPs).",
        required=False,
    ),
    FieldSpec(
        "external_id", "External ID", help="The role trust policy's sts:ExternalId, if it has one.", required=False
    ),
)


def _credentials(secrets: dict) -> dict:
    key, secret = (secrets.get("access_key_id") or "").strip(), (secrets.get("secret_access_key") or "").strip()
    if not key or not secret:
        raise CredentialsRejected("No complete AWS access key is stored for this source.")
    token = (secrets.get("session_token") or "").strip()
    return {"aws_access_key_id": key, "aws_secret_access_key": secret, "aws_session_token": token or None}


def _boto_config():
    from botocore.config import Config

    # Few SDK retries: Keel's task retries with backoff on Throttled/ProviderUnavailable.
    return Config(
        retries={"max_attempts": 2, "mode": "standard"},
        connect_timeout=10,
        read_timeout=60,
        user_agent_extra="keel-finops",
    )


def boto_client(service: str, settings: dict, secrets: dict):
    """A boto3 client from the stored key, assuming the configured role first if there is one."""
    import boto3
    from botocore import exceptions as bex

    region = (settings.get("region") or "us-east-1").strip()
    credentials = _credentials(secrets)
    role_arn = (settings.get("role_arn") or "").strip()
    if role_arn:
        if not role_arn.startswith("arn:aws") or ":role/" not in role_arn:
            raise ConnectorError(f"{role_arn!r} is not a role ARN (arn:aws:iam::<account>:role/<name>).")
        request = {"RoleArn": role_arn, "RoleSessionName": "keel-finops", "DurationSeconds": 3600}
        if settings.get("external_id"):
            request["ExternalId"] = settings["external_id"].strip()
        try:
            sts = boto3.client("sts", region_name=region, config=_boto_config(), **credentials)
            issued = sts.assume_role(**request)["Credentials"]
        except (bex.ClientError, bex.BotoCoreError) as exc:
            raise aws_error(exc, service=f"AWS STS (assuming {role_arn})") from exc
        credentials = {
            "aws_access_key_id": issued["AccessKeyId"],
            "aws_secret_access_key": issued["SecretAccessKey"],
            "aws_session_token": issued["SessionToken"],
        }
    return boto3.client(service, region_name=region, config=_boto_config(), **credentials)


class _AwsConnector(Connector):
    service = ""
    service_label = ""
    secret_fields = AWS_SECRET_FIELDS
    hint_field = "access_key_id"

    def client(self, source, secrets: dict):
        if self.client_factory is not None:
            return self.client_factory(source)
        return boto_client(self.service, source.settings or {}, secrets)

    def _call(self, method, **params):
        from botocore import exceptions as bex

        try:
            return method(**params)
        except (bex.ClientError, bex.BotoCoreError) as exc:
            raise aws_error(exc, service=self.service_label) from exc


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def _account_of_role(role_arn: str) -> str:
    parts = (role_arn or "").split(":")
    return parts[4] if len(parts) > 5 and parts[4].isdigit() else ""


# --- Cost Explorer ----------------------------------------------------------------------------------------------


def cost_and_usage_request(settings: dict, start: dt.date, end: dt.date) -> dict:
    """The GetCostAndUsage request for [start, end) (CE's End is exclusive, like the window's)."""
    request = {
        "TimePeriod": {"Start": start.isoformat(), "End": end.isoformat()},
        "Granularity": "DAILY",
        "Metrics": list(CE_METRICS),
        "GroupBy": [{"Type": "DIMENSION", "Key": key} for key, _ in CE_GROUP_BY],
    }
    if (settings.get("billing_view_arn") or "").strip():
        request["BillingViewArn"] = settings["billing_view_arn"].strip()
    return request


def _metric(metrics: dict, name: str) -> tuple[Decimal | None, str]:
    value = metrics.get(name) or {}
    try:
        return to_decimal(value.get("Amount")), str(value.get("Unit") or "")
    except ValueError as exc:
        raise ConnectorError(f"Cost Explorer sent {name} {value.get('Amount')!r}, which is not a number.") from exc


class CostExplorerConnector(_AwsConnector):
    """Daily cost per linked account and service from Cost Explorer's GetCostAndUsage."""

    kind = "aws_cost_explorer"
    label = "AWS Cost Explorer"
    service = "ce"
    service_label = "AWS Cost Explorer"
    settings_fields = (
        FieldSpec(
            "region",
            "API region",
            help="Cost Explorer's endpoint: us-east-1 (cn-northwest-1 for the China partition).",
            default="us-east-1",
        ),
        *ROLE_FIELDS,
        FieldSpec(
            "billing_view_arn",
            "Billing view ARN",
            help="Optional: read a billing view (e.g. a Billing Conductor billing group) instead of the account.",
            required=False,
        ),
        FieldSpec(
            "billing_account_id",
            "Payer account ID",
            help="Recorded as BillingAccountId; defaults to the role's account.",
            required=False,
        ),
    )
    # Each request costs money (about $0.01): four runs a day keep the ledger within hours of AWS.
    default_interval_minutes = 360
    # CE revises a month until the bill is final, a few days into the next month: re-read ~40 days each run.
    default_lookback_days = 40
    default_backfill_days = 90

    def test_connection(self, source, secrets: dict) -> ConnectionResult:
        day = _today() - dt.timedelta(days=1)
        try:
            ce = self.client(source, secrets)
            request = {
                "TimePeriod": {"Start": day.isoformat(), "End": (day + dt.timedelta(days=1)).isoformat()},
                "Granularity": "DAILY",
                "Metrics": ["UnblendedCost"],
            }
            if (source.settings or {}).get("billing_view_arn"):
                request["BillingViewArn"] = source.settings["billing_view_arn"].strip()
            response = self._call(ce.get_cost_and_usage, **request)
        except CredentialsRejected as exc:
            return ConnectionResult(False, f"AWS rejected the credentials: {exc}")
        except Throttled as exc:
            return ConnectionResult(False, f"AWS Cost Explorer is throttling requests; try again in a minute. ({exc})")
        except (ConnectorError, ProviderUnavailable) as exc:
            return ConnectionResult(False, str(exc))
        result = (response.get("ResultsByTime") or [{}])[0]
        amount, unit = _metric(result.get("Total") or {}, "UnblendedCost")
        estimated = " (estimated, not final yet)" if result.get("Estimated") else ""
        figure = f"{amount} {unit}".strip() if amount is not None else "no cost reported"
        return ConnectionResult(
            True, f"Connected to AWS Cost Explorer. Unblended cost on {day:%Y-%m-%d}: {figure}{estimated}."
        )

    def fetch(self, source, secrets: dict, window: Window) -> FetchResult:
        settings = source.settings or {}
        # CE has nothing after today; asking past tomorrow is an error, and today's partial day is useful.
        end = min(window.end, _today() + dt.timedelta(days=1))
        if end <= window.start:
            return FetchResult(rows=(), details={"pages": 0, "note": "The window is in the future."})
        ce = self.client(source, secrets)
        request = cost_and_usage_request(settings, window.start, end)
        groups: list[tuple] = []
        names: dict[str, str] = {}
        days: set[dt.date] = set()
        estimated: set[dt.date] = set()
        pages, zero, token, seen = 0, 0, None, set()
        while True:  # GetCostAndUsage has no boto3 paginator: follow NextPageToken by hand, same request each time
            response = self._call(ce.get_cost_and_usage, **request, **({"NextPageToken": token} if token else {}))
            pages += 1
            for attribute in response.get("DimensionValueAttributes") or []:
                names[str(attribute.get("Value", ""))] = str((attribute.get("Attributes") or {}).get("description", ""))
            for result in response.get("ResultsByTime") or []:
                day = dt.date.fromisoformat(result["TimePeriod"]["Start"][:10])
                days.add(day)
                is_estimate = bool(result.get("Estimated"))
                if is_estimate:
                    estimated.add(day)
                for group in result.get("Groups") or []:
                    item = self._group(day, group, is_estimate)
                    if item is None:
                        zero += 1
                    else:
                        groups.append(item)
            token = response.get("NextPageToken")
            if not token:
                break
            if token in seen or pages >= CE_MAX_PAGES:
                raise ConnectorError(f"Cost Explorer kept paging ({pages} pages, token repeated or too many pages).")
            seen.add(token)
        billing_account = (settings.get("billing_account_id") or "").strip() or _account_of_role(
            settings.get("role_arn", "")
        )
        details = {
            "pages": pages,
            "days": len(days),
            "estimated_days": len(estimated),
            "estimated_from": min(estimated).isoformat() if estimated else None,
            "groups": len(groups),
            "zero_groups_skipped": zero,
            "request": {"granularity": "DAILY", "metrics": CE_METRICS, "group_by": [k for k, _ in CE_GROUP_BY]},
        }
        return FetchResult(rows=_ce_rows(groups, names, billing_account), scope="window", details=details)

    @staticmethod
    def _group(day: dt.date, group: dict, is_estimate: bool) -> tuple | None:
        keys = list(group.get("Keys") or [])
        if len(keys) != len(CE_GROUP_BY):
            raise ConnectorError(f"Cost Explorer sent a group with keys {keys!r}; expected account and service.")
        metrics = group.get("Metrics") or {}
        billed, currency = _metric(metrics, CE_METRIC_FOR["billed_cost"])
        effective, effective_unit = _metric(metrics, CE_METRIC_FOR["effective_cost"])
        net, _ = _metric(metrics, CE_EXTRA_METRICS["x_NetUnblendedCost"])
        billed = billed if billed is not None else Decimal(0)
        effective = effective if effective is not None else billed
        if not billed and not effective and not net:
            return None  # CE lists every service ever used, mostly at 0: not worth a ledger row
        return (day, keys[0], keys[1], billed, effective, net, currency or effective_unit or "USD", is_estimate)


def _ce_rows(groups: list[tuple], names: dict[str, str], billing_account: str) -> Iterator[dict]:
    for day, account, service, billed, effective, net, currency, is_estimate in groups:
        start, end = day_bounds(day)
        period_start, period_end = month_bounds(start)
        code, category, subcategory = ce_service(service)
        yield ledger_row(
            billing_account_id=billing_account,
            sub_account_id=account,
            sub_account_name=names.get(account, ""),
            sub_account_type="AWS Account",
            billing_currency=currency,
            billing_period_start=period_start,
            billing_period_end=period_end,
            charge_period_start=start,
            charge_period_end=end,
            charge_category="Tax" if service == CE_TAX_SERVICE else "Usage",
            charge_frequency="One-Time" if service == CE_TAX_SERVICE else "Usage-Based",
            billed_cost=billed,
            effective_cost=effective,
            provider_name=PROVIDER,
            publisher_name=PROVIDER,
            host_provider_name=PROVIDER,
            invoice_issuer_name=PROVIDER,
            service_name=service,
            service_category=category,
            service_subcategory=subcategory,
            x_cost_source="estimate" if is_estimate else "actual",
            x_extra={k: str(v) for k, v in {"x_NetUnblendedCost": net, "x_ServiceCode": code}.items() if v},
        )


# --- CUR files → rows -------------------------------------------------------------------------------------------

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def cur2_name(header: str) -> str:
    """Legacy CUR `lineItem/UnblendedCost` → CUR 2.0 `line_item_unblended_cost`; CUR 2.0 names pass through."""
    header = header.strip()
    if "/" not in header:
        return header.lower()
    category, _, name = header.partition("/")
    return f"{_CAMEL.sub('_', category).lower()}_{_CAMEL.sub('_', name).lower()}"


def _tag_key(header: str) -> str | None:
    """The tag key a legacy CUR column carries (`resourceTags/user:team`, `resource_tags_user_team`), else None."""
    if header.startswith("resourceTags/"):
        return header.split("/", 1)[1]
    if header.startswith("resource_tags_"):
        rest = header[len("resource_tags_") :]
        for prefix in ("user_", "aws_"):
            if rest.startswith(prefix):
                return f"{prefix[:-1]}:{rest[len(prefix) :]}"
        return rest
    return None


def normalise_tag_key(key: str) -> str:
    """CUR spells a user tag `user:team` (legacy) or `user_team` (CUR 2.0); Azure, GCP and FOCUS say `team`.
    One spelling lets one allocation rule match every cloud; AWS's own tags keep their `aws:` prefix."""
    for prefix in ("user:", "user_"):
        if key.startswith(prefix) and len(key) > len(prefix):
            return key[len(prefix) :]
    if key.startswith("aws_"):
        return "aws:" + key[len("aws_") :]
    return key


def _as_map(value) -> dict:
    """A CUR 2.0 map column: a dict, Parquet's list of (key, value) pairs, or JSON text in CSV."""
    if value is None or value == "":
        return {}
    if isinstance(value, dict):
        return value
    if isinstance(value, list):
        return {str(k): v for k, v in (tuple(item) for item in value if isinstance(item, list | tuple))}
    try:
        return parse_tags(value)
    except ValueError:
        pass
    text = str(value).strip()
    if text.startswith("{") and text.endswith("}") and "=" in text:  # Hive's map text: {k1=v1, k2=v2}
        pairs = (part.partition("=") for part in text[1:-1].split(", "))
        return {k.strip(): v.strip() for k, _, v in pairs if k.strip()}
    return {}


def _text(value) -> str:
    if value is None:
        return ""
    return value.strip() if isinstance(value, str) else str(value)


def _sniff(path: Path) -> str:
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head[:2] == b"\x1f\x8b":
        return "csv.gz"
    if head == b"PAR1":
        return "parquet"
    if head[:2] == b"PK":
        return "csv.zip"
    return "csv"


def _csv_records(path: Path, fmt: str) -> Iterator[tuple[list[str], dict]]:
    """(headers, record) per data row, streamed: a 1M-row file is never held in memory."""
    csv.field_size_limit(max(csv.field_size_limit(), 64 * 1024 * 1024))  # tag and product maps can be long
    with _open_binary(path, fmt) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        reader = csv.reader(text)
        headers = next(reader, None)
        if not headers:
            raise ConnectorError(f"{path.name} is empty.")
        for values in reader:
            if not values:
                continue
            if len(values) != len(headers):
                raise ConnectorError(
                    f"{path.name} row {reader.line_num}: {len(values)} values for {len(headers)} columns "
                    "(the file is cut short or malformed)."
                )
            yield headers, dict(zip(headers, values, strict=True))


def _open_binary(path: Path, fmt: str):
    if fmt == "csv.gz":
        return gzip.open(path, "rb")
    if fmt == "csv.zip":
        archive = zipfile.ZipFile(path)
        members = [m for m in archive.namelist() if not m.endswith("/")]
        if not members:
            raise ConnectorError(f"{path.name} is an empty ZIP archive.")
        return archive.open(members[0])
    return open(path, "rb")  # noqa: SIM115 — closed by the caller's with


def _parquet_records(path: Path) -> Iterator[tuple[list[str], dict]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise ConnectorError(f"{path.name} cannot be read as Parquet: {exc}") from exc
    headers = list(parquet.schema_arrow.names)
    for batch in parquet.iter_batches(batch_size=10_000):
        for record in batch.to_pylist():
            yield headers, record


def cur_rows(path: Path | str, *, name: str | None = None) -> Iterator[dict]:
    """Ledger rows from one CUR file on disk: CUR 2.0 or legacy CUR, CSV / CSV.gz / CSV.zip / Parquet.

    Streams the file. Raises ConnectorError (with the file name and row) for anything it cannot read."""
    path = Path(path)
    label = name or path.name
    fmt = _sniff(path)
    records = _parquet_records(path) if fmt == "parquet" else _csv_records(path, fmt)
    renamed: dict[str, str] | None = None
    tag_columns: list[tuple[str, str]] = []
    number = 1
    try:
        for headers, record in records:
            number += 1
            if renamed is None:
                renamed, tag_columns = _cur_header_map(headers, label)
            values = {renamed[h]: v for h, v in record.items() if h in renamed}
            tags = {key: _text(record[h]) for h, key in tag_columns if _text(record.get(h))}
            try:
                row = _cur_row(values, tags)
            except ValueError as exc:
                raise ConnectorError(f"{label} row {number}: {exc}") from exc
            yield row
    except (EOFError, zlib.error, gzip.BadGzipFile, zipfile.BadZipFile) as exc:
        raise ConnectorError(f"{label} cannot be read: {_gzip_reason(exc)}") from exc
    except csv.Error as exc:
        raise ConnectorError(f"{label} row {number}: not valid CSV ({exc}).") from exc
    except UnicodeDecodeError as exc:
        raise ConnectorError(f"{label} is not UTF-8 text.") from exc
    # A header with no rows is a month without line items yet: no rows, not an error.


def _gzip_reason(exc: BaseException) -> str:
    if isinstance(exc, EOFError):
        return "the gzip file is truncated (it ends before its last block)."
    if isinstance(exc, zipfile.BadZipFile):
        return f"the ZIP archive is corrupt ({exc})."
    return f"the compressed data is corrupt ({exc})."


def _cur_header_map(headers: list[str], label: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    lowered = {h.strip().lower() for h in headers}
    if all(marker in lowered for marker in FOCUS_MARKERS):
        raise ConnectorError(f"{label} is a FOCUS file, not a CUR: set the source's export format to FOCUS.")
    renamed = {h: cur2_name(h) for h in headers if _tag_key(h) is None}
    if not set(CUR_COST_COLUMNS) <= set(renamed.values()):
        raise ConnectorError(
            f"{label} is not a Cost and Usage Report: it has no lineItem/UnblendedCost (legacy CUR) or "
            "line_item_unblended_cost (CUR 2.0) column."
        )
    tags = [(h, key) for h in headers if (key := _tag_key(h))]
    return renamed, tags


def _amount(values: dict, column: str) -> Decimal | None:
    value = values.get(column)
    try:
        return to_decimal(value.strip() if isinstance(value, str) else value)
    except ValueError as exc:
        raise ValueError(f"{column} {value!r} is not a number") from exc


def _time(values: dict, column: str) -> dt.datetime | None:
    value = values.get(column)
    try:
        return to_utc(value.strip() if isinstance(value, str) else value)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{column} {value!r} is not a date and time") from exc


def _effective_cost(line_type: str, values: dict, billed: Decimal) -> Decimal:
    if line_type in ZERO_EFFECTIVE_TYPES:
        return Decimal(0)
    if line_type == "Fee" and _text(values.get("reservation_reservation_a_r_n")):
        return Decimal(0)  # an RI's upfront fee: amortised into the DiscountedUsage it covers
    if line_type == "SavingsPlanRecurringFee":
        total, used = (_amount(values, c) for c in SP_COMMITMENT_COLUMNS)
        return total - used if total is not None and used is not None else billed
    columns = EFFECTIVE_COST_COLUMNS.get(line_type)
    if columns:
        parts = [_amount(values, c) for c in columns]
        if any(p is not None for p in parts):
            return sum((p for p in parts if p is not None), Decimal(0))
    return billed


def _commitment(line_type: str, values: dict) -> dict:
    sp_arn = _text(values.get("savings_plan_savings_plan_a_r_n"))
    ri_arn = _text(values.get("reservation_reservation_a_r_n"))
    if line_type.startswith("SavingsPlan") and sp_arn:
        status = "Used" if line_type == "SavingsPlanCoveredUsage" else ""
        return {
            "commitment_discount_id": sp_arn,
            "commitment_discount_category": "Spend",
            "commitment_discount_status": status,
        }
    if line_type in ("DiscountedUsage", "RIFee") and ri_arn:
        status = "Used" if line_type == "DiscountedUsage" else ""
        return {
            "commitment_discount_id": ri_arn,
            "commitment_discount_category": "Usage",
            "commitment_discount_status": status,
        }
    return {}


def _pricing_category(line_type: str, values: dict) -> str:
    if line_type in ("DiscountedUsage", "SavingsPlanCoveredUsage"):
        return "Committed"
    if line_type == "Usage":
        return "Dynamic" if _text(values.get("pricing_term")).lower() == "spot" else "Standard"
    return ""


def _token_type(code: str, usage_type: str) -> tuple[str, str]:
    """Bedrock usage types end in e.g. `-input-tokens` / `-output-tokens`: the FOCUS SkuMeter and x_TokenType."""
    if code != "AmazonBedrock":
        return "", ""
    lowered = usage_type.lower()
    for marker, token, meter in (
        ("cache-read", "cache_read", "Cache Read Tokens"),
        ("cache-write", "cache_write", "Cache Write Tokens"),
        ("input-token", "input", "Input Tokens"),
        ("output-token", "output", "Output Tokens"),
    ):
        if marker in lowered:
            return token, meter
    return "", ""


def _cur_row(values: dict, tags: dict) -> dict:
    """One CUR line item (columns already CUR 2.0 names) → one ledger row."""
    line_type = _text(values.get("line_item_line_item_type")) or "Usage"
    charge_category, frequency = LINE_ITEM_TYPES.get(line_type, ("Adjustment", "One-Time"))
    billed = _amount(values, CUR_AMOUNT_COLUMNS["billed_cost"]) or Decimal(0)
    charge_start = _time(values, "line_item_usage_start_date")
    charge_end = _time(values, "line_item_usage_end_date")
    period_start = _time(values, "bill_billing_period_start_date")
    period_end = _time(values, "bill_billing_period_end_date")
    if charge_start is None and period_start is None:
        raise ValueError("no line_item_usage_start_date and no bill_billing_period_start_date")
    if period_start is None or period_end is None:
        period_start, period_end = month_bounds(charge_start or period_start)
    charge_start = charge_start or period_start
    charge_end = charge_end if charge_end is not None and charge_end >= charge_start else None
    charge_end = charge_end or min(charge_start + dt.timedelta(days=1), period_end)

    product = _as_map(values.get("product"))
    code = _text(values.get("line_item_product_code")) or _text(values.get("product_servicecode"))
    service_name = (
        _text(values.get("product_product_name"))
        or _text(product.get("product_name"))
        or _text(values.get("product_servicename"))
        or code
        or f"AWS {line_type}"
    )
    category, subcategory = product_category(code)
    usage_type = _text(values.get("line_item_usage_type"))
    token_type, meter = _token_type(code, usage_type)

    text = {
        field: next((_text(values[c]) for c in cols if _text(values.get(c))), "") for field, cols in CUR_COLUMNS.items()
    }
    amounts = {field: _amount(values, column) for field, column in CUR_AMOUNT_COLUMNS.items() if field != "billed_cost"}
    is_usage = line_type in USAGE_LINE_ITEM_TYPES
    all_tags = {**_as_map(values.get("resource_tags")), **tags}
    for key, value in _as_map(values.get("tags")).items():  # CUR 2.0 "tags" map: prefixed keys
        if key.startswith("resourceTags/"):
            all_tags.setdefault(key.split("/", 1)[1], value)
    all_tags = {normalise_tag_key(k): v for k, v in all_tags.items()}
    extra = {k: _text(values.get(c)) for k, c in CUR_EXTRA_COLUMNS.items() if _text(values.get(c))}
    row = {
        **text,
        **amounts,
        **_commitment(line_type, values),
        "billing_currency": text["billing_currency"] or "USD",
        "billing_period_start": period_start,
        "billing_period_end": period_end,
        "charge_period_start": charge_start,
        "charge_period_end": charge_end,
        "charge_category": charge_category,
        "charge_frequency": frequency,
        "billed_cost": billed,
        "effective_cost": _effective_cost(line_type, values, billed),
        "consumed_quantity": amounts["pricing_quantity"] if is_usage else None,
        "consumed_unit": text["pricing_unit"] if is_usage else "",
        "pricing_category": _pricing_category(line_type, values),
        "provider_name": PROVIDER,
        "publisher_name": text["publisher_name"] or PROVIDER,
        "host_provider_name": PROVIDER,
        "invoice_issuer_name": text["invoice_issuer_name"] or PROVIDER,
        "service_name": service_name,
        "service_category": category,
        "service_subcategory": subcategory,
        "sub_account_type": "AWS Account",
        "sku_meter": meter,
        "x_token_type": token_type,
        "tags": {str(k): _text(v) or "true" for k, v in all_tags.items()},
        "x_extra": extra,
    }
    return ledger_row(**row)


# --- Data Exports in S3 -----------------------------------------------------------------------------------------


class _Downloads:
    """A temp directory that lives as long as the rows or file list that use it (removed when they go)."""

    def __init__(self):
        self.path = Path(tempfile.mkdtemp(prefix="keel-aws-export-"))
        self.bytes = 0
        self._cleanup = weakref.finalize(self, shutil.rmtree, self.path, True)

    def remove(self):
        self._cleanup()


class _ExportFiles(list):
    """The local FOCUS files of one fetch; keeps their temp directory alive until the list itself goes."""

    downloads: _Downloads | None = None


def _cur_stream(paths: list[tuple[Path, str]], downloads: _Downloads) -> Iterator[dict]:
    try:
        for path, uri in paths:
            yield from cur_rows(path, name=uri)
    finally:
        downloads.remove()


def _months(window: Window) -> list[dt.date]:
    """First days of the UTC months that overlap [start, end)."""
    last = window.end - dt.timedelta(days=1)
    month, months = window.start.replace(day=1), []
    while month <= last:
        months.append(month)
        month = (month + dt.timedelta(days=32)).replace(day=1)
    return months


def _next_month(month: dt.date) -> dt.date:
    return (month + dt.timedelta(days=32)).replace(day=1)


def _parse_s3_uri(uri: str, default_bucket: str) -> tuple[str, str]:
    if uri.startswith("s3://"):
        bucket, _, key = uri[5:].partition("/")
        return bucket, key
    return default_bucket, uri.lstrip("/")


class _GzipCheck:
    """Decompresses as bytes arrive, only to prove the gzip stream is whole (multi-member files included)."""

    def __init__(self):
        self._new()

    def _new(self):
        self.inflater, self.fed = zlib.decompressobj(16 + zlib.MAX_WBITS), False

    def feed(self, data: bytes) -> None:
        while data:
            self.fed = True
            self.inflater.decompress(data, 8 * 1024 * 1024)
            while self.inflater.unconsumed_tail:  # bounded output per call: memory stays flat
                self.inflater.decompress(self.inflater.unconsumed_tail, 8 * 1024 * 1024)
            if not self.inflater.eof:
                return
            data = self.inflater.unused_data
            self._new()

    def complete(self) -> bool:
        return not self.fed


class DataExportConnector(_AwsConnector):
    """CUR 2.0, legacy CUR or FOCUS files that AWS Data Exports (or the legacy CUR) delivers to S3."""

    kind = "aws_data_export"
    label = "AWS Data Export in S3"
    service = "s3"
    service_label = "Amazon S3"
    settings_fields = (
        FieldSpec("bucket", "S3 bucket", help="The bucket the export delivers to."),
        FieldSpec(
            "prefix", "S3 path prefix", help="The export's S3 path prefix (blank if it has none).", required=False
        ),
        FieldSpec("export_name", "Export name", help="The Data Export's (or legacy report's) name."),
        FieldSpec("region", "Bucket region", default="us-east-1"),
        FieldSpec(
            "export_format",
            "Export table",
            choices=(("cur2", "CUR 2.0 (or legacy CUR)"), ("focus", "FOCUS 1.0 / 1.2 with AWS columns")),
            default="cur2",
        ),
        *ROLE_FIELDS,
    )
    default_interval_minutes = 360
    # AWS may still update a closed month for about two weeks: keep re-reading last month until then.
    # Unchanged exports are skipped, so a long lookback only costs a few small S3 requests.
    default_lookback_days = 16
    default_backfill_days = 90

    @staticmethod
    def _base(settings: dict) -> str:
        prefix = (settings.get("prefix") or "").strip().strip("/")
        name = (settings.get("export_name") or "").strip().strip("/")
        return f"{prefix}/{name}" if prefix else name

    def test_connection(self, source, secrets: dict) -> ConnectionResult:
        settings = source.settings or {}
        bucket, base = settings.get("bucket", ""), self._base(settings)
        try:
            s3 = self.client(source, secrets)
            listing = self._call(s3.list_objects_v2, Bucket=bucket, Prefix=f"{base}/metadata/", MaxKeys=1000)
            periods = sorted(
                {
                    m.group(1)
                    for o in listing.get("Contents") or []
                    if (m := re.search(r"BILLING_PERIOD=(\d{4}-\d{2})/", o["Key"]))
                }
            )
            layout = "Data Exports"
            if not periods:
                listing = self._call(s3.list_objects_v2, Bucket=bucket, Prefix=f"{base}/", Delimiter="/", MaxKeys=1000)
                periods = sorted(
                    f"{m.group(1)[:4]}-{m.group(1)[4:6]}"
                    for p in listing.get("CommonPrefixes") or []
                    if (m := re.search(r"/(\d{8})-\d{8}/$", p.get("Prefix", "")))
                )
                layout = "legacy CUR"
        except CredentialsRejected as exc:
            return ConnectionResult(False, f"AWS rejected the credentials: {exc}")
        except (ConnectorError, Throttled, ProviderUnavailable) as exc:
            return ConnectionResult(False, str(exc))
        where = f"s3://{bucket}/{base}/"
        if not periods:
            return ConnectionResult(
                False,
                f"Connected to S3, but there is no export under {where}: check the prefix and export name. "
                "A new export delivers its first files within 24 hours.",
            )
        return ConnectionResult(
            True,
            f"Connected: {layout} export at {where} with {len(periods)} billing period(s), latest {periods[-1]}.",
        )

    def fetch(self, source, secrets: dict, window: Window) -> FetchResult:
        settings = source.settings or {}
        bucket, base = settings.get("bucket", "").strip(), self._base(settings)
        export_name = (settings.get("export_name") or "").strip().strip("/")
        export_format = settings.get("export_format") or "cur2"
        s3 = self.client(source, secrets)
        previous = _previous_manifests(source)
        manifests: dict[str, dict] = {}
        missing, unchanged, notes = [], [], []
        planned: list[tuple[str, str, str]] = []  # (period, bucket, key) to download
        for month in _months(window):
            period = f"{month:%Y-%m}"
            found = self._manifest(s3, bucket, base, export_name, month)
            if found is None:
                missing.append(period)
                continue
            key, etag, files, layout = found
            if not files:
                notes.append(f"The {period} manifest lists no data files: nothing billed that month yet.")
                manifests[period] = {"manifest": key, "files": 0, "layout": layout, "signature": ""}
                continue
            file_etags = [self._head(s3, b, k, period, key) for b, k in files]
            signature = hashlib.sha256(
                json.dumps([MAPPING_VERSION, export_format, etag, file_etags]).encode()
            ).hexdigest()
            entry = {"manifest": key, "layout": layout, "files": len(files), "signature": signature}
            if previous.get(period, {}).get("signature") == signature:
                unchanged.append(period)  # booked before from these very files: the ledger already has them
                manifests[period] = {**entry, "unchanged": True}
                continue
            manifests[period] = entry
            planned.extend((period, b, k) for b, k in files)
        if not manifests:
            raise ConnectorError(
                f"No export manifest found under s3://{bucket}/{base}/ for {', '.join(missing)}. Keel looks for "
                f"{base}/metadata/BILLING_PERIOD=YYYY-MM/{export_name}-Manifest.json (Data Exports) and "
                f"{base}/YYYYMMDD-YYYYMMDD/{export_name}-Manifest.json (legacy CUR): check the bucket, prefix and "
                "export name. A new export delivers its first files within 24 hours."
            )
        downloads = _Downloads()
        local: list[tuple[Path, str]] = []
        try:
            for index, (period, file_bucket, key) in enumerate(planned):
                local.append(
                    (self._download(s3, file_bucket, key, downloads, index, period), f"s3://{file_bucket}/{key}")
                )
        except BaseException:
            downloads.remove()
            raise
        details = {
            "export": f"s3://{bucket}/{base}/",
            "export_format": export_format,
            "manifests": manifests,
            "missing_periods": missing,
            "unchanged_periods": unchanged,
            "files_read": [uri for _, uri in local][:100],
            "bytes_downloaded": downloads.bytes,
            "export_notes": notes,
        }
        if export_format == "focus":
            files = _ExportFiles(str(path) for path, _ in local)
            files.downloads = downloads
            return FetchResult(files=files, scope="billing_periods", details=details)
        # Unchanged periods give no rows, and billing_periods scope only replaces the periods that have rows.
        return FetchResult(rows=_cur_stream(local, downloads), scope="billing_periods", details=details)

    # -- S3 reads --

    def _get_json(self, s3, bucket: str, key: str) -> tuple[dict, str] | None:
        from botocore import exceptions as bex

        try:
            obj = s3.get_object(Bucket=bucket, Key=key)
            raw = obj["Body"].read(MAX_MANIFEST_BYTES + 1)
        except bex.ClientError as exc:
            if _error_code(exc) in ("NoSuchKey", "404", "NotFound"):
                return None
            raise aws_error(exc, service=self.service_label) from exc
        except bex.BotoCoreError as exc:
            raise aws_error(exc, service=self.service_label) from exc
        if len(raw) > MAX_MANIFEST_BYTES:
            raise ConnectorError(f"s3://{bucket}/{key} is too large for a manifest.")
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ConnectorError(f"The manifest s3://{bucket}/{key} is not valid JSON ({exc}).") from exc
        if not isinstance(data, dict):
            raise ConnectorError(f"The manifest s3://{bucket}/{key} is not a JSON object.")
        return data, str(obj.get("ETag", "")).strip('"')

    def _manifest(self, s3, bucket: str, base: str, name: str, month: dt.date):
        """(manifest key, ETag, [(bucket, key)…], layout) for a billing period, or None if there is none."""
        partition = f"{base}/metadata/BILLING_PERIOD={month:%Y-%m}/"
        key = f"{partition}{name}-Manifest.json"
        found = self._get_json(s3, bucket, key)
        if found is None:
            # "Create new" delivery puts each execution's manifest one folder deeper: take the newest.
            listing = self._call(s3.list_objects_v2, Bucket=bucket, Prefix=partition, MaxKeys=1000)
            candidates = [o for o in listing.get("Contents") or [] if o["Key"].endswith("Manifest.json")]
            if candidates:
                key = max(candidates, key=lambda o: (o["LastModified"], o["Key"]))["Key"]
                found = self._get_json(s3, bucket, key)
        if found is not None:
            data, etag = found
            if "dataFiles" not in data:
                raise ConnectorError(f"The manifest s3://{bucket}/{key} has no dataFiles list.")
            files = [_parse_s3_uri(str(uri), bucket) for uri in data.get("dataFiles") or []]
            return key, etag, files, "data_exports"
        legacy = f"{base}/{month:%Y%m%d}-{_next_month(month):%Y%m%d}/{name}-Manifest.json"
        found = self._get_json(s3, bucket, legacy)
        if found is None:
            return None
        data, etag = found
        if "reportKeys" not in data:
            raise ConnectorError(f"The manifest s3://{bucket}/{legacy} has no reportKeys list.")
        report_bucket = str(data.get("bucket") or bucket)
        files = [_parse_s3_uri(str(k), report_bucket) for k in data.get("reportKeys") or []]
        return legacy, etag, files, "legacy_cur"

    def _missing_file(self, bucket: str, key: str, period: str, manifest: str) -> ConnectorError:
        return ConnectorError(
            f"The {period} manifest (s3://{bucket}/{manifest}) lists s3://{bucket}/{key}, but that file is not in "
            "the bucket. The export may be being rewritten right now (the next run reads it again), or files were "
            "deleted by a lifecycle rule."
        )

    def _head(self, s3, bucket: str, key: str, period: str, manifest: str) -> str:
        from botocore import exceptions as bex

        try:
            return str(s3.head_object(Bucket=bucket, Key=key).get("ETag", "")).strip('"')
        except bex.ClientError as exc:
            if _error_code(exc) in ("NoSuchKey", "404", "NotFound"):
                raise self._missing_file(bucket, key, period, manifest) from exc
            raise aws_error(exc, service=self.service_label) from exc
        except bex.BotoCoreError as exc:
            raise aws_error(exc, service=self.service_label) from exc

    def _download(self, s3, bucket: str, key: str, downloads: _Downloads, index: int, period: str) -> Path:
        """Stream one export file to disk, proving a gzip is whole and a Parquet file has its footer."""
        from botocore import exceptions as bex

        uri = f"s3://{bucket}/{key}"
        path = downloads.path / f"{index:05d}-{PurePosixPath(key).name}"
        check: _GzipCheck | None = None
        head = b""
        try:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"]
            with open(path, "wb") as fh:
                for chunk in body.iter_chunks(DOWNLOAD_CHUNK):
                    if not head:
                        head = chunk[:4]
                        check = _GzipCheck() if head[:2] == b"\x1f\x8b" else None
                    fh.write(chunk)
                    downloads.bytes += len(chunk)
                    if check is not None:
                        check.feed(chunk)
        except bex.ClientError as exc:
            if _error_code(exc) in ("NoSuchKey", "404", "NotFound"):
                raise ConnectorError(f"{uri} ({period}) disappeared while Keel was reading the export.") from exc
            raise aws_error(exc, service=self.service_label) from exc
        except bex.BotoCoreError as exc:
            raise aws_error(exc, service=self.service_label) from exc
        except zlib.error as exc:
            raise ConnectorError(f"{uri} cannot be read: the gzip data is corrupt ({exc}).") from exc
        if check is not None and not check.complete():
            raise ConnectorError(
                f"{uri} cannot be read: the gzip file is truncated (it ends before its last block). "
                "Nothing was booked; the next run reads the export again."
            )
        if head == b"PAR1":
            with open(path, "rb") as fh:
                fh.seek(-4, io.SEEK_END)
                if fh.read(4) != b"PAR1":
                    raise ConnectorError(f"{uri} cannot be read: the Parquet file is truncated (no footer).")
        return path


def _previous_manifests(source) -> dict[str, dict]:
    """What the source's last finished run booked, per billing period (to skip exports that did not change).

    Only a run that succeeded counts, and only if it is the latest finished one: after a failure the ledger
    may not hold what that success booked (a multi-file FOCUS load is not one transaction), so book again."""
    if getattr(source, "pk", None) is None:
        return {}
    from ..models import IngestionRun

    finished = (IngestionRun.Status.SUCCEEDED, IngestionRun.Status.FAILED, IngestionRun.Status.RETRYING)
    run = (
        IngestionRun.objects.filter(source_id=source.pk, status__in=finished)
        .order_by("-started_at", "-id")
        .only("status", "details")
        .first()
    )
    if run is None or run.status != IngestionRun.Status.SUCCEEDED:
        return {}
    manifests = (run.details or {}).get("manifests")
    return manifests if isinstance(manifests, dict) else {}


def rows_from_files(paths: Iterable[Path | str]) -> Iterator[dict]:
    """Ledger rows from several CUR files (demo data and tools): cur_rows over each, in order."""
    for path in paths:
        yield from cur_rows(path)
