#!/usr/bin/env python3
"""Drives every operation the sandbox implements through boto3, a client this project did not write.

The scenario is an onboarding as AWS accounts live it: the security (GuardDuty administrator) account
reads the organization, the management account enters a created account through
OrganizationAccountAccessRole, the administrator creates and invites members, the members create
detectors (one naming a protection plan), find and accept (or decline, or delete) their invitations,
the administrator reads and changes its members' protection plans, stops and starts monitoring, the
members suspend and leave, the administrator disassociates and deletes them, and a member turns
GuardDuty off. Along the way it takes error paths whose answers botocore must parse into
the modeled error codes: bad input, unknown detectors and invitations, refused roles, unknown keys,
throttling and server errors (from two extra sandboxes that inject them), and requests botocore's own
parameter validation (on, as by default) stops before they leave.

Every step prints one JSON line: its label, service and operation, the outcome it expects ("ok" or an
error code), what happened (ok, error code, HTTP status, exception class), how many HTTP requests it
sent, and a problem when a success answered something the scenario contradicts. Each request carries
an `x-boto3-driver-step` header with its step number, so the test can tie the sandbox's exchanges to
the step that caused them. The exit status is 0 unless the driver itself broke.

Usage: boto3-driver.py --endpoint URL --throttling-endpoint URL --failing-endpoint URL --region R
                       --admin-key K --management-key K --member ID=KEY (three) --outsider ID
"""

import argparse
import json
import sys

import boto3
from botocore import xform_name
from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError

SECRET = "sandbox"
STEP_HEADER = "x-boto3-driver-step"
UNKNOWN_DETECTOR = "0" * 32
UNKNOWN_ACCOUNT = "000000000000"
ROLE = "OrganizationAccountAccessRole"


class Driver:
    def __init__(self, args):
        self.args = args
        # A session of its own: no profile, no shared configuration, only what the arguments say.
        self.session = boto3.session.Session()
        self.step_number = 0
        self.requests = 0

    def client(self, service, key, endpoint=None, attempts=1, secret=SECRET, token=None):
        """A boto3 client against a sandbox; `attempts` 1 turns botocore's retries off."""
        config = Config(
            retries={"mode": "standard", "total_max_attempts": attempts},
            parameter_validation=True,
        )
        client = self.session.client(
            service,
            region_name=self.args.region,
            endpoint_url=endpoint or self.args.endpoint,
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            aws_session_token=token,
            config=config,
        )
        client.meta.events.register("before-send", self._tag)
        return client

    def _tag(self, request, **_):
        request.headers[STEP_HEADER] = str(self.step_number)
        self.requests += 1

    def step(self, label, client, operation, params=None, expect="ok", check=None, paginate=None, **flags):
        """Calls `operation` (or pages through it), prints the outcome, returns the result or None.

        `check(result)` returns a problem (a string) when the answer contradicts the scenario.
        `paginate` is the paginator's PaginationConfig: the result is then the list of pages.
        `attempts=N` is how many HTTP requests the step must send (default 1, 0 for ParamValidationError).
        `invalid_request=True` marks a request that breaks the model on purpose but that botocore lets
        through (it enforces `required` and minimums, not maximums): the sandbox must refuse it.
        """
        self.step_number += 1
        self.requests = 0
        line = {
            "step": self.step_number,
            "label": label,
            "service": client.meta.service_model.service_name,
            "operation": operation,
            "expected": expect,
            "invalidRequest": flags.get("invalid_request", False),
        }
        result = None
        try:
            if paginate is not None:
                pages = client.get_paginator(xform_name(operation)).paginate(
                    **(params or {}), PaginationConfig=paginate
                )
                result = list(pages)
            else:
                result = getattr(client, xform_name(operation))(**(params or {}))
            line.update(ok=True, code=None, status=_status(result), exception=None)
        except ClientError as error:
            line.update(
                ok=False,
                code=error.response.get("Error", {}).get("Code"),
                status=error.response.get("ResponseMetadata", {}).get("HTTPStatusCode"),
                exception=type(error).__name__,
                message=error.response.get("Error", {}).get("Message"),
            )
        except ParamValidationError as error:
            line.update(ok=False, code="ParamValidationError", status=None, exception=type(error).__name__)
            line["message"] = str(error)
        except Exception as error:  # noqa: BLE001 - anything else botocore raises is a finding, not a crash
            # An answer botocore could not parse (ResponseParserError, or a RuntimeError for a timestamp it
            # cannot read), a pagination loop…: a wire mistake of the sandbox. Later steps still run.
            line.update(ok=False, code=type(error).__name__, status=None, exception=type(error).__name__)
            line["message"] = str(error)
        problem = None
        if line["ok"] and check is not None:
            try:
                problem = check(result)
            except (KeyError, IndexError, TypeError) as error:
                problem = f"the answer lacks what the scenario reads: {error!r}"
        # One request per attempt: none when botocore refuses the parameters, one per page when paging.
        sent = flags.get("attempts", 0 if expect == "ParamValidationError" else 1)
        if paginate is None and self.requests != sent:
            problem = problem or f"{self.requests} HTTP request(s), expected {sent}"
        if problem:
            line["problem"] = problem
        line["requests"] = self.requests
        print(json.dumps(line), flush=True)
        return result if line["ok"] else None


def _status(result):
    if isinstance(result, list):  # pages
        return result[-1]["ResponseMetadata"]["HTTPStatusCode"] if result else None
    return result["ResponseMetadata"]["HTTPStatusCode"]


def expect_equal(actual, expected, what):
    return None if actual == expected else f"{what}: {actual!r}, expected {expected!r}"


def unprocessed(result):
    return sorted(item["AccountId"] for item in result["UnprocessedAccounts"])


def feature_statuses(features):
    return {feature["Name"]: feature["Status"] for feature in features}


def member_statuses(result):
    return {member["AccountId"]: member["RelationshipStatus"] for member in result["Members"]}


def run(args):
    d = Driver(args)
    members = dict(pair.split("=", 1) for pair in args.member)
    if len(members) != 3:
        raise SystemExit("give three --member ID=KEY")
    (m_b, key_b), (m_c, key_c), (m_d, key_d) = members.items()
    outsider = args.outsider

    # --- Who is who: STS and Organizations, as the administrator and the management account. ---
    sts_admin = d.client("sts", args.admin_key)
    sts_management = d.client("sts", args.management_key)
    me = d.step("GetCallerIdentity as the administrator", sts_admin, "GetCallerIdentity")
    administrator = me["Account"] if me else ""
    who = d.step("GetCallerIdentity as the management account", sts_management, "GetCallerIdentity")
    management = who["Account"] if who else ""
    d.step(
        "GetCallerIdentity with a key nobody issued",
        d.client("sts", "AKIDNOBODYISSUEDTHIS"),
        "GetCallerIdentity",
        expect="InvalidClientTokenId",
    )

    org = d.client("organizations", args.admin_key)
    d.step(
        "DescribeOrganization",
        org,
        "DescribeOrganization",
        check=lambda r: expect_equal(r["Organization"]["MasterAccountId"], management, "MasterAccountId"),
    )
    pages = d.step(
        "ListAccounts, paginated 10 by 10",
        org,
        "ListAccounts",
        paginate={"PageSize": 10},
        check=lambda r: None if len(r) > 1 else f"{len(r)} page(s) for more than 10 accounts",
    )
    accounts = [account for page in pages or [] for account in page["Accounts"]]
    taken = {administrator, management, outsider, *members}
    created = [
        a["Id"]
        for a in accounts
        if a["JoinedMethod"] == "CREATED" and a["State"] == "ACTIVE" and a["Id"] not in taken
    ]
    m_a = created[0] if created else UNKNOWN_ACCOUNT
    d.step(
        "DescribeAccount",
        org,
        "DescribeAccount",
        {"AccountId": m_a},
        check=lambda r: expect_equal(r["Account"]["Id"], m_a, "Account.Id"),
    )
    d.step(
        "DescribeAccount not in the organization",
        org,
        "DescribeAccount",
        {"AccountId": UNKNOWN_ACCOUNT},
        expect="AccountNotFoundException",
    )
    d.step(
        "ListAccounts with a NextToken it never gave",
        org,
        "ListAccounts",
        {"NextToken": "nope"},
        expect="InvalidInputException",
    )
    d.step(
        "ListAccounts as a member account",
        d.client("organizations", key_b),
        "ListAccounts",
        expect="AccessDeniedException",
    )
    d.step("ListAccounts MaxResults 0", org, "ListAccounts", {"MaxResults": 0}, expect="ParamValidationError")

    # --- The management account enters a created account through the role Organizations put there. ---
    def role(account, name=ROLE):
        return f"arn:aws:iam::{account}:role/{name}"

    assumed = d.step(
        "AssumeRole OrganizationAccountAccessRole",
        sts_management,
        "AssumeRole",
        {"RoleArn": role(m_a), "RoleSessionName": "boto3-onboarding", "DurationSeconds": 900},
        check=lambda r: expect_equal(
            r["AssumedRoleUser"]["Arn"], f"arn:aws:sts::{m_a}:assumed-role/{ROLE}/boto3-onboarding", "Arn"
        ),
    )
    d.step(
        "AssumeRole a role the account does not have",
        sts_management,
        "AssumeRole",
        {"RoleArn": role(m_a, "NotThere"), "RoleSessionName": "boto3-onboarding"},
        expect="AccessDenied",
    )
    d.step(
        "AssumeRole as an account the role does not trust",
        sts_admin,
        "AssumeRole",
        {"RoleArn": role(m_a), "RoleSessionName": "boto3-onboarding"},
        expect="AccessDenied",
    )
    d.step(
        "AssumeRole with a session policy that is not JSON",
        sts_management,
        "AssumeRole",
        {"RoleArn": role(m_a), "RoleSessionName": "boto3-onboarding", "Policy": "{not json"},
        expect="MalformedPolicyDocument",
    )
    d.step(
        "AssumeRole one-character session name",
        sts_management,
        "AssumeRole",
        {"RoleArn": role(m_a), "RoleSessionName": "x"},
        expect="ParamValidationError",
    )
    credentials = assumed["Credentials"] if assumed else {}
    session = {
        "key": credentials.get("AccessKeyId", "AKIDNOSESSION"),
        "secret": credentials.get("SecretAccessKey", SECRET),
        "token": credentials.get("SessionToken"),
    }
    d.step(
        "GetCallerIdentity as the assumed role",
        d.client("sts", **session),
        "GetCallerIdentity",
        check=lambda r: expect_equal(r["Account"], m_a, "Account"),
    )

    # --- The administrator finds its detector and enrols members. ---
    admin = d.client("guardduty", args.admin_key)
    listed = d.step("ListDetectors", admin, "ListDetectors")
    detector = (listed or {}).get("DetectorIds", [UNKNOWN_DETECTOR])[0]
    d.step(
        "ListDetectors MaxResults 0", admin, "ListDetectors", {"MaxResults": 0}, expect="ParamValidationError"
    )
    d.step(
        "ListDetectors with a key nobody issued",
        d.client("guardduty", "AKIDNOBODYISSUEDTHIS"),
        "ListDetectors",
        expect="UnrecognizedClientException",
    )
    d.step(
        "GetDetector",
        admin,
        "GetDetector",
        {"DetectorId": detector},
        check=lambda r: expect_equal(r["Status"], "ENABLED", "Status"),
    )
    d.step(
        "UpdateDetector every fifteen minutes",
        admin,
        "UpdateDetector",
        {"DetectorId": detector, "Enable": True, "FindingPublishingFrequency": "FIFTEEN_MINUTES"},
    )
    d.step(
        "GetDetector after the update",
        admin,
        "GetDetector",
        {"DetectorId": detector},
        check=lambda r: expect_equal(r["FindingPublishingFrequency"], "FIFTEEN_MINUTES", "frequency"),
    )
    d.step(
        "GetDetector unknown detector",
        admin,
        "GetDetector",
        {"DetectorId": UNKNOWN_DETECTOR},
        expect="BadRequestException",
    )

    enrolled = [m_a, m_b, m_c, m_d]
    details = [{"AccountId": a, "Email": f"owner+{a}@example.com"} for a in enrolled]
    d.step(
        "CreateMembers",
        admin,
        "CreateMembers",
        {"DetectorId": detector, "AccountDetails": details},
        check=lambda r: expect_equal(unprocessed(r), [], "unprocessed accounts"),
    )
    d.step(
        "CreateMembers already a member",
        admin,
        "CreateMembers",
        {"DetectorId": detector, "AccountDetails": details[:1]},
        check=lambda r: expect_equal(unprocessed(r), [m_a], "unprocessed accounts"),
    )
    d.step(
        "CreateMembers unknown detector",
        admin,
        "CreateMembers",
        {"DetectorId": UNKNOWN_DETECTOR, "AccountDetails": details[:1]},
        expect="BadRequestException",
    )
    d.step(
        "CreateMembers without an Email",
        admin,
        "CreateMembers",
        {"DetectorId": detector, "AccountDetails": [{"AccountId": outsider}]},
        expect="ParamValidationError",
    )
    d.step(
        "InviteMembers, one of them not a member",
        admin,
        "InviteMembers",
        {"DetectorId": detector, "AccountIds": [*enrolled, outsider], "Message": "Welcome to GuardDuty"},
        check=lambda r: expect_equal(unprocessed(r), [outsider], "unprocessed accounts"),
    )
    d.step(
        "InviteMembers unknown detector",
        admin,
        "InviteMembers",
        {"DetectorId": UNKNOWN_DETECTOR, "AccountIds": [m_a]},
        expect="BadRequestException",
    )
    d.step(
        "ListMembers, paginated 3 by 3",
        admin,
        "ListMembers",
        {"DetectorId": detector, "OnlyAssociated": "false"},
        paginate={"PageSize": 3},
        check=lambda pages: expect_equal(
            sorted(m["AccountId"] for page in pages for m in page["Members"]), sorted(enrolled), "members"
        ),
    )

    # --- Member A (through the assumed role) turns GuardDuty on and accepts. ---
    member_a = d.client("guardduty", **session)
    created_a = d.step(
        "CreateDetector",
        member_a,
        "CreateDetector",
        {"Enable": True, "FindingPublishingFrequency": "ONE_HOUR"},
    )
    detector_a = (created_a or {}).get("DetectorId", UNKNOWN_DETECTOR)
    d.step("CreateDetector again", member_a, "CreateDetector", {"Enable": True}, expect="BadRequestException")
    d.step("CreateDetector without Enable", member_a, "CreateDetector", {}, expect="ParamValidationError")
    d.step(
        "GetInvitationsCount",
        member_a,
        "GetInvitationsCount",
        check=lambda r: expect_equal(r["InvitationsCount"], 1, "InvitationsCount"),
    )
    invitations = d.step(
        "ListInvitations",
        member_a,
        "ListInvitations",
        check=lambda r: expect_equal([i["AccountId"] for i in r["Invitations"]], [administrator], "inviters"),
    )
    invitation_a = ((invitations or {}).get("Invitations") or [{}])[0].get("InvitationId", "none")
    d.step(
        "ListInvitations with a NextToken it never gave",
        member_a,
        "ListInvitations",
        {"NextToken": "nope"},
        expect="BadRequestException",
    )
    d.step(
        "AcceptAdministratorInvitation with an invitation id that does not exist",
        member_a,
        "AcceptAdministratorInvitation",
        {"DetectorId": detector_a, "AdministratorId": administrator, "InvitationId": "f" * 32},
        expect="BadRequestException",
    )
    d.step(
        "AcceptAdministratorInvitation",
        member_a,
        "AcceptAdministratorInvitation",
        {"DetectorId": detector_a, "AdministratorId": administrator, "InvitationId": invitation_a},
    )
    d.step(
        "GetAdministratorAccount",
        member_a,
        "GetAdministratorAccount",
        {"DetectorId": detector_a},
        check=lambda r: expect_equal(
            (r["Administrator"]["AccountId"], r["Administrator"]["RelationshipStatus"]),
            (administrator, "Enabled"),
            "administrator",
        ),
    )

    # --- Member B (a key of its own) accepts through the older API. ---
    member_b = d.client("guardduty", key_b)
    created_b = d.step(
        "CreateDetector for member B, Runtime Monitoring on",
        member_b,
        "CreateDetector",
        {"Enable": True, "Features": [{"Name": "RUNTIME_MONITORING", "Status": "ENABLED"}]},
    )
    detector_b = (created_b or {}).get("DetectorId", UNKNOWN_DETECTOR)
    listed_b = d.step("ListInvitations for member B", member_b, "ListInvitations")
    invitation_b = ((listed_b or {}).get("Invitations") or [{}])[0].get("InvitationId", "none")
    d.step(
        "AcceptInvitation",
        member_b,
        "AcceptInvitation",
        {"DetectorId": detector_b, "MasterId": administrator, "InvitationId": invitation_b},
    )
    d.step(
        "AcceptInvitation accepted already",
        member_b,
        "AcceptInvitation",
        {"DetectorId": detector_b, "MasterId": administrator, "InvitationId": invitation_b},
        expect="BadRequestException",
    )
    d.step(
        "GetMasterAccount",
        member_b,
        "GetMasterAccount",
        {"DetectorId": detector_b},
        check=lambda r: expect_equal(r["Master"]["AccountId"], administrator, "master"),
    )
    d.step(
        "GetMasterAccount unknown detector",
        member_b,
        "GetMasterAccount",
        {"DetectorId": UNKNOWN_DETECTOR},
        expect="BadRequestException",
    )

    # --- The administrator reads and changes its members' protection plans. ---
    d.step(
        "GetDetector of member B: the named plan on, the unnamed ones by default",
        member_b,
        "GetDetector",
        {"DetectorId": detector_b},
        check=lambda r: expect_equal(
            [feature_statuses(r["Features"])[name] for name in ("RUNTIME_MONITORING", "S3_DATA_EVENTS")],
            ["ENABLED", "ENABLED"],
            "RUNTIME_MONITORING, S3_DATA_EVENTS",
        ),
    )
    d.step(
        "UpdateMemberDetectors, one of them not a member",
        admin,
        "UpdateMemberDetectors",
        {
            "DetectorId": detector,
            "AccountIds": [m_a, outsider],
            "Features": [
                {"Name": "S3_DATA_EVENTS", "Status": "DISABLED"},
                {
                    "Name": "EKS_RUNTIME_MONITORING",
                    "Status": "ENABLED",
                    "AdditionalConfiguration": [{"Name": "EKS_ADDON_MANAGEMENT", "Status": "ENABLED"}],
                },
            ],
        },
        check=lambda r: expect_equal(unprocessed(r), [outsider], "unprocessed accounts"),
    )
    d.step(
        "UpdateMemberDetectors naming both runtime monitoring plans",
        admin,
        "UpdateMemberDetectors",
        {
            "DetectorId": detector,
            "AccountIds": [m_a],
            "Features": [
                {"Name": "EKS_RUNTIME_MONITORING", "Status": "DISABLED"},
                {"Name": "RUNTIME_MONITORING", "Status": "ENABLED"},
            ],
        },
        expect="BadRequestException",
    )
    d.step(
        "UpdateMemberDetectors of 51 accounts",
        admin,
        "UpdateMemberDetectors",
        {
            "DetectorId": detector,
            "AccountIds": [str(100_000_000_000 + i) for i in range(51)],
            "Features": [{"Name": "S3_DATA_EVENTS", "Status": "ENABLED"}],
        },
        expect="BadRequestException",
        invalid_request=True,
    )
    d.step(
        "UpdateMemberDetectors without account ids",
        admin,
        "UpdateMemberDetectors",
        {"DetectorId": detector, "AccountIds": []},
        expect="ParamValidationError",
    )
    d.step(
        "GetMemberDetectors",
        admin,
        "GetMemberDetectors",
        {"DetectorId": detector, "AccountIds": [m_a, m_b, outsider]},
        check=lambda r: expect_equal(
            {
                c["AccountId"]: feature_statuses(c["Features"])["S3_DATA_EVENTS"]
                for c in r["MemberDataSourceConfigurations"]
            },
            {m_a: "DISABLED", m_b: "ENABLED"},
            "S3_DATA_EVENTS by member",
        )
        or expect_equal(unprocessed(r), [outsider], "unprocessed accounts"),
    )
    d.step(
        "GetMemberDetectors unknown detector",
        admin,
        "GetMemberDetectors",
        {"DetectorId": UNKNOWN_DETECTOR, "AccountIds": [m_a]},
        expect="BadRequestException",
    )
    d.step(
        "UpdateDetector with a plan the model does not know",
        member_b,
        "UpdateDetector",
        {"DetectorId": detector_b, "Features": [{"Name": "NOT_A_PLAN", "Status": "ENABLED"}]},
        expect="BadRequestException",
        invalid_request=True,
    )

    # --- Members C and D say no. ---
    member_c = d.client("guardduty", key_c)
    d.step(
        "DeclineInvitations",
        member_c,
        "DeclineInvitations",
        {"AccountIds": [administrator]},
        check=lambda r: expect_equal(unprocessed(r), [], "unprocessed accounts"),
    )
    d.step(
        "DeclineInvitations declined already",
        member_c,
        "DeclineInvitations",
        {"AccountIds": [administrator]},
        check=lambda r: expect_equal(unprocessed(r), [administrator], "unprocessed accounts"),
    )
    member_d = d.client("guardduty", key_d)
    d.step(
        "DeleteInvitations",
        member_d,
        "DeleteInvitations",
        {"AccountIds": [administrator]},
        check=lambda r: expect_equal(unprocessed(r), [], "unprocessed accounts"),
    )
    d.step(
        "DeleteInvitations of 51 administrators",
        member_d,
        "DeleteInvitations",
        {"AccountIds": [str(100_000_000_000 + i) for i in range(51)]},
        expect="BadRequestException",
        invalid_request=True,
    )
    d.step(
        "GetInvitationsCount with none left",
        member_d,
        "GetInvitationsCount",
        check=lambda r: expect_equal(r["InvitationsCount"], 0, "InvitationsCount"),
    )

    # --- The administrator looks, stops and starts monitoring; member A suspends its detector. ---
    d.step(
        "GetMembers",
        admin,
        "GetMembers",
        {"DetectorId": detector, "AccountIds": [m_a, m_b, outsider]},
        check=lambda r: expect_equal(member_statuses(r), {m_a: "Enabled", m_b: "Enabled"}, "statuses")
        or expect_equal(unprocessed(r), [outsider], "unprocessed accounts"),
    )
    d.step(
        "GetMembers of 51 accounts",
        admin,
        "GetMembers",
        {"DetectorId": detector, "AccountIds": [str(100_000_000_000 + i) for i in range(51)]},
        expect="BadRequestException",
        invalid_request=True,
    )
    d.step(
        "StopMonitoringMembers",
        admin,
        "StopMonitoringMembers",
        {"DetectorId": detector, "AccountIds": [m_a, outsider]},
        check=lambda r: expect_equal(unprocessed(r), [outsider], "unprocessed accounts"),
    )
    d.step(
        "GetMembers after StopMonitoringMembers",
        admin,
        "GetMembers",
        {"DetectorId": detector, "AccountIds": [m_a]},
        check=lambda r: expect_equal(member_statuses(r), {m_a: "Disabled"}, "statuses"),
    )
    d.step(
        "StartMonitoringMembers",
        admin,
        "StartMonitoringMembers",
        {"DetectorId": detector, "AccountIds": [m_a]},
        check=lambda r: expect_equal(unprocessed(r), [], "unprocessed accounts"),
    )
    d.step(
        "StartMonitoringMembers unknown detector",
        admin,
        "StartMonitoringMembers",
        {"DetectorId": UNKNOWN_DETECTOR, "AccountIds": [m_a]},
        expect="BadRequestException",
    )
    d.step(
        "UpdateDetector suspend member A",
        member_a,
        "UpdateDetector",
        {"DetectorId": detector_a, "Enable": False},
    )
    d.step(
        "ListMembers only associated, member A suspended",
        admin,
        "ListMembers",
        {"DetectorId": detector, "OnlyAssociated": "true"},
        check=lambda r: expect_equal([m["AccountId"] for m in r["Members"]], [m_b], "associated members"),
    )
    d.step(
        "UpdateDetector unknown detector",
        member_a,
        "UpdateDetector",
        {"DetectorId": UNKNOWN_DETECTOR, "Enable": True},
        expect="BadRequestException",
    )

    # --- The members leave; the administrator lets them go. ---
    d.step(
        "DisassociateFromAdministratorAccount",
        member_a,
        "DisassociateFromAdministratorAccount",
        {"DetectorId": detector_a},
    )
    d.step(
        "DisassociateFromAdministratorAccount again",
        member_a,
        "DisassociateFromAdministratorAccount",
        {"DetectorId": detector_a},
        expect="BadRequestException",
    )
    d.step(
        "DisassociateFromMasterAccount",
        member_b,
        "DisassociateFromMasterAccount",
        {"DetectorId": detector_b},
    )
    d.step(
        "DisassociateFromMasterAccount unknown detector",
        member_b,
        "DisassociateFromMasterAccount",
        {"DetectorId": UNKNOWN_DETECTOR},
        expect="BadRequestException",
    )
    d.step(
        "GetMembers after they left",
        admin,
        "GetMembers",
        {"DetectorId": detector, "AccountIds": [m_a, m_b]},
        check=lambda r: expect_equal(member_statuses(r), {m_a: "Resigned", m_b: "Resigned"}, "statuses"),
    )
    d.step(
        "DisassociateMembers",
        admin,
        "DisassociateMembers",
        {"DetectorId": detector, "AccountIds": [m_a, m_b, outsider]},
        check=lambda r: expect_equal(unprocessed(r), [outsider], "unprocessed accounts"),
    )
    d.step(
        "DisassociateMembers unknown detector",
        admin,
        "DisassociateMembers",
        {"DetectorId": UNKNOWN_DETECTOR, "AccountIds": [m_a]},
        expect="BadRequestException",
    )
    d.step(
        "DeleteMembers",
        admin,
        "DeleteMembers",
        {"DetectorId": detector, "AccountIds": enrolled},
        check=lambda r: expect_equal(unprocessed(r), [], "unprocessed accounts"),
    )
    d.step(
        "DeleteMembers no longer members",
        admin,
        "DeleteMembers",
        {"DetectorId": detector, "AccountIds": [m_a]},
        check=lambda r: expect_equal(unprocessed(r), [m_a], "unprocessed accounts"),
    )
    d.step(
        "DeleteMembers without AccountIds",
        admin,
        "DeleteMembers",
        {"DetectorId": detector},
        expect="ParamValidationError",
    )

    # --- Member A turns GuardDuty off. ---
    d.step("DeleteDetector", member_a, "DeleteDetector", {"DetectorId": detector_a})
    d.step(
        "DeleteDetector again",
        member_a,
        "DeleteDetector",
        {"DetectorId": detector_a},
        expect="BadRequestException",
    )
    d.step(
        "ListDetectors after DeleteDetector",
        member_a,
        "ListDetectors",
        check=lambda r: expect_equal(r["DetectorIds"], [], "detectors"),
    )

    # --- The organization's delegated administrator: designated by the management account, region by region. ---
    gd_management = d.client("guardduty", args.management_key)
    designate = {"AdminAccountId": administrator}
    d.step(
        "EnableOrganizationAdminAccount before the management account enables GuardDuty",
        gd_management,
        "EnableOrganizationAdminAccount",
        designate,
        expect="BadRequestException",
    )
    d.step("CreateDetector for the management account", gd_management, "CreateDetector", {"Enable": True})
    d.step("EnableOrganizationAdminAccount", gd_management, "EnableOrganizationAdminAccount", designate)
    d.step(
        "EnableOrganizationAdminAccount without AdminAccountId",
        gd_management,
        "EnableOrganizationAdminAccount",
        {},
        expect="ParamValidationError",
    )
    d.step(
        "ListOrganizationAdminAccounts",
        gd_management,
        "ListOrganizationAdminAccounts",
        check=lambda r: expect_equal(
            r["AdminAccounts"], [{"AdminAccountId": administrator, "AdminStatus": "ENABLED"}], "AdminAccounts"
        ),
    )
    d.step(
        "ListOrganizationAdminAccounts as the administrator",
        admin,
        "ListOrganizationAdminAccounts",
        expect="BadRequestException",
    )
    d.step(
        "ListDelegatedAdministrators for GuardDuty",
        d.client("organizations", args.management_key),
        "ListDelegatedAdministrators",
        {"ServicePrincipal": "guardduty.amazonaws.com"},
        check=lambda r: expect_equal(
            [a["Id"] for a in r["DelegatedAdministrators"]], [administrator], "DelegatedAdministrators"
        ),
    )
    d.step(
        "ListDelegatedAdministrators as a member account",
        d.client("organizations", key_b),
        "ListDelegatedAdministrators",
        expect="AccessDeniedException",
    )
    d.step(
        "DescribeOrganizationConfiguration",
        admin,
        "DescribeOrganizationConfiguration",
        {"DetectorId": detector},
        check=lambda r: expect_equal(
            (r["AutoEnableOrganizationMembers"], r["MemberAccountLimitReached"], len(r["Features"])),
            ("NEW", False, 7),
            "auto-enable, limit, features",
        ),
    )
    d.step(
        "DescribeOrganizationConfiguration unknown detector",
        admin,
        "DescribeOrganizationConfiguration",
        {"DetectorId": UNKNOWN_DETECTOR},
        expect="BadRequestException",
    )
    d.step(
        "UpdateOrganizationConfiguration to ALL",
        admin,
        "UpdateOrganizationConfiguration",
        {
            "DetectorId": detector,
            "AutoEnableOrganizationMembers": "ALL",
            "Features": [
                {
                    "Name": "RUNTIME_MONITORING",
                    "AutoEnable": "ALL",
                    "AdditionalConfiguration": [{"Name": "ECS_FARGATE_AGENT_MANAGEMENT", "AutoEnable": "ALL"}],
                }
            ],
        },
    )
    d.step(
        "UpdateOrganizationConfiguration with an unknown auto-enable value",
        admin,
        "UpdateOrganizationConfiguration",
        {"DetectorId": detector, "AutoEnableOrganizationMembers": "SOMETIMES"},
        expect="BadRequestException",
        invalid_request=True,
    )
    d.step(
        "UpdateOrganizationConfiguration as the management account",
        gd_management,
        "UpdateOrganizationConfiguration",
        {"DetectorId": detector, "AutoEnableOrganizationMembers": "ALL"},
        expect="BadRequestException",
    )
    d.step(
        "CreateMembers as delegated administrator enables the account",
        admin,
        "CreateMembers",
        {"DetectorId": detector, "AccountDetails": [{"AccountId": m_c, "Email": f"owner+{m_c}@example.com"}]},
        check=lambda r: expect_equal(unprocessed(r), [], "unprocessed accounts"),
    )
    d.step(
        "GetMembers of the organization member",
        admin,
        "GetMembers",
        {"DetectorId": detector, "AccountIds": [m_c]},
        check=lambda r: expect_equal(member_statuses(r), {m_c: "Enabled"}, "statuses"),
    )
    d.step(
        "InviteMembers of an organization member",
        admin,
        "InviteMembers",
        {"DetectorId": detector, "AccountIds": [m_c]},
        check=lambda r: expect_equal(unprocessed(r), [m_c], "unprocessed accounts"),
    )
    d.step(
        "DeleteMembers of an organization member under ALL",
        admin,
        "DeleteMembers",
        {"DetectorId": detector, "AccountIds": [m_c]},
        check=lambda r: expect_equal(unprocessed(r), [m_c], "unprocessed accounts"),
    )
    d.step("DisableOrganizationAdminAccount", gd_management, "DisableOrganizationAdminAccount", designate)
    d.step(
        "DisableOrganizationAdminAccount again",
        gd_management,
        "DisableOrganizationAdminAccount",
        designate,
        expect="BadRequestException",
    )

    # --- Throttling and server errors, from sandboxes that inject them on every call. ---
    throttled = args.throttling_endpoint
    failing = args.failing_endpoint
    d.step(
        "ListDetectors throttled",
        d.client("guardduty", args.admin_key, throttled),
        "ListDetectors",
        expect="TooManyRequestsException",
    )
    d.step(
        "GetDetector server error",
        d.client("guardduty", args.admin_key, failing),
        "GetDetector",
        {"DetectorId": detector},
        expect="InternalServerErrorException",
    )
    # botocore retries a throttled call by its code (Organizations throttles with HTTP 400, not 429).
    d.step(
        "DescribeOrganization throttled, retried once by botocore",
        d.client("organizations", args.admin_key, throttled, attempts=2),
        "DescribeOrganization",
        expect="TooManyRequestsException",
        attempts=2,
    )
    d.step(
        "ListAccounts server error",
        d.client("organizations", args.admin_key, failing),
        "ListAccounts",
        expect="ServiceException",
    )
    d.step(
        "ListMembers server error, retried once by botocore",
        d.client("guardduty", args.admin_key, failing, attempts=2),
        "ListMembers",
        {"DetectorId": detector},
        expect="InternalServerErrorException",
        attempts=2,
    )

    # --- Lifecycle, last (it changes the organization): CloseAccount and RemoveAccountFromOrganization. ---
    org_management = d.client("organizations", args.management_key)
    d.step("CloseAccount", org_management, "CloseAccount", {"AccountId": m_d})
    d.step(
        "DescribeAccount of the closing account",
        org_management,
        "DescribeAccount",
        {"AccountId": m_d},
        check=lambda r: expect_equal(
            r["Account"]["State"] in ("PENDING_CLOSURE", "SUSPENDED"), True, "State after CloseAccount"
        ),
    )
    d.step(
        "CloseAccount again",
        org_management,
        "CloseAccount",
        {"AccountId": m_d},
        expect="AccountAlreadyClosedException",
    )
    d.step(
        "CloseAccount as the delegated administrator",
        org,
        "CloseAccount",
        {"AccountId": m_c},
        expect="AccessDeniedException",
    )
    d.step(
        "CloseAccount outside the organization",
        org_management,
        "CloseAccount",
        {"AccountId": "000000000000"},
        expect="AccountNotFoundException",
    )
    d.step("RemoveAccountFromOrganization", org_management, "RemoveAccountFromOrganization", {"AccountId": m_c})
    d.step(
        "DescribeAccount of the removed account",
        org_management,
        "DescribeAccount",
        {"AccountId": m_c},
        expect="AccountNotFoundException",
    )
    d.step(
        "RemoveAccountFromOrganization of the management account",
        org_management,
        "RemoveAccountFromOrganization",
        {"AccountId": management},
        expect="MasterCannotLeaveOrganizationException",
    )


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--endpoint", required=True, help="the sandbox under test")
    parser.add_argument("--throttling-endpoint", required=True, help="a sandbox that throttles every call")
    parser.add_argument("--failing-endpoint", required=True, help="a sandbox answering every call with a 5xx")
    parser.add_argument("--region", default="us-west-2")
    parser.add_argument("--admin-key", required=True, help="an access key of the GuardDuty administrator")
    parser.add_argument("--management-key", required=True, help="an access key of the management account")
    parser.add_argument("--member", action="append", default=[], help="ID=KEY of a member account (three)")
    parser.add_argument("--outsider", required=True, help="an account id that is never made a member")
    run(parser.parse_args(argv))


if __name__ == "__main__":
    main(sys.argv[1:])
