/**
 * The botocore-model oracle on hand-made exchanges, against the REAL models of GuardDuty (rest-json),
 * Organizations (json 1.1) and STS (query/XML): what it must flag, and what it must let through.
 */
import { describe, expect, it } from "vitest";
import {
  loadModel,
  skippedPatterns,
  validateRequest,
  validateResponse,
  type WireExchange,
  type WireRequest,
} from "../support/aws-model.ts";

const guardDuty = loadModel("guardduty");
const organizations = loadModel("organizations");
const sts = loadModel("sts");

const DETECTOR = "12abc34d567e8fa901bc2d34e56789f0";
const ACCOUNT = "123456789012";

function request(
  method: string,
  path: string,
  body: unknown = "",
  extra: Partial<WireRequest> = {},
): WireRequest {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  return { method, path, query: new URLSearchParams(), headers: {}, body: text, ...extra };
}
function exchange(status: number, body: unknown, headers: Record<string, string> = {}): WireExchange {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  return { request: request("POST", "/"), status, headers, body: text };
}
const organizationsCall = (operation: string, body: unknown): WireRequest =>
  request("POST", "/", body, { headers: { "x-amz-target": `AWSOrganizationsV20161128.${operation}` } });
const stsCall = (form: Record<string, string>): WireRequest =>
  request(
    "POST",
    "/",
    new URLSearchParams({ Action: "AssumeRole", Version: "2011-06-15", ...form }).toString(),
  );
const assumeRoleXml = (result: string): string =>
  `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>${result}</AssumeRoleResult><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></AssumeRoleResponse>`;
const CREDENTIALS =
  "<Credentials><AccessKeyId>ASIA123456789012ABCD</AccessKeyId><SecretAccessKey>secret</SecretAccessKey><SessionToken>token</SessionToken><Expiration>2026-01-01T00:00:00Z</Expiration></Credentials>";
const ASSUMED_USER = `<AssumedRoleUser><AssumedRoleId>AROA123:onboard</AssumedRoleId><Arn>arn:aws:sts::${ACCOUNT}:assumed-role/Role/onboard</Arn></AssumedRoleUser>`;

describe("GuardDuty (rest-json)", () => {
  it("passes a well-formed CreateMembers request and response", () => {
    // Prepare
    const call = request("POST", `/detector/${DETECTOR}/member`, {
      accountDetails: [{ accountId: ACCOUNT, email: "owner@example.com" }],
    });
    const answer = exchange(200, {
      unprocessedAccounts: [{ accountId: ACCOUNT, result: "already a member" }],
    });

    // Act
    const problems = [
      ...validateRequest(guardDuty, "CreateMembers", call),
      ...validateResponse(guardDuty, "CreateMembers", answer),
    ];

    // Assess
    expect(problems).toEqual([]);
  });

  it("flags a CreateMembers response missing the required unprocessedAccounts", () => {
    // Act
    const problems = validateResponse(guardDuty, "CreateMembers", exchange(200, {}));

    // Assess
    expect(problems).toEqual([expect.stringContaining("missing required member UnprocessedAccounts")]);
  });

  it("flags 51 account details, an account id that is not 12 characters and a missing email", () => {
    // Prepare
    const details = Array.from({ length: 51 }, (_, i) => ({ accountId: String(1e11 + i), email: "a@b.co" }));
    const call = request("POST", `/detector/${DETECTOR}/member`, {
      accountDetails: [...details.slice(0, 50), { accountId: "123" }],
    });

    // Act
    const problems = validateRequest(guardDuty, "CreateMembers", call);

    // Assess
    expect(problems).toEqual([
      expect.stringContaining("51 items, above the maximum 50"),
      expect.stringMatching(/accountId: 3 characters, below the minimum 12/),
      expect.stringContaining("missing required member Email"),
    ]);
  });

  it("flags a path that is not the operation's URI, an unknown member and an unknown query parameter", () => {
    // Prepare
    const call = request("POST", "/detector/member", { accountIds: [ACCOUNT], colour: "red" });
    const listing = request("GET", `/detector/${DETECTOR}/member`, "", {
      query: new URLSearchParams({ maxResults: "0", pageSize: "5" }),
    });

    // Act
    const invite = validateRequest(guardDuty, "InviteMembers", call);
    const list = validateRequest(guardDuty, "ListMembers", listing);

    // Assess
    expect(invite).toEqual([
      "request path /detector/member does not match /detector/{DetectorId}/member/invite",
      'request body: unknown member "colour" (not in InviteMembersRequest)',
    ]);
    expect(list).toEqual([
      expect.stringContaining("request querystring maxResults: 0 is below the minimum 1"),
      "request: unknown query parameter pageSize",
    ]);
  });

  it("flags a next token that is not a string on a paginated operation", () => {
    // Act
    const problems = validateResponse(
      guardDuty,
      "ListDetectors",
      exchange(200, { detectorIds: [], nextToken: 2 }),
    );

    // Assess
    expect(problems).toContain("next token NextToken is 2");
  });

  it("accepts a modeled error with its status, and reads the code from the header before any ':'", () => {
    // Prepare
    const headers = { "x-amzn-errortype": "BadRequestException:http://internal.amazon.com/coral/" };
    const answer = exchange(400, { message: "invalid", __type: "InvalidInputException" }, headers);

    // Act
    const problems = validateResponse(guardDuty, "GetDetector", answer);

    // Assess
    expect(problems).toEqual([]);
  });

  it("flags a modeled error on the wrong status and a code that is neither modeled, common nor documented", () => {
    // Prepare
    const wrongStatus = exchange(500, { message: "x" }, { "x-amzn-errortype": "BadRequestException" });
    const unmodeled = exchange(409, { message: "x" }, { "x-amzn-errortype": "ResourceInUseException" });
    const common = exchange(400, { message: "x" }, { "x-amzn-errortype": "ThrottlingException" });
    const documented = exchange(429, { message: "x" }, { "x-amzn-errortype": "TooManyRequestsException" });
    const documentedElsewhere = exchange(
      400,
      { message: "x" },
      { "x-amzn-errortype": "TooManyRequestsException" },
    );

    // Act
    const [first, second, third, fourth, fifth] = [
      wrongStatus,
      unmodeled,
      common,
      documented,
      documentedElsewhere,
    ].map((x) => validateResponse(guardDuty, "ListMembers", x));

    // Assess
    expect(first).toEqual(["BadRequestException: HTTP 500, the model says 400"]);
    expect(second).toEqual([
      "error code ResourceInUseException is neither an error of ListMembers (BadRequestException, InternalServerErrorException) nor a common one",
    ]);
    expect(third).toEqual([]);
    // API Gateway's throttling answer, on its status only.
    expect(fourth).toEqual([]);
    expect(fifth).toEqual(["common error TooManyRequestsException: HTTP 400, documented as 429"]);
  });
});

describe("Organizations (json 1.1)", () => {
  it("flags ListAccounts with MaxResults 21 and a fractional MaxResults", () => {
    // Act
    const above = validateRequest(
      organizations,
      "ListAccounts",
      organizationsCall("ListAccounts", { MaxResults: 21 }),
    );
    const fraction = validateRequest(
      organizations,
      "ListAccounts",
      organizationsCall("ListAccounts", { MaxResults: 1.5 }),
    );

    // Assess
    expect(above).toEqual([expect.stringContaining("request.MaxResults: 21 is above the maximum 20")]);
    expect(fraction).toEqual([expect.stringContaining("expected a whole number, got 1.5")]);
  });

  it("flags a request whose X-Amz-Target names another operation", () => {
    // Act
    const problems = validateRequest(organizations, "ListAccounts", organizationsCall("DescribeAccount", {}));

    // Assess
    expect(problems).toEqual([
      "X-Amz-Target AWSOrganizationsV20161128.DescribeAccount, expected AWSOrganizationsV20161128.ListAccounts",
    ]);
  });

  it("passes an account with an epoch-seconds timestamp, and flags an ISO one, a bad enum and a bad e-mail", () => {
    // Prepare
    const account = {
      Id: ACCOUNT,
      Arn: `arn:aws:organizations::111111111111:account/o-abcdefghij/${ACCOUNT}`,
      Email: "owner@example.com",
      Name: "workload",
      Status: "ACTIVE",
      State: "ACTIVE",
      JoinedMethod: "CREATED",
      JoinedTimestamp: 1_700_000_000.5,
    };
    const broken = { ...account, JoinedTimestamp: "2024-01-01T00:00:00Z", State: "active", Email: "nobody" };

    // Act
    const good = validateResponse(organizations, "DescribeAccount", exchange(200, { Account: account }));
    const bad = validateResponse(organizations, "DescribeAccount", exchange(200, { Account: broken }));

    // Assess
    expect(good).toEqual([]);
    expect(bad).toEqual([
      expect.stringContaining('response.Account.Email: "nobody" does not match the pattern'),
      expect.stringContaining('"active" is not one of'),
      expect.stringContaining("expected a unixTimestamp timestamp"),
    ]);
  });

  it("reads __type without its namespace, expects 400 for client errors, and checks error members", () => {
    // Prepare
    const notFound = exchange(400, {
      __type: "com.amazonaws.organizations#AccountNotFoundException",
      Message: "no",
    });
    const throttled = exchange(429, {
      __type: "TooManyRequestsException",
      Message: "slow down",
      Type: "Throttling",
    });
    const reason = exchange(400, { __type: "InvalidInputException", Message: "x", Reason: "BAD_TOKEN" });
    const fault = exchange(503, { __type: "ServiceException", Message: "down" });

    // Act
    const [first, second, third, fourth] = [notFound, throttled, reason, fault].map((x) =>
      validateResponse(organizations, "DescribeAccount", x),
    );

    // Assess
    expect(first).toEqual([]);
    expect(second).toEqual(["TooManyRequestsException: HTTP 429, the model says 400"]);
    expect(third).toEqual([expect.stringContaining('error body.Reason: "BAD_TOKEN" is not one of')]);
    expect(fourth).toEqual([]);
  });
});

describe("STS (query)", () => {
  it("passes a well-formed AssumeRole request with tags and a well-formed XML answer", () => {
    // Prepare
    const call = stsCall({
      RoleArn: `arn:aws:iam::${ACCOUNT}:role/OrganizationAccountAccessRole`,
      RoleSessionName: "onboard",
      DurationSeconds: "3600",
      "Tags.member.1.Key": "team",
      "Tags.member.1.Value": "security",
    });
    const answer = exchange(200, assumeRoleXml(CREDENTIALS + ASSUMED_USER));

    // Act
    const problems = [
      ...validateRequest(sts, "AssumeRole", call),
      ...validateResponse(sts, "AssumeRole", answer),
    ];

    // Assess
    expect(problems).toEqual([]);
  });

  it("flags a short session name, a duration that is not a number and a tag without its value", () => {
    // Prepare
    const call = stsCall({
      RoleArn: `arn:aws:iam::${ACCOUNT}:role/R`,
      RoleSessionName: "x",
      DurationSeconds: "an hour",
      "Tags.member.1.Key": "team",
    });

    // Act
    const problems = validateRequest(sts, "AssumeRole", call);

    // Assess
    expect(problems).toEqual([
      expect.stringContaining("request.RoleSessionName: 1 characters, below the minimum 2"),
      expect.stringContaining('request.DurationSeconds: expected a whole number, got "an hour"'),
      expect.stringContaining("request.Tags[0]: missing required member Value"),
    ]);
  });

  it("flags Credentials missing the SessionToken, and an Expiration that is not ISO 8601", () => {
    // Prepare
    const noToken = exchange(
      200,
      assumeRoleXml(CREDENTIALS.replace("<SessionToken>token</SessionToken>", "") + ASSUMED_USER),
    );
    const epoch = exchange(
      200,
      assumeRoleXml(CREDENTIALS.replace("2026-01-01T00:00:00Z", "1767225600") + ASSUMED_USER),
    );

    // Act
    const first = validateResponse(sts, "AssumeRole", noToken);
    const second = validateResponse(sts, "AssumeRole", epoch);

    // Assess
    expect(first).toEqual([
      expect.stringContaining("<AssumeRoleResult>.Credentials: missing required member SessionToken"),
    ]);
    expect(second).toEqual([
      expect.stringContaining("<AssumeRoleResult>.Credentials.Expiration: expected a iso8601"),
    ]);
  });

  it("lets an AssumeRole answer without Credentials through, as the model makes every AssumeRoleResponse member optional", () => {
    // Act
    const problems = validateResponse(sts, "AssumeRole", exchange(200, assumeRoleXml(ASSUMED_USER)));

    // Assess
    expect(problems).toEqual([]);
  });

  it("flags an answer whose root or result element is not the operation's, and an unknown result member", () => {
    // Prepare
    const wrongRoot = exchange(200, "<AssumeRoleResult><Credentials/></AssumeRoleResult>");
    const extra = exchange(200, assumeRoleXml(`${ASSUMED_USER}<Colour>red</Colour>`));

    // Act
    const first = validateResponse(sts, "AssumeRole", wrongRoot);
    const second = validateResponse(sts, "AssumeRole", extra);

    // Assess
    expect(first).toEqual(["root element <AssumeRoleResult>, expected <AssumeRoleResponse>"]);
    expect(second).toEqual(['<AssumeRoleResult>: unknown member "Colour" (not in AssumeRoleResponse)']);
  });

  it("accepts a modeled error by its error.code, and flags its shape name, an unmodeled code and a wrong <Type>", () => {
    // Prepare
    const error = (type: string, code: string) =>
      `<ErrorResponse><Error><Type>${type}</Type><Code>${code}</Code><Message>m</Message></Error><RequestId>r</RequestId></ErrorResponse>`;

    // Act
    const modeled = validateResponse(
      sts,
      "AssumeRole",
      exchange(400, error("Sender", "MalformedPolicyDocument")),
    );
    const byShapeName = validateResponse(
      sts,
      "AssumeRole",
      exchange(400, error("Sender", "MalformedPolicyDocumentException")),
    );
    const unmodeled = validateResponse(sts, "AssumeRole", exchange(403, error("Receiver", "NoSuchEntity")));
    const documented = validateResponse(sts, "AssumeRole", exchange(403, error("Sender", "AccessDenied")));

    // Assess
    expect(modeled).toEqual([]);
    expect(byShapeName).toEqual([
      expect.stringContaining(
        "error code MalformedPolicyDocumentException is neither an error of AssumeRole",
      ),
    ]);
    expect(unmodeled).toEqual([
      '<Type>"Receiver"</Type>, expected Sender',
      expect.stringContaining("error code NoSuchEntity is neither an error of AssumeRole"),
    ]);
    // IAM's refusal of an AssumeRole: documented and seen in real answers, though not modeled.
    expect(documented).toEqual([]);
  });

  it("counts, rather than checks, a Java pattern with no clean JS form (STS arnType's \\u10000)", () => {
    // Act
    validateRequest(
      sts,
      "AssumeRole",
      stsCall({ RoleArn: `arn:aws:iam::${ACCOUNT}:role/R`, RoleSessionName: "ab" }),
    );

    // Assess
    expect([...skippedPatterns]).toContainEqual(expect.stringContaining("\\u10000-\\u10FFFF"));
  });
});
